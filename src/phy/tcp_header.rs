//! Reading a TCP header out of a raw Ethernet frame, without trusting the frame.
//!
//! Two parts of this crate look at frames below the stack: the retransmission counter
//! (how far has each flow got?) and the listener gate (is this a SYN for a full port?).
//! Both need the same few fields, from any bytes at all: [`tcp_header`] returns `None`
//! for anything that is not a well-formed IPv4 or IPv6 TCP segment in an Ethernet frame.

#[cfg(feature = "ipv6")]
use smoltcp::wire::Ipv6Packet;
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket};

/// The fields of a TCP segment this crate cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Carried over IPv6 (else IPv4).
    pub ipv6: bool,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Sequence space used: payload bytes, plus one for SYN and one for FIN.
    pub len: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
}

impl TcpHeader {
    /// A connection request: SYN without ACK.
    pub fn is_connect(&self) -> bool {
        self.syn && !self.ack
    }
}

/// The TCP segment in an Ethernet frame, if it is one.
pub fn tcp_header(frame: &[u8]) -> Option<TcpHeader> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (ipv6, tcp_bytes) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            (false, ip.payload())
        }
        #[cfg(feature = "ipv6")]
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            (true, ip.payload())
        }
        _ => return None,
    };
    let tcp = TcpPacket::new_checked(tcp_bytes).ok()?;
    Some(TcpHeader {
        ipv6,
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq_number().0 as u32,
        len: tcp.payload().len() as u32 + u32::from(tcp.syn()) + u32::from(tcp.fin()),
        syn: tcp.syn(),
        ack: tcp.ack(),
    })
}
