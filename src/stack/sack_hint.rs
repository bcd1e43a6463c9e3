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
            || earlier
                .reach
                .checked_add(SACKED_ENOUGH)
                .is_some_and(|further| self.reach >= further)
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
            Some((
                ip.src_addr().into(),
                ip.dst_addr().into(),
                payload.get(40..40 + len)?,
            ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{EthernetAddress, Ipv4Address, TcpSeqNumber};

    const PEER: Ipv4Address = Ipv4Address::new(192, 168, 69, 100);
    const US: Ipv4Address = Ipv4Address::new(192, 168, 69, 1);

    /// An Ethernet frame from the peer to us: ACK `ack`, window `window`, the SACK
    /// blocks given (up to three) and `payload`.
    fn segment(ack: u32, window: u16, sacks: &[(u32, u32)], payload: &[u8]) -> std::vec::Vec<u8> {
        let mut sack_ranges = [None; 3];
        for (slot, s) in sack_ranges.iter_mut().zip(sacks) {
            *slot = Some(*s);
        }
        let tcp = TcpRepr {
            src_port: 40000,
            dst_port: 7,
            control: if payload.is_empty() {
                TcpControl::None
            } else {
                TcpControl::Psh
            },
            seq_number: TcpSeqNumber(1000),
            ack_number: Some(TcpSeqNumber(ack as i32)),
            window_len: window,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges,
            timestamp: None,
            payload,
        };
        let ip = IpRepr::Ipv4(Ipv4Repr {
            src_addr: PEER,
            dst_addr: US,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        });
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut frame = std::vec![0u8; eth.buffer_len() + ip.header_len() + tcp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut f);
        let caps = ChecksumCapabilities::default();
        ip.emit(f.payload_mut(), &caps);
        let mut t = TcpPacket::new_unchecked(&mut f.payload_mut()[20..]);
        tcp.emit(&mut t, &PEER.into(), &US.into(), &caps);
        frame
    }

    #[test]
    fn three_segments_sacked_beyond_the_ack_are_a_hint() {
        let ack = 5000;
        let frame = segment(ack, 100, &[(ack + 1460, ack + 4 * 1460)], b"");
        let hint = SackHint::read(&frame).expect("a hint");
        assert_eq!(hint.ack, ack);
        assert_eq!(hint.local_port, 7);
        assert_eq!(hint.remote, IpEndpoint::new(PEER.into(), 40000));
        assert_eq!(hint.reach, 4 * 1460);
        // Two segments are not yet enough (reordering, not loss, until a third).
        let frame = segment(ack, 100, &[(ack + 1460, ack + 3 * 1460)], b"");
        assert_eq!(SackHint::read(&frame), None);
        // Blocks add up, whatever their order.
        let frame = segment(
            ack,
            100,
            &[(ack + 5000, ack + 6000), (ack + 100, ack + 2200)],
            b"",
        );
        assert_eq!(SackHint::read(&frame).map(|h| h.reach), Some(6000));
    }

    #[test]
    fn no_hint_without_sack_or_from_blocks_behind_the_ack() {
        assert_eq!(SackHint::read(&segment(5000, 100, &[], b"data")), None);
        // A D-SACK (RFC 2883: a block at or below the ACK) and wrapped nonsense.
        let frame = segment(5000, 100, &[(1000, 4999), (5000, 9000), (9000, 100)], b"");
        assert_eq!(SackHint::read(&frame), None);
        // Sequence numbers that wrap around zero are read modulo 2^32.
        let ack = u32::MAX - 1000;
        let frame = segment(
            ack,
            100,
            &[(ack.wrapping_add(1460), ack.wrapping_add(5000))],
            b"",
        );
        assert_eq!(SackHint::read(&frame).map(|h| h.ack), Some(ack));
    }

    #[test]
    fn the_copy_is_the_bare_ack_smoltcp_counts_as_duplicate() {
        let ack = 5000;
        let frame = segment(ack, 100, &[(ack + 1460, ack + 5 * 1460)], b"0123456789");
        let mut out = [0u8; MAX_COPY];
        for (smaller, window) in [(false, 100), (true, 99)] {
            let len = SackHint::emit(&frame, &mut out, smaller).expect("a copy");
            let (src, dst, tcp) = tcp_of(&out[..len]).unwrap();
            let packet = TcpPacket::new_checked(tcp).unwrap();
            // Checksums right: smoltcp will take it.
            let caps = ChecksumCapabilities::default();
            let repr = TcpRepr::parse(&packet, &src, &dst, &caps).expect("valid");
            assert_eq!(repr.payload, b"");
            assert_eq!(repr.control, TcpControl::None);
            assert_eq!(repr.seq_number, TcpSeqNumber(1010));
            assert_eq!(repr.ack_number, Some(TcpSeqNumber(ack as i32)));
            assert_eq!(repr.window_len, window);
            assert_eq!(repr.sack_ranges[0], Some((ack + 1460, ack + 5 * 1460)));
            assert_eq!(&out[..12], &frame[..12], "the same Ethernet addresses");
        }
        // A zero window is made a unit larger instead.
        let frame = segment(ack, 0, &[(ack + 1460, ack + 5 * 1460)], b"");
        let len = SackHint::emit(&frame, &mut out, true).unwrap();
        let packet = TcpPacket::new_checked(tcp_of(&out[..len]).unwrap().2).unwrap();
        assert_eq!(packet.window_len(), 1);
        // No room, no copy.
        assert_eq!(SackHint::emit(&frame, &mut out[..40], false), None);
    }

    #[test]
    fn the_same_hole_is_news_again_only_when_sacks_reach_further() {
        let first = SackHint {
            remote: IpEndpoint::new(PEER.into(), 40000),
            local_port: 7,
            ack: 5000,
            reach: 4380,
        };
        let later = |reach| SackHint { reach, ..first };
        assert!(!later(4380).is_news_after(&first));
        assert!(!later(4380 + SACKED_ENOUGH - 1).is_news_after(&first));
        assert!(later(4380 + SACKED_ENOUGH).is_news_after(&first));
        assert!(SackHint { ack: 6460, ..first }.is_news_after(&first));
        assert!(
            SackHint {
                local_port: 8,
                ..first
            }
            .is_news_after(&first)
        );
        // No overflow at the top of the range.
        let top = SackHint {
            reach: u32::MAX,
            ..first
        };
        assert!(!later(u32::MAX).is_news_after(&top));
    }

    #[test]
    fn any_bytes_at_all_never_panic() {
        let good = segment(5000, 100, &[(6460, 9380)], b"xy");
        let mut out = [0u8; MAX_COPY];
        // Every truncation, and every byte of the header changed to 0, 0xff and 0x05.
        for cut in 0..=good.len() {
            let _ = SackHint::read(&good[..cut]);
            let _ = SackHint::emit(&good[..cut], &mut out, true);
        }
        for i in 0..good.len() {
            for v in [0u8, 0xff, 0x05, 0x0a, 0x50] {
                let mut f = good.clone();
                f[i] = v;
                let _ = SackHint::read(&f);
                let _ = SackHint::emit(&f, &mut out, false);
            }
        }
        // Options: a length running past the end, a zero length, a SACK of odd size.
        for opts in [
            &[5u8, 200][..],
            &[5, 0],
            &[5, 7, 1, 2, 3, 4, 5],
            &[1, 1, 1],
            &[8],
        ] {
            let _ = sack_blocks(opts);
        }
        assert_eq!(
            sack_blocks(&[5, 10, 0, 0, 0, 1, 0, 0, 0, 2]).as_slice(),
            &[(1, 2)]
        );
    }
}
