//! The embedded ecosystem's socket traits on sockless, each behind its cargo feature.
//!
//! Protocol crates written for microcontrollers do not call a project's own socket API;
//! they take a value that implements the ecosystem's traits, and run on whatever stack
//! provides them. Berkeley sockets have one such interface (the system calls); embedded
//! Rust has a few, and this layer gives sockless each of them, without a heap:
//!
//! * feature `embedded-nal`: [`NalTcpStack`] (`TcpClientStack`, `TcpFullStack`, with
//!   sockless's listener and its backlog behind `listen`/`accept`) and [`NalUdpStack`]
//!   (`UdpClientStack`, `UdpFullStack`), the non-blocking (`nb`) interface an MQTT or
//!   CoAP client takes.
//! * feature `embedded-io`: [`ByteStream`], a TCP socket bound to its stack as a byte
//!   stream (`Read`, `Write`, `ReadReady`, `WriteReady`, `core::fmt::Write`), blocking
//!   where the stack can be driven while it waits ([`Blocking`](crate::socket::Blocking)).
//!
//! Errors are one type, [`NetError`]: the `errno` Python would raise, so refused, reset
//! and timed out stay apart through the traits. [`StackRef`] lets an adapter that a
//! protocol crate keeps share the stack with the program's main loop.

mod shared_stack;

#[cfg(feature = "embedded-io")]
mod byte_stream;
#[cfg(feature = "embedded-nal")]
mod nal_tcp;
#[cfg(feature = "embedded-nal")]
mod nal_udp;

pub use crate::socket::NetError;
#[cfg(feature = "embedded-io")]
pub use byte_stream::ByteStream;
#[cfg(feature = "embedded-nal")]
pub use nal_tcp::{MAX_ACCEPTED, MAX_CLIENTS, NalTcpSocket, NalTcpStack};
#[cfg(feature = "embedded-nal")]
pub use nal_udp::{MAX_UDP_SOCKETS, NalUdpSocket, NalUdpStack};
pub use shared_stack::StackRef;
