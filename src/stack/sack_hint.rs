//! SACK hints: a peer's selective acknowledgements turned into the duplicate ACKs smoltcp
//! counts, so that a lost segment is repaired by fast retransmit, not by a timeout.
//!
//! A kernel's TCP repairs a loss from what its peer tells it: the peer ACKs the last byte
//! before the hole and lists, in SACK blocks (RFC 2018), what it holds beyond; Linux marks
//! the hole lost (RFC 6675, RACK) and resends it within a round trip. smoltcp 0.14 reads no
//! SACK block. It resends the first unacknowledged segment on the third *duplicate ACK*,
//! and counts as duplicate only a segment with no payload, the same ACK number and the
//! same window as the last; any other segment sets the count back to zero. A kernel peer
//! that is itself sending (an echo client) puts its ACKs on its data segments, and its
//! window moves as its program reads, so three such duplicates in a row are rare: nearly
//! every loss waits for smoltcp's retransmission timeout, at least 1 s (measured on TAP at
//! 5% loss: 23 timeouts to 14 fast retransmits for 1 MiB through the echo).
//!
//! So the [`gate`](super::gate) reads the SACK blocks of each incoming segment. When they
//! show at least [`SACKED_ENOUGH`] bytes held beyond the ACK number (three full-sized
//! segments that came after the hole: RFC 6675's `IsLost`), it hands smoltcp, right after
//! the segment itself, [`COPIES`] bare copies of it: no payload, no SYN, FIN or PSH, the
//! same ACK number and options, the sequence number at the segment's end. The first
//! carries the window one unit smaller, which smoltcp takes as a window update and so
//! sets its count to zero (whatever came before); the other four carry the segment's own
//! window: one more update, then three duplicates, exactly what the peer would have sent
//! had it had nothing else to say. smoltcp resends the hole at once. The window is the
//! peer's again before smoltcp sends anything (it reads every frame of a poll first).
//!
//! Once per hole, unless the resent segment is lost too: a later segment with the same
//! ACK number whose SACK blocks reach [`SACKED_ENOUGH`] further than at the hint shows
//! that segments sent after the resent one arrived and it did not, and gives the hint
//! again (RACK's reasoning, RFC 8985, without its clock). A hole at the very end of a
//! transfer, with less than that after it, is left to smoltcp's timer.
//!
//! What it does not do: it never resends anything itself, never drops or changes the
//! peer's own segments, and reads no SACK block smoltcp could not have read: a peer that
//! sends none (SACK not negotiated) gets smoltcp's own behaviour.
//!
//! Pure logic: [`SackHint::read`] looks at a frame and [`SackHint::emit`] writes the copy;
//! the gate keeps the last hints per connection and offers the copies.

use heapless::Vec;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpEndpoint, IpProtocol, IpRepr,
    Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
};

/// SACKed bytes beyond the ACK number that make the hole lost: three segments of 1 KiB
/// (on Ethernet, with 1460-byte segments, the third segment after the hole; with smaller
/// ones, more of them).
pub const SACKED_ENOUGH: u32 = 3 * 1024;

/// Bare copies handed to smoltcp per hint: two window updates (the first with the window
/// a unit smaller) that set its count to zero, then three duplicates; it starts fast
/// retransmit at exactly the third.
pub const COPIES: u8 = 5;

/// The largest bare copy: Ethernet, an IPv6 header, TCP with 40 bytes of options.
pub const MAX_COPY: usize = 14 + 40 + 60;

/// A hole a peer's SACK blocks show lost: the connection and the ACK number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackHint {
    /// The peer.
    pub remote: IpEndpoint,
    /// Our port.
    pub local_port: u16,
    /// The peer's ACK number: the first byte of the hole.
    pub ack: u32,
    /// How far beyond `ack` the SACK blocks reach (their highest right edge).
    pub reach: u32,
}

impl SackHint {
    /// Whether this hint, seen after `earlier`, is news: another hole, or the same hole
    /// with SACKs reaching [`SACKED_ENOUGH`] further (the resent segment was lost too).
    pub fn is_news_after(&self, earlier: &SackHint) -> bool {
        self.remote != earlier.remote
            || self.local_port != earlier.local_port
            || self.ack != earlier.ack
            || self.reach >= earlier.reach.saturating_add(SACKED_ENOUGH)
    }
}

impl SackHint {
    /// The hint `frame` (an incoming Ethernet frame) gives, if its TCP segment ACKs with
    /// SACK blocks that hold at least [`SACKED_ENOUGH`] bytes beyond the ACK number.
    /// Never panics, whatever the frame; reads no checksum (smoltcp checks the segment).
    pub fn read(frame: &[u8]) -> Option<SackHint> {
        if !may_carry_sack(frame) {
            return None;
        }
        let (src, _dst, tcp) = tcp_of(frame)?;
        let packet = TcpPacket::new_checked(tcp).ok()?;
        if !packet.ack() || packet.syn() || packet.rst() || packet.header_len() <= 20 {
            return None;
        }
        let ack = packet.ack_number().0 as u32;
        let mut sacked: u32 = 0;
        let mut reach: u32 = 0;
        for block in sack_blocks(packet.options()) {
            let (left, right) = block;
            // Only what lies beyond the ACK number, in sequence-space order.
            let start = left.wrapping_sub(ack);
            let end = right.wrapping_sub(ack);
            if start > 0 && start < end && end < 1 << 30 {
                sacked = sacked.saturating_add(end - start);
                reach = reach.max(end);
            }
        }
        (sacked >= SACKED_ENOUGH).then(|| SackHint {
            remote: IpEndpoint::new(src, packet.src_port()),
            local_port: packet.dst_port(),
            ack,
            reach,
        })
    }

    /// Write the bare copy of `frame` into `out`: the same Ethernet and IP addresses,
    /// ports, ACK number, window (a unit smaller if `smaller` and it is not zero; a unit
    /// larger if it is) and options; no payload, no flag but ACK; the sequence number at
    /// the segment's end. Its length, or `None` if `frame` is no TCP segment or `out` is
    /// too short.
    pub fn emit(frame: &[u8], out: &mut [u8], smaller: bool) -> Option<usize> {
        let (src, dst, tcp) = tcp_of(frame)?;
        let packet = TcpPacket::new_checked(tcp).ok()?;
        let caps = ChecksumCapabilities::ignored();
        let repr = TcpRepr::parse(&packet, &src, &dst, &caps).ok()?;
        let end = repr.seq_number + repr.payload.len();
        let bare = TcpRepr {
            control: TcpControl::None,
            seq_number: end,
            window_len: match (smaller, repr.window_len) {
                (false, w) => w,
                (true, 0) => 1,
                (true, w) => w - 1,
            },
            payload: &[],
            ..repr
        };
        let ip = match (src, dst) {
            (IpAddress::Ipv4(src_addr), IpAddress::Ipv4(dst_addr)) => IpRepr::Ipv4(Ipv4Repr {
                src_addr,
                dst_addr,
                next_header: IpProtocol::Tcp,
                payload_len: bare.buffer_len(),
                hop_limit: 64,
            }),
            #[cfg(feature = "ipv6")]
            (IpAddress::Ipv6(src_addr), IpAddress::Ipv6(dst_addr)) => {
                IpRepr::Ipv6(smoltcp::wire::Ipv6Repr {
                    src_addr,
                    dst_addr,
                    next_header: IpProtocol::Tcp,
                    payload_len: bare.buffer_len(),
                    hop_limit: 64,
                })
            }
            #[cfg(feature = "ipv6")]
            _ => return None,
        };
        let eth_in = EthernetFrame::new_checked(frame).ok()?;
        let eth = EthernetRepr {
            src_addr: eth_in.src_addr(),
            dst_addr: eth_in.dst_addr(),
            ethertype: eth_in.ethertype(),
        };
        let len = eth.buffer_len() + ip.header_len() + bare.buffer_len();
        let out = out.get_mut(..len)?;
        let mut eth_out = EthernetFrame::new_unchecked(&mut *out);
        eth.emit(&mut eth_out);
        let ip_bytes = eth_out.payload_mut();
        let all = ChecksumCapabilities::default();
        ip.emit(&mut *ip_bytes, &all);
        let mut tcp_out = TcpPacket::new_unchecked(&mut ip_bytes[ip.header_len()..]);
        bare.emit(&mut tcp_out, &src, &dst, &all);
        Some(len)
    }
}

/// A first glance, by offsets, for every frame: an ACK with TCP options (anything else
/// carries no SACK block).
fn may_carry_sack(frame: &[u8]) -> bool {
    const ETHERNET: usize = 14;
    let tcp_at = match frame.get(12..14) {
        Some([0x08, 0x00]) => match (frame.get(ETHERNET), frame.get(ETHERNET + 9)) {
            (Some(v), Some(6)) => ETHERNET + usize::from(v & 0x0f) * 4,
            _ => return false,
        },
        Some([0x86, 0xdd]) if frame.get(ETHERNET + 6) == Some(&6) => ETHERNET + 40,
        _ => return false,
    };
    match (frame.get(tcp_at + 12), frame.get(tcp_at + 13)) {
        (Some(offset), Some(flags)) => offset >> 4 > 5 && flags & 0x10 != 0,
        _ => false,
    }
}

/// The source and destination addresses and the TCP bytes of an Ethernet frame carrying
/// an unfragmented IPv4 (or, with `ipv6`, IPv6 without extension headers) TCP segment.
fn tcp_of(frame: &[u8]) -> Option<(IpAddress, IpAddress, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let payload = &frame[EthernetFrame::<&[u8]>::header_len()..];
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(payload).ok()?;
            if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
                return None;
            }
            let (src, dst) = (ip.src_addr(), ip.dst_addr());
            let header = usize::from(ip.header_len());
            let total = usize::from(ip.total_len());
            Some((src.into(), dst.into(), payload.get(header..total)?))
        }
        #[cfg(feature = "ipv6")]
        EthernetProtocol::Ipv6 => {
            let ip = smoltcp::wire::Ipv6Packet::new_checked(payload).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let len = usize::from(ip.payload_len());
            Some((ip.src_addr().into(), ip.dst_addr().into(), payload.get(40..40 + len)?))
        }
        _ => None,
    }
}

/// The SACK blocks (left, right) in TCP options, up to four; malformed options end the
/// reading.
fn sack_blocks(mut options: &[u8]) -> Vec<(u32, u32), 4> {
    let mut blocks = Vec::new();
    while let Some((&kind, rest)) = options.split_first() {
        match kind {
            0 => break,
            1 => options = rest,
            _ => {
                let Some(&len) = rest.first() else { break };
                let len = usize::from(len);
                if len < 2 || len > options.len() {
                    break;
                }
                if kind == 5 {
                    for b in options[2..len].chunks_exact(8) {
                        let left = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        let right = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                        let _ = blocks.push((left, right));
                    }
                }
                options = &options[len..];
            }
        }
    }
    blocks
}
