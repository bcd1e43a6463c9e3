//! The tutorial's servers, all on one stack at once.
//!
//! | port       | service | the tutorial's program |
//! |------------|---------|------------------------|
//! | TCP 7      | [`Echo`]: RFC 862 echo, byte-exact | (the classic `echo` port) |
//! | UDP 7      | [`UdpEcho`]: RFC 862 echo | (the classic `echo` port) |
//! | TCP 6969   | [`Upper`]: echoes `data.upper()` | the `server.listen()` / `conn.send(data.upper())` loop |
//! | TCP 9999   | [`Notice`]: one message in, `不要回答,不要回答,不要回答` out, close | the first server |
//! | UDP 9999   | [`UdpOk`]: answers every datagram with `ok` | the UDP server |
//! | TCP 8888   | [`Robot`]: the 10086 phone menu, line by line | 智能机器人 |
//!
//! Each TCP service has a pool of `POOL` connections (4 by default) on buffers of `BUF`
//! bytes each way, and resets connections idle for [`ServiceConfig::idle_timeout`]. See
//! [`driver`](TcpService) for what happens to client `POOL + 1`.
//!
//! Memory, all in one [`ServiceStorage<POOL, BUF>`]: `4 * POOL * 2 * BUF` bytes of TCP
//! buffers plus two [`UdpBuffers`] (about 17 KiB), i.e. 81 KiB at the defaults (4, 2048);
//! [`ServiceStorage::SIZE`] is the exact figure. The stack needs
//! [`ServiceStorage::SOCKETS`] socket slots.

mod driver;
mod echo;
pub mod line_framer;
mod notice;
mod relay;
mod report;
mod robot;
pub mod robot_menu;
mod udp_ok;
mod upper;

use core::fmt;

use smoltcp::time::Duration;

pub use driver::{DATAGRAM_MAX, DatagramHandler, Handler, Status, TcpService, UdpService};
pub use echo::{Echo, UdpEcho};
pub use notice::{NOTICE, Notice};
pub use report::{Count, Report, ServiceStats};
pub use robot::{ROBOT_LINE, Robot};
pub use udp_ok::UdpOk;
pub use upper::Upper;

use crate::socket::{BindError, ListenError, TcpBuffers, UdpBuffers};
use crate::stack::{Overflow, Stack};

/// TCP and UDP port of the echo service.
pub const ECHO_PORT: u16 = 7;
/// TCP port of the upper-casing echo (the tutorial's 6969).
pub const UPPER_PORT: u16 = 6969;
/// TCP port of the notice server and UDP port of the `ok` server (the tutorial's 9999).
pub const NOTICE_PORT: u16 = 9999;
/// UDP port of the `ok` server.
pub const OK_PORT: u16 = 9999;
/// TCP port of the robot (the tutorial's 8888).
pub const ROBOT_PORT: u16 = 8888;

/// Settings shared by the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Reset a TCP connection after this long with nothing received or sent
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// What a TCP service does with a client beyond its pool: queue (the default: hold
    /// the SYN until a socket frees, as a kernel's backlog does) or refuse (RST). See
    /// [`gate`](crate::stack::gate).
    pub overflow: Overflow,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            idle_timeout: Some(Duration::from_secs(60)),
            overflow: Overflow::Queue,
        }
    }
}

/// The buffers of every service: `POOL` connections of `BUF` bytes each way per TCP
/// service, and the two UDP sockets' queues of up to 8 datagrams and `UDP` bytes each way.
pub struct ServiceStorage<const POOL: usize = 4, const BUF: usize = 2048, const UDP: usize = 4096> {
    echo: [TcpBuffers<BUF, BUF>; POOL],
    upper: [TcpBuffers<BUF, BUF>; POOL],
    notice: [TcpBuffers<BUF, BUF>; POOL],
    robot: [TcpBuffers<BUF, BUF>; POOL],
    udp_echo: UdpBuffers<8, UDP>,
    udp_ok: UdpBuffers<8, UDP>,
}

impl<const POOL: usize, const BUF: usize, const UDP: usize> Default
    for ServiceStorage<POOL, BUF, UDP>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const POOL: usize, const BUF: usize, const UDP: usize> ServiceStorage<POOL, BUF, UDP> {
    /// Checked at compile time by both constructors: the robot queues a reply only when
    /// it fits whole, so a transmit buffer smaller than its longest reply would greet a
    /// caller and never answer again.
    const FITS: () = assert!(
        BUF >= robot_menu::MAX_REPLY,
        "BUF: the robot needs room for its longest reply"
    );

    /// Zeroed buffers (a `const fn`: a `static` on a microcontroller, in `.bss`).
    ///
    /// ```compile_fail
    /// // A buffer smaller than the robot's longest reply does not build.
    /// let storage = sockless::services::ServiceStorage::<1, 64>::new();
    /// ```
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        ServiceStorage {
            echo: [const { TcpBuffers::new() }; POOL],
            upper: [const { TcpBuffers::new() }; POOL],
            notice: [const { TcpBuffers::new() }; POOL],
            robot: [const { TcpBuffers::new() }; POOL],
            udp_echo: UdpBuffers::new(),
            udp_ok: UdpBuffers::new(),
        }
    }

    /// Build the storage where it lies (a `static`, or a heap allocation), without first
    /// building it on the stack as [`new`](Self::new) does: for large `BUF`s.
    ///
    /// ```compile_fail
    /// // The same check as `new`.
    /// let mut slot = std::mem::MaybeUninit::<sockless::services::ServiceStorage<1, 64>>::uninit();
    /// sockless::services::ServiceStorage::init(&mut slot);
    /// ```
    pub fn init(slot: &mut core::mem::MaybeUninit<Self>) -> &mut Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        let this = slot.as_mut_ptr();
        // SAFETY: every field is written before the reference is made: the TCP buffers
        // are plain byte arrays, for which all-zero is what `TcpBuffers::new()` builds;
        // the UDP queues are built in place by `UdpBuffers::init`.
        unsafe {
            core::ptr::addr_of_mut!((*this).echo).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).upper).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).notice).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).robot).write_bytes(0, 1);
            type Uninit<const U: usize> = core::mem::MaybeUninit<UdpBuffers<8, U>>;
            UdpBuffers::init(&mut *core::ptr::addr_of_mut!((*this).udp_echo).cast::<Uninit<UDP>>());
            UdpBuffers::init(&mut *core::ptr::addr_of_mut!((*this).udp_ok).cast::<Uninit<UDP>>());
            slot.assume_init_mut()
        }
    }

    /// The buffers service by service, for services started one by one (the async
    /// ones: `sockless::async_services`).
    pub fn split(&mut self) -> ServiceBuffers<'_, POOL, BUF, UDP> {
        ServiceBuffers {
            echo: &mut self.echo,
            upper: &mut self.upper,
            notice: &mut self.notice,
            robot: &mut self.robot,
            udp_echo: &mut self.udp_echo,
            udp_ok: &mut self.udp_ok,
        }
    }

    /// Socket slots the services take in the stack's storage.
    pub const SOCKETS: usize = 4 * POOL + 2;

    /// Bytes of this storage.
    pub const SIZE: usize = core::mem::size_of::<Self>();
}

/// A [`ServiceStorage`]'s buffers, service by service ([`ServiceStorage::split`]).
pub struct ServiceBuffers<'s, const POOL: usize, const BUF: usize, const UDP: usize> {
    /// TCP 7's pool.
    pub echo: &'s mut [TcpBuffers<BUF, BUF>; POOL],
    /// TCP 6969's pool.
    pub upper: &'s mut [TcpBuffers<BUF, BUF>; POOL],
    /// TCP 9999's pool.
    pub notice: &'s mut [TcpBuffers<BUF, BUF>; POOL],
    /// TCP 8888's pool.
    pub robot: &'s mut [TcpBuffers<BUF, BUF>; POOL],
    /// UDP 7's queues.
    pub udp_echo: &'s mut UdpBuffers<8, UDP>,
    /// UDP 9999's queues.
    pub udp_ok: &'s mut UdpBuffers<8, UDP>,
}

/// Error returned by [`Services::start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// A TCP service could not listen.
    Listen(&'static str, ListenError),
    /// A UDP service could not bind.
    Bind(&'static str, BindError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Listen(name, e) => write!(f, "{name}: cannot listen: {e}"),
            StartError::Bind(name, e) => write!(f, "{name}: cannot bind: {e}"),
        }
    }
}

impl core::error::Error for StartError {}

/// Every service of the tutorial, running on one stack.
pub struct Services<const POOL: usize = 4> {
    /// TCP 7.
    pub echo: TcpService<Echo, POOL>,
    /// TCP 6969.
    pub upper: TcpService<Upper, POOL>,
    /// TCP 9999.
    pub notice: TcpService<Notice, POOL>,
    /// TCP 8888.
    pub robot: TcpService<Robot, POOL>,
    /// UDP 7.
    pub udp_echo: UdpService<UdpEcho>,
    /// UDP 9999.
    pub udp_ok: UdpService<UdpOk>,
    /// The stack's (arrivals, activity, pool epoch) after the last turn that left
    /// nothing to do: while they stand still, no service has anything to do.
    settled: Option<(u64, u64, u64)>,
}

impl<const POOL: usize> Services<POOL> {
    /// Start every service on `stack`, with its buffers in `storage`.
    pub fn start<'a, const BUF: usize, const UDP: usize>(
        stack: &mut Stack<'a>,
        storage: &'a mut ServiceStorage<POOL, BUF, UDP>,
        config: ServiceConfig,
    ) -> Result<Self, StartError> {
        let idle = config.idle_timeout;
        let ServiceStorage {
            echo,
            upper,
            notice,
            robot,
            udp_echo,
            udp_ok,
        } = storage;
        Ok(Services {
            echo: TcpService::start("echo", stack, ECHO_PORT, echo, Echo, idle, config.overflow)
                .map_err(|e| StartError::Listen("echo", e))?,
            upper: TcpService::start(
                "upper",
                stack,
                UPPER_PORT,
                upper,
                Upper,
                idle,
                config.overflow,
            )
            .map_err(|e| StartError::Listen("upper", e))?,
            notice: TcpService::start(
                "notice",
                stack,
                NOTICE_PORT,
                notice,
                Notice,
                idle,
                config.overflow,
            )
            .map_err(|e| StartError::Listen("notice", e))?,
            robot: TcpService::start(
                "robot",
                stack,
                ROBOT_PORT,
                robot,
                Robot,
                idle,
                config.overflow,
            )
            .map_err(|e| StartError::Listen("robot", e))?,
            udp_echo: UdpService::start("udp-echo", stack, ECHO_PORT, udp_echo, UdpEcho)
                .map_err(|e| StartError::Bind("udp-echo", e))?,
            udp_ok: UdpService::start("udp-ok", stack, OK_PORT, udp_ok, UdpOk)
                .map_err(|e| StartError::Bind("udp-ok", e))?,
            settled: None,
        })
    }

    /// Sockets of the TCP services that carry a connection or are still closing
    /// (0 once every connection has fully ended and every socket is listening again).
    pub fn busy(&mut self, stack: &mut Stack<'_>) -> usize {
        self.echo.listener().busy(stack)
            + self.upper.listener().busy(stack)
            + self.notice.listener().busy(stack)
            + self.robot.listener().busy(stack)
    }

    /// Give every service its turn. Call after every poll of the stack.
    #[cfg_attr(target_os = "none", inline(never))]
    ///
    /// A turn after which no frame arrived and nothing happened on the stack is skipped:
    /// data, room to send and connections all come with a frame, and every other change
    /// of a socket (a timeout, a close) is an event. A UDP service whose answers found
    /// no room keeps the next turn.
    ///
    /// On bare metal every turn is taken: the test costs more flash than its time is
    /// worth there, and a board's loop polls only when its device or clock moved.
    pub fn poll(&mut self, stack: &mut Stack<'_>) {
        let mark = |stack: &Stack<'_>| (stack.arrivals(), stack.activity(), stack.pool_epoch());
        if cfg!(not(target_os = "none")) && self.settled == Some(mark(stack)) {
            return;
        }
        self.echo.poll(stack);
        self.upper.poll(stack);
        self.notice.poll(stack);
        self.robot.poll(stack);
        let waiting = self.udp_echo.serve(stack) | self.udp_ok.serve(stack);
        if cfg!(not(target_os = "none")) {
            self.settled = (!waiting).then(|| mark(stack));
        }
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
