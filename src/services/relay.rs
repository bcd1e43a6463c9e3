//! The byte-stream relay under the echo services: receive, transform, send, in place.
//!
//! It never reads more than can be queued, so nothing is held between polls and a slow
//! reader slows the writer down (TCP's flow control end to end). The bytes go straight
//! from the connection's receive ring into its transmit ring ([`TcpSocket::relay`]): no
//! buffer of the service's own, one copy. On bare metal, where flash counts more than a
//! copy, it goes through a [`CHUNK`]-byte stack buffer with the verbs every service
//! already uses (`recv`, `sendall`): 0.4 KiB less flash than the in-place path.

use smoltcp::socket::tcp;

use super::driver::Status;
#[cfg(target_os = "none")]
use crate::socket::RecvError;
#[cfg(not(target_os = "none"))]
use crate::socket::Relayed;
use crate::socket::TcpSocket;
use crate::stack::Stack;

/// No room to send: a full transmit buffer on a live connection waits for the peer's
/// ACKs; anything else means the connection is gone.
pub(crate) fn wait_for_room(conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
    match conn.state(stack) {
        Some(tcp::State::Established | tcp::State::CloseWait) => Status::Open,
        _ => Status::Lost,
    }
}

/// How many bytes a step moves on bare metal (a stack buffer).
#[cfg(target_os = "none")]
const CHUNK: usize = 512;

/// Move bytes from the receive to the transmit side, transformed, never reading more
/// than can be queued (so nothing is held between polls).
#[cfg(target_os = "none")]
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

/// Move bytes from the receive to the transmit side, transformed, in place, never reading
/// more than can be queued (so nothing is held between polls).
#[cfg(not(target_os = "none"))]
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
