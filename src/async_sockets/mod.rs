//! The tutorial's programs as straight-line code: the socket verbs as `async fn`s.
//!
//! Python's sockets block: `conn, addr = sk.accept()` returns when a client came, inside
//! the kernel, while the kernel's interrupt handlers and timers move the network on. A
//! program with no OS writes the same thing with `async`/`.await`: each `.await` is where
//! Python would block, and an executor (embassy on a board, `block_on` in a test) runs
//! the other tasks meanwhile. What moves the network is one more task, the stack's runner
//! ([`AsyncStack::run`]), which polls the stack whenever a task did something, a frame
//! came, or a deadline passed.
//!
//! * [`AsyncStack`]: a [`Stack`](crate::stack::Stack) shared by the tasks of one
//!   single-threaded executor, in a `RefCell` (as embassy-net shares its stack: no heap,
//!   no lock; a borrow never lasts across an `.await`).
//! * [`AsyncListener`]: `listen(backlog)` and `accept().await` on sockless's listener,
//!   the backlog that embassy-net lacks (its docs say: make many sockets).
//! * [`AsyncTcpStream`]: `connect`, `recv`, `send`, `send_all`, `shutdown`, `close` (which
//!   waits for the peer's ACK of our FIN); dropped, it closes and lets go of its socket.
//! * [`AsyncUdpSocket`]: `recv_from`, `send_to`.
//!
//! **Waking.** A task waiting on a socket registers its waker with smoltcp's own waker
//! registration (smoltcp's `async` feature): smoltcp wakes it when data arrives, room
//! frees up, or the state changes (a handshake, an RST, the connect timeout's abort).
//! What smoltcp cannot know, a `settimeout` that expires with nothing arriving, the
//! [`AsyncStack`] keeps in a small timer list that its runner fires. Dropping a future
//! mid-wait cancels it cleanly: no byte is taken from the socket until a call returns
//! it.
//!
//! With the feature `embedded-io-async`, an [`AsyncTcpStream`] is also embedded-io-async's
//! `Read` and `Write` (and embedded-io's `ReadReady`, `WriteReady`), for async protocol
//! crates.
//!
//! With the feature `edge-nal`, [`EdgeTcp`] is edge-nal's `TcpConnect` and `TcpBind`
//! (its acceptor `TcpAccept`), and [`EdgeUdp`] is its `UdpBind` and `UdpConnect` (a
//! socket that receives, sends, splits and is readable), the factories async protocol
//! crates take.
//!
//! **Timeouts** are Python's `settimeout`: on a listener for `accept`, on a stream for
//! `connect`, `recv`, `send` and `close`, on a UDP socket for `recv_from` and `send_to`.

mod async_stack;
#[cfg(feature = "edge-nal")]
mod edge_tcp;
#[cfg(feature = "edge-nal")]
mod edge_udp;
#[cfg(feature = "embedded-io-async")]
mod io_traits;
mod tcp;
mod udp;

pub use async_stack::{AsyncStack, yield_now};
#[cfg(feature = "edge-nal")]
pub use edge_tcp::{
    EdgeAcceptor, EdgeStream, EdgeTcp, MAX_ACCEPTORS, MAX_EDGE_ACCEPTED, MAX_EDGE_CLIENTS,
};
#[cfg(feature = "edge-nal")]
pub use edge_udp::{
    EdgeUdp, EdgeUdpMulticast, EdgeUdpReceive, EdgeUdpSend, EdgeUdpSocket, MAX_EDGE_UDP_SOCKETS,
};
pub use tcp::{AsyncListener, AsyncReadHalf, AsyncTcpStream, AsyncWriteHalf};
pub use udp::AsyncUdpSocket;
