//! UDP with the tutorial's verbs: `bind`, `sendto`, `recvfrom`.
//!
//! UDP maps onto smoltcp almost one to one: a bound socket with a queue of received
//! datagrams and a queue of datagrams to send. Two differences from the kernel:
//!
//! * The queues are the caller's [`UdpBuffers`]: `PACKETS` datagrams and `BYTES` bytes of
//!   payload each way. When the receive queue is full, new datagrams are dropped, as a
//!   kernel does when `SO_RCVBUF` is full.
//! * A datagram larger than the buffer given to [`UdpSocket::recvfrom`] is never cut
//!   silently (Python, like C, would return the first `bufsize` bytes and drop the rest):
//!   the first bytes are copied and [`RecvFromError::Truncated`] says how large it was.
//!
//! As for TCP, every call returns at once: `WouldBlock` where Python would wait.

use core::fmt;

use smoltcp::socket::udp;
use smoltcp::storage::PacketMetadata;
use smoltcp::wire::IpEndpoint;

use crate::stack::{Owner, SocketError, SocketId, Stack};
use crate::trace::EventKind;

/// The queues of one UDP socket: `PACKETS` datagrams and `BYTES` bytes of payload in each
/// direction; about `2 * (BYTES + PACKETS * 48)` bytes.
pub struct UdpBuffers<const PACKETS: usize = 8, const BYTES: usize = 4096> {
    rx_meta: [PacketMetadata<udp::UdpMetadata>; PACKETS],
    rx: [u8; BYTES],
    tx_meta: [PacketMetadata<udp::UdpMetadata>; PACKETS],
    tx: [u8; BYTES],
}

impl<const PACKETS: usize, const BYTES: usize> Default for UdpBuffers<PACKETS, BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PACKETS: usize, const BYTES: usize> UdpBuffers<PACKETS, BYTES> {
    /// Empty queues (a `const fn`: they can be a `static`).
    pub const fn new() -> Self {
        UdpBuffers {
            rx_meta: [PacketMetadata::EMPTY; PACKETS],
            rx: [0; BYTES],
            tx_meta: [PacketMetadata::EMPTY; PACKETS],
            tx: [0; BYTES],
        }
    }

    /// Build the queues where they lie (a `static`), without building them on the call
    /// stack first as [`new`](Self::new) does.
    pub fn init(slot: &mut core::mem::MaybeUninit<Self>) -> &mut Self {
        let this = slot.as_mut_ptr();
        // SAFETY: every field is written before the reference is made: the metadata
        // entry by entry with its real empty value, the payload bytes zeroed.
        unsafe {
            for i in 0..PACKETS {
                core::ptr::addr_of_mut!((*this).rx_meta[i]).write(PacketMetadata::EMPTY);
                core::ptr::addr_of_mut!((*this).tx_meta[i]).write(PacketMetadata::EMPTY);
            }
            core::ptr::addr_of_mut!((*this).rx).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).tx).write_bytes(0, 1);
            slot.assume_init_mut()
        }
    }
}

/// Error returned by [`UdpSocket::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindError {
    /// Port 0 cannot be bound.
    Unaddressable,
    /// The stack has no free socket slot (`EMFILE`).
    NoSlot,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Unaddressable => write!(f, "cannot bind port 0"),
            BindError::NoSlot => write!(f, "no free socket slot in the stack storage"),
        }
    }
}

impl core::error::Error for BindError {}

impl From<SocketError> for BindError {
    fn from(_: SocketError) -> Self {
        BindError::NoSlot
    }
}

/// Error returned by [`UdpSocket::sendto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendToError {
    /// The transmit queue is full (`BlockingIOError`): poll and try again.
    WouldBlock,
    /// The datagram is larger than the whole transmit buffer (`EMSGSIZE`).
    TooLarge,
    /// Port 0 or an unspecified address.
    Unaddressable,
    /// The socket was closed (`EBADF`).
    Closed,
}

impl fmt::Display for SendToError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendToError::WouldBlock => write!(f, "transmit queue full"),
            SendToError::TooLarge => write!(f, "datagram larger than the transmit buffer"),
            SendToError::Unaddressable => write!(f, "address not reachable"),
            SendToError::Closed => write!(f, "socket is closed"),
        }
    }
}

impl core::error::Error for SendToError {}

/// Error returned by [`UdpSocket::recvfrom`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvFromError {
    /// No datagram waiting (`BlockingIOError`).
    WouldBlock,
    /// The datagram did not fit: its first `copied` bytes are in the buffer, `size` is
    /// how large it was. It has been taken off the queue.
    Truncated {
        /// Bytes copied into the caller's buffer.
        copied: usize,
        /// The datagram's real size.
        size: usize,
        /// Who sent it.
        from: IpEndpoint,
    },
    /// The socket was closed (`EBADF`).
    Closed,
}

impl fmt::Display for RecvFromError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvFromError::WouldBlock => write!(f, "no datagram waiting"),
            RecvFromError::Truncated { copied, size, from } => write!(
                f,
                "datagram of {size} bytes from {from} truncated to {copied} bytes"
            ),
            RecvFromError::Closed => write!(f, "socket is closed"),
        }
    }
}

impl core::error::Error for RecvFromError {}

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
        let port = if port == 0 {
            stack.ephemeral_port()
        } else {
            port
        };
        let UdpBuffers {
            rx_meta,
            rx,
            tx_meta,
            tx,
        } = buffers;
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
            udp::PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
        );
        socket.bind(port).map_err(|_| BindError::Unaddressable)?;
        let id = stack.add(socket, Owner::Udp)?;
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
        let (socket, tracer) = stack.udp(self.id).ok_or(SendToError::Closed)?;
        if data.len() > socket.payload_send_capacity() {
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
        let (socket, tracer) = stack.udp(self.id).ok_or(RecvFromError::Closed)?;
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

    /// Whether a datagram is waiting to be received.
    pub fn can_recv(&self, stack: &mut Stack<'_>) -> bool {
        stack.udp(self.id).is_some_and(|(s, _)| s.can_recv())
    }

    /// Whether another datagram can be queued for sending right now.
    pub fn can_send(&self, stack: &mut Stack<'_>) -> bool {
        stack.udp(self.id).is_some_and(|(s, _)| s.can_send())
    }

    /// Python: `sk.close()`: unbind. Later calls on this descriptor get `Closed`.
    pub fn close(&mut self, stack: &mut Stack<'_>) {
        if let Some((socket, _)) = stack.udp(self.id) {
            socket.close();
            let slot = stack.slot_mut(self.id.index);
            slot.generation = slot.generation.wrapping_add(1);
        }
    }
}
