//! A TCP socket bound to its stack as `embedded-io`'s byte stream.
//!
//! sockless's verbs take the stack at every call and never block. `embedded-io`'s
//! traits take only `&mut self`, so a [`ByteStream`] pairs a [`TcpSocket`] with what lends
//! it the stack, for as long as the caller needs it (as embassy-net's sockets are bound
//! to their stack):
//!
//! * On the stack itself (`ByteStream::new(&mut sk, &mut stack)`): `ReadReady` and
//!   `WriteReady` only. Nothing could move the network while a read waited.
//! * On a [`Blocking`] network (the testbed's [`client_side`](crate::testbed::Testbed::client_side),
//!   [`Polled`](crate::socket::Polled), a TAP loop, firmware): `Read`, `Write` and
//!   `core::fmt::Write` too, blocking as Python's sockets do by default
//!   (`setblocking(True)`): each call polls the stack (through the network's `wait`) until
//!   it can make progress. The socket's [`settimeout`](TcpSocket::set_timeout) bounds the
//!   wait: `read` fails with `ETIMEDOUT` after that long without data, `write` and
//!   `flush` after that long without room or without the peer's ACK, as Python's
//!   `socket.timeout`; a timeout of zero is Python's non-blocking mode: `EAGAIN` at
//!   once (`BlockingIOError`). Without a timeout they wait as long as the network can move; a
//!   virtual network with nothing left to happen is [`NetError::Stalled`].
//!
//! `read` returns `Ok(0)` at the end of the peer's stream (Python's `b''`); `flush`
//! returns once the peer acknowledged every byte written.

use core::fmt;

use smoltcp::socket::tcp;
use smoltcp::time::Instant;

use crate::socket::{Blocking, Errno, NetError, RecvError, SendError, StackAccess, TcpSocket};
use crate::stack::{NEVER, Stack, later};

/// A [`TcpSocket`] bound to what lends it its stack (see the module docs).
pub struct ByteStream<'s, N> {
    socket: &'s mut TcpSocket,
    network: N,
}

impl<'s, 'a, N: StackAccess<'a>> ByteStream<'s, N> {
    /// `socket` on `network`: `&mut Stack` for the non-blocking traits, a
    /// [`Blocking`] network for all of them.
    pub fn new(socket: &'s mut TcpSocket, network: N) -> Self {
        ByteStream { socket, network }
    }

    /// The socket and its stack, for the verbs the traits lack (`shutdown`, `close`...).
    pub fn parts(&mut self) -> (&mut TcpSocket, &mut Stack<'a>) {
        (self.socket, self.network.stack())
    }

    /// The state, or `EBADF` for a stale descriptor.
    fn state(&mut self) -> Result<tcp::State, NetError> {
        self.socket
            .state(self.network.stack())
            .ok_or(NetError::Errno(Errno::EBADF))
    }

    /// Python's `settimeout(0)`: a call that would wait fails with `EAGAIN` at once.
    fn non_blocking(&mut self) -> bool {
        let stack = self.network.stack();
        self.socket.timeout(stack) == Some(smoltcp::time::Duration::ZERO)
    }

    /// When a blocked `write` or `flush` begun now gives up (the socket's timeout;
    /// `None` for none, or `Duration::MAX`: never).
    fn deadline(&mut self) -> Option<Instant> {
        let stack = self.network.stack();
        let timeout = self.socket.timeout(stack)?;
        Some(later(stack.now(), timeout)).filter(|&d| d < NEVER)
    }
}

impl<N> embedded_io::ErrorType for ByteStream<'_, N> {
    type Error = NetError;
}

impl<'a, N: StackAccess<'a>> embedded_io::ReadReady for ByteStream<'_, N> {
    /// Data is waiting, or a `read` would return at once (end of stream, an error).
    fn read_ready(&mut self) -> Result<bool, NetError> {
        let state = self.state()?;
        let waiting = self.socket.recv_queue(self.network.stack()) > 0;
        Ok(waiting
            || !matches!(
                state,
                tcp::State::SynSent
                    | tcp::State::SynReceived
                    | tcp::State::Established
                    | tcp::State::FinWait1
                    | tcp::State::FinWait2
            ))
    }
}

impl<'a, N: StackAccess<'a>> embedded_io::WriteReady for ByteStream<'_, N> {
    /// Room in the send buffer, or a `write` would fail at once (closed, reset).
    fn write_ready(&mut self) -> Result<bool, NetError> {
        let state = self.state()?;
        let room = self.socket.send_space(self.network.stack()) > 0;
        Ok(room
            || !matches!(
                state,
                tcp::State::SynSent
                    | tcp::State::SynReceived
                    | tcp::State::Established
                    | tcp::State::CloseWait
            ))
    }
}

impl<'a, N: Blocking<'a>> ByteStream<'_, N> {
    /// Wait for the network, unless `deadline` passed (`ETIMEDOUT`) or it stalled.
    fn wait_until(&mut self, deadline: Option<Instant>) -> Result<(), NetError> {
        if deadline.is_some_and(|d| self.network.stack().now() >= d) {
            return Err(Errno::ETIMEDOUT.into());
        }
        if self.network.wait(deadline) {
            Ok(())
        } else {
            Err(NetError::Stalled)
        }
    }
}

impl<'a, N: Blocking<'a>> embedded_io::Read for ByteStream<'_, N> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.socket.restart_wait(self.network.stack());
        let non_blocking = self.non_blocking();
        loop {
            match self.socket.recv(self.network.stack(), buf) {
                Ok(n) => return Ok(n),
                Err(RecvError::WouldBlock) if non_blocking => return Err(Errno::EAGAIN.into()),
                // `recv` itself times out after the socket's timeout.
                Err(RecvError::WouldBlock) => self.wait_until(None)?,
                Err(e) => return Err(e.errno().into()),
            }
        }
    }
}

impl<'a, N: Blocking<'a>> embedded_io::Write for ByteStream<'_, N> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.deadline();
        let non_blocking = self.non_blocking();
        loop {
            match self.socket.send(self.network.stack(), buf) {
                Ok(n) => return Ok(n),
                Err(SendError::WouldBlock) if non_blocking => return Err(Errno::EAGAIN.into()),
                Err(SendError::WouldBlock) => self.wait_until(deadline)?,
                Err(e) => return Err(e.errno().into()),
            }
        }
    }

    /// Until the peer acknowledged every byte written (or the connection failed).
    fn flush(&mut self) -> Result<(), NetError> {
        let deadline = self.deadline();
        loop {
            let state = self.state()?;
            if self.socket.send_queue(self.network.stack()) == 0 {
                return Ok(());
            }
            if let Some(e) = self.socket.error(self.network.stack()) {
                return Err(e.errno().into());
            }
            if matches!(state, tcp::State::Closed | tcp::State::TimeWait) {
                return Ok(());
            }
            if self.non_blocking() {
                return Err(Errno::EAGAIN.into());
            }
            self.wait_until(deadline)?;
        }
    }
}

impl<'a, N: Blocking<'a>> fmt::Write for ByteStream<'_, N> {
    /// The whole text, blocking as `write` does (any failure is `fmt::Error`).
    fn write_str(&mut self, s: &str) -> fmt::Result {
        embedded_io::Write::write_all(self, s.as_bytes()).map_err(|_| fmt::Error)
    }
}
