//! Scripted faults: a test names frames by what they are and says what the wire does to
//! them ("drop the first SYN-ACK from the server", "hold every data segment to port 7",
//! "delay the FIN by 50 ms"), with no device wrapper.
//!
//! turmoil does this for its simulated sockets with `hold`/`release` of one host pair's
//! messages; here a [`Rule`] picks frames off the wire by direction, protocol, TCP flags,
//! ports, payload and count, and its [`Action`] drops, delays, duplicates or holds them
//! (held frames wait until [`Wire::release`](super::Wire::release)). A wire keeps up to
//! [`RULES`] rules in fixed storage; a frame meets them in the order they were added,
//! and the first rule that matches and picks it (by its count) acts on it. Scripted
//! faults act before the [`Link`](super::Link): a delayed or duplicated frame still goes
//! through the link's delay and loss; a dropped or held one never reaches it.

use smoltcp::time::Duration;

use super::end::End;

/// How many rules a wire holds.
pub const RULES: usize = 8;

/// The transport a frame carries, as a [`FrameMatch`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Any frame at all (ARP and neighbour discovery too).
    Any,
    /// TCP, over IPv4 or IPv6.
    Tcp,
    /// UDP, over IPv4 or IPv6.
    Udp,
}

/// What a frame's payload (TCP or UDP data) must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Anything.
    Any,
    /// No data (a bare SYN, ACK or FIN).
    Empty,
    /// Some data.
    Data,
    /// Data starting with these bytes.
    StartsWith(&'static [u8]),
}

/// Which frames a [`Rule`] looks at: every field must match. Build with
/// [`FrameMatch::tcp`], [`FrameMatch::udp`] or [`FrameMatch::any`] and the setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMatch {
    /// The end that sent the frame (either, for `None`).
    pub from: Option<End>,
    /// The transport.
    pub transport: Transport,
    /// TCP flags that must all be set ([`FLAG_SYN`](super::FLAG_SYN) and friends).
    pub flags_set: u8,
    /// TCP flags that must all be clear.
    pub flags_clear: u8,
    /// The source port.
    pub src_port: Option<u16>,
    /// The destination port.
    pub dst_port: Option<u16>,
    /// The payload.
    pub payload: Payload,
}

impl FrameMatch {
    /// Every frame.
    pub const fn any() -> FrameMatch {
        FrameMatch {
            from: None,
            transport: Transport::Any,
            flags_set: 0,
            flags_clear: 0,
            src_port: None,
            dst_port: None,
            payload: Payload::Any,
        }
    }

    /// Every TCP segment.
    pub const fn tcp() -> FrameMatch {
        FrameMatch {
            transport: Transport::Tcp,
            ..FrameMatch::any()
        }
    }

    /// Every UDP datagram.
    pub const fn udp() -> FrameMatch {
        FrameMatch {
            transport: Transport::Udp,
            ..FrameMatch::any()
        }
    }

    /// Only frames sent by the host at `end`.
    pub const fn from(mut self, end: End) -> FrameMatch {
        self.from = Some(end);
        self
    }

    /// Only segments with all of `flags` set (TCP only).
    pub const fn flags(mut self, flags: u8) -> FrameMatch {
        self.flags_set |= flags;
        self
    }

    /// Only segments with none of `flags` set (TCP only).
    pub const fn without(mut self, flags: u8) -> FrameMatch {
        self.flags_clear |= flags;
        self
    }

    /// Only frames from port `port`.
    pub const fn src_port(mut self, port: u16) -> FrameMatch {
        self.src_port = Some(port);
        self
    }

    /// Only frames to port `port`.
    pub const fn dst_port(mut self, port: u16) -> FrameMatch {
        self.dst_port = Some(port);
        self
    }

    /// Only frames whose payload is `payload`.
    pub const fn payload(mut self, payload: Payload) -> FrameMatch {
        self.payload = payload;
        self
    }

    /// Whether `frame`, sent by `from`, is one of these.
    pub fn matches(&self, from: End, frame: &[u8]) -> bool {
        if self.from.is_some_and(|f| f != from) {
            return false;
        }
        if self.transport == Transport::Any
            && self.flags_set == 0
            && self.flags_clear == 0
            && self.src_port.is_none()
            && self.dst_port.is_none()
            && self.payload == Payload::Any
        {
            return true;
        }
        let Some(seen) = Segment::read(frame) else {
            return false;
        };
        let transport_ok = match self.transport {
            Transport::Any => true,
            Transport::Tcp => seen.tcp,
            Transport::Udp => !seen.tcp,
        };
        let wants_flags = self.flags_set != 0 || self.flags_clear != 0;
        transport_ok
            && (!wants_flags
                || (seen.tcp
                    && seen.flags & self.flags_set == self.flags_set
                    && seen.flags & self.flags_clear == 0))
            && self.src_port.is_none_or(|p| p == seen.src_port)
            && self.dst_port.is_none_or(|p| p == seen.dst_port)
            && match self.payload {
                Payload::Any => true,
                Payload::Empty => seen.payload.is_empty(),
                Payload::Data => !seen.payload.is_empty(),
                Payload::StartsWith(prefix) => seen.payload.starts_with(prefix),
            }
    }
}

/// Which of the matching frames a rule acts on, counting from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nth {
    /// Every one.
    All,
    /// The `n`th only (the first is 1).
    Only(u32),
    /// The `n`th, the `2n`th, the `3n`th...
    Every(u32),
    /// The `n`th and all after it.
    From(u32),
}

impl Nth {
    fn picks(self, count: u32) -> bool {
        match self {
            Nth::All => true,
            Nth::Only(n) => count == n,
            Nth::Every(n) => n != 0 && count.is_multiple_of(n),
            Nth::From(n) => count >= n,
        }
    }
}

/// What a rule does to the frames it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Lose it.
    Drop,
    /// Deliver it this much later (than the link would).
    Delay(Duration),
    /// Deliver it twice.
    Duplicate,
    /// Keep it on the wire until [`Wire::release`](super::Wire::release).
    Hold,
}

/// A scripted fault: the frames it matches, which of them, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The frames this rule looks at.
    pub frames: FrameMatch,
    /// Which of them it acts on.
    pub nth: Nth,
    /// What it does.
    pub action: Action,
}

impl Rule {
    /// Do `action` to every frame matching `frames`.
    pub const fn new(frames: FrameMatch, action: Action) -> Rule {
        Rule {
            frames,
            nth: Nth::All,
            action,
        }
    }

    /// Only to the picked ones of the matching frames.
    pub const fn nth(mut self, nth: Nth) -> Rule {
        self.nth = nth;
        self
    }
}

/// A rule's number on its wire, for [`Wire::release`](super::Wire::release) and
/// [`Wire::rule_hits`](super::Wire::rule_hits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId(pub(crate) u8);

/// What the script decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) rule: u8,
    pub(crate) action: Action,
}

/// A wire's rules and how many frames each has seen and acted on.
pub(crate) struct Script {
    rules: [Option<Rule>; RULES],
    seen: [u32; RULES],
    hits: [u32; RULES],
    len: usize,
    /// TCP segments to let pass before losing one (`Wire::lose_segment`); 0: none.
    pub(crate) lose_in: u64,
}

impl Script {
    pub(crate) const fn new() -> Script {
        Script {
            rules: [None; RULES],
            seen: [0; RULES],
            hits: [0; RULES],
            len: 0,
            lose_in: 0,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0 && self.lose_in == 0
    }

    /// Whether this frame is the TCP segment chosen to be lost (counting it down).
    pub(crate) fn lose_this(&mut self, frame: &[u8]) -> bool {
        if self.lose_in == 0 || super::tcp_header::tcp_flags(frame).is_none() {
            return false;
        }
        self.lose_in -= 1;
        self.lose_in == 0
    }

    pub(crate) fn add(&mut self, rule: Rule) -> Option<RuleId> {
        let at = self.len;
        if at >= RULES {
            return None;
        }
        self.rules[at] = Some(rule);
        self.len += 1;
        Some(RuleId(at as u8))
    }

    pub(crate) fn clear(&mut self) {
        *self = Script {
            lose_in: self.lose_in,
            ..Script::new()
        };
    }

    pub(crate) fn hits(&self, id: RuleId) -> u32 {
        self.hits.get(usize::from(id.0)).copied().unwrap_or(0)
    }

    /// The first rule that matches `frame` and picks it, counted.
    pub(crate) fn judge(&mut self, from: End, frame: &[u8]) -> Option<Verdict> {
        let mut verdict = None;
        for i in 0..self.len {
            let Some(rule) = self.rules[i] else { continue };
            if !rule.frames.matches(from, frame) {
                continue;
            }
            // Every matching rule counts the frame, so "the second SYN-ACK" means the
            // second on the wire whatever other rules did to the first.
            self.seen[i] = self.seen[i].saturating_add(1);
            if verdict.is_none() && rule.nth.picks(self.seen[i]) {
                self.hits[i] = self.hits[i].saturating_add(1);
                verdict = Some(Verdict {
                    rule: i as u8,
                    action: rule.action,
                });
            }
        }
        verdict
    }
}

/// The parts of a TCP segment or UDP datagram a rule reads (IPv4, or IPv6 without
/// extension headers; an IPv4 fragment is not read).
struct Segment<'f> {
    tcp: bool,
    flags: u8,
    src_port: u16,
    dst_port: u16,
    payload: &'f [u8],
}

impl<'f> Segment<'f> {
    fn read(frame: &'f [u8]) -> Option<Segment<'f>> {
        const ETHERNET: usize = 14;
        let ip = frame.get(ETHERNET..)?;
        let (protocol, transport) = match frame.get(12..14)? {
            [0x08, 0x00] => {
                let ihl = usize::from(*ip.first()? & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
                if ihl < 20 || total < ihl || ip.len() < total {
                    return None;
                }
                if *ip.get(6)? & 0x3f != 0 || *ip.get(7)? != 0 {
                    return None;
                }
                (ip[9], &ip[ihl..total])
            }
            [0x86, 0xdd] => {
                let payload = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
                (*ip.get(6)?, ip.get(40..40 + payload)?)
            }
            _ => return None,
        };
        let ports = |t: &[u8]| -> Option<(u16, u16)> {
            Some((
                u16::from_be_bytes([*t.first()?, *t.get(1)?]),
                u16::from_be_bytes([*t.get(2)?, *t.get(3)?]),
            ))
        };
        match protocol {
            6 => {
                let (src_port, dst_port) = ports(transport)?;
                let offset = usize::from(*transport.get(12)? >> 4) * 4;
                if offset < 20 {
                    return None;
                }
                Some(Segment {
                    tcp: true,
                    flags: *transport.get(13)?,
                    src_port,
                    dst_port,
                    payload: transport.get(offset..)?,
                })
            }
            17 => {
                let (src_port, dst_port) = ports(transport)?;
                let len = usize::from(u16::from_be_bytes([*transport.get(4)?, *transport.get(5)?]));
                Some(Segment {
                    tcp: false,
                    flags: 0,
                    src_port,
                    dst_port,
                    payload: transport.get(8..len.max(8))?,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phy::{FLAG_ACK, FLAG_FIN, FLAG_SYN};

    /// An Ethernet + IPv4 + TCP frame with these flags and payload.
    fn tcp_frame(flags: u8, src: u16, dst: u16, payload: &[u8]) -> heapless::Vec<u8, 128> {
        let mut f = heapless::Vec::new();
        f.extend_from_slice(&[0; 12]).unwrap();
        f.extend_from_slice(&[0x08, 0x00]).unwrap();
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0]).unwrap();
        f.extend_from_slice(&total.to_be_bytes()).unwrap();
        f.extend_from_slice(&[0, 0, 0, 0, 64, 6, 0, 0]).unwrap();
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]).unwrap();
        f.extend_from_slice(&src.to_be_bytes()).unwrap();
        f.extend_from_slice(&dst.to_be_bytes()).unwrap();
        f.extend_from_slice(&[0; 8]).unwrap();
        f.extend_from_slice(&[0x50, flags, 0, 0, 0, 0, 0, 0])
            .unwrap();
        f.extend_from_slice(payload).unwrap();
        f
    }

    #[test]
    fn a_match_reads_direction_flags_ports_and_payload() {
        let syn_ack = tcp_frame(FLAG_SYN | FLAG_ACK, 7, 49152, b"");
        let data = tcp_frame(FLAG_ACK, 49152, 7, b"hello");
        let m = FrameMatch::tcp().from(End::B).flags(FLAG_SYN | FLAG_ACK);
        assert!(m.matches(End::B, &syn_ack));
        assert!(!m.matches(End::A, &syn_ack));
        assert!(!m.matches(End::B, &data));
        let d = FrameMatch::tcp().dst_port(7).payload(Payload::Data);
        assert!(d.matches(End::A, &data));
        assert!(!d.matches(End::B, &syn_ack));
        assert!(
            FrameMatch::tcp()
                .payload(Payload::StartsWith(b"hel"))
                .matches(End::A, &data)
        );
        assert!(!FrameMatch::udp().matches(End::A, &data));
        assert!(FrameMatch::any().matches(End::A, &[]));
        assert!(
            !FrameMatch::tcp()
                .without(FLAG_FIN)
                .matches(End::A, &tcp_frame(FLAG_FIN, 1, 2, b""))
        );
        // Truncated and garbage frames never match a TCP rule, and never panic.
        for cut in 0..data.len() {
            let _ = d.matches(End::A, &data[..cut]);
        }
        assert!(!FrameMatch::tcp().matches(End::A, &[0xff; 60]));
    }

    #[test]
    fn a_rule_counts_the_frames_it_matches() {
        let mut script = Script::new();
        let every_third = script
            .add(Rule::new(FrameMatch::tcp().dst_port(7), Action::Drop).nth(Nth::Every(3)))
            .unwrap();
        let data = tcp_frame(FLAG_ACK, 49152, 7, b"x");
        let picked: heapless::Vec<bool, 9> = (0..9)
            .map(|_| script.judge(End::A, &data).is_some())
            .collect();
        assert_eq!(
            picked,
            [false, false, true, false, false, true, false, false, true]
        );
        assert_eq!(script.hits(every_third), 3);
        for _ in 1..RULES {
            assert!(
                script
                    .add(Rule::new(FrameMatch::any(), Action::Hold))
                    .is_some()
            );
        }
        assert!(
            script
                .add(Rule::new(FrameMatch::any(), Action::Hold))
                .is_none(),
            "full"
        );
    }
}
