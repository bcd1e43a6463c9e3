//! Echo (RFC 862), TCP and UDP port 7: every byte back, byte-exact.

use super::driver::{DatagramHandler, Handler, Status};
use super::relay::relay;
use crate::socket::TcpSocket;
use crate::stack::Stack;

/// Echo every byte back (RFC 862), then close when the client does.
#[derive(Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    type Session = ();
    fn open(&mut self, _: &mut TcpSocket, _: &mut Stack<'_>) {}
    fn serve(&mut self, _: &mut (), conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
        relay(conn, stack, |_| {})
    }
}

/// UDP echo (RFC 862): the datagram back to its sender.
#[derive(Debug, Default)]
pub struct UdpEcho;

impl DatagramHandler for UdpEcho {
    fn reply<'b>(&mut self, buf: &'b mut [u8], len: usize) -> Option<&'b [u8]> {
        Some(&buf[..len])
    }
}
