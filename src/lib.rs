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
//! The layers, bottom up; each is a folder, and none imports a layer above it:
//!
//! * [`phy`]: where frames come from. An in-memory [`Wire`] joining two
//!   stacks, a [`Loopback`], a Linux TAP device (`phy::tap`, feature
//!   `std`), the LAN9118 Ethernet chip of Arm's MPS2 boards (`phy::lan9118`, feature
//!   `lan9118`) and the virtio-net card of virtual machines (`phy::virtio_net`, feature
//!   `virtio-net`), all in fixed memory.
//! * [`stack`]: an smoltcp `Interface` and `SocketSet` over caller storage
//!   ([`StackStorage`]), with a socket table that tracks TCP state changes, timeouts, the
//!   listeners' SYN gate and the lifecycle [`Trace`].
//! * [`socket`]: the tutorial's socket verbs (`listen`, `accept`, `connect`, `recv`,
//!   `send`, `sendall`, `sendto`, `recvfrom`, ...) as non-blocking calls, each error the
//!   `errno` Python would raise.
//! * `ecosystem` (features `embedded-nal`, `embedded-io`): the embedded ecosystem's
//!   socket traits on those verbs, so that other people's protocol crates run on
//!   sockless.
//! * `async_sockets` (feature `async`): the same verbs as `async fn`s, so the
//!   tutorial's programs read as straight-line code on an embedded executor.
//! * [`services`]: the tutorial's servers (echo, upper, notice, UDP `ok`, the robot) as
//!   poll-driven state machines on one stack, one small file each.
//! * [`testbed`]: two hosts on a wire, driven by a virtual clock, deterministically.
//! * [`tutorial`]: the tutorial's clients and its conversations as data, played on the
//!   testbed.
//!
//! Everything here is `#![no_std]` and never allocates: it builds for
//! `thumbv6m-none-eabi` as it does for a desktop.
//!
//! ## The tutorial's first conversation, in full
//!
//! ```
//! use sockless::{Host, Listener, StackStorage, TcpBuffers, TcpSocket, Testbed};
//! use sockless::smoltcp::{time::Duration, wire::IpEndpoint};
//!
//! // All memory up front: socket tables and buffers.
//! let mut client_storage = StackStorage::<1>::new();
//! let mut server_storage = StackStorage::<1>::new();
//! let mut pool = [TcpBuffers::<1024, 1024>::new()];
//! let mut client_buffers = TcpBuffers::<1024, 1024>::new();
//! let mut tb: Testbed = Testbed::new(&mut client_storage, &mut server_storage);
//!
//! // sk.bind(('', 9999)); sk.listen(1)
//! let mut listener = Listener::<1>::listen(&mut tb.server, 9999, 1, &mut pool).unwrap();
//! // sk = socket.socket(); sk.connect(('192.168.69.1', 9999))
//! let mut sk = TcpSocket::new(&mut tb.client, &mut client_buffers).unwrap();
//! sk.connect(&mut tb.client, IpEndpoint::new(Host::SERVER.ipv4_addr(), 9999)).unwrap();
//!
//! let mut conn = None;
//! let mut reply = [0u8; 64];
//! let mut got = 0;
//! tb.run(Duration::from_secs(10), |client, server| {
//!     // conn, addr = sk.accept()
//!     if conn.is_none() {
//!         conn = listener.accept(server).ok();
//!         if conn.is_some() {
//!             sk.sendall(client, "请求占领地球".as_bytes()).unwrap();
//!         }
//!     }
//!     // data = conn.recv(1024); conn.sendall(...); conn.close()
//!     if let Some(conn) = conn.as_mut() {
//!         let mut data = [0u8; 1024];
//!         if let Ok(n @ 1..) = conn.recv(server, &mut data) {
//!             conn.sendall(server, "不要回答,不要回答,不要回答".as_bytes()).unwrap();
//!             conn.close(server);
//!         }
//!     }
//!     // server_reply = sk.recv(1024)
//!     if let Ok(n) = sk.recv(client, &mut reply[got..]) {
//!         got += n;
//!     }
//!     got == "不要回答,不要回答,不要回答".len()
//! })
//! .unwrap();
//! assert_eq!(&reply[..got], "不要回答,不要回答,不要回答".as_bytes());
//! ```
//!
//! [smoltcp]: https://docs.rs/smoltcp
#![no_std]
#![deny(missing_docs)]

#[cfg(any(test, all(feature = "std", not(target_os = "none"))))]
extern crate std;

#[cfg(feature = "async")]
pub mod async_services;
#[cfg(feature = "async")]
pub mod async_sockets;
#[cfg(any(feature = "embedded-nal", feature = "embedded-io"))]
pub mod ecosystem;
pub mod phy;
pub mod services;
pub mod socket;
pub mod stack;
pub mod testbed;
pub mod tutorial;

pub use phy::{Faults, Loopback, Wire};
pub use socket::{Listener, TcpBuffers, TcpSocket, UdpBuffers, UdpSocket};
pub use stack::{
    Event, EventKind, Host, Observer, Overflow, SocketError, Stack, StackStorage, Trace,
};
pub use testbed::Testbed;

/// smoltcp, re-exported so that users name the same version of its types.
pub use smoltcp;
