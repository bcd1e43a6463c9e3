//! `embedded-nal`'s UDP traits (`UdpClientStack`, `UdpFullStack`) on a sockless stack.
//!
//! | `embedded-nal` | sockless | Python |
//! |---|---|---|
//! | `socket()` | an unbound [`UdpSocket`] | `socket.socket(AF_INET, SOCK_DGRAM)` |
//! | `connect(s, addr)` | bound to an ephemeral port, `addr` remembered | `sk.connect(addr)` |
//! | `bind(s, port)` | bound to `port` | `sk.bind(("", port))` |
//! | `send(s, data)` / `send_to(s, addr, data)` | [`UdpSocket::sendto`] | `send` / `sendto` |
//! | `receive(s, buf)` | [`UdpSocket::recvfrom`] | `recvfrom` |
//! | `close(s)` | unbound, kept for the next `socket()` | `sk.close()` |
//!
//! As on Linux: a connected socket receives only from its peer (others' datagrams are
//! dropped; those queued before the `connect` are kept, as Linux keeps them), `send` without a peer is `EDESTADDRREQ`, a socket that sends before it is
//! bound gets an ephemeral port, and a datagram larger than the caller's buffer is cut
//! to fit (`receive` returns the bytes that fit; the trait has no way to say more).
//!
//! **Whose handle.** As with TCP, a handle carries the adapter that made it (the address
//! of its buffers): another adapter's handle is `EBADF` for every verb, and its `close`
//! never puts a socket of another adapter or stack in this one's free list.
//!
//! **Memory.** [`NalUdpStack::new`] takes one slice of [`UdpBuffers`]; each becomes a
//! socket when `socket()` first needs it, and a closed socket is unbound and kept for the
//! next `socket()` (its slot and buffers stay), so `buffers.len()` bounds the sockets
//! open at once.

use core::net::SocketAddr;

use heapless::Vec;
use smoltcp::wire::IpEndpoint;

use super::shared_stack::StackRef;
use crate::socket::{
    Errno, NetError, PeerFilter, RecvFromError, SendToError, UdpBuffers, UdpSocket,
};
use crate::stack::Stack;

/// How many UDP sockets a [`NalUdpStack`] keeps (open or free for reuse).
pub const MAX_UDP_SOCKETS: usize = 16;

/// `embedded-nal`'s UDP stack on a sockless [`Stack`] (see the module docs): each socket
/// queues `PACKETS` datagrams and `BYTES` bytes each way.
pub struct NalUdpStack<'a, S, const PACKETS: usize = 8, const BYTES: usize = 4096> {
    stack: S,
    /// This adapter's name in its handles (see the module docs).
    tag: usize,
    unused: &'a mut [UdpBuffers<PACKETS, BYTES>],
    /// Unbound sockets, for the next `socket()`.
    free: Vec<UdpSocket, MAX_UDP_SOCKETS>,
    made: usize,
}

/// A socket handle of [`NalUdpStack`].
#[derive(Debug)]
pub struct NalUdpSocket {
    /// The adapter that made it (its `tag`).
    owner: usize,
    socket: UdpSocket,
    /// From `connect`: where `send` goes, and the only sender `receive` accepts (after
    /// the datagrams queued before the `connect`, which Linux keeps).
    filter: PeerFilter,
}

impl NalUdpSocket {
    /// The sockless socket under this handle.
    pub fn socket(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }
}

impl<'a, S: StackRef<'a>, const PACKETS: usize, const BYTES: usize>
    NalUdpStack<'a, S, PACKETS, BYTES>
{
    /// The traits on `stack`, with `buffers` for every socket they will make.
    pub fn new(stack: S, buffers: &'a mut [UdpBuffers<PACKETS, BYTES>]) -> Self {
        NalUdpStack {
            stack,
            tag: buffers.as_ptr() as usize,
            unused: buffers,
            free: Vec::new(),
            made: 0,
        }
    }

    /// The stack, for the program's own polling and verbs.
    pub fn stack(&mut self) -> &mut S {
        &mut self.stack
    }

    /// Buffers not yet made into sockets.
    pub fn unused_buffers(&self) -> usize {
        self.unused.len()
    }

    /// Run `f` on the stack, after unbinding the sockets whose `close` found it busy.
    fn run<R>(&mut self, f: impl FnOnce(&mut Stack<'a>) -> R) -> Result<R, NetError> {
        let free = &mut self.free;
        self.stack.with(|stack| {
            unbind_closed(free, stack);
            f(stack)
        })
    }

    /// `EBADF` for a handle another adapter made.
    fn own(&self, handle: &NalUdpSocket) -> Result<(), NetError> {
        if handle.owner == self.tag {
            Ok(())
        } else {
            Err(Errno::EBADF.into())
        }
    }
}

/// A failure of an `nb` verb: a busy stack is `WouldBlock` (try again).
pub(super) fn nb_error(e: NetError) -> nb::Error<NetError> {
    match e {
        NetError::Busy => nb::Error::WouldBlock,
        e => nb::Error::Other(e),
    }
}

/// Unbind the closed sockets still bound (their `close` found the stack busy, or their
/// last datagrams were still queued: unbinding would drop them, and Python's kernel
/// sends what `sendto` took even after `close`).
fn unbind_closed(free: &mut [UdpSocket], stack: &mut Stack<'_>) {
    for socket in free.iter_mut().filter(|s| s.local_port() != 0) {
        if socket.send_queue(stack) == 0 {
            socket.unbind(stack);
        }
    }
}

/// Queue one datagram, binding an ephemeral port first if the socket has none.
fn send_to(
    stack: &mut Stack<'_>,
    socket: &mut UdpSocket,
    to: IpEndpoint,
    data: &[u8],
) -> nb::Result<(), NetError> {
    if socket.local_port() == 0 {
        socket
            .rebind(stack, 0)
            .map_err(|e| nb::Error::Other(e.errno().into()))?;
    }
    socket.sendto(stack, data, to).map_err(|e| match e {
        SendToError::WouldBlock => nb::Error::WouldBlock,
        e => nb::Error::Other(e.errno().into()),
    })
}

impl<'a, S: StackRef<'a>, const PACKETS: usize, const BYTES: usize> embedded_nal::UdpClientStack
    for NalUdpStack<'a, S, PACKETS, BYTES>
{
    type UdpSocket = NalUdpSocket;
    type Error = NetError;

    /// An unbound socket: a closed one, or one on the next unused buffers (`ENOBUFS`
    /// when none is left, or only closed ones whose datagrams still wait to go out;
    /// `EMFILE` when the stack is full).
    fn socket(&mut self) -> Result<NalUdpSocket, NetError> {
        let NalUdpStack {
            stack,
            tag,
            unused,
            free,
            made,
        } = self;
        let owner = *tag;
        stack.with(|stack| {
            unbind_closed(free, stack);
            // A closed socket whose last datagrams are out (one still sending keeps
            // its port until they are).
            if let Some(i) = free.iter().position(|s| s.local_port() == 0) {
                let socket = free.swap_remove(i);
                return Ok(NalUdpSocket {
                    owner,
                    socket,
                    filter: PeerFilter::default(),
                });
            }
            if *made >= MAX_UDP_SOCKETS || unused.is_empty() {
                return Err(Errno::ENOBUFS.into());
            }
            if !stack.has_room(1) {
                return Err(NetError::from(Errno::EMFILE));
            }
            let (buffers, rest) = core::mem::take(unused).split_at_mut(1);
            *unused = rest;
            let [buffers] = buffers else {
                return Err(Errno::ENOBUFS.into());
            };
            let mut socket =
                UdpSocket::bind(stack, 0, buffers).map_err(|e| NetError::from(e.errno()))?;
            socket.unbind(stack);
            *made += 1;
            Ok(NalUdpSocket {
                owner,
                socket,
                filter: PeerFilter::default(),
            })
        })?
    }

    /// Python: `sk.connect(addr)`: an ephemeral port (unless bound), and `addr` as the
    /// only peer.
    fn connect(&mut self, socket: &mut NalUdpSocket, remote: SocketAddr) -> Result<(), NetError> {
        self.own(socket)?;
        let remote = NetError::endpoint(remote)?;
        if remote.port == 0 || remote.addr.is_unspecified() {
            return Err(Errno::ENETUNREACH.into());
        }
        self.run(|stack| {
            if socket.socket.local_port() == 0 {
                socket
                    .socket
                    .rebind(stack, 0)
                    .map_err(|e| NetError::from(e.errno()))?;
            }
            let queued = socket.socket.recv_queue(stack);
            socket.filter.connect(remote, queued);
            Ok(())
        })?
    }

    fn send(&mut self, socket: &mut NalUdpSocket, buffer: &[u8]) -> nb::Result<(), NetError> {
        self.own(socket).map_err(nb::Error::Other)?;
        let peer = socket
            .filter
            .peer()
            .ok_or(nb::Error::Other(Errno::EDESTADDRREQ.into()))?;
        self.run(|stack| send_to(stack, &mut socket.socket, peer, buffer))
            .map_err(nb_error)?
    }

    /// One datagram, cut to `buffer` if larger (as Linux's `recvfrom`); a connected
    /// socket drops those not from its peer.
    fn receive(
        &mut self,
        socket: &mut NalUdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), NetError> {
        self.own(socket).map_err(nb::Error::Other)?;
        let NalUdpSocket { socket, filter, .. } = socket;
        self.run(|stack| {
            loop {
                let before = socket.recv_queue(stack);
                let got = socket.recvfrom(stack, buffer);
                let taken = filter.accepts_head();
                filter.taken(before.saturating_sub(socket.recv_queue(stack)));
                let (n, from) = match got {
                    Ok(got) => got,
                    Err(RecvFromError::Truncated { copied, from, .. }) => (copied, from),
                    Err(RecvFromError::WouldBlock) => return Err(nb::Error::WouldBlock),
                    Err(e) => return Err(nb::Error::Other(e.errno().into())),
                };
                if taken || filter.accepts(from) {
                    return Ok((n, SocketAddr::from(from)));
                }
            }
        })
        .map_err(nb_error)?
    }

    /// Python: `sk.close()`: the port is free at once; the socket is kept, unbound, for
    /// the next `socket()`. Datagrams `send` queued still go: until they are out, the
    /// socket keeps its port (a `bind` of it is `EADDRINUSE`, no datagram is lost). On a
    /// busy stack (`Busy`) it is unbound at the next call.
    fn close(&mut self, socket: NalUdpSocket) -> Result<(), NetError> {
        self.own(&socket)?;
        // Room: every socket made fits the free list.
        let _ = self.free.push(socket.socket);
        self.run(|_| ())
    }
}

impl<'a, S: StackRef<'a>, const PACKETS: usize, const BYTES: usize> embedded_nal::UdpFullStack
    for NalUdpStack<'a, S, PACKETS, BYTES>
{
    /// Python: `sk.bind(("", port))`; a port another UDP socket of the stack holds is
    /// `EADDRINUSE`; port 0 is an ephemeral one. A socket that has a port already (bound,
    /// connected, or sent from) is `EINVAL`, as Linux: rebinding would drop its queues.
    fn bind(&mut self, socket: &mut NalUdpSocket, local_port: u16) -> Result<(), NetError> {
        self.own(socket)?;
        if socket.socket.local_port() != 0 {
            return Err(Errno::EINVAL.into());
        }
        self.run(|stack| {
            socket
                .socket
                .rebind(stack, local_port)
                .map_err(|e| NetError::from(e.errno()))
        })?
    }

    /// Python: `sk.sendto(data, addr)`.
    fn send_to(
        &mut self,
        socket: &mut NalUdpSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), NetError> {
        self.own(socket).map_err(nb::Error::Other)?;
        let to = NetError::endpoint(remote).map_err(nb::Error::Other)?;
        self.run(|stack| send_to(stack, &mut socket.socket, to, buffer))
            .map_err(nb_error)?
    }
}
