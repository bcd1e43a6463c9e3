//! The tutorial's first server, TCP 9999: one message in, the notice out, close.

use super::driver::{Handler, Status};
use crate::socket::{RecvError, TcpSocket};
use crate::stack::Stack;

/// The notice server's one reply.
pub const NOTICE: &str = "不要回答,不要回答,不要回答";

/// Read one message, answer [`NOTICE`], close (the tutorial's first server).
///
/// As in the tutorial's Python, a client that half-closes without sending anything still
/// gets the notice: `conn.recv(1024)` returns `b''` there and the server answers anyway.
#[derive(Debug, Default)]
pub struct Notice;

impl Handler for Notice {
    type Session = ();
    fn open(&mut self, _: &mut TcpSocket, _: &mut Stack<'_>) {}
    fn serve(&mut self, _: &mut (), conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
        let mut message = [0u8; 1024];
        match conn.recv(stack, &mut message) {
            Ok(_) => match conn.sendall(stack, NOTICE.as_bytes()) {
                Ok(()) => Status::Close,
                Err(_) => Status::Lost,
            },
            Err(RecvError::WouldBlock) => Status::Open,
            Err(_) => Status::Lost,
        }
    }
}
