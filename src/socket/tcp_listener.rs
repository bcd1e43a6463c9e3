//! The listening socket: `listen(backlog)` and `accept()` on a fixed pool of sockets.
//!
//! Berkeley sockets and smoltcp disagree on what a listening socket is. In the kernel,
//! `listen(5)` turns one socket into a factory: SYNs are answered by the kernel, finished
//! handshakes wait in a queue of up to 5, and `accept()` hands out a *new* socket for each.
//! smoltcp has no accept and no backlog (smoltcp issues #852 and #441): a socket in LISTEN
//! state *becomes* the connection when a SYN arrives, and a second SYN to the same port
//! finds nobody listening and is answered with an RST.
//!
//! [`Listener`] bridges the two with a fixed pool of sockets, all on one port:
//!
//! * `listen(port, backlog)` arms `backlog` sockets of the pool in LISTEN. Each can take
//!   one connection, so at most `backlog` connections wait for `accept`, as in the kernel.
//!   A SYN that arrives when all `backlog` are taken **waits**, as with a kernel's full
//!   backlog: the stack holds it and offers it again as soon as a socket listens, and
//!   after that the client's own retransmissions try again ([`Overflow::Queue`], the
//!   default). Or, with [`Listener::set_overflow`]`(Overflow::Refuse)`, it is refused
//!   (RST) and the client's `connect` fails with `ConnectionRefusedError` at once
//!   ([`gate`](crate::stack::gate)).
//! * `accept()` hands out the oldest established connection as a [`TcpSocket`] and arms a
//!   spare socket of the pool in its place, if one is free. It never blocks: no
//!   connection ready is [`AcceptError::WouldBlock`].
//! * `close()` on an accepted socket sends FIN; the socket returns to the pool and is
//!   re-armed once the connection is CLOSED, or at once in TIME-WAIT or FIN-WAIT-2, whose
//!   duties a compact record keeps ([`time_wait`](crate::stack::time_wait)).
//!
//! So a pool of `P` sockets serves at most `P` connections at once, of which at most
//! `backlog` wait for `accept`. The pool's buffers are the caller's ([`TcpBuffers`]).

use heapless::Vec;
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

use super::buffers::TcpBuffers;
use super::errors::{AcceptError, ListenError};
use super::tcp_stream::TcpSocket;
use crate::stack::{EventKind, Outcome, Overflow, Owner, Stack, SynCounts};

/// A connection `accept` can hand out: the handshake is done (the peer may have sent its
/// FIN already).
fn is_ready(state: tcp::State) -> bool {
    matches!(state, tcp::State::Established | tcp::State::CloseWait)
}

/// A listening TCP port with a pool of up to `POOL` sockets (see the module docs).
///
/// Python: `sk = socket.socket(); sk.bind(ip_port); sk.listen(backlog)`.
#[derive(Debug)]
pub struct Listener<const POOL: usize> {
    port: u16,
    backlog: u8,
    pool: Vec<u8, POOL>,
    /// The stack's pool epoch when the pool was last scanned: while it has not moved,
    /// nothing can have become ready to accept or to re-arm.
    scanned_at: Option<u64>,
}

impl<const POOL: usize> Listener<POOL> {
    /// Bind to `port` on every address of the stack and listen with `backlog`, using one
    /// socket per element of `pool` (Python: `sk.bind(("", port)); sk.listen(backlog)`).
    pub fn listen<'a, const RX: usize, const TX: usize>(
        stack: &mut Stack<'a>,
        port: u16,
        backlog: usize,
        pool: &'a mut [TcpBuffers<RX, TX>],
    ) -> Result<Self, ListenError> {
        if port == 0 {
            return Err(ListenError::Unaddressable);
        }
        if backlog == 0 || backlog > pool.len() || backlog > u8::MAX as usize {
            return Err(ListenError::BadBacklog);
        }
        if pool.len() > POOL {
            return Err(ListenError::PoolTooLarge);
        }
        if stack.is_listening_port(port) || stack.is_client_port(port) {
            return Err(ListenError::AddrInUse);
        }
        if !stack.has_room(pool.len()) {
            return Err(ListenError::NoSlot);
        }
        if !stack.register_port(port) {
            return Err(ListenError::TooManyPorts);
        }
        let mut listener = Listener {
            port,
            backlog: backlog as u8,
            pool: Vec::new(),
            scanned_at: None,
        };
        for buffers in pool.iter_mut() {
            let id = stack.add(buffers.socket(), Owner::Spare, port)?;
            // Capacity was checked above.
            let _ = listener.pool.push(id.index);
        }
        stack.tracer().emit(
            listener.pool[0],
            EventKind::Listen {
                port,
                backlog: backlog as u8,
            },
        );
        listener.arm(stack);
        Ok(listener)
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What to do with a connection request when every socket is taken: drop it so
    /// that the client retries (the default, as Linux does) or refuse it with RST (see
    /// [`gate`](crate::stack::gate)).
    pub fn set_overflow(&self, stack: &mut Stack<'_>, overflow: Overflow) {
        stack.set_overflow(self.port, overflow);
    }

    /// What happened to the connection requests so far: accepted, queued, refused, each
    /// attempt counted once.
    pub fn syn_counts(&self, stack: &Stack<'_>) -> SynCounts {
        stack.syn_counts(self.port)
    }

    /// Python: `sk.close()` on the listening socket. The port is free again at once.
    /// Connections not yet accepted are reset (as Linux does); accepted ones stay the
    /// program's and leave the stack when closed; sockets still closing finish on
    /// their own. The pool's buffers stay lent to the stack until the stack is dropped
    /// (they were lent for its life); the listener's sockets leave its storage.
    pub fn close(self, stack: &mut Stack<'_>) {
        for &index in self.pool.iter() {
            let Some(mut p) = stack.tcp_at(index) else {
                continue;
            };
            p.observe();
            match p.slot.owner() {
                Owner::Spare | Owner::Listening => {
                    // A pending connection gets an RST; an idle socket just goes.
                    if !matches!(p.socket.state(), tcp::State::Closed | tcp::State::Listen) {
                        p.socket.abort();
                        p.slot.set_outcome(Outcome::Aborted);
                        p.tracer.emit(index, EventKind::Aborted);
                        p.observe();
                        p.slot.detach();
                        p.slot.release();
                    } else {
                        p.socket.abort();
                        stack.remove(index);
                    }
                }
                Owner::Released if p.socket.state() == tcp::State::Closed => stack.remove(index),
                Owner::Accepted | Owner::Released => p.slot.detach(),
                _ => {}
            }
        }
        stack.release_port(self.port);
        stack.tracer().touch();
    }

    /// Python: `sk.getsockname()` (the unspecified address: every address of the stack).
    pub fn local_addr(&self) -> IpListenEndpoint {
        IpListenEndpoint::from(self.port)
    }

    /// Take the oldest established connection (Python: `conn, addr = sk.accept()`).
    ///
    /// Also returns closed sockets to the pool and re-arms spare ones, so calling it
    /// regularly keeps `backlog` sockets listening.
    pub fn accept(&mut self, stack: &mut Stack<'_>) -> Result<TcpSocket, AcceptError> {
        if self.settled(stack) {
            return Err(AcceptError::WouldBlock);
        }
        self.arm(stack);
        // First come, first served: the handshake that finished first (the kernel's
        // accept queue). Handshakes seen finished by the same poll go by socket number.
        let mut oldest: Option<(u8, u32)> = None;
        for &index in self.pool.iter() {
            let Some(p) = stack.tcp_at(index) else {
                continue;
            };
            let ready = p.slot.owner() == Owner::Listening && is_ready(p.socket.state());
            let order = p.slot.ready_order();
            let older = |(_, first): (u8, u32)| (order.wrapping_sub(first) as i32) < 0;
            if ready && oldest.is_none_or(older) {
                oldest = Some((index, order));
            }
        }
        let Some((index, _)) = oldest else {
            // Only a scan that found nothing may be skipped next time: after taking one
            // connection, others may still be waiting.
            self.scanned_at = Some(stack.pool_epoch());
            return Err(AcceptError::WouldBlock);
        };
        let Some(mut p) = stack.tcp_at(index) else {
            return Err(AcceptError::WouldBlock);
        };
        p.observe();
        p.slot.accept(p.now);
        let peer = p
            .socket
            .remote_endpoint()
            .unwrap_or(IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 0));
        p.tracer.emit(index, EventKind::Accept { peer });
        self.arm(stack);
        Ok(TcpSocket::from_id(stack.socket_id(index)))
    }

    /// Whether nothing can have changed since a scan of the pool found nothing to accept
    /// (then [`accept`](Self::accept) would say `WouldBlock` at once).
    #[inline]
    pub(crate) fn settled(&self, stack: &Stack<'_>) -> bool {
        self.scanned_at == Some(stack.pool_epoch())
    }

    /// Let `waker` know when any socket of the pool changes state (a handshake done, a
    /// socket back in the pool): smoltcp's waker registration on each.
    #[cfg(feature = "async")]
    ///
    /// Only on the sockets the listener still holds (listening, or established and not yet
    /// accepted): smoltcp keeps one receive waker per socket, and an accepted connection's
    /// is its own task's, which a waiting `accept` must not take over.
    pub(crate) fn register_waker(&self, stack: &mut Stack<'_>, waker: &core::task::Waker) {
        for &index in self.pool.iter() {
            if let Some(p) = stack.tcp_at(index)
                && matches!(p.slot.owner(), Owner::Listening | Owner::Spare)
            {
                p.socket.register_recv_waker(waker);
            }
        }
    }

    /// Connections established and waiting for `accept` (a handshake still under way,
    /// SYN-RECEIVED, is not one yet).
    pub fn pending(&mut self, stack: &mut Stack<'_>) -> usize {
        self.count(stack, |owner, state| {
            owner == Owner::Listening && is_ready(state)
        })
    }

    /// Sockets in LISTEN state, ready for a SYN.
    pub fn listening(&mut self, stack: &mut Stack<'_>) -> usize {
        self.count(stack, |owner, state| {
            owner == Owner::Listening && state == tcp::State::Listen
        })
    }

    /// Sockets that carry a connection (pending or accepted) or are still closing.
    pub fn busy(&mut self, stack: &mut Stack<'_>) -> usize {
        self.pool.len()
            - self.count(stack, |owner, state| {
                owner == Owner::Spare || (owner == Owner::Listening && state == tcp::State::Listen)
            })
    }

    /// The pool's size.
    pub fn pool_size(&self) -> usize {
        self.pool.len()
    }

    fn count(&mut self, stack: &mut Stack<'_>, f: impl Fn(Owner, tcp::State) -> bool) -> usize {
        self.arm(stack);
        self.pool
            .iter()
            .filter(|&&index| {
                stack
                    .tcp_at(index)
                    .is_some_and(|p| f(p.slot.owner(), p.socket.state()))
            })
            .count()
    }

    /// Return finished sockets to the pool; arm spare ones up to `backlog`.
    fn arm(&mut self, stack: &mut Stack<'_>) {
        let mut waiting = 0;
        for &index in self.pool.iter() {
            let Some(mut p) = stack.tcp_at(index) else {
                continue;
            };
            p.observe();
            let closed = p.socket.state() == tcp::State::Closed;
            match p.slot.owner() {
                Owner::Released if closed => p.slot.retire(),
                // A pending connection died before `accept` took it.
                Owner::Listening if closed => p.slot.orphan(),
                Owner::Listening => waiting += 1,
                _ => {}
            }
        }
        for &index in self.pool.iter() {
            if waiting >= self.backlog {
                break;
            }
            let Some(p) = stack.tcp_at(index) else {
                continue;
            };
            if p.slot.owner() == Owner::Spare && p.socket.listen(self.port).is_ok() {
                p.slot.arm(p.now);
                waiting += 1;
            }
        }
    }
}
