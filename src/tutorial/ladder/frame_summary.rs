//! What a ladder line says about a frame, read once from its bytes.
//!
//! The ladder keeps no frames, only this: the protocol, the TCP fields Wireshark's flow
//! graph shows, and the first bytes of the payload. Reading never trusts the frame (a
//! corrupted one, a fuzzer's) and never panics: anything it does not know is
//! [`Summary::Other`].

use smoltcp::wire::{
    ArpOperation, ArpPacket, EthernetFrame, EthernetProtocol, Icmpv4Packet, IpProtocol, Ipv4Packet,
    TcpOption, TcpPacket, UdpPacket,
};
#[cfg(feature = "ipv6")]
use smoltcp::wire::{Icmpv6Message, Icmpv6Packet, Ipv6Packet};

/// How many payload bytes a summary keeps for its excerpt.
pub const EXCERPT: usize = 40;

/// The first bytes of a payload, and how long the whole was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    /// The payload's length.
    pub len: usize,
    kept: u8,
    bytes: [u8; EXCERPT],
}

impl Payload {
    fn new(payload: &[u8]) -> Self {
        let kept = payload.len().min(EXCERPT);
        let mut bytes = [0; EXCERPT];
        bytes[..kept].copy_from_slice(&payload[..kept]);
        Payload {
            len: payload.len(),
            kept: kept as u8,
            bytes,
        }
    }

    /// The bytes kept (the first 40 at most).
    pub fn excerpt(&self) -> &[u8] {
        &self.bytes[..usize::from(self.kept)]
    }
}

/// The TCP fields of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number (absolute).
    pub seq: u32,
    /// Acknowledgement number (absolute; meaningful with ACK).
    pub ack: u32,
    /// The flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    /// The window field as sent (unscaled).
    pub window: u16,
    /// The window scale option, on a SYN that carries one.
    pub window_scale: Option<u8>,
    /// The payload.
    pub payload: Payload,
}

/// FIN.
pub const FIN: u8 = 0x01;
/// SYN.
pub const SYN: u8 = 0x02;
/// RST.
pub const RST: u8 = 0x04;
/// PSH.
pub const PSH: u8 = 0x08;
/// ACK.
pub const ACK: u8 = 0x10;

impl Segment {
    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The sequence space it takes: payload, plus one for SYN and for FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len as u32 + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }
}

/// Address resolution, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// ARP request or NDP neighbor solicitation: who has this address?
    Ask,
    /// ARP reply or NDP neighbor advertisement: I do.
    Answer,
}

/// What a frame is, as far as a ladder cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// A TCP segment.
    Tcp(Segment),
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// The payload.
        payload: Payload,
    },
    /// ARP (`ipv6: false`) or NDP neighbor discovery.
    Neighbor {
        /// Over IPv6 (NDP).
        ipv6: bool,
        /// Question or answer.
        what: Resolution,
    },
    /// ICMP or ICMPv6 other than neighbor discovery, with its type.
    Icmp {
        /// ICMPv6 (else ICMPv4).
        ipv6: bool,
        /// The message type.
        kind: u8,
    },
    /// Anything else, with its EtherType (0 if not even Ethernet).
    Other {
        /// The EtherType.
        ethertype: u16,
    },
}

impl Summary {
    /// Read `frame` (an Ethernet frame).
    pub fn of(frame: &[u8]) -> Summary {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return Summary::Other { ethertype: 0 };
        };
        let other = Summary::Other {
            ethertype: u16::from(eth.ethertype()),
        };
        let read = match eth.ethertype() {
            EthernetProtocol::Arp => arp(eth.payload()),
            EthernetProtocol::Ipv4 => ipv4(eth.payload()),
            #[cfg(feature = "ipv6")]
            EthernetProtocol::Ipv6 => ipv6(eth.payload()),
            _ => None,
        };
        read.unwrap_or(other)
    }
}

fn arp(bytes: &[u8]) -> Option<Summary> {
    let arp = ArpPacket::new_checked(bytes).ok()?;
    let what = match arp.operation() {
        ArpOperation::Request => Resolution::Ask,
        ArpOperation::Reply => Resolution::Answer,
        _ => return None,
    };
    Some(Summary::Neighbor { ipv6: false, what })
}

fn ipv4(bytes: &[u8]) -> Option<Summary> {
    let ip = Ipv4Packet::new_checked(bytes).ok()?;
    if ip.more_frags() || ip.frag_offset() != 0 {
        return None;
    }
    match ip.next_header() {
        IpProtocol::Icmp => {
            let icmp = Icmpv4Packet::new_checked(ip.payload()).ok()?;
            Some(Summary::Icmp {
                ipv6: false,
                kind: u8::from(icmp.msg_type()),
            })
        }
        protocol => transport(protocol, ip.payload()),
    }
}

#[cfg(feature = "ipv6")]
fn ipv6(bytes: &[u8]) -> Option<Summary> {
    let ip = Ipv6Packet::new_checked(bytes).ok()?;
    match ip.next_header() {
        IpProtocol::Icmpv6 => {
            let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
            let what = match icmp.msg_type() {
                Icmpv6Message::NeighborSolicit => Resolution::Ask,
                Icmpv6Message::NeighborAdvert => Resolution::Answer,
                kind => {
                    return Some(Summary::Icmp {
                        ipv6: true,
                        kind: u8::from(kind),
                    });
                }
            };
            Some(Summary::Neighbor { ipv6: true, what })
        }
        protocol => transport(protocol, ip.payload()),
    }
}

fn transport(protocol: IpProtocol, bytes: &[u8]) -> Option<Summary> {
    match protocol {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(bytes).ok()?;
            let mut window_scale = None;
            let mut options = tcp.options();
            while !options.is_empty() {
                let Ok((rest, option)) = TcpOption::parse(options) else {
                    break;
                };
                match option {
                    TcpOption::EndOfList => break,
                    TcpOption::WindowScale(shift) => window_scale = Some(shift),
                    _ => {}
                }
                options = rest;
            }
            let flags = u8::from(tcp.fin())
                | u8::from(tcp.syn()) << 1
                | u8::from(tcp.rst()) << 2
                | u8::from(tcp.psh()) << 3
                | u8::from(tcp.ack()) << 4;
            Some(Summary::Tcp(Segment {
                src_port: tcp.src_port(),
                dst_port: tcp.dst_port(),
                seq: tcp.seq_number().0 as u32,
                ack: tcp.ack_number().0 as u32,
                flags,
                window: tcp.window_len(),
                window_scale,
                payload: Payload::new(tcp.payload()),
            }))
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(bytes).ok()?;
            Some(Summary::Udp {
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
                payload: Payload::new(udp.payload()),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_read_without_panic() {
        assert_eq!(Summary::of(&[]), Summary::Other { ethertype: 0 });
        let mut frame = [0u8; 60];
        frame[12] = 0x08; // IPv4, but garbage after
        assert_eq!(Summary::of(&frame), Summary::Other { ethertype: 0x0800 });
        // Every prefix and every one-byte change of a real frame.
        let syn = crate::tutorial::ladder::tests::SYN_FRAME;
        for cut in 0..syn.len() {
            let _ = Summary::of(&syn[..cut]);
        }
        let mut bent = syn;
        for at in 0..bent.len() {
            for bit in 0..8 {
                bent[at] ^= 1 << bit;
                let _ = Summary::of(&bent);
                bent[at] ^= 1 << bit;
            }
        }
    }

    #[test]
    fn a_syn_is_read_with_its_options() {
        let Summary::Tcp(s) = Summary::of(&crate::tutorial::ladder::tests::SYN_FRAME) else {
            panic!("not TCP");
        };
        assert_eq!((s.src_port, s.dst_port), (49152, 9999));
        assert_eq!(s.flags, SYN);
        assert_eq!(s.seq, 1000);
        assert_eq!(s.window, 4096);
        assert_eq!(s.window_scale, Some(0));
        assert_eq!(s.seq_len(), 1);
        assert_eq!(s.payload.len, 0);
    }
}
