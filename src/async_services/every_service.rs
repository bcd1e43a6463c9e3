//! Every service of the tutorial on one async stack, as the poll-driven
//! [`Services`](crate::services::Services) are on a stack.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use super::conversations::{echo, notice, robot, upper};
use super::tcp_server::TcpServer;
use super::udp_server::UdpServer;
use crate::async_sockets::AsyncStack;
use crate::services::{
    ECHO_PORT, NOTICE_PORT, OK_PORT, ROBOT_PORT, Report, ServiceConfig, ServiceStorage, StartError,
    UPPER_PORT, UdpEcho, UdpOk,
};

/// The six servers, the same ports and counters as [`Services`](crate::services::Services).
/// Run them in one task ([`serve`](Self::serve)) or each in its own (`echo.serve(echo)`,
/// ...: what the async firmware does).
pub struct AsyncServices<'s, 'a, const POOL: usize, const TIMERS: usize = 8> {
    /// TCP 7.
    pub echo: TcpServer<'s, 'a, POOL, TIMERS>,
    /// TCP 6969.
    pub upper: TcpServer<'s, 'a, POOL, TIMERS>,
    /// TCP 9999.
    pub notice: TcpServer<'s, 'a, POOL, TIMERS>,
    /// TCP 8888.
    pub robot: TcpServer<'s, 'a, POOL, TIMERS>,
    /// UDP 7.
    pub udp_echo: UdpServer<'s, 'a, UdpEcho, TIMERS>,
    /// UDP 9999.
    pub udp_ok: UdpServer<'s, 'a, UdpOk, TIMERS>,
}

impl<'s, 'a, const POOL: usize, const TIMERS: usize> AsyncServices<'s, 'a, POOL, TIMERS> {
    /// Start every service on `stack`, with its buffers in `storage`.
    pub fn start<const BUF: usize, const UDP: usize>(
        stack: &'s AsyncStack<'a, TIMERS>,
        storage: &'a mut ServiceStorage<POOL, BUF, UDP>,
        config: ServiceConfig,
    ) -> Result<Self, StartError> {
        let buffers = storage.split();
        let tcp = |name, port, pool: &'a mut [_; POOL]| {
            TcpServer::start(name, stack, port, pool, config)
                .map_err(|e| StartError::Listen(name, e))
        };
        Ok(AsyncServices {
            echo: tcp("echo", ECHO_PORT, buffers.echo)?,
            upper: tcp("upper", UPPER_PORT, buffers.upper)?,
            notice: tcp("notice", NOTICE_PORT, buffers.notice)?,
            robot: tcp("robot", ROBOT_PORT, buffers.robot)?,
            udp_echo: UdpServer::start("udp-echo", stack, ECHO_PORT, buffers.udp_echo, UdpEcho)
                .map_err(|e| StartError::Bind("udp-echo", e))?,
            udp_ok: UdpServer::start("udp-ok", stack, OK_PORT, buffers.udp_ok, UdpOk)
                .map_err(|e| StartError::Bind("udp-ok", e))?,
        })
    }

    /// Every service, in the task that awaits this (it never finishes).
    pub async fn serve(&self) -> ! {
        let mut echo = pin!(self.echo.serve(echo));
        let mut upper = pin!(self.upper.serve(upper));
        let mut notice = pin!(self.notice.serve(notice));
        let mut robot = pin!(self.robot.serve(robot));
        let mut udp_echo = pin!(self.udp_echo.serve());
        let mut udp_ok = pin!(self.udp_ok.serve());
        poll_fn(|cx| {
            // Each is `-> !`: none is ever ready.
            let _ = echo.as_mut().poll(cx);
            let _ = upper.as_mut().poll(cx);
            let _ = notice.as_mut().poll(cx);
            let _ = robot.as_mut().poll(cx);
            let _ = udp_echo.as_mut().poll(cx);
            let _ = udp_ok.as_mut().poll(cx);
            Poll::<()>::Pending
        })
        .await;
        unreachable!("the services never finish")
    }

    /// Sockets of the TCP services that carry a connection or are still closing.
    pub fn busy(&self) -> usize {
        self.echo.busy() + self.upper.busy() + self.notice.busy() + self.robot.busy()
    }

    /// Each service's counters, as printable lines.
    pub fn reports(&self) -> [Report; 6] {
        [
            self.echo.report(),
            self.upper.report(),
            self.notice.report(),
            self.robot.report(),
            self.udp_echo.report(),
            self.udp_ok.report(),
        ]
    }
}
