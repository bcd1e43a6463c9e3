//! The ladder diagram: every frame of a conversation as an arrow between the two hosts,
//! beside the Python call that caused it and the TCP state each side enters.
//!
//! Every TCP textbook draws the handshake this way, and Wireshark draws it from a capture
//! ("Flow Graph"). A Berkeley-sockets program cannot: the kernel sends the SYNs, ACKs and
//! FINs and tells the program only that `connect` returned. On the testbed both halves
//! are visible, the frames on the wire ([`FrameObserver`]) and the stacks' lifecycle
//! events ([`Observer`]), so a [`LadderLog`] listens to both, in the order they happen,
//! and [`render`] draws them:
//!
//! ```text
//!     time client                                    server  python call / TCP state
//!    0.000 |<-- ARP: who has? / is at ------------------->|  (address resolution)
//!    0.000 |-- SYN seq=0 win=4096 len=0 ----------------->|  client SYN-SENT sk.connect(ip_port)
//!    0.000 |<-- SYN,ACK seq=0 ack=1 win=2048 len=0 -------|  server SYN-RECEIVED
//!    0.000 |-- ACK seq=1 ack=1 win=4096 len=0 ----------->|  client ESTABLISHED
//!          |                                              |  server ESTABLISHED
//!          |                                              |  server conn, addr = sk.accept()
//!    0.000 |-- PSH,ACK seq=1 ack=1 win=4096 len=18 ------>|  client send(data) / sendall(data)
//!          |   "请求占领地球"                             |  server data = recv(1024)
//! ```
//!
//! Sequence and acknowledgement numbers are relative, as Wireshark shows them (a SYN is
//! 0), the window is scaled once both SYNs agreed on it, and a payload's first bytes are
//! shown as text on the line below its arrow, aligned by display width (Chinese takes two
//! columns). The states are RFC 793's, as the events of each host tell them (and, for
//! FIN-WAIT-2 and TIME-WAIT, the ACK of its FIN on the wire): the ladder follows one
//! connection per host at a time, which is what a tutorial conversation is.
//!
//! The log keeps summaries, not frames ([`FrameSummary`]): about 100 bytes an entry, in a
//! ring of `N`, no heap. The drawing is pure formatting into any [`core::fmt::Write`].

mod display_width;
mod entry;
mod frame_summary;
mod render;

use core::cell::RefCell;

use heapless::Deque;

pub use display_width::{char_width, display_width};
pub use entry::{Entry, FrameEntry};
pub use frame_summary::{Payload, Resolution, Segment, Summary as FrameSummary};
pub use render::{WIDTH, render};

use crate::phy::{Fate, FrameObserver, WireFrame};
use crate::stack::{Event, Observer};

/// The last `N` frames and events of a testbed, in order: give it to the wire
/// ([`Wire::set_observer`](crate::phy::Wire::set_observer)) and to both stacks
/// ([`Stack::set_observer`](crate::Stack::set_observer)), then [`draw`](Self::draw) it.
pub struct LadderLog<const N: usize> {
    inner: RefCell<Inner<N>>,
}

struct Inner<const N: usize> {
    entries: Deque<Entry, N>,
    overwritten: usize,
}

impl<const N: usize> Default for LadderLog<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LadderLog<N> {
    /// An empty log.
    pub const fn new() -> Self {
        LadderLog {
            inner: RefCell::new(Inner {
                entries: Deque::new(),
                overwritten: 0,
            }),
        }
    }

    fn push(&self, entry: Entry) {
        // Never called re-entrantly by the wire or a stack; if it were, lose the entry.
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return;
        };
        if inner.entries.is_full() {
            inner.entries.pop_front();
            inner.overwritten += 1;
        }
        let _ = inner.entries.push_back(entry);
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.inner.borrow().entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th entry held, oldest first.
    pub fn get(&self, i: usize) -> Option<Entry> {
        self.inner.borrow().entries.iter().nth(i).copied()
    }

    /// The entries held, oldest first (each a copy).
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// How many entries were lost because the log was full.
    pub fn overwritten(&self) -> usize {
        self.inner.borrow().overwritten
    }

    /// Forget everything (between conversations).
    pub fn clear(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.entries.clear();
        inner.overwritten = 0;
    }

    /// Draw the ladder of what is held; `names` are the hosts on ends A and B.
    pub fn draw(&self, names: [&str; 2], out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        let inner = self.inner.borrow();
        if inner.overwritten > 0 {
            writeln!(out, "  ({} earlier entries not kept)", inner.overwritten)?;
        }
        render(names, inner.entries.iter().copied(), out)
    }
}

impl<const N: usize> FrameObserver for LadderLog<N> {
    fn frame(&self, frame: &WireFrame<'_>) {
        // A frame's arrival is drawn with its departure (the wire has no latency).
        if frame.fate == Fate::Delivered {
            return;
        }
        self.push(Entry::Frame(FrameEntry {
            at: frame.at,
            from: frame.from,
            fate: frame.fate,
            summary: FrameSummary::of(frame.bytes),
        }));
    }
}

impl<const N: usize> Observer for LadderLog<N> {
    fn record(&self, event: Event) {
        self.push(Entry::Event(event));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use core::fmt::Write as _;

    use smoltcp::time::Instant;

    use super::*;
    use crate::phy::{DropCause, End};
    use crate::stack::EventKind;

    /// A SYN from 192.168.69.2:49152 to 192.168.69.1:9999, seq 1000, window 4096, with a
    /// window scale option of 0.
    pub(crate) const SYN_FRAME: [u8; 58] = [
        2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 168, 69, 2, 192, 168, 69, 1, // IPv4
        0xc0, 0x00, 0x27, 0x0f, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x60, 0x02, 0x10, 0x00, 0, 0, 0,
        0, // TCP
        3, 3, 0, 1, // window scale 0, NOP
    ];

    /// A TCP segment frame from `SYN_FRAME` with other fields and a payload.
    fn segment(from: End, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> [u8; 128] {
        let mut f = [0u8; 128];
        f[..58].copy_from_slice(&SYN_FRAME);
        if from == End::B {
            f.copy_within(0..6, 64);
            f.copy_within(6..12, 0);
            f.copy_within(64..70, 6);
            f.swap(29, 33);
            f.swap(34, 36);
            f.swap(35, 37);
        }
        f[38..42].copy_from_slice(&seq.to_be_bytes());
        f[42..46].copy_from_slice(&ack.to_be_bytes());
        f[46] = 0x50; // no options
        f[47] = flags;
        f[54..54 + payload.len()].copy_from_slice(payload);
        let total = (20 + 20 + payload.len()) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f
    }

    fn frame(at: i64, from: End, fate: Fate, bytes: &[u8]) -> Entry {
        Entry::Frame(FrameEntry {
            at: Instant::from_millis(at),
            from,
            fate,
            summary: FrameSummary::of(bytes),
        })
    }

    fn event(at: i64, host: &'static str, kind: EventKind) -> Entry {
        Entry::Event(Event {
            at: Instant::from_millis(at),
            host,
            socket: 0,
            kind,
        })
    }

    #[test]
    fn a_hand_made_handshake_is_drawn_line_by_line() {
        use EventKind as E;
        let (a, b) = (End::A, End::B);
        let sent = Fate::Sent;
        let remote =
            smoltcp::wire::IpEndpoint::new(smoltcp::wire::IpAddress::v4(192, 168, 69, 1), 9999);
        let entries = [
            event(0, "client", E::Connect { remote }),
            frame(0, a, sent, &segment(a, 1000, 0, 0x02, b"")),
            frame(0, b, sent, &segment(b, 5000, 1001, 0x12, b"")),
            event(0, "server", E::SynReceived),
            frame(0, a, sent, &segment(a, 1001, 5001, 0x10, b"")),
            event(0, "client", E::Established),
            event(0, "client", E::Send { bytes: 8 }),
            frame(
                0,
                a,
                Fate::Dropped(DropCause::Fault),
                &segment(a, 1001, 5001, 0x18, "你好ab\n".as_bytes()),
            ),
            frame(
                1000,
                a,
                sent,
                &segment(a, 1001, 5001, 0x18, "你好ab\n".as_bytes()),
            ),
            event(10_000, "client", E::Closed),
        ];
        let mut out = heapless::String::<4096>::new();
        render(["client", "server"], entries, &mut out).unwrap();
        let expected = [
            "    time client                                    server  python call / TCP state",
            "   0.000 |-- SYN seq=0 win=4096 len=0 ----------------->|  client SYN-SENT sk.connect(ip_port)",
            "   0.000 |<-- SYN,ACK seq=0 ack=1 win=4096 len=0 -------|  server SYN-RECEIVED",
            "   0.000 |-- ACK seq=1 ack=1 win=4096 len=0 ----------->|  client ESTABLISHED",
            "   0.000 |-- PSH,ACK seq=1 ack=1 win=4096 len=9 ----X   |  client send(data) / sendall(data)",
            "         |   \"你好ab\\n\"                                 |  (lost on the wire)",
            "   1.000 |-- PSH,ACK seq=1 ack=1 win=4096 len=9 ------->|  (retransmission)",
            "         |   \"你好ab\\n\"                                 |",
            "  10.000 |                                              |  client CLOSED",
        ];
        let lines: std::vec::Vec<&str> = out.lines().collect();
        for (i, (got, want)) in lines.iter().zip(expected).enumerate() {
            assert_eq!(*got, want, "line {i}:\n{out}");
        }
        assert_eq!(lines.len(), expected.len(), "{out}");
        for line in lines {
            assert!(display_width(line) <= WIDTH, "{line}");
        }
    }

    #[test]
    fn an_entry_is_about_a_hundred_bytes() {
        // What the module docs promise a ladder's memory to be.
        assert!(
            core::mem::size_of::<Entry>() <= 112,
            "{}",
            core::mem::size_of::<Entry>()
        );
    }

    #[test]
    fn the_log_keeps_the_last_entries_and_says_how_many_it_lost() {
        let log = LadderLog::<2>::new();
        for ms in 0..3 {
            log.record(Event {
                at: Instant::from_millis(ms),
                host: "client",
                socket: 0,
                kind: EventKind::Recv { bytes: 1 },
            });
        }
        assert_eq!(log.len(), 2);
        assert_eq!(log.overwritten(), 1);
        let mut out = heapless::String::<1024>::new();
        log.draw(["client", "server"], &mut out).unwrap();
        assert!(out.starts_with("  (1 earlier entries not kept)\n"), "{out}");
        log.clear();
        assert!(log.is_empty());
        let _ = write!(out, "");
    }
}
