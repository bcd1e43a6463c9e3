//! The byte-stream relay under the echo services: receive, transform, send, in place.
//!
//! It never reads more than can be queued, so nothing is held between polls and a slow
//! reader slows the writer down (TCP's flow control end to end), with one stack buffer
//! of [`CHUNK`] bytes.

use smoltcp::socket::tcp;

use super::driver::Status;
use crate::socket::{RecvError, TcpSocket};
use crate::stack::Stack;

/// How many bytes a byte-stream service moves per step (a stack buffer).
const CHUNK: usize = 512;

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
    let mut chunk = [0u8; CHUNK];
    loop {
        let room = conn.send_space(stack).min(CHUNK);
        if room == 0 {
            return wait_for_room(conn, stack);
        }
        match conn.recv(stack, &mut chunk[..room]) {
            Ok(0) => return Status::Close,
            Ok(n) => {
                transform(&mut chunk[..n]);
                if conn.sendall(stack, &chunk[..n]).is_err() {
                    return Status::Lost;
                }
            }
            Err(RecvError::WouldBlock) => return Status::Open,
            Err(_) => return Status::Lost,
        }
    }
}
