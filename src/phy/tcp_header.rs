//! Reading a TCP header out of a raw Ethernet frame, without trusting the frame.
//!
//! Two parts of this crate look at frames below the stack: the retransmission counter
//! (how far has each flow got?) and the listener gate (is this a SYN for a full port?
//! a late segment of a connection in TIME-WAIT?). Both need the same few fields, from
//! any bytes at all: [`tcp_header`] returns `None` for anything that is not a well-formed
//! IPv4 or IPv6 TCP segment in an Ethernet frame.
//!
//! It reads what smoltcp 0.14 reads, no more: an IPv4 packet that is not a fragment, or an
//! IPv6 packet whose TCP header follows the fixed header directly or after one Hop-by-Hop
//! Options header (smoltcp discards the packet if that header carries an option it must
//! not skip). smoltcp answers any other IPv6 extension header (Routing, Destination
//! Options, Fragment) with an ICMPv6 Parameter Problem and never hands the segment to
//! TCP, so neither does this. Checksums are not checked here: see [`TcpHeader::verify`].

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, TcpPacket,
    TcpRepr,
};
#[cfg(feature = "ipv6")]
use smoltcp::wire::{
    Ipv6ExtHeader, Ipv6ExtHeaderRepr, Ipv6HopByHopHeader, Ipv6HopByHopRepr, Ipv6OptionFailureType,
    Ipv6OptionRepr, Ipv6Packet,
};

/// The fields of a TCP segment this crate cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Carried over IPv6 (else IPv4).
    pub ipv6: bool,
    /// The sender's Ethernet address.
    pub src_mac: EthernetAddress,
    /// Source address.
    pub src: IpAddress,
    /// Destination address.
    pub dst: IpAddress,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when `ack` is set).
    pub ack_number: u32,
    /// Sequence space used: payload bytes, plus one for SYN and one for FIN.
    pub len: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
}

impl TcpHeader {
    /// A connection request: SYN without ACK (nor FIN or RST, which smoltcp refuses).
    pub fn is_connect(&self) -> bool {
        self.syn && !self.ack && !self.fin && !self.rst
    }

    /// Whether smoltcp would take this segment in: its IP and TCP checksums check out
    /// where `checksum` says they are verified, and its flags parse. `frame` is the
    /// frame this header was read from.
    pub fn verify(&self, frame: &[u8], checksum: &ChecksumCapabilities) -> bool {
        tcp_segment(frame).is_some_and(|(_, tcp)| self.verify_tcp(frame, tcp, checksum))
    }

    /// [`verify`](Self::verify) without finding the TCP bytes again: `tcp` is what
    /// [`tcp_segment`] returned with this header for `frame` (the gate has both).
    pub(crate) fn verify_tcp(
        &self,
        frame: &[u8],
        tcp: &[u8],
        checksum: &ChecksumCapabilities,
    ) -> bool {
        // `tcp_segment` checked the lengths of the IPv4 header and the TCP header.
        if !self.ipv6
            && checksum.ipv4.rx()
            && !frame
                .get(ETHERNET..)
                .is_some_and(|ip| Ipv4Packet::new_unchecked(ip).verify_checksum())
        {
            return false;
        }
        TcpRepr::parse(
            &TcpPacket::new_unchecked(tcp),
            &self.src,
            &self.dst,
            checksum,
        )
        .is_ok()
    }
}

/// The length of an Ethernet header (no VLAN tag: smoltcp reads none).
const ETHERNET: usize = 14;

/// The SYN flag in [`tcp_flags`].
pub const FLAG_SYN: u8 = 0x02;
/// The FIN flag in [`tcp_flags`].
pub const FLAG_FIN: u8 = 0x01;

/// A first glance: the flags byte of a frame's TCP header, found with as little reading
/// as possible (no checksum, no addresses), or `None` if the frame carries no TCP. An
/// IPv6 packet with extension headers is reported with every flag set, for a full reading
/// by [`tcp_header`].
pub fn tcp_flags(frame: &[u8]) -> Option<u8> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let tcp_at = match ethertype {
        0x0800 => {
            let ihl = usize::from(*frame.get(ETHERNET)? & 0x0f) * 4;
            if *frame.get(ETHERNET + 9)? != 6 {
                return None;
            }
            ETHERNET + ihl
        }
        0x86dd => match *frame.get(ETHERNET + 6)? {
            6 => ETHERNET + 40,
            0 => return Some(0xff),
            _ => return None,
        },
        _ => return None,
    };
    frame.get(tcp_at + 13).copied()
}

/// The TCP segment in an Ethernet frame, if it is one smoltcp would hand to TCP.
pub fn tcp_header(frame: &[u8]) -> Option<TcpHeader> {
    tcp_segment(frame).map(|(header, _)| header)
}

/// [`tcp_header`], and the TCP bytes of the frame (header and payload, length checked).
pub(crate) fn tcp_segment(frame: &[u8]) -> Option<(TcpHeader, &[u8])> {
    let (ip, tcp_bytes) = locate(frame)?;
    let tcp = TcpPacket::new_checked(tcp_bytes).ok()?;
    let eth = EthernetFrame::new_unchecked(frame);
    let header = TcpHeader {
        ipv6: ip.ipv6,
        src_mac: eth.src_addr(),
        src: ip.src,
        dst: ip.dst,
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq_number().0 as u32,
        ack_number: tcp.ack_number().0 as u32,
        len: tcp.payload().len() as u32 + u32::from(tcp.syn()) + u32::from(tcp.fin()),
        syn: tcp.syn(),
        ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
    };
    Some((header, tcp_bytes))
}

struct IpHeader {
    ipv6: bool,
    src: IpAddress,
    dst: IpAddress,
}

/// The IP addresses and the TCP bytes of a frame.
fn locate(frame: &[u8]) -> Option<(IpHeader, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            // smoltcp (without its fragmentation feature) drops every fragment.
            if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
                return None;
            }
            let header = IpHeader {
                ipv6: false,
                src: IpAddress::Ipv4(ip.src_addr()),
                dst: IpAddress::Ipv4(ip.dst_addr()),
            };
            Some((header, ip.payload()))
        }
        #[cfg(feature = "ipv6")]
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            let header = IpHeader {
                ipv6: true,
                src: IpAddress::Ipv6(ip.src_addr()),
                dst: IpAddress::Ipv6(ip.dst_addr()),
            };
            let (next, payload) = match ip.next_header() {
                IpProtocol::HopByHop => hop_by_hop(ip.payload())?,
                next => (next, ip.payload()),
            };
            (next == IpProtocol::Tcp).then_some((header, payload))
        }
        _ => None,
    }
}

/// What follows a Hop-by-Hop Options header, if smoltcp would go on past it.
#[cfg(feature = "ipv6")]
fn hop_by_hop(payload: &[u8]) -> Option<(IpProtocol, &[u8])> {
    let ext = Ipv6ExtHeader::new_checked(payload).ok()?;
    let ext = Ipv6ExtHeaderRepr::parse(&ext).ok()?;
    let hbh = Ipv6HopByHopHeader::new_checked(ext.data).ok()?;
    let hbh = Ipv6HopByHopRepr::parse(&hbh).ok()?;
    for option in &hbh.options {
        if let Ipv6OptionRepr::Unknown { type_, .. } = option
            && Ipv6OptionFailureType::from(*type_) != Ipv6OptionFailureType::Skip
        {
            return None;
        }
    }
    let rest = payload.get(ext.header_len() + ext.data.len()..)?;
    Some((ext.next_header, rest))
}
