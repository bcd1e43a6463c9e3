//! Counting TCP retransmissions by watching frames go by.
//!
//! smoltcp keeps no statistics, and a test of a lossy link wants to print how often TCP
//! had to send something again. [`RetransmitCounter`] looks at each Ethernet frame a
//! stack transmits, and for every TCP segment that occupies sequence space (data, SYN,
//! FIN) remembers how far that flow has got; a segment starting before that point is a
//! retransmission. It is pure logic over bytes, remembers at most `FLOWS` flows (the
//! oldest is forgotten first), and never fails on a frame it cannot parse: it just does
//! not count it.

use heapless::Deque;

use super::tcp_header::tcp_span;

/// Which flow a segment belongs to, within one direction of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flow {
    ipv6: bool,
    src_port: u16,
    dst_port: u16,
}

/// Counts TCP segments and retransmissions in one direction of a link.
#[derive(Debug)]
pub struct RetransmitCounter<const FLOWS: usize = 16> {
    flows: Deque<(Flow, u32), FLOWS>,
    segments: u64,
    retransmitted: u64,
}

impl<const FLOWS: usize> Default for RetransmitCounter<FLOWS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const FLOWS: usize> RetransmitCounter<FLOWS> {
    /// Nothing seen yet.
    pub const fn new() -> Self {
        RetransmitCounter {
            flows: Deque::new(),
            segments: 0,
            retransmitted: 0,
        }
    }

    /// TCP segments seen that carry data, SYN or FIN.
    pub fn segments(&self) -> u64 {
        self.segments
    }

    /// Of those, how many started before what the flow had already sent.
    pub fn retransmitted(&self) -> u64 {
        self.retransmitted
    }

    /// Look at one Ethernet frame.
    pub fn observe(&mut self, frame: &[u8]) {
        let Some(tcp) = tcp_span(frame) else {
            return;
        };
        let (seq, len, syn) = (tcp.seq, tcp.len, tcp.syn);
        let flow = Flow {
            ipv6: tcp.ipv6,
            src_port: tcp.src_port,
            dst_port: tcp.dst_port,
        };
        if len == 0 {
            return;
        }
        self.segments += 1;
        let end = seq.wrapping_add(len);
        // Newest first: a segment nearly always belongs to a flow seen lately.
        match self.flows.iter_mut().rev().find(|(f, _)| *f == flow) {
            // The same SYN again (it occupies exactly `next - 1`).
            Some((_, next)) if syn && seq.wrapping_add(1) == *next => self.retransmitted += 1,
            // A new connection on the same ports starts the flow over.
            Some((_, next)) if syn => *next = end,
            Some((_, next)) => {
                // Serial-number arithmetic: `seq` before `next` means sent before.
                if (seq.wrapping_sub(*next) as i32) < 0 {
                    self.retransmitted += 1;
                }
                if (end.wrapping_sub(*next) as i32) > 0 {
                    *next = end;
                }
            }
            None => {
                if self.flows.is_full() {
                    self.flows.pop_front();
                }
                let _ = self.flows.push_back((flow, end));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
        Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    };

    fn frame(seq: i32, payload: &[u8], control: TcpControl) -> std::vec::Vec<u8> {
        let tcp = TcpRepr {
            src_port: 49152,
            dst_port: 7,
            control,
            seq_number: TcpSeqNumber(seq),
            ack_number: None,
            window_len: 1000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let src = Ipv4Address::new(10, 0, 0, 2);
        let dst = Ipv4Address::new(10, 0, 0, 1);
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = std::vec![0u8; eth.buffer_len() + ip.buffer_len() + tcp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf);
        eth.emit(&mut f);
        let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
        ip.emit(&mut p, &ChecksumCapabilities::default());
        tcp.emit(
            &mut TcpPacket::new_unchecked(p.payload_mut()),
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            &ChecksumCapabilities::default(),
        );
        buf
    }

    #[test]
    fn counts_a_resent_segment_once() {
        let mut c = RetransmitCounter::<4>::new();
        c.observe(&frame(100, b"", TcpControl::Syn));
        c.observe(&frame(101, b"hello", TcpControl::None));
        c.observe(&frame(106, b"world", TcpControl::None));
        c.observe(&frame(101, b"hello", TcpControl::None)); // again
        c.observe(&frame(111, b"", TcpControl::Fin));
        c.observe(&frame(111, b"", TcpControl::Fin)); // again
        assert_eq!(c.segments(), 6);
        assert_eq!(c.retransmitted(), 2);
    }

    #[test]
    fn pure_acks_and_garbage_are_not_counted() {
        let mut c = RetransmitCounter::<4>::new();
        c.observe(&frame(100, b"", TcpControl::None));
        c.observe(&[0u8; 3]);
        c.observe(&[0xffu8; 80]);
        assert_eq!((c.segments(), c.retransmitted()), (0, 0));
    }

    #[test]
    fn a_new_connection_on_the_same_ports_starts_over() {
        let mut c = RetransmitCounter::<4>::new();
        c.observe(&frame(5000, b"", TcpControl::Syn));
        c.observe(&frame(5001, b"abc", TcpControl::None));
        c.observe(&frame(10, b"", TcpControl::Syn));
        assert_eq!(c.retransmitted(), 0, "a new SYN is not a retransmission");
        c.observe(&frame(10, b"", TcpControl::Syn)); // that SYN again
        assert_eq!(c.retransmitted(), 1);
        c.observe(&frame(11, b"x", TcpControl::None));
        assert_eq!(c.retransmitted(), 1);
    }
}
