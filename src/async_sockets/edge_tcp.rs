//! edge-nal's TCP factories (`TcpConnect`, `TcpBind`, `TcpAccept`) on the async facade,
//! so that async protocol crates written for edge-nal run on sockless.
//!
//! edge-nal's factories take `&self`: many tasks connect and accept through one shared
//! value. [`EdgeTcp`] keeps its sockets in a `RefCell` (never borrowed across an
//! `.await`) on one slice of [`TcpBuffers`], as the embedded-nal adapter does:
//!
//! * `connect` takes a client socket whose last connection is over, or one on the next
//!   unused buffers; dropping the [`EdgeStream`] closes it (FIN) and keeps the socket for
//!   the next `connect`, so a device that reconnects forever never runs out.
//! * `bind` makes a sockless listener on the next `POOL` buffers (backlog `POOL`); its
//!   [`EdgeAcceptor`] hands out accepted streams, whose drop returns their socket to the
//!   pool. Only the port of the local address counts (the listener takes every address
//!   of the stack). Dropping the acceptor closes the listener; its pool stays lent to
//!   the stack (see [`Listener::close`]).
//! * Several tasks may `accept` on one acceptor: smoltcp keeps one waker per socket, so
//!   the task that gets a connection wakes the other waiting ones, which look again.
//!
//! * At most [`MAX_EDGE_ACCEPTED`] accepted streams live at once: `accept` is `EMFILE`
//!   beyond, as Linux out of descriptors, the caller left queued. A stream dropped
//!   inside a borrow of the stack (an observer's code) cannot close then: its close is
//!   done at the next `connect`, `bind`, `accept` or stream drop of the same `EdgeTcp`.
//!
//! Streams are embedded-io-async's `Read`/`Write`, edge-nal's `Readable`, `TcpSplit`
//! (sockless's async halves) and `TcpShutdown`; errors are [`NetError`].

use core::cell::RefCell;
use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::{Poll, Waker};

use heapless::Vec;
use smoltcp::socket::tcp;
use smoltcp::wire::IpEndpoint;

use super::async_stack::AsyncStack;
use super::tcp::{
    AsyncReadHalf, AsyncWriteHalf, busy, connect_on, flush_on, halves, readable_on, recv_on,
    send_on,
};
use crate::socket::{BufferReserve, Errno, Listener, NetError, Shutdown, TcpBuffers, TcpSocket};
use crate::stack::Stack;

/// How many client sockets an [`EdgeTcp`] keeps (open or free for reuse).
pub const MAX_EDGE_CLIENTS: usize = 16;

/// How many tasks may wait in `accept` on one [`EdgeAcceptor`] at once.
pub const MAX_ACCEPTORS: usize = 4;

/// How many accepted streams an [`EdgeTcp`] hands out at once; `accept` is `EMFILE`
/// beyond (Linux: no descriptor left), the connection staying queued. It bounds what a
/// stream dropped on a busy stack leaves to close later.
pub const MAX_EDGE_ACCEPTED: usize = 16;

/// edge-nal's TCP factories on an [`AsyncStack`] (see the module docs): sockets on
/// buffers of `RX` + `TX` bytes, listeners with pools of `POOL`.
pub struct EdgeTcp<
    's,
    'a,
    const RX: usize = 2048,
    const TX: usize = 2048,
    const POOL: usize = 4,
    const TIMERS: usize = 8,
> {
    stack: &'s AsyncStack<'a, TIMERS>,
    reserve: RefCell<Reserve<'a, RX, TX>>,
}

struct Reserve<'a, const RX: usize, const TX: usize> {
    unused: BufferReserve<'a, RX, TX>,
    free: Vec<TcpSocket, MAX_EDGE_CLIENTS>,
    clients: usize,
    /// Accepted streams not yet dropped.
    accepted: usize,
    /// Streams dropped while the stack was busy, to close at the next chance (they fit:
    /// at most `MAX_EDGE_CLIENTS` clients and `MAX_EDGE_ACCEPTED` accepted exist).
    closing_clients: Vec<TcpSocket, MAX_EDGE_CLIENTS>,
    closing_accepted: Vec<TcpSocket, MAX_EDGE_ACCEPTED>,
}

impl<const RX: usize, const TX: usize> Reserve<'_, RX, TX> {
    /// Close the streams dropped while the stack was busy.
    fn settle(&mut self, stack: &mut Stack<'_>) {
        while let Some(mut socket) = self.closing_clients.pop() {
            socket.close_to_reuse(stack);
            // Room: every client socket made fits the free list.
            let _ = self.free.push(socket);
        }
        while let Some(mut socket) = self.closing_accepted.pop() {
            socket.close(stack);
            self.accepted = self.accepted.saturating_sub(1);
        }
    }
}

impl<'s, 'a, const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    EdgeTcp<'s, 'a, RX, TX, POOL, TIMERS>
{
    /// The factories on `stack`, with `buffers` for every socket they will make.
    pub fn new(stack: &'s AsyncStack<'a, TIMERS>, buffers: &'a mut [TcpBuffers<RX, TX>]) -> Self {
        EdgeTcp {
            stack,
            reserve: RefCell::new(Reserve {
                unused: BufferReserve::new(buffers),
                free: Vec::new(),
                clients: 0,
                accepted: 0,
                closing_clients: Vec::new(),
                closing_accepted: Vec::new(),
            }),
        }
    }

    /// A client socket whose last connection is over, or one on the next unused buffers.
    fn client(&self) -> Result<TcpSocket, NetError> {
        let mut reserve = self.reserve.try_borrow_mut().map_err(|_| NetError::Busy)?;
        let reserve = &mut *reserve;
        self.stack
            .with(|s| {
                reserve.settle(s);
                let reusable = reserve
                    .free
                    .iter()
                    .position(|sk| sk.state(s) == Some(tcp::State::Closed))
                    .or_else(|| reserve.free.iter_mut().position(|sk| sk.end_time_wait(s)));
                if let Some(i) = reusable {
                    let mut socket = reserve.free.swap_remove(i);
                    // As `TcpSocket::new` makes it: none of the last user's state.
                    socket.renew(s);
                    let _ = socket.bind(s, 0);
                    return Ok(socket);
                }
                if reserve.clients >= MAX_EDGE_CLIENTS {
                    return Err(NetError::from(Errno::ENOBUFS));
                }
                let socket = reserve.unused.client(s)?;
                reserve.clients += 1;
                Ok(socket)
            })
            .ok_or(NetError::Busy)?
    }

    /// A listener on `port` on the next `POOL` unused buffers.
    fn listen(&self, port: u16) -> Result<Listener<POOL>, NetError> {
        let mut reserve = self.reserve.try_borrow_mut().map_err(|_| NetError::Busy)?;
        self.stack
            .with(|s| {
                reserve.settle(s);
                reserve.unused.listener(s, port, POOL, true)
            })
            .ok_or(NetError::Busy)?
    }
}

/// A connection made by [`EdgeTcp`]: connected (`connect`) or accepted (`accept`).
pub struct EdgeStream<
    'e,
    's,
    'a,
    const RX: usize,
    const TX: usize,
    const POOL: usize,
    const TIMERS: usize,
> {
    edge: &'e EdgeTcp<'s, 'a, RX, TX, POOL, TIMERS>,
    socket: TcpSocket,
    client: bool,
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize> Drop
    for EdgeStream<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    /// `close()`: FIN after the queued data; a client's socket is kept for the next
    /// `connect`, an accepted one goes back to its pool. On a busy stack (dropped inside
    /// a borrow of it), the close is done at the next chance: the next `connect`,
    /// `bind`, `accept` or stream drop of this `EdgeTcp`.
    fn drop(&mut self) {
        let socket = &mut self.socket;
        let client = self.client;
        let Ok(mut reserve) = self.edge.reserve.try_borrow_mut() else {
            // Only this module borrows it, never around a drop.
            return;
        };
        // A client's closing connection gets the orphan idle timeout (a peer that never
        // sends its FIN cannot keep the socket from the next `connect`).
        let closed = self.edge.stack.with(|s| {
            reserve.settle(s);
            if client {
                socket.close_to_reuse(s)
            } else {
                socket.close(s)
            }
        });
        // Room in each list: see `Reserve`.
        let socket = socket.duplicate();
        match (client, closed.is_some()) {
            (true, true) => {
                let _ = reserve.free.push(socket);
            }
            (true, false) => {
                let _ = reserve.closing_clients.push(socket);
            }
            (false, true) => reserve.accepted = reserve.accepted.saturating_sub(1),
            (false, false) => {
                let _ = reserve.closing_accepted.push(socket);
            }
        }
    }
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    embedded_io_async::ErrorType for EdgeStream<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    type Error = NetError;
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    embedded_io_async::Read for EdgeStream<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        recv_on(self.edge.stack, &mut self.socket, buf)
            .await
            .map_err(|e| NetError::Errno(e.errno()))
    }
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    embedded_io_async::Write for EdgeStream<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        send_on(self.edge.stack, &mut self.socket, buf)
            .await
            .map_err(|e| NetError::Errno(e.errno()))
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        flush_on(self.edge.stack, &mut self.socket)
            .await
            .map_err(|e| NetError::Errno(e.errno()))
    }
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize> edge_nal::Readable
    for EdgeStream<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    async fn readable(&mut self) -> Result<(), NetError> {
        readable_on(self.edge.stack, &mut self.socket).await;
        Ok(())
    }
}

impl<const TIMERS: usize> edge_nal::Readable for AsyncReadHalf<'_, '_, TIMERS> {
    async fn readable(&mut self) -> Result<(), NetError> {
        AsyncReadHalf::readable(self).await;
        Ok(())
    }
}

impl<'a, const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    edge_nal::TcpSplit for EdgeStream<'_, '_, 'a, RX, TX, POOL, TIMERS>
{
    type Read<'h>
        = AsyncReadHalf<'h, 'a, TIMERS>
    where
        Self: 'h;
    type Write<'h>
        = AsyncWriteHalf<'h, 'a, TIMERS>
    where
        Self: 'h;

    fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        halves(self.edge.stack, &self.socket)
    }
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize> edge_nal::TcpShutdown
    for EdgeStream<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    /// `Read`: `shutdown(SHUT_RD)`; `Write` and `Both`: FIN, then wait for the peer's
    /// ACK of every byte and of the FIN (or the `settimeout` time).
    async fn close(&mut self, what: edge_nal::Close) -> Result<(), NetError> {
        let how = match what {
            edge_nal::Close::Read => Shutdown::Read,
            edge_nal::Close::Write => Shutdown::Write,
            edge_nal::Close::Both => Shutdown::Both,
        };
        let socket = &mut self.socket;
        self.edge
            .stack
            .with(|s| socket.shutdown(s, how))
            .ok_or(NetError::Busy)?;
        if what == edge_nal::Close::Read {
            return Ok(());
        }
        flush_on(self.edge.stack, &mut self.socket)
            .await
            .map_err(|e| NetError::Errno(e.errno()))
    }

    /// An RST at once (Python: `SO_LINGER` 0, then `close`).
    async fn abort(&mut self) -> Result<(), NetError> {
        let socket = &mut self.socket;
        self.edge
            .stack
            .with(|s| socket.abort(s))
            .ok_or(NetError::Busy)
    }
}

impl<'s, 'a, const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    edge_nal::TcpConnect for EdgeTcp<'s, 'a, RX, TX, POOL, TIMERS>
{
    type Error = NetError;
    type Socket<'e>
        = EdgeStream<'e, 's, 'a, RX, TX, POOL, TIMERS>
    where
        Self: 'e;

    /// Python: `sk = socket.socket(); sk.connect(addr)`, waiting for the handshake.
    async fn connect(&self, remote: SocketAddr) -> Result<Self::Socket<'_>, NetError> {
        let remote = NetError::endpoint(remote)?;
        let socket = self.client()?;
        let mut stream = EdgeStream {
            edge: self,
            socket,
            client: true,
        };
        connect_on(self.stack, &mut stream.socket, remote)
            .await
            .map_err(|e| NetError::Errno(e.errno()))?;
        Ok(stream)
    }
}

impl<'s, 'a, const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    edge_nal::TcpBind for EdgeTcp<'s, 'a, RX, TX, POOL, TIMERS>
{
    type Error = NetError;
    type Accept<'e>
        = EdgeAcceptor<'e, 's, 'a, RX, TX, POOL, TIMERS>
    where
        Self: 'e;

    /// Python: `sk.bind(addr); sk.listen(POOL)` (the address's port; every address).
    async fn bind(&self, local: SocketAddr) -> Result<Self::Accept<'_>, NetError> {
        let listener = self.listen(local.port())?;
        Ok(EdgeAcceptor {
            edge: self,
            listener: RefCell::new(Some(listener)),
            waiting: RefCell::new(Vec::new()),
        })
    }
}

/// A bound, listening port of [`EdgeTcp`]; dropping it closes the listener.
pub struct EdgeAcceptor<
    'e,
    's,
    'a,
    const RX: usize,
    const TX: usize,
    const POOL: usize,
    const TIMERS: usize,
> {
    edge: &'e EdgeTcp<'s, 'a, RX, TX, POOL, TIMERS>,
    listener: RefCell<Option<Listener<POOL>>>,
    /// The tasks waiting in `accept`, woken when one of them gets a connection.
    waiting: RefCell<Vec<Waker, MAX_ACCEPTORS>>,
}

impl<const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize> Drop
    for EdgeAcceptor<'_, '_, '_, RX, TX, POOL, TIMERS>
{
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get_mut().take() {
            let _ = self.edge.stack.with(|s| listener.close(s));
        }
    }
}

impl<'e, 's, 'a, const RX: usize, const TX: usize, const POOL: usize, const TIMERS: usize>
    edge_nal::TcpAccept for EdgeAcceptor<'e, 's, 'a, RX, TX, POOL, TIMERS>
{
    type Error = NetError;
    type Socket<'x>
        = EdgeStream<'e, 's, 'a, RX, TX, POOL, TIMERS>
    where
        Self: 'x;

    /// Python: `conn, addr = sk.accept()`.
    async fn accept(&self) -> Result<(SocketAddr, Self::Socket<'_>), NetError> {
        let stack = self.edge.stack;
        let (socket, peer) = poll_fn(|cx| {
            let Ok(mut listener) = self.listener.try_borrow_mut() else {
                return busy(cx);
            };
            let Ok(mut reserve) = self.edge.reserve.try_borrow_mut() else {
                return busy(cx);
            };
            if stack.with(|s| reserve.settle(s)).is_none() {
                return busy(cx);
            }
            if reserve.accepted >= MAX_EDGE_ACCEPTED {
                // Linux: EMFILE, the connection stays queued for a later accept.
                return Poll::Ready(Err(NetError::from(Errno::EMFILE)));
            }
            let Some(listener) = listener.as_mut() else {
                return Poll::Ready(Err(NetError::from(Errno::EBADF)));
            };
            let step = stack.with(|s| match listener.accept(s) {
                Ok(conn) => {
                    let peer = conn.peer_addr(s);
                    reserve.accepted += 1;
                    Poll::Ready(Ok((conn, peer)))
                }
                Err(_) => {
                    listener.register_waker(s, cx.waker());
                    Poll::Pending
                }
            });
            match step {
                Some(Poll::Ready(done)) => {
                    // The others look again (one of them must hold smoltcp's waker).
                    if let Ok(mut waiting) = self.waiting.try_borrow_mut() {
                        waiting.retain(|w| !w.will_wake(cx.waker()));
                        for waker in waiting.drain(..) {
                            waker.wake();
                        }
                    }
                    Poll::Ready(done)
                }
                Some(Poll::Pending) => {
                    if let Ok(mut waiting) = self.waiting.try_borrow_mut()
                        && !waiting.iter().any(|w| w.will_wake(cx.waker()))
                        && waiting.push(cx.waker().clone()).is_err()
                    {
                        // More waiting tasks than room: this one polls again.
                        cx.waker().wake_by_ref();
                    }
                    Poll::Pending
                }
                None => busy(cx),
            }
        })
        .await?;
        let peer = peer.unwrap_or(IpEndpoint::new(smoltcp::wire::IpAddress::v4(0, 0, 0, 0), 0));
        Ok((
            SocketAddr::from(peer),
            EdgeStream {
                edge: self.edge,
                socket,
                client: false,
            },
        ))
    }
}
