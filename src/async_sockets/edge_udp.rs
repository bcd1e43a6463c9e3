//! edge-nal's UDP factories (`UdpBind`, `UdpConnect`) on the async facade, so that async
//! protocol crates written for edge-nal (DNS, DHCP, SNTP, CoAP...) run on sockless.
//!
//! [`EdgeUdp`] takes `&self`, as edge-nal's factories do, and keeps its sockets in a
//! `RefCell` (never borrowed across an `.await`) on one slice of [`UdpBuffers`], as the
//! embedded-nal adapter does: each buffer becomes a socket when first needed, and a
//! dropped [`EdgeUdpSocket`] is kept for the next `bind`/`connect`, so `buffers.len()`
//! bounds the sockets open at once and a program that binds forever never runs out.
//!
//! | edge-nal | here | Python / Linux |
//! |---|---|---|
//! | `bind(addr)` | the address's port (0: ephemeral), every address of the stack | `sk.bind(addr)` |
//! | `connect(local, remote)` | `bind(local)`, then `remote` as the peer | `sk.bind(local); sk.connect(remote)` |
//! | `receive(buf)` | one datagram, its **full** size, cut to `buf` | `recvfrom_into(buf, 0, MSG_TRUNC)` |
//! | `send(addr, data)` | one datagram (to the peer if connected) | `sendto` / `send` |
//! | `readable()` | a datagram waits | `select` on the socket |
//! | `split()` | a receive half and a send half, usable at the same time | one socket in two tasks |
//! | `join_v4`... | `EOPNOTSUPP` | `IP_ADD_MEMBERSHIP` |
//! | drop | closed; queued datagrams still go | `sk.close()` |
//!
//! What Linux does, and what differs:
//!
//! * **Bound twice**: a port another UDP socket of the stack holds is `EADDRINUSE`; port
//!   0 is a free ephemeral port. A dropped socket's port is free at once, even while its
//!   last datagrams wait to go (the next `bind` of that port gets that very socket, its
//!   receive queue emptied, its send queue kept).
//! * **Larger than the buffer**: as edge-nal asks (and Linux's `MSG_TRUNC`), `receive`
//!   fills the buffer, drops the rest, and returns the datagram's full size: a result
//!   larger than `buf.len()` says it was cut.
//! * **Connected**: a datagram from anyone but the peer is dropped; those queued before
//!   the `connect` are kept, as Linux keeps them (see `PeerFilter`). `send` on a
//!   connected socket goes to the peer whatever address it is given, as edge-nal says.
//! * **Unspecified address or port 0**: Linux sends a datagram for `0.0.0.0` to itself
//!   and refuses port 0 (`EINVAL`); a sockless stack does not talk to itself, so both
//!   are `ENETUNREACH` (`send`, `connect`), never a datagram lost in silence.
//! * **Multicast**: this stack has no IGMP or MLD, so `join_v4`, `leave_v4`, `join_v6`
//!   and `leave_v6` fail with `EOPNOTSUPP` (kind `Unsupported`).
//! * **Timeouts**: none (edge-nal's `WithTimeout` wraps any of these futures); a future
//!   dropped mid-wait takes no datagram.

use core::cell::RefCell;
use core::future::poll_fn;
use core::marker::PhantomData;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use core::task::Poll;

use heapless::Vec;
use smoltcp::wire::IpEndpoint;

use super::async_stack::AsyncStack;
use super::tcp::busy;
use crate::socket::{
    BindError, Errno, NetError, PeerFilter, RecvFromError, SendToError, UdpBuffers, UdpSocket,
};
use crate::stack::Stack;

/// How many UDP sockets an [`EdgeUdp`] keeps (open or free for reuse).
pub const MAX_EDGE_UDP_SOCKETS: usize = 16;

/// edge-nal's UDP factories on an [`AsyncStack`] (see the module docs): each socket queues
/// `PACKETS` datagrams and `BYTES` bytes each way.
pub struct EdgeUdp<
    's,
    'a,
    const PACKETS: usize = 8,
    const BYTES: usize = 4096,
    const TIMERS: usize = 8,
> {
    stack: &'s AsyncStack<'a, TIMERS>,
    reserve: RefCell<Reserve<'a, PACKETS, BYTES>>,
}

struct Reserve<'a, const PACKETS: usize, const BYTES: usize> {
    unused: &'a mut [UdpBuffers<PACKETS, BYTES>],
    /// Dropped sockets: unbound, or still bound while their last datagrams go out.
    free: Vec<UdpSocket, MAX_EDGE_UDP_SOCKETS>,
    made: usize,
}

impl<'a, const PACKETS: usize, const BYTES: usize> Reserve<'a, PACKETS, BYTES> {
    /// Free sockets whose last datagrams are out let go of their ports.
    fn settle(&mut self, stack: &mut Stack<'a>) {
        for socket in self.free.iter_mut() {
            if socket.local_port() != 0 && socket.send_queue(stack) == 0 {
                socket.unbind(stack);
            }
        }
    }

    /// A socket bound to `port` (0: ephemeral).
    fn bind(&mut self, stack: &mut Stack<'a>, port: u16) -> Result<UdpSocket, NetError> {
        self.settle(stack);
        let errno = |e: BindError| NetError::from(e.errno());
        // The port of a dropped socket whose datagrams are still going: that socket.
        if port != 0
            && let Some(i) = self.free.iter().position(|s| s.local_port() == port)
        {
            let mut socket = self.free.swap_remove(i);
            socket.drain(stack);
            return Ok(socket);
        }
        if let Some(i) = self.free.iter().position(|s| s.local_port() == 0) {
            if port != 0 && stack.is_udp_port(port) {
                return Err(Errno::EADDRINUSE.into());
            }
            let mut socket = self.free.swap_remove(i);
            if let Err(e) = socket.rebind(stack, port) {
                // Room: it was just taken out.
                let _ = self.free.push(socket);
                return Err(errno(e));
            }
            return Ok(socket);
        }
        if self.made >= MAX_EDGE_UDP_SOCKETS || self.unused.is_empty() {
            return Err(Errno::ENOBUFS.into());
        }
        if port != 0 && stack.is_udp_port(port) {
            return Err(Errno::EADDRINUSE.into());
        }
        if !stack.has_room(1) {
            return Err(Errno::EMFILE.into());
        }
        // Checked above: the port is free and the stack has a slot, so the bind succeeds
        // and the buffers are lent for good.
        let (buffers, rest) = core::mem::take(&mut self.unused).split_at_mut(1);
        self.unused = rest;
        let [buffers] = buffers else {
            return Err(Errno::ENOBUFS.into());
        };
        let socket = UdpSocket::bind(stack, port, buffers).map_err(errno)?;
        self.made += 1;
        Ok(socket)
    }
}

impl<'s, 'a, const PACKETS: usize, const BYTES: usize, const TIMERS: usize>
    EdgeUdp<'s, 'a, PACKETS, BYTES, TIMERS>
{
    /// The factories on `stack`, with `buffers` for every socket they will make.
    pub fn new(
        stack: &'s AsyncStack<'a, TIMERS>,
        buffers: &'a mut [UdpBuffers<PACKETS, BYTES>],
    ) -> Self {
        EdgeUdp {
            stack,
            reserve: RefCell::new(Reserve {
                unused: buffers,
                free: Vec::new(),
                made: 0,
            }),
        }
    }

    /// Buffers not yet made into sockets.
    pub fn unused_buffers(&self) -> usize {
        self.reserve.try_borrow().map_or(0, |r| r.unused.len())
    }

    fn bind_port(
        &self,
        port: u16,
    ) -> Result<EdgeUdpSocket<'_, 's, 'a, PACKETS, BYTES, TIMERS>, NetError> {
        let mut reserve = self.reserve.try_borrow_mut().map_err(|_| NetError::Busy)?;
        let socket = self
            .stack
            .with(|s| reserve.bind(s, port))
            .ok_or(NetError::Busy)??;
        Ok(EdgeUdpSocket {
            edge: self,
            socket,
            filter: PeerFilter::default(),
        })
    }
}

/// A UDP socket of [`EdgeUdp`]: bound, or connected (see the module docs). Dropping it
/// closes it.
pub struct EdgeUdpSocket<'e, 's, 'a, const PACKETS: usize, const BYTES: usize, const TIMERS: usize>
{
    edge: &'e EdgeUdp<'s, 'a, PACKETS, BYTES, TIMERS>,
    socket: UdpSocket,
    filter: PeerFilter,
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize>
    EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    /// Python: `sk.getsockname()[1]`.
    pub fn local_port(&self) -> u16 {
        self.socket.local_port()
    }

    /// Python: `sk.getpeername()` (`None`: not connected).
    pub fn peer(&self) -> Option<IpEndpoint> {
        self.filter.peer()
    }
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> Drop
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    /// `close()`: unbound now, or once its queued datagrams are out; kept for the next
    /// `bind`. On a busy stack, it is settled at the next `bind` or `connect`.
    fn drop(&mut self) {
        let socket = &mut self.socket;
        let _ = self.edge.stack.with(|s| {
            if socket.send_queue(s) == 0 {
                socket.unbind(s);
            }
        });
        if let Ok(mut reserve) = self.edge.reserve.try_borrow_mut() {
            // Room: every socket made fits the free list.
            let _ = reserve.free.push(socket.duplicate());
        }
    }
}

// ---- the waits behind the verbs (shared with the halves) ----------------------------

/// One datagram that `filter` lets through: `(full size, sender)`, cut to `buf`.
async fn receive_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut UdpSocket,
    filter: &mut PeerFilter,
    buf: &mut [u8],
) -> Result<(usize, SocketAddr), NetError> {
    poll_fn(|cx| {
        let step = stack.with(|s| {
            loop {
                let Some(from) = socket.peek_sender(s) else {
                    if socket.local_port() == 0 {
                        // Unbound under us (a stale handle): nothing will come.
                        return Poll::Ready(Err(Errno::EBADF.into()));
                    }
                    socket.register_waker(s, cx.waker(), false);
                    return Poll::Pending;
                };
                if !filter.accepts(from) {
                    let freed = socket.discard(s);
                    filter.taken(freed);
                    continue;
                }
                let before = socket.recv_queue(s);
                let got = socket.recvfrom(s, buf);
                filter.taken(before.saturating_sub(socket.recv_queue(s)));
                return Poll::Ready(match got {
                    Ok((n, from)) => Ok((n, SocketAddr::from(from))),
                    Err(RecvFromError::Truncated { size, from, .. }) => {
                        Ok((size, SocketAddr::from(from)))
                    }
                    Err(e) => Err(NetError::from(e.errno())),
                });
            }
        });
        step.unwrap_or_else(|| busy(cx))
    })
    .await
}

/// Wait until a datagram `filter` lets through is queued.
async fn readable_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut UdpSocket,
    filter: &mut PeerFilter,
) -> Result<(), NetError> {
    poll_fn(|cx| {
        let step = stack.with(|s| {
            loop {
                match socket.peek_sender(s) {
                    Some(from) if filter.accepts(from) => return Poll::Ready(Ok(())),
                    Some(_) => {
                        let freed = socket.discard(s);
                        filter.taken(freed);
                    }
                    None if socket.local_port() == 0 => {
                        return Poll::Ready(Err(Errno::EBADF.into()));
                    }
                    None => {
                        socket.register_waker(s, cx.waker(), false);
                        return Poll::Pending;
                    }
                }
            }
        });
        step.unwrap_or_else(|| busy(cx))
    })
    .await
}

/// Queue one datagram to `to` (the peer, if connected), waiting for room.
async fn send_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut UdpSocket,
    peer: Option<IpEndpoint>,
    to: SocketAddr,
    data: &[u8],
) -> Result<(), NetError> {
    let to = match peer {
        Some(peer) => peer,
        None => NetError::endpoint(to)?,
    };
    poll_fn(|cx| {
        let step = stack.with(|s| match socket.sendto(s, data, to) {
            Err(SendToError::WouldBlock) => {
                socket.register_waker(s, cx.waker(), true);
                Poll::Pending
            }
            done => Poll::Ready(done.map_err(|e| NetError::from(e.errno()))),
        });
        step.unwrap_or_else(|| busy(cx))
    })
    .await
}

// ---- edge-nal ------------------------------------------------------------------------

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> embedded_io_async::ErrorType
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    type Error = NetError;
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::UdpReceive
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    /// Python: `n, addr = sk.recvfrom_into(buf, 0, MSG_TRUNC)`: `n` larger than
    /// `buf.len()` says the datagram was cut.
    async fn receive(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        receive_on(self.edge.stack, &mut self.socket, &mut self.filter, buf).await
    }
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::UdpSend
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    /// Python: `sk.sendto(data, remote)`, or `sk.send(data)` once connected.
    async fn send(&mut self, remote: SocketAddr, data: &[u8]) -> Result<(), NetError> {
        send_on(
            self.edge.stack,
            &mut self.socket,
            self.filter.peer(),
            remote,
            data,
        )
        .await
    }
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::Readable
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    async fn readable(&mut self) -> Result<(), NetError> {
        readable_on(self.edge.stack, &mut self.socket, &mut self.filter).await
    }
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::MulticastV4
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    async fn join_v4(&mut self, _group: Ipv4Addr, _interface: Ipv4Addr) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }

    async fn leave_v4(&mut self, _group: Ipv4Addr, _interface: Ipv4Addr) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }
}

impl<const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::MulticastV6
    for EdgeUdpSocket<'_, '_, '_, PACKETS, BYTES, TIMERS>
{
    async fn join_v6(&mut self, _group: Ipv6Addr, _interface: u32) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }

    async fn leave_v6(&mut self, _group: Ipv6Addr, _interface: u32) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }
}

/// No IGMP or MLD in this stack (see the module docs).
const NO_MULTICAST: NetError = NetError::Errno(Errno::EOPNOTSUPP);

/// The receiving half of a split [`EdgeUdpSocket`].
pub struct EdgeUdpReceive<'h, 'a, const TIMERS: usize> {
    stack: &'h AsyncStack<'a, TIMERS>,
    socket: UdpSocket,
    filter: &'h mut PeerFilter,
}

/// The sending half of a split [`EdgeUdpSocket`].
pub struct EdgeUdpSend<'h, 'a, const TIMERS: usize> {
    stack: &'h AsyncStack<'a, TIMERS>,
    socket: UdpSocket,
    peer: Option<IpEndpoint>,
}

/// The multicast part of a split [`EdgeUdpSocket`]: every call is `EOPNOTSUPP`.
pub struct EdgeUdpMulticast<'h> {
    _socket: PhantomData<&'h mut ()>,
}

impl<const TIMERS: usize> embedded_io_async::ErrorType for EdgeUdpReceive<'_, '_, TIMERS> {
    type Error = NetError;
}

impl<const TIMERS: usize> embedded_io_async::ErrorType for EdgeUdpSend<'_, '_, TIMERS> {
    type Error = NetError;
}

impl embedded_io_async::ErrorType for EdgeUdpMulticast<'_> {
    type Error = NetError;
}

impl<const TIMERS: usize> edge_nal::UdpReceive for EdgeUdpReceive<'_, '_, TIMERS> {
    async fn receive(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        receive_on(self.stack, &mut self.socket, self.filter, buf).await
    }
}

impl<const TIMERS: usize> edge_nal::Readable for EdgeUdpReceive<'_, '_, TIMERS> {
    async fn readable(&mut self) -> Result<(), NetError> {
        readable_on(self.stack, &mut self.socket, self.filter).await
    }
}

impl<const TIMERS: usize> edge_nal::UdpSend for EdgeUdpSend<'_, '_, TIMERS> {
    async fn send(&mut self, remote: SocketAddr, data: &[u8]) -> Result<(), NetError> {
        send_on(self.stack, &mut self.socket, self.peer, remote, data).await
    }
}

impl edge_nal::MulticastV4 for EdgeUdpMulticast<'_> {
    async fn join_v4(&mut self, _group: Ipv4Addr, _interface: Ipv4Addr) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }

    async fn leave_v4(&mut self, _group: Ipv4Addr, _interface: Ipv4Addr) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }
}

impl edge_nal::MulticastV6 for EdgeUdpMulticast<'_> {
    async fn join_v6(&mut self, _group: Ipv6Addr, _interface: u32) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }

    async fn leave_v6(&mut self, _group: Ipv6Addr, _interface: u32) -> Result<(), NetError> {
        Err(NO_MULTICAST)
    }
}

impl<'a, const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::UdpSplit
    for EdgeUdpSocket<'_, '_, 'a, PACKETS, BYTES, TIMERS>
{
    type Receive<'h>
        = EdgeUdpReceive<'h, 'a, TIMERS>
    where
        Self: 'h;
    type Send<'h>
        = EdgeUdpSend<'h, 'a, TIMERS>
    where
        Self: 'h;

    /// Two handles on the one socket: one task receiving while another sends (smoltcp
    /// keeps a waker for each direction). The socket stays the owner and closes on drop.
    fn split(&mut self) -> (Self::Receive<'_>, Self::Send<'_>) {
        let stack = self.edge.stack;
        let peer = self.filter.peer();
        (
            EdgeUdpReceive {
                stack,
                socket: self.socket.duplicate(),
                filter: &mut self.filter,
            },
            EdgeUdpSend {
                stack,
                socket: self.socket.duplicate(),
                peer,
            },
        )
    }
}

impl<'a, const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::UdpSplitMulticast
    for EdgeUdpSocket<'_, '_, 'a, PACKETS, BYTES, TIMERS>
{
    type MulticastV4<'h>
        = EdgeUdpMulticast<'h>
    where
        Self: 'h;
    type MulticastV6<'h>
        = EdgeUdpMulticast<'h>
    where
        Self: 'h;

    fn split_multicast(
        &mut self,
    ) -> (
        Self::Receive<'_>,
        Self::Send<'_>,
        Self::MulticastV4<'_>,
        Self::MulticastV6<'_>,
    ) {
        let (receive, send) = edge_nal::UdpSplit::split(self);
        (
            receive,
            send,
            EdgeUdpMulticast {
                _socket: PhantomData,
            },
            EdgeUdpMulticast {
                _socket: PhantomData,
            },
        )
    }
}

impl<'s, 'a, const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::UdpBind
    for EdgeUdp<'s, 'a, PACKETS, BYTES, TIMERS>
{
    type Error = NetError;
    type Socket<'e>
        = EdgeUdpSocket<'e, 's, 'a, PACKETS, BYTES, TIMERS>
    where
        Self: 'e;

    /// Python: `sk = socket(AF_INET, SOCK_DGRAM); sk.bind(local)` (the port; 0:
    /// ephemeral; every address of the stack).
    async fn bind(&self, local: SocketAddr) -> Result<Self::Socket<'_>, NetError> {
        NetError::endpoint(local)?;
        self.bind_port(local.port())
    }
}

impl<'s, 'a, const PACKETS: usize, const BYTES: usize, const TIMERS: usize> edge_nal::UdpConnect
    for EdgeUdp<'s, 'a, PACKETS, BYTES, TIMERS>
{
    type Error = NetError;
    type Socket<'e>
        = EdgeUdpSocket<'e, 's, 'a, PACKETS, BYTES, TIMERS>
    where
        Self: 'e;

    /// Python: `sk.bind(local); sk.connect(remote)`.
    async fn connect(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Self::Socket<'_>, NetError> {
        let peer = NetError::endpoint(remote)?;
        if peer.port == 0 || peer.addr.is_unspecified() {
            return Err(Errno::ENETUNREACH.into());
        }
        let mut socket = edge_nal::UdpBind::bind(self, local).await?;
        let queued = {
            let inner = &socket.socket;
            self.stack
                .with(|s| inner.recv_queue(s))
                .ok_or(NetError::Busy)?
        };
        socket.filter.connect(peer, queued);
        Ok(socket)
    }
}
