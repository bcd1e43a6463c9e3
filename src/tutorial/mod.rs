//! The tutorial itself: its clients, and its conversations as data.
//!
//! The seed is a Python sockets tutorial: each lesson is a server and a client that talk
//! (`请求占领地球` / `不要回答...`, the upper-casing input loop, UDP `ok`, the robot). The
//! servers are the [`services`](crate::services); this layer holds the other side:
//!
//! * [`chat`]: the tutorial's clients as poll-driven conversations ([`TcpChat`],
//!   [`UdpChat`]), messages from any iterator (stdin, a script), each with a transcript.
//! * [`conversations`]: every program pair of the tutorial as data (what the client
//!   sends, exactly what the server must answer), and [`conversations::play`], which runs
//!   one on a [`Testbed`](crate::testbed::Testbed) and returns a verdict. The demo prints
//!   those verdicts; the tests assert on the same ones.
//! * [`ladder`]: the frames of a conversation drawn as the textbook's ladder diagram,
//!   beside the Python calls and the TCP states.

pub mod chat;
pub mod conversations;
pub mod ladder;

pub use chat::{ChatSpec, TcpChat, UdpChat};
