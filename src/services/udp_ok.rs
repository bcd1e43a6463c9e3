//! The tutorial's UDP server, UDP 9999: `ok` to every datagram.

use super::driver::DatagramHandler;

/// The tutorial's UDP server: `ok` to every datagram.
#[derive(Debug, Default)]
pub struct UdpOk;

impl DatagramHandler for UdpOk {
    fn reply<'b>(&mut self, _: &'b mut [u8], _: usize) -> Option<&'b [u8]> {
        Some(b"ok")
    }
}
