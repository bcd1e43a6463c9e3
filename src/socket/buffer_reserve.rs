//! Buffers not yet made into sockets, for a layer above that makes sockets on demand
//! (the embedded-nal and edge-nal adapters): one client socket, or one listener's pool,
//! at a time, each checked before its buffers are lent to the stack for good.

use super::buffers::TcpBuffers;
use super::errors::Errno;
use super::net_error::NetError;
use super::tcp_listener::Listener;
use super::tcp_stream::TcpSocket;
use crate::stack::Stack;

/// The caller's buffers not yet lent to the stack.
pub(crate) struct BufferReserve<'a, const RX: usize, const TX: usize> {
    unused: &'a mut [TcpBuffers<RX, TX>],
}

impl<'a, const RX: usize, const TX: usize> BufferReserve<'a, RX, TX> {
    pub(crate) fn new(unused: &'a mut [TcpBuffers<RX, TX>]) -> Self {
        BufferReserve { unused }
    }

    /// Buffer pairs left.
    #[cfg_attr(not(feature = "embedded-nal"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.unused.len()
    }

    /// The next `n` buffer pairs, taken out of the reserve.
    fn take(&mut self, n: usize) -> &'a mut [TcpBuffers<RX, TX>] {
        let (taken, rest) = core::mem::take(&mut self.unused).split_at_mut(n);
        self.unused = rest;
        taken
    }

    /// A client socket on the next buffers (`ENOBUFS` when none is left, `EMFILE` when
    /// the stack is full: the buffers then stay in the reserve).
    pub(crate) fn client(&mut self, stack: &mut Stack<'a>) -> Result<TcpSocket, NetError> {
        if self.unused.is_empty() {
            return Err(Errno::ENOBUFS.into());
        }
        if !stack.has_room(1) {
            return Err(Errno::EMFILE.into());
        }
        let [buffers] = self.take(1) else {
            return Err(Errno::ENOBUFS.into());
        };
        TcpSocket::new(stack, buffers).map_err(|_| NetError::from(Errno::EMFILE))
    }

    /// A listener on `port` with a pool (and backlog) of `pool` on the next buffers.
    /// What [`Listener::listen`] would refuse is refused before any buffer is lent;
    /// `room` says whether the caller can keep one more listener (else `EMFILE`).
    pub(crate) fn listener<const POOL: usize>(
        &mut self,
        stack: &mut Stack<'a>,
        port: u16,
        pool: usize,
        room: bool,
    ) -> Result<Listener<POOL>, NetError> {
        if pool == 0 || pool > POOL || pool > u8::MAX as usize || self.unused.len() < pool {
            return Err(Errno::ENOBUFS.into());
        }
        if port == 0 {
            return Err(Errno::EINVAL.into());
        }
        if stack.is_listening_port(port) || stack.is_client_port(port) {
            return Err(Errno::EADDRINUSE.into());
        }
        if !stack.has_room(pool) || !stack.can_register_port() || !room {
            return Err(Errno::EMFILE.into());
        }
        let buffers = self.take(pool);
        Listener::listen(stack, port, pool, buffers).map_err(|e| NetError::from(e.errno()))
    }
}
