//! The byte-stream relay under the echo services: receive, transform, send, in place.
//!
//! It never reads more than can be queued, so nothing is held between polls and a slow
//! reader slows the writer down (TCP's flow control end to end). The bytes go straight
//! from the connection's receive ring into its transmit ring ([`TcpSocket::relay`]): no
//! buffer of the service's own, one copy.

use smoltcp::socket::tcp;

use super::driver::Status;
use crate::socket::{Relayed, TcpSocket};
use crate::stack::Stack;

/// No room to send: a full transmit buffer on a live connection waits for the peer's
/// ACKs; anything else means the connection is gone.
pub(crate) fn wait_for_room(conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
    match conn.state(stack) {
        Some(tcp::State::Established | tcp::State::CloseWait) => Status::Open,
        _ => Status::Lost,
    }
}

/// Move bytes from the receive to the transmit side, transformed, never reading more
/// than can be queued (so nothing is held between polls).
pub(crate) fn relay(
    conn: &mut TcpSocket,
    stack: &mut Stack<'_>,
    transform: fn(&mut [u8]),
) -> Status {
    match conn.relay(stack, transform) {
        Relayed::Waiting => Status::Open,
        Relayed::Finished => Status::Close,
        Relayed::Lost => Status::Lost,
    }
}
