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
//!
//! Both readers run on every frame, so each has a quick way in. The gate first glances at
//! the flags byte alone ([`tcp_flags`]) and reads the whole header only for a connection
//! request (SYN without ACK), a FIN or while a TIME-WAIT record lives. The counter needs only where a segment lies in its
//! flow ([`tcp_span`]), and reads an IPv4 segment by offsets: with a full [`tcp_header`]
//! of every frame sent, the counter took 4 % of the bench's ping-pong instructions, by
//! offsets 2 %.

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
/// The ACK flag in [`tcp_flags`].
pub const FLAG_ACK: u8 = 0x10;

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

/// Where a TCP segment lies in its flow's sequence space: what the retransmission counter
/// reads of every frame a stack sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpSpan {
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
}

impl From<TcpHeader> for TcpSpan {
    fn from(h: TcpHeader) -> Self {
        TcpSpan {
            ipv6: h.ipv6,
            src_port: h.src_port,
            dst_port: h.dst_port,
            seq: h.seq,
            len: h.len,
            syn: h.syn,
        }
    }
}

/// [`tcp_header`]'s answer, cut down to a [`TcpSpan`], for a fraction of the reading: an
/// IPv4 segment is read by offsets, with exactly the length and fragment checks smoltcp's
/// packet types make (no addresses, no checksum); anything else goes through
/// [`tcp_header`]. The same `None` for the same frames (tested against it).
pub(crate) fn tcp_span(frame: &[u8]) -> Option<TcpSpan> {
    const ETHERNET: usize = 14;
    const MIN_HEADER: usize = 20;
    if frame.get(12..14)? != [0x08, 0x00] {
        return tcp_header(frame).map(TcpSpan::from);
    }
    let ip = &frame[ETHERNET..];
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    if ip.len() < MIN_HEADER || ihl < MIN_HEADER || ihl > total || ip.len() < total {
        return None;
    }
    // TCP, not a fragment (neither more to come nor an offset).
    if ip[9] != 6 || ip[6] & 0x3f != 0 || ip[7] != 0 {
        return None;
    }
    let tcp = &ip[ihl..total];
    let data_offset = usize::from(*tcp.get(12)? >> 4) * 4;
    if tcp.len() < MIN_HEADER || data_offset < MIN_HEADER || tcp.len() < data_offset {
        return None;
    }
    let flags = tcp[13];
    let (syn, fin) = (flags & FLAG_SYN != 0, flags & FLAG_FIN != 0);
    Some(TcpSpan {
        ipv6: false,
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        len: (tcp.len() - data_offset) as u32 + u32::from(syn) + u32::from(fin),
        syn,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{
        EthernetRepr, IpRepr, Ipv4Address, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber,
    };

    /// An Ethernet frame with an IPv4 TCP segment from smoltcp's own emitters.
    fn frame(control: TcpControl, payload: &[u8]) -> std::vec::Vec<u8> {
        let src = Ipv4Address::new(10, 0, 0, 2);
        let dst = Ipv4Address::new(10, 0, 0, 1);
        let tcp = TcpRepr {
            src_port: 49152,
            dst_port: 7,
            control,
            seq_number: TcpSeqNumber(-5),
            ack_number: Some(TcpSeqNumber(77)),
            window_len: 1000,
            window_scale: None,
            max_seg_size: Some(1460),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let ip = IpRepr::Ipv4(Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        });
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = std::vec![0u8; eth.buffer_len() + ip.header_len() + tcp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf);
        eth.emit(&mut f);
        let checksum = ChecksumCapabilities::default();
        ip.emit(f.payload_mut(), &checksum);
        let tcp_bytes = &mut f.payload_mut()[ip.header_len()..];
        tcp.emit(
            &mut TcpPacket::new_unchecked(tcp_bytes),
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            &checksum,
        );
        buf
    }

    /// `tcp_span` and `tcp_header` must agree on `f`.
    fn agree(f: &[u8]) {
        assert_eq!(
            tcp_span(f),
            tcp_header(f).map(TcpSpan::from),
            "frame {f:02x?}"
        );
    }

    #[test]
    fn the_span_reads_what_the_header_reads() {
        let data = frame(TcpControl::Psh, b"hello");
        let span = tcp_span(&data).expect("a segment");
        assert_eq!((span.seq, span.len, span.syn), (-5i32 as u32, 5, false));
        assert_eq!(
            tcp_span(&frame(TcpControl::Syn, b"")).map(|s| s.len),
            Some(1)
        );
        assert_eq!(
            tcp_span(&frame(TcpControl::Fin, b"ab")).map(|s| s.len),
            Some(3)
        );
    }

    #[test]
    fn verify_checks_the_ipv4_header_checksum_only_where_smoltcp_does() {
        let good = frame(TcpControl::Syn, b"");
        let mut bad_ip = good.clone();
        bad_ip[14 + 10] ^= 0x01; // the IPv4 header checksum
        let mut bad_tcp = good.clone();
        bad_tcp[14 + 20 + 16] ^= 0x01; // the TCP checksum
        let verified = ChecksumCapabilities::default();
        let mut tcp_only = ChecksumCapabilities::default();
        tcp_only.ipv4 = smoltcp::phy::Checksum::None;
        let read = |f: &[u8]| tcp_header(f).expect("a segment");
        assert!(read(&good).verify(&good, &verified));
        assert!(!read(&bad_ip).verify(&bad_ip, &verified));
        assert!(read(&bad_ip).verify(&bad_ip, &tcp_only));
        assert!(!read(&bad_tcp).verify(&bad_tcp, &tcp_only));
        assert!(read(&bad_tcp).verify(&bad_tcp, &ChecksumCapabilities::ignored()));
    }

    #[test]
    fn the_span_and_the_header_refuse_the_same_frames() {
        for control in [TcpControl::None, TcpControl::Syn, TcpControl::Fin] {
            let good = frame(control, b"payload");
            for len in 0..=good.len() {
                agree(&good[..len]);
            }
            // Every byte set to a few values that cross each check's boundary (version
            // and header length, total length, protocol, fragment bits, data offset).
            for at in 0..good.len() {
                for value in [
                    0x00, 0x01, 0x05, 0x06, 0x0f, 0x20, 0x3f, 0x40, 0x45, 0x50, 0xff,
                ] {
                    let mut bad = good.clone();
                    bad[at] = value;
                    agree(&bad);
                    bad[at] = good[at] ^ 0x80;
                    agree(&bad);
                }
            }
            // Trailing bytes beyond the IP total length (Ethernet padding).
            let mut padded = good.clone();
            padded.extend_from_slice(&[0; 9]);
            agree(&padded);
            assert_eq!(tcp_span(&padded), tcp_span(&good));
        }
    }
}
