//! The caller's memory for one socket: its data buffers, sized by const generics.
//!
//! A kernel sizes socket buffers itself (`SO_RCVBUF`, `SO_SNDBUF`) and takes the memory
//! from its heap. Here the program owns every byte: a [`TcpBuffers`] or [`UdpBuffers`] is
//! a plain array it places where it likes (a `static`, a local), lent to the socket for
//! the socket's life. Their constructors are `const fn`, so a `static` lands in `.bss`.

use smoltcp::socket::{tcp, udp};
use smoltcp::storage::PacketMetadata;

/// The receive and transmit buffers of one TCP socket: `RX + TX` bytes.
///
/// The receive buffer bounds the window the peer may fill; the transmit buffer bounds what
/// `send` can queue before it returns `WouldBlock`.
pub struct TcpBuffers<const RX: usize = 2048, const TX: usize = 2048> {
    rx: [u8; RX],
    tx: [u8; TX],
}

impl<const RX: usize, const TX: usize> Default for TcpBuffers<RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const TX: usize> TcpBuffers<RX, TX> {
    /// Zeroed buffers (a `const fn`: they can be a `static`, in `.bss`).
    pub const fn new() -> Self {
        TcpBuffers {
            rx: [0; RX],
            tx: [0; TX],
        }
    }

    /// An smoltcp socket on these buffers. smoltcp's own user timeout stays off (its
    /// default): a connection whose data goes unacknowledged retransmits until this
    /// crate's idle timeout, if one is set, resets it.
    pub(crate) fn socket(&mut self) -> tcp::Socket<'_> {
        tcp::Socket::new(
            tcp::SocketBuffer::new(&mut self.rx[..]),
            tcp::SocketBuffer::new(&mut self.tx[..]),
        )
    }
}

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
    /// An smoltcp socket on these queues.
    pub(crate) fn socket(&mut self) -> udp::Socket<'_> {
        let UdpBuffers {
            rx_meta,
            rx,
            tx_meta,
            tx,
        } = self;
        udp::Socket::new(
            udp::PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
            udp::PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
        )
    }

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
