//! # sockless
//!
//! The socket programs of a classic Python sockets tutorial (a TCP echo server and
//! client, a UDP server that answers `ok`, a one-shot notice server and the "10086"
//! phone-menu robot), rebuilt on [smoltcp] with **no OS socket layer, no heap and fixed
//! buffers**.
//!
//! The point is to show what `bind / listen / accept / recv / send / close` really are
//! underneath. On a desktop those verbs are system calls into a kernel that owns the
//! connection table, the buffers and the timers. Here nothing is hidden: the caller owns
//! every byte of memory ([`StackStorage`], [`TcpBuffers`], [`UdpBuffers`]), the stack
//! runs only when [`Stack::poll`] is called, and every verb returns at once.
//!
//! The layers, bottom up:
//!
//! * [`wire`]: static phys. An in-memory Ethernet [`Wire`] joining two stacks and a
//!   single-stack [`Loopback`], both on heapless queues of fixed-size frames.
//! * [`stack`]: an smoltcp `Interface` plus a `SocketSet` over caller storage, with a
//!   socket table that tracks TCP state changes, timeouts and the lifecycle trace.
//! * [`tcp`] and [`udp`]: the tutorial's socket verbs (`listen`, `accept`, `connect`,
//!   `recv`, `send`, `sendall`, `sendto`, `recvfrom`, ...) as non-blocking calls.
//! * [`trace`]: a fixed-size record of the lifecycle events the tutorial talks about.
//! * [`testbed`]: two hosts on a wire, driven by a virtual clock, deterministically.
//!
//! Everything here is `#![no_std]` and never allocates: it builds for
//! `thumbv6m-none-eabi` as it does for a desktop.
//!
//! [smoltcp]: https://docs.rs/smoltcp
#![no_std]
#![deny(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod client;
pub mod host;
pub mod line;
pub mod robot;
pub mod seed;
pub mod service;
pub mod services;
pub mod stack;
pub mod tcp;
pub mod testbed;
pub mod trace;
pub mod udp;
pub mod wire;

pub use host::Host;
pub use stack::{SocketError, Stack, StackStorage};
pub use tcp::{Listener, TcpBuffers, TcpSocket};
pub use testbed::Testbed;
pub use trace::{Event, EventKind, Observer, Trace};
pub use udp::{UdpBuffers, UdpSocket};
pub use wire::{Loopback, Wire};

/// smoltcp, re-exported so that users name the same version of its types.
pub use smoltcp;
