//! UDP as `async fn`s: `recv_from().await`, `send_to().await`.

use core::future::poll_fn;
use core::task::Poll;

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

use super::async_stack::{AsyncStack, finish};
use crate::socket::{BindError, RecvFromError, SendToError, UdpBuffers, UdpSocket};
use crate::stack::later;

/// A bound UDP socket whose verbs wait; dropping it closes it (its slot is free again).
pub struct AsyncUdpSocket<'s, 'a, const TIMERS: usize = 8> {
    stack: &'s AsyncStack<'a, TIMERS>,
    socket: UdpSocket,
    timeout: Option<Duration>,
}

impl<'s, 'a, const TIMERS: usize> AsyncUdpSocket<'s, 'a, TIMERS> {
    /// Python: `sk = socket(AF_INET, SOCK_DGRAM); sk.bind(("", port))` (0: ephemeral).
    pub fn bind<const PACKETS: usize, const BYTES: usize>(
        stack: &'s AsyncStack<'a, TIMERS>,
        port: u16,
        buffers: &'a mut UdpBuffers<PACKETS, BYTES>,
    ) -> Result<Self, BindError> {
        let socket = stack
            .with(|s| UdpSocket::bind(s, port, buffers))
            .ok_or(BindError::NoSlot)??;
        Ok(AsyncUdpSocket {
            stack,
            socket,
            timeout: None,
        })
    }

    /// The bound port.
    pub fn local_port(&self) -> u16 {
        self.socket.local_port()
    }

    /// Python: `sk.settimeout(t)`: `recv_from` gives up after `t` (`WouldBlock`, which
    /// is Python's `socket.timeout` here), and so does `send_to` waiting for room. Zero
    /// is non-blocking: `WouldBlock` at once, as Python's `BlockingIOError`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Python: `data, addr = sk.recvfrom(bufsize)`: waits for a datagram.
    pub async fn recv_from(
        &mut self,
        buf: &mut [u8],
    ) -> Result<(usize, IpEndpoint), RecvFromError> {
        let (stack, socket, timeout) = (self.stack, &mut self.socket, self.timeout);
        let mut until: Option<Option<Instant>> = None;
        poll_fn(|cx| {
            let step = stack.with(|s| {
                let until = *until.get_or_insert_with(|| timeout.map(|t| later(s.now(), t)));
                match socket.recvfrom(s, buf) {
                    Err(RecvFromError::WouldBlock) if until.is_some_and(|t| s.now() >= t) => {
                        Poll::Ready(Err(RecvFromError::WouldBlock))
                    }
                    Err(RecvFromError::WouldBlock) => {
                        socket.register_waker(s, cx.waker(), false);
                        Poll::Pending
                    }
                    done => Poll::Ready(done),
                }
            });
            finish(stack, step, until, cx)
        })
        .await
    }

    /// Python: `sk.sendto(data, addr)`: waits for room in the send queue.
    pub async fn send_to(
        &mut self,
        data: &[u8],
        to: impl Into<IpEndpoint>,
    ) -> Result<(), SendToError> {
        let to = to.into();
        let (stack, socket, timeout) = (self.stack, &mut self.socket, self.timeout);
        let mut until: Option<Option<Instant>> = None;
        poll_fn(|cx| {
            let step = stack.with(|s| {
                let until = *until.get_or_insert_with(|| timeout.map(|t| later(s.now(), t)));
                match socket.sendto(s, data, to) {
                    Err(SendToError::WouldBlock) if until.is_some_and(|t| s.now() >= t) => {
                        Poll::Ready(Err(SendToError::WouldBlock))
                    }
                    Err(SendToError::WouldBlock) => {
                        socket.register_waker(s, cx.waker(), true);
                        Poll::Pending
                    }
                    done => Poll::Ready(done),
                }
            });
            finish(stack, step, until, cx)
        })
        .await
    }
}

impl<const TIMERS: usize> Drop for AsyncUdpSocket<'_, '_, TIMERS> {
    /// Python: `sk.close()`: the slot and the port are free again.
    fn drop(&mut self) {
        let socket = &mut self.socket;
        let _ = self.stack.with(|s| socket.close(s));
    }
}
