//! UDP with the tutorial's verbs: `bind`, `sendto`, `recvfrom`.
//!
//! UDP maps onto smoltcp almost one to one: a bound socket with a queue of received
//! datagrams and a queue of datagrams to send. Two differences from the kernel:
//!
//! * The queues are the caller's [`UdpBuffers`](super::UdpBuffers): `PACKETS` datagrams and `BYTES` bytes of
//!   payload each way. When the receive queue is full, new datagrams are dropped, as a
//!   kernel does when `SO_RCVBUF` is full.
//! * A datagram larger than the buffer given to [`UdpSocket::recvfrom`] is never cut
//!   silently (Python, like C, would return the first `bufsize` bytes and drop the rest):
//!   the first bytes are copied and [`RecvFromError::Truncated`] says how large it was.
//! * A datagram goes in one frame: smoltcp, as built here, does not fragment, so one
//!   larger than a frame carries (1472 bytes over IPv4 on Ethernet) is
//!   [`SendToError::TooLarge`] (`EMSGSIZE`, as Linux says past 65507 bytes), not queued
//!   and dropped on its way out.
//!
//! As for TCP, every call returns at once: `WouldBlock` where Python would wait.

use smoltcp::socket::udp;
use smoltcp::wire::IpEndpoint;

use super::buffers::UdpBuffers;
use super::errors::{BindError, RecvFromError, SendToError};
use crate::stack::{EventKind, Owner, SocketId, Stack};

/// A bound UDP socket (Python: `sk = socket.socket(AF_INET, SOCK_DGRAM); sk.bind(addr)`).
#[derive(Debug, PartialEq, Eq)]
pub struct UdpSocket {
    id: SocketId,
    port: u16,
}

impl UdpSocket {
    /// A socket bound to `port` on every address of the stack. A client that only sends
    /// binds an ephemeral port: pass 0 (Python binds one implicitly at the first
    /// `sendto`).
    pub fn bind<'a, const PACKETS: usize, const BYTES: usize>(
        stack: &mut Stack<'a>,
        port: u16,
        buffers: &'a mut UdpBuffers<PACKETS, BYTES>,
    ) -> Result<Self, BindError> {
        Self::bind_socket(stack, port, buffers.socket())
    }

    /// [`bind`](Self::bind), compiled once whatever the buffers' sizes.
    fn bind_socket<'a>(
        stack: &mut Stack<'a>,
        port: u16,
        mut socket: udp::Socket<'a>,
    ) -> Result<Self, BindError> {
        let port = if port == 0 {
            free_ephemeral_port(stack)
        } else {
            port
        };
        if stack.is_udp_port(port) {
            return Err(BindError::AddrInUse);
        }
        socket.bind(port).map_err(|_| BindError::Unaddressable)?;
        let id = stack.add(socket, Owner::Udp, port)?;
        stack.tracer().emit(id.index, EventKind::Bind { port });
        Ok(UdpSocket { id, port })
    }

    /// Python: `sk.getsockname()` (the port; the address is every address of the stack).
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Python: `sk.fileno()`: this socket's slot in the stack's table.
    pub fn fileno(&self) -> u8 {
        self.id.index
    }

    /// Queue one datagram to `to` (Python: `sk.sendto(data, addr)`).
    pub fn sendto(
        &mut self,
        stack: &mut Stack<'_>,
        data: &[u8],
        to: impl Into<IpEndpoint>,
    ) -> Result<(), SendToError> {
        let to = to.into();
        let index = self.id.index;
        let one_frame = stack.max_udp_payload(to.addr);
        let (socket, _, tracer) = stack.udp(self.id).ok_or(SendToError::Closed)?;
        if data.len() > socket.payload_send_capacity() || data.len() > one_frame {
            return Err(SendToError::TooLarge);
        }
        socket.send_slice(data, to).map_err(|e| match e {
            udp::SendError::BufferFull => SendToError::WouldBlock,
            udp::SendError::Unaddressable => SendToError::Unaddressable,
        })?;
        tracer.emit(
            index,
            EventKind::SendTo {
                bytes: data.len() as u32,
                to,
            },
        );
        Ok(())
    }

    /// Take one datagram (Python: `data, addr = sk.recvfrom(bufsize)`): its length and
    /// its sender. See [`RecvFromError::Truncated`] for one larger than `buf`.
    pub fn recvfrom(
        &mut self,
        stack: &mut Stack<'_>,
        buf: &mut [u8],
    ) -> Result<(usize, IpEndpoint), RecvFromError> {
        let index = self.id.index;
        let (socket, _, tracer) = stack.udp(self.id).ok_or(RecvFromError::Closed)?;
        let (data, meta) = socket.recv().map_err(|_| RecvFromError::WouldBlock)?;
        let from = meta.endpoint;
        let copied = data.len().min(buf.len());
        buf[..copied].copy_from_slice(&data[..copied]);
        tracer.emit(
            index,
            EventKind::RecvFrom {
                bytes: data.len() as u32,
                from,
            },
        );
        if copied < data.len() {
            return Err(RecvFromError::Truncated {
                copied,
                size: data.len(),
                from,
            });
        }
        Ok((copied, from))
    }

    /// Another handle on the same socket (for the halves of a split socket, and an
    /// adapter's free list): only one of them may close it.
    #[cfg(feature = "edge-nal")]
    pub(crate) fn duplicate(&self) -> UdpSocket {
        UdpSocket {
            id: self.id,
            port: self.port,
        }
    }

    /// Bytes in the receive queue (wrap-around padding included: see `PeerFilter`).
    #[cfg(any(feature = "embedded-nal", feature = "edge-nal"))]
    pub(crate) fn recv_queue(&self, stack: &mut Stack<'_>) -> usize {
        stack.udp(self.id).map_or(0, |(s, _, _)| s.recv_queue())
    }

    /// Bytes of datagrams queued to send and not yet out.
    #[cfg(any(feature = "embedded-nal", feature = "edge-nal"))]
    pub(crate) fn send_queue(&self, stack: &mut Stack<'_>) -> usize {
        stack.udp(self.id).map_or(0, |(s, _, _)| s.send_queue())
    }

    /// The sender of the datagram at the head of the receive queue, left queued.
    #[cfg(feature = "edge-nal")]
    pub(crate) fn peek_sender(&self, stack: &mut Stack<'_>) -> Option<IpEndpoint> {
        let (socket, _, _) = stack.udp(self.id)?;
        socket.peek().ok().map(|(_, meta)| meta.endpoint)
    }

    /// Drop the datagram at the head of the receive queue unread (a connected socket's
    /// filter: Linux drops it on arrival), and say how many bytes left the queue.
    #[cfg(feature = "edge-nal")]
    pub(crate) fn discard(&mut self, stack: &mut Stack<'_>) -> usize {
        let Some((socket, _, _)) = stack.udp(self.id) else {
            return 0;
        };
        let before = socket.recv_queue();
        let _ = socket.recv();
        before.saturating_sub(socket.recv_queue())
    }

    /// Empty the receive queue, keeping the port and what is queued to send (a socket
    /// an adapter hands out again on the port its last user had).
    #[cfg(feature = "edge-nal")]
    pub(crate) fn drain(&mut self, stack: &mut Stack<'_>) {
        if let Some((socket, _, _)) = stack.udp(self.id) {
            while socket.recv().is_ok() {}
        }
    }

    /// Let `waker` know when a datagram arrives, or when room frees up to send one:
    /// smoltcp's own waker registration.
    #[cfg(feature = "async")]
    pub(crate) fn register_waker(
        &self,
        stack: &mut Stack<'_>,
        waker: &core::task::Waker,
        for_send: bool,
    ) {
        if let Some((socket, _, _)) = stack.udp(self.id) {
            if for_send {
                socket.register_send_waker(waker);
            } else {
                socket.register_recv_waker(waker);
            }
        }
    }

    /// Whether a datagram is waiting to be received.
    pub fn can_recv(&self, stack: &mut Stack<'_>) -> bool {
        stack.udp(self.id).is_some_and(|(s, _, _)| s.can_recv())
    }

    /// Whether another datagram can be queued for sending right now.
    pub fn can_send(&self, stack: &mut Stack<'_>) -> bool {
        stack.udp(self.id).is_some_and(|(s, _, _)| s.can_send())
    }

    /// Bind this socket to another port (0: a free ephemeral one), dropping whatever it
    /// had queued: for a socket layer above this one that keeps its sockets for reuse
    /// (Python cannot rebind a bound socket; it makes a new one, which here would need
    /// new buffers).
    #[cfg_attr(
        not(any(feature = "embedded-nal", feature = "edge-nal")),
        allow(dead_code)
    )]
    pub(crate) fn rebind(&mut self, stack: &mut Stack<'_>, port: u16) -> Result<(), BindError> {
        let port = if port == 0 {
            free_ephemeral_port(stack)
        } else {
            port
        };
        if port != self.port && stack.is_udp_port(port) {
            return Err(BindError::AddrInUse);
        }
        let index = self.id.index;
        let (socket, slot, tracer) = stack.udp(self.id).ok_or(BindError::Closed)?;
        socket.close();
        socket.bind(port).map_err(|_| BindError::Unaddressable)?;
        slot.bind_port(port);
        tracer.emit(index, EventKind::Bind { port });
        self.port = port;
        Ok(())
    }

    /// Unbind this socket but keep its slot and buffers, for [`rebind`](Self::rebind):
    /// what it had queued is dropped and datagrams to its old port find nobody.
    #[cfg_attr(
        not(any(feature = "embedded-nal", feature = "edge-nal")),
        allow(dead_code)
    )]
    pub(crate) fn unbind(&mut self, stack: &mut Stack<'_>) {
        if let Some((socket, slot, tracer)) = stack.udp(self.id) {
            socket.close();
            slot.bind_port(0);
            tracer.touch();
            self.port = 0;
        }
    }

    /// Python: `sk.close()`: unbind and free the socket's slot in the stack (the port
    /// may be bound again at once). Later calls on this descriptor get `Closed`; closing
    /// twice does nothing.
    ///
    /// Datagrams `sendto` queued still go, as in Python (whose kernel sent them at
    /// `sendto`): the slot is freed once they are out (at the next poll, unless the
    /// peer's MAC address is still being resolved). Until then the closing socket keeps
    /// its port in smoltcp, so a datagram to that port arriving meanwhile is dropped even
    /// if a new socket bound it.
    pub fn close(&mut self, stack: &mut Stack<'_>) {
        if let Some((socket, slot, tracer)) = stack.udp(self.id) {
            if socket.send_queue() == 0 {
                socket.close();
                stack.remove(self.id.index);
            } else {
                // Datagrams queued by `sendto` still go (the kernel sent them already);
                // the slot is free once they are out. Nothing more is received.
                slot.detach();
                tracer.touch();
            }
        }
    }
}

/// The next ephemeral port no UDP socket of `stack` holds.
fn free_ephemeral_port(stack: &mut Stack<'_>) -> u16 {
    let mut candidate = stack.ephemeral_port();
    for _ in 0..u16::MAX {
        if !stack.is_udp_port(candidate) {
            break;
        }
        candidate = stack.ephemeral_port();
    }
    candidate
}
