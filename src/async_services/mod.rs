//! The tutorial's servers as async tasks: the same services, ports and counters as
//! [`services`](crate::services), written as straight-line code on the async facade.
//!
//! The poll-driven [`Services`](crate::services::Services) are state machines that a
//! loop polls after every poll of the stack; a [`Handler`](crate::services::Handler)
//! cannot wait, so it remembers where it was. Here each conversation is an `async fn`
//! that reads as the tutorial's Python does (`conn.recv(1024)` is `conn.recv(&mut
//! buf).await`), and an executor (embassy's on a board, `block_on` in a test) runs them
//! beside the stack's runner ([`AsyncStack::run`](crate::async_sockets::AsyncStack::run)).
//! The protocols themselves are shared, not copied: the robot's menu
//! ([`robot_menu`](crate::services::robot_menu)) and line framing
//! ([`LineFramer`](crate::services::line_framer::LineFramer)) are the pure logic both
//! kinds of service call.
//!
//! | port     | server | conversation |
//! |----------|--------|--------------|
//! | TCP 7    | [`TcpServer`] | [`echo`]: every byte back |
//! | TCP 6969 | [`TcpServer`] | [`upper`]: `data.upper()` back |
//! | TCP 9999 | [`TcpServer`] | [`notice`]: one message in, the notice out, close |
//! | TCP 8888 | [`TcpServer`] | [`robot`]: the 10086 menu, line by line |
//! | UDP 7    | [`UdpServer`] | [`UdpEcho`](crate::services::UdpEcho) |
//! | UDP 9999 | [`UdpServer`] | [`UdpOk`](crate::services::UdpOk) |
//!
//! **A pool without a heap or a task per connection.** A Python server would run a
//! thread per client; embassy would spawn a task per connection from a task pool. A
//! [`TcpServer`] is one task per port instead: [`TcpServer::serve`] accepts while one of
//! its `POOL` slots is free and drives the conversations of all slots at once, each a
//! future in a fixed array inside the task (so a task's size is fixed at build time). All
//! the conversations of a port and its `accept` then share one waker, which matters:
//! the listener asks to be woken by every socket of its pool, and smoltcp keeps one waker
//! per socket and direction, the last registered: a task waiting in `accept` would take
//! the socket of a conversation in another task waiting in `recv`, and that one would not
//! be woken when its data came.
//!
//! **The promises are the poll-driven services'**: up to `POOL` callers at once; caller
//! `POOL + 1` waits in the backlog ([`Overflow::Queue`](crate::stack::Overflow), the
//! default) or is refused ([`ServiceConfig::overflow`](crate::services::ServiceConfig::overflow)); a connection idle for
//! [`ServiceConfig::idle_timeout`](crate::services::ServiceConfig::idle_timeout) is reset (the stack's idle timer, as there), so a
//! caller that connects and vanishes cannot hold a socket; the same counters
//! ([`ServiceStats`](crate::services::ServiceStats)) in the same one-line
//! [`Report`](crate::services::Report).

mod conversations;
mod every_service;
mod tcp_server;
mod udp_server;

pub use conversations::{Ending, echo, notice, robot, upper};
pub use every_service::AsyncServices;
pub use tcp_server::TcpServer;
pub use udp_server::UdpServer;
