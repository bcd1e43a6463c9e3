//! The socket layer: the tutorial's verbs on a [`Stack`](crate::stack::Stack).
//!
//! Under Berkeley sockets a socket is a file descriptor into the kernel, and each verb is
//! a system call that may block. Here a socket is a small handle into its stack's table
//! (a slot and a generation), its memory is the caller's ([`buffers`]), and every verb
//! takes the stack and returns at once: `WouldBlock` where Python would wait.
//!
//! * [`Listener`]: `bind` + `listen(backlog)` + `accept()` on a fixed pool of sockets.
//! * [`TcpSocket`]: a connection, accepted or connected: `connect`, `recv`, `send`,
//!   `sendall`, `shutdown`, `close`, `settimeout`...
//! * [`UdpSocket`]: `bind`, `sendto`, `recvfrom`.
//! * [`blocking`]: what a blocking call needs to wait on a stack ([`Blocking`]).
//! * [`errors`]: each verb's error enum, every variant the [`Errno`] Python would raise.

pub mod blocking;
#[cfg(any(feature = "embedded-nal", feature = "edge-nal"))]
mod buffer_reserve;
pub mod buffers;
#[cfg(feature = "dhcp")]
pub mod dhcp;
pub mod errors;
mod net_error;
mod tcp_listener;
mod tcp_stream;
mod udp;
#[cfg(any(feature = "embedded-nal", feature = "edge-nal"))]
mod udp_peer;

pub use blocking::{Blocking, Polled, StackAccess};
#[cfg(any(feature = "embedded-nal", feature = "edge-nal"))]
pub(crate) use buffer_reserve::BufferReserve;
pub use buffers::{TcpBuffers, UdpBuffers};
#[cfg(feature = "dhcp")]
pub use dhcp::{Dhcp, DhcpEvent};
pub use errors::{
    AcceptError, BindError, ConnectError, Errno, ListenError, RecvError, RecvFromError,
    SendAllError, SendError, SendToError,
};
pub use net_error::NetError;
pub use tcp_listener::Listener;
#[cfg(not(target_os = "none"))]
pub(crate) use tcp_stream::Relayed;
pub use tcp_stream::{Shutdown, TcpSocket};
pub use udp::UdpSocket;
#[cfg(any(feature = "embedded-nal", feature = "edge-nal"))]
pub(crate) use udp_peer::PeerFilter;
