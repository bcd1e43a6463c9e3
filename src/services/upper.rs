//! The tutorial's upper-casing echo, TCP 6969: `conn.send(data.upper())`.

use super::driver::{Handler, Status};
use super::relay::relay;
use crate::socket::TcpSocket;
use crate::stack::Stack;

/// Echo every byte back with ASCII letters upper-cased (Python's `bytes.upper()`).
///
/// Bytes of multi-byte UTF-8 characters are all `>= 0x80` and pass unchanged, so a
/// character split across two reads is never corrupted.
#[derive(Debug, Default)]
pub struct Upper;

impl Handler for Upper {
    type Session = ();
    fn open(&mut self, _: &mut TcpSocket, _: &mut Stack<'_>) {}
    fn serve(&mut self, _: &mut (), conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
        relay(conn, stack, |bytes| bytes.make_ascii_uppercase())
    }
}
