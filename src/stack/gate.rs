//! The listener's gate: what happens to a connection request before smoltcp sees it.
//!
//! A kernel answers SYNs itself and keeps finished handshakes in the accept queue; when
//! that queue is full it *drops* further SYNs, and the client's TCP simply tries again a
//! second later, and again, until there is room or its `connect` times out. smoltcp
//! instead answers a SYN that finds no socket in LISTEN with an RST, so the client's
//! `connect` fails at once with "connection refused" (smoltcp #1120, #852). And smoltcp
//! hands a segment to the *first* socket that accepts it, where any LISTEN socket accepts
//! any SYN: a retransmitted SYN (its SYN-ACK was lost) would be taken by a second socket
//! while the first still waits in SYN-RECEIVED for the same client.
//!
//! So while it polls, the [`Stack`](super::Stack) hands smoltcp its device wrapped in a
//! `Gate`, which reads every incoming TCP segment exactly as smoltcp will (the same
//! checksums, flags and IPv6 headers: [`tcp_header`](crate::phy::tcp_header)) and decides:
//!
//! * a segment of a 4-tuple in TIME-WAIT goes to the [`time_wait`](super::time_wait)
//!   records (ACK a FIN again, absorb the rest, let a newer SYN through);
//! * a SYN whose 4-tuple already has a socket (or already came in this poll) is dropped:
//!   it never takes a second socket, and the first one's SYN-ACK retransmission answers
//!   the client;
//! * a new SYN to a listening port takes one of that port's LISTEN sockets; when there is
//!   none, the port's [`Overflow`] decides: `Queue` (the default, as Linux does) holds it
//!   in the stack's SYN queue ([`HELD_SYNS`] SYNs of up to [`HELD_SYN`] bytes) and offers
//!   it again, first, at the next polls for up to 3 s (then the client's retransmission
//!   comes back), so the caller gets in the moment a socket frees; `Refuse` lets smoltcp
//!   answer with RST, once the rest of the batch of frames has been seen (a hang-up in
//!   the same batch may free a socket);
//! * everything else passes untouched.
//!
//! Each connection attempt is counted once per port, whatever its retransmissions:
//! accepted (given a socket), queued (dropped for a retry at least once), refused.
//! Frames smoltcp itself will drop (a bad checksum, SYN+FIN, not for our address) are
//! not connection attempts and count for nothing.

use heapless::Vec;
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, TxToken as _};
use smoltcp::socket::tcp::State;
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpCidr, IpEndpoint,
    IpProtocol, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

#[cfg(feature = "sack-hint")]
use super::sack_hint::{self, SackHint};
use super::table::{TableView, later};
use super::time_wait::{TimeWaitTable, Verdict};
use crate::phy::{FLAG_ACK, FLAG_FIN, FLAG_SYN, TcpHeader, tcp_flags, tcp_segment};

/// What a listener does with a connection request when every socket is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the SYN: the client retransmits it and gets in once a socket is free, or its
    /// `connect` times out (what Linux does with a full accept queue; the default).
    #[default]
    Queue,
    /// Answer with RST: the client's `connect` fails at once with `ECONNREFUSED`
    /// (smoltcp's own behaviour).
    Refuse,
}

/// The most listening ports one stack keeps a policy for.
pub const MAX_PORTS: usize = 8;

/// What happened to the connection requests of one listening port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynCounts {
    /// Requests given a LISTEN socket.
    pub accepted: u64,
    /// Requests dropped at least once for the client to retry, no socket being free
    /// ([`Overflow::Queue`]); each attempt once, however often it is retransmitted.
    pub queued: u64,
    /// Requests answered with RST, no socket being free ([`Overflow::Refuse`]).
    pub refused: u64,
}

/// One listening port's policy and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortPolicy {
    pub(crate) port: u16,
    pub(crate) overflow: Overflow,
    pub(crate) counts: SynCounts,
    /// LISTEN sockets left in this poll (counted at the first SYN of the poll).
    budget: Option<u16>,
}

impl PortPolicy {
    pub(crate) const fn new(port: u16) -> Self {
        PortPolicy {
            port,
            overflow: Overflow::Queue,
            counts: SynCounts {
                accepted: 0,
                queued: 0,
                refused: 0,
            },
            budget: None,
        }
    }
}

/// A connection attempt: who, to which port, with which initial sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    from: IpEndpoint,
    port: u16,
    seq: u32,
}

/// A segment's 4-tuple end and its peer's next sequence number after a FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FinSeen {
    from: IpEndpoint,
    port: u16,
    next: u32,
}

/// The largest SYN the gate holds (an IPv6 header, a Hop-by-Hop header and a TCP header
/// with every option fit; a SYN carrying data does not and is dropped instead).
pub const HELD_SYN: usize = 128;

/// How many SYNs a stack holds for its full listeners (its SYN queue).
pub const HELD_SYNS: usize = 4;

/// How long a held SYN waits before it is given up (the client has retransmitted by then).
const HOLD: smoltcp::time::Duration = smoltcp::time::Duration::from_secs(3);

/// A SYN that found its listener full, held to be offered again at the next polls.
struct HeldSyn {
    frame: Vec<u8, HELD_SYN>,
    attempt: Attempt,
    since: Instant,
    /// The port refuses: offered once more after the rest of its batch, then refused.
    refuse: bool,
}

/// What the gate remembers between polls: the SYNs it holds, recent queued attempts (so
/// a retransmission is not counted again) and recent FINs (the peer's last sequence
/// number, for TIME-WAIT). Each is a plain `Vec`, oldest first: so few entries that
/// shifting them beats a ring's index arithmetic, in flash and in time.
pub(crate) struct GateMemory {
    held: Vec<HeldSyn, HELD_SYNS>,
    queued: Vec<Attempt, 32>,
    fins: Vec<FinSeen, 16>,
    /// The last holes hinted at ([`sack_hint`](super::sack_hint)), and the bare copy
    /// still to offer smoltcp `copies` times.
    #[cfg(feature = "sack-hint")]
    hints: Vec<SackHint, 8>,
    #[cfg(feature = "sack-hint")]
    copy: ([u8; sack_hint::MAX_COPY], usize),
    /// The first copy, its window a unit smaller.
    #[cfg(feature = "sack-hint")]
    reset: ([u8; sack_hint::MAX_COPY], usize),
    #[cfg(feature = "sack-hint")]
    copies: u8,
    #[cfg(feature = "sack-hint")]
    hints_off: bool,
}

impl GateMemory {
    pub(crate) const fn new() -> Self {
        GateMemory {
            held: Vec::new(),
            queued: Vec::new(),
            fins: Vec::new(),
            #[cfg(feature = "sack-hint")]
            hints: Vec::new(),
            #[cfg(feature = "sack-hint")]
            copy: ([0; sack_hint::MAX_COPY], 0),
            #[cfg(feature = "sack-hint")]
            reset: ([0; sack_hint::MAX_COPY], 0),
            #[cfg(feature = "sack-hint")]
            copies: 0,
            #[cfg(feature = "sack-hint")]
            hints_off: false,
        }
    }

    #[cfg(feature = "sack-hint")]
    pub(crate) fn set_sack_hints(&mut self, on: bool) {
        self.hints_off = !on;
        self.copies = 0;
    }

    /// When the stack must poll again for its held SYNs (`None`: only on a frame or a
    /// call of the program, which is when a socket can free up). A SYN held for a port
    /// that refuses is decided at the very next poll.
    pub(crate) fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.held.iter().any(|h| h.refuse).then_some(now)
    }

    /// The peer's sequence number after its FIN on `local_port` from `remote`, if seen.
    pub(crate) fn peer_next(&self, remote: IpEndpoint, local_port: u16) -> Option<u32> {
        self.fins
            .iter()
            .rev()
            .find(|f| f.from == remote && f.port == local_port)
            .map(|f| f.next)
    }

    /// Keep `item` as the newest of `recent`, giving up the oldest when it is full.
    fn remember<T, const N: usize>(recent: &mut Vec<T, N>, item: T) {
        if recent.is_full() {
            recent.remove(0);
        }
        let _ = recent.push(item);
    }
}

/// An ACK (or RST) owed to a segment of a 4-tuple kept by a record, sent after the poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwedAck {
    to_mac: EthernetAddress,
    local: IpEndpoint,
    remote: IpEndpoint,
    seq: u32,
    ack: u32,
    rst: bool,
}

/// What one poll's gate saw.
pub(crate) struct PollNotes {
    /// New connection requests let through (a LISTEN socket may have moved).
    pub(crate) syns: u32,
    /// Attempts let through in this poll (a second copy must not take a second socket).
    admitted: Vec<Attempt, 16>,
    /// ACKs to send after the poll.
    pub(crate) acks: Vec<OwedAck, 4>,
    /// Connections whose peer opened anew on their 4-tuple: reset after the poll.
    pub(crate) stale: Vec<(IpEndpoint, u16), 2>,
    /// Frames handed to smoltcp in this poll (held SYNs included).
    pub(crate) frames: u32,
}

impl PollNotes {
    /// Forget the last poll's notes.
    pub(crate) fn clear(&mut self) {
        self.syns = 0;
        self.admitted.clear();
        self.acks.clear();
        self.stale.clear();
        self.frames = 0;
    }

    pub(crate) const fn new() -> Self {
        PollNotes {
            syns: 0,
            admitted: Vec::new(),
            acks: Vec::new(),
            stale: Vec::new(),
            frames: 0,
        }
    }
}

/// Everything the gate judges with, for one poll.
pub(crate) struct Judge<'g, 't> {
    pub(crate) policies: &'g mut [PortPolicy],
    pub(crate) table: TableView<'g>,
    pub(crate) time_wait: &'g mut TimeWaitTable<'t>,
    pub(crate) memory: &'g mut GateMemory,
    pub(crate) notes: &'g mut PollNotes,
    /// The stack's addresses: a segment to another is smoltcp's to drop.
    pub(crate) addrs: &'g [IpCidr],
    pub(crate) now: Instant,
}

/// A device seen through the gate (see the module docs).
///
/// Every poll of the stack's interface goes through a `Gate`, even the egress-only one
/// after a timer's abort ([`Gate::egress_only`]): smoltcp's poll is generic over the
/// device, and one device type means one copy of its transmit path in the firmware
/// (a second one, for the bare device, cost 2 KB of flash).
pub(crate) struct Gate<'g, 't, D: Device + ?Sized> {
    inner: &'g mut D,
    /// `None`: egress only, no frame is taken in.
    judge: Option<Judge<'g, 't>>,
    checksum: ChecksumCapabilities,
    /// Held SYNs still to offer in this poll (those held before it began).
    replay: usize,
    /// The held SYN being offered now: its token reads it here, so that the token
    /// smoltcp moves about is a few words, not a frame (moving a token that carried the
    /// whole `HeldSyn` cost about 160 instructions per frame received).
    offered: Option<HeldSyn>,
}

impl<'g, 't, D: Device + ?Sized> Gate<'g, 't, D> {
    pub(crate) fn new(
        inner: &'g mut D,
        judge: Judge<'g, 't>,
        checksum: ChecksumCapabilities,
    ) -> Self {
        for policy in judge.policies.iter_mut() {
            policy.budget = None;
        }
        let now = judge.now;
        if !judge.memory.held.is_empty() {
            judge.memory.held.retain(|h| now < later(h.since, HOLD));
        }
        let replay = judge.memory.held.len();
        Gate {
            inner,
            judge: Some(judge),
            checksum,
            replay,
            offered: None,
        }
    }

    /// The device for sending only: it hands smoltcp no frame.
    pub(crate) fn egress_only(inner: &'g mut D) -> Self {
        Gate {
            inner,
            judge: None,
            checksum: ChecksumCapabilities::default(),
            replay: 0,
            offered: None,
        }
    }
}

impl<'g, 't, D: Device + ?Sized> Device for Gate<'g, 't, D> {
    type RxToken<'a>
        = GateRx<'a, 'g, 't, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let judge = self.judge.as_mut()?;
        // The bare copies of the segment just read go right after it.
        #[cfg(feature = "sack-hint")]
        if judge.memory.copies > 0 {
            // No transmit slot: the copies wait for the next call (none is lost, or
            // smoltcp's count would not reach three).
            let tx = self.inner.transmit(now)?;
            let first = judge.memory.copies == sack_hint::COPIES;
            judge.memory.copies -= 1;
            return Some((
                GateRx {
                    source: Source::Copy(first),
                    judge,
                    checksum: &self.checksum,
                },
                tx,
            ));
        }
        // The SYNs held from earlier polls go first: they came first.
        if self.replay > 0 {
            self.replay -= 1;
            if !judge.memory.held.is_empty() {
                let held = judge.memory.held.remove(0);
                let Some(tx) = self.inner.transmit(now) else {
                    // No transmit slot: the SYN stays held for the next poll.
                    let _ = judge.memory.held.insert(0, held);
                    return None;
                };
                let held = self.offered.insert(held);
                judge.notes.frames += 1;
                return Some((
                    GateRx {
                        source: Source::Held(held),
                        judge,
                        checksum: &self.checksum,
                    },
                    tx,
                ));
            }
        }
        let (rx, tx) = self.inner.receive(now)?;
        judge.notes.frames += 1;
        Some((
            GateRx {
                source: Source::Device(rx),
                judge,
                checksum: &self.checksum,
            },
            tx,
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

/// Where a frame comes from: the device, the gate's held SYNs, or (a SACK hint) the
/// bare copy of the last segment.
enum Source<'a, R> {
    Device(R),
    Held(&'a HeldSyn),
    /// `true`: the first copy, with the window a unit smaller.
    #[cfg(feature = "sack-hint")]
    Copy(bool),
}

#[doc(hidden)]
pub struct GateRx<'a, 'g, 't, R: phy::RxToken> {
    source: Source<'a, R>,
    judge: &'a mut Judge<'g, 't>,
    checksum: &'a ChecksumCapabilities,
}

impl<R: phy::RxToken> phy::RxToken for GateRx<'_, '_, '_, R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let (judge, checksum) = (self.judge, self.checksum);
        // One call of `f` (smoltcp's whole ingress path): a dropped segment is an empty
        // frame, which smoltcp ignores.
        match self.source {
            Source::Device(rx) => rx.consume(|frame| {
                if judge.admit(frame, checksum, None) {
                    #[cfg(feature = "sack-hint")]
                    judge.hint(frame);
                    f(frame)
                } else {
                    f(&[])
                }
            }),
            Source::Held(held) => {
                if judge.admit(&held.frame, checksum, Some(held)) {
                    f(&held.frame)
                } else {
                    f(&[])
                }
            }
            #[cfg(feature = "sack-hint")]
            Source::Copy(first) => {
                let memory = &*judge.memory;
                let (copy, len) = if first { &memory.reset } else { &memory.copy };
                f(copy.get(..*len).unwrap_or(&[]))
            }
        }
    }

    fn meta(&self) -> smoltcp::phy::PacketMeta {
        match &self.source {
            Source::Device(rx) => rx.meta(),
            _ => smoltcp::phy::PacketMeta::default(),
        }
    }
}

impl Judge<'_, '_> {
    /// If `frame`'s SACK blocks show a hole lost that no earlier segment showed, make
    /// its bare copy to be offered [`COPIES`](sack_hint::COPIES) times
    /// (see [`sack_hint`](super::sack_hint)).
    #[cfg(feature = "sack-hint")]
    fn hint(&mut self, frame: &[u8]) {
        if self.memory.hints_off {
            return;
        }
        let Some(hint) = SackHint::read(frame) else {
            return;
        };
        let memory = &mut *self.memory;
        let same = |h: &SackHint| {
            (h.remote, h.local_port, h.ack) == (hint.remote, hint.local_port, hint.ack)
        };
        let earlier = memory.hints.iter().position(same);
        if earlier.is_some_and(|i| !hint.is_news_after(&memory.hints[i])) {
            return;
        }
        let copy = SackHint::emit(frame, &mut memory.copy.0, false);
        let reset = SackHint::emit(frame, &mut memory.reset.0, true);
        if let (Some(copy), Some(reset)) = (copy, reset) {
            memory.copy.1 = copy;
            memory.reset.1 = reset;
            memory.copies = sack_hint::COPIES;
            if let Some(i) = earlier {
                memory.hints.remove(i);
            }
            GateMemory::remember(&mut memory.hints, hint);
            log::debug!(
                "gate: {} SACKs beyond {}: {} duplicate ACKs for smoltcp",
                hint.remote,
                hint.ack,
                sack_hint::COPIES
            );
        }
    }

    /// Whether `frame` goes on to smoltcp (see the module docs). `held`: the frame is a
    /// SYN the gate held, offered again.
    fn admit(
        &mut self,
        frame: &[u8],
        checksum: &ChecksumCapabilities,
        held: Option<&HeldSyn>,
    ) -> bool {
        // The fast path, for nearly every frame: a glance at the TCP flags. Only a
        // connection request (SYN without ACK: not a SYN-ACK), a FIN, or any segment while
        // a record lives is worth a full reading.
        let Some(flags) = tcp_flags(frame) else {
            return true;
        };
        let connect = flags & (FLAG_SYN | FLAG_ACK) == FLAG_SYN;
        if !connect && flags & FLAG_FIN == 0 && !self.time_wait.may_hold() {
            return true;
        }
        let Some((segment, tcp)) = tcp_segment(frame) else {
            return true;
        };
        // Most segments are data of live connections: two flag tests and, while some
        // TIME-WAIT record lives, a look for their 4-tuple, then on to smoltcp.
        let interesting = segment.is_connect()
            || segment.fin
            || (self.time_wait.may_hold() && self.time_wait.holds(&segment, self.now));
        if !interesting || !self.addrs.iter().any(|cidr| cidr.address() == segment.dst) {
            return true;
        }
        // From here on the segment is worth a closer look: only what smoltcp will take.
        if !segment.verify_tcp(frame, tcp, checksum) {
            return true;
        }
        if segment.fin {
            let next = segment.seq.wrapping_add(segment.len);
            let fin = FinSeen {
                from: IpEndpoint::new(segment.src, segment.src_port),
                port: segment.dst_port,
                next,
            };
            GateMemory::remember(&mut self.memory.fins, fin);
        }
        match self.time_wait.judge(&segment, self.now) {
            Verdict::Pass | Verdict::Reuse => {}
            Verdict::Absorb => return false,
            Verdict::Ack => {
                self.owe(&segment, false);
                return false;
            }
            Verdict::Reset => {
                self.owe(&segment, true);
                return false;
            }
            Verdict::Challenge => {
                self.challenge(&segment);
                return false;
            }
        }
        if !segment.is_connect() {
            return true;
        }
        self.admit_connect(&segment, frame, held)
    }

    /// A new connection request: a socket, held for later, a retry, or a refusal.
    fn admit_connect(&mut self, segment: &TcpHeader, frame: &[u8], held: Option<&HeldSyn>) -> bool {
        let attempt = Attempt {
            from: IpEndpoint::new(segment.src, segment.src_port),
            port: segment.dst_port,
            seq: segment.seq,
        };
        let Some(policy) = self.policies.iter_mut().find(|p| p.port == attempt.port) else {
            // No listener here: smoltcp answers (RST), or a client socket in SYN-SENT
            // takes it (simultaneous open).
            return true;
        };
        let in_this_poll = self
            .notes
            .admitted
            .iter()
            .any(|a| a.from == attempt.from && a.port == attempt.port);
        match self.table.holder(attempt.from, attempt.port) {
            _ if in_this_poll => return false,
            // A retransmission of a SYN whose SYN-ACK was lost: the socket that has it
            // answers on its own timer; a second socket must not take it.
            Some(State::SynReceived) => return false,
            Some(_) => {
                // The 4-tuple has a live connection, yet the peer opens anew: it crashed
                // and came back (a half-open connection). RFC 793 resets the old one;
                // RFC 5961 would first challenge the peer with an ACK carrying our
                // sequence numbers, which smoltcp does not expose (and it drops the
                // inexact RST a blind challenge brings back). So the stack resets the
                // stale connection after this poll, and the peer's retry gets in.
                log::debug!("gate: SYN from {} on a live connection", attempt.from);
                let _ = self.notes.stale.push((attempt.from, attempt.port));
                return false;
            }
            None => {}
        }
        // The table's states are those seen at the end of the last poll; this poll has
        // moved no socket out of LISTEN except through SYNs admitted here.
        let budget = policy
            .budget
            .get_or_insert_with(|| self.table.listening(attempt.port));
        // A socket, if one listens and this poll can still remember whom it let in (a
        // second copy of the SYN must find it there); else the caller's retry decides.
        if *budget > 0 && self.notes.admitted.push(attempt).is_ok() {
            *budget -= 1;
            policy.counts.accepted += 1;
            self.notes.syns += 1;
            return true;
        }
        // No socket free in this poll. Frames later in the same batch (the FIN or last ACK
        // of a caller hanging up) may free one, and the program re-arms it after the
        // poll, so the SYN is held and offered again at the next polls, first.
        let refuse = policy.overflow == Overflow::Refuse;
        let decided = held.is_some_and(|h| h.refuse);
        if refuse && decided {
            policy.counts.refused += 1;
            return true;
        }
        if self.memory.held.iter().any(|h| h.attempt == attempt) {
            // A retransmission of a SYN already held.
            return false;
        }
        if !refuse && held.is_none() && !self.memory.queued.contains(&attempt) {
            policy.counts.queued += 1;
            GateMemory::remember(&mut self.memory.queued, attempt);
        }
        if !self.memory.held.is_full() {
            let since = held.map_or(self.now, |h| h.since);
            if let Ok(frame) = Vec::from_slice(frame) {
                let _ = self.memory.held.push(HeldSyn {
                    frame,
                    attempt,
                    since,
                    refuse,
                });
                log::debug!("gate: port {} full, SYN held", attempt.port);
                return false;
            }
        }
        if refuse {
            // No room to hold it: decided now.
            policy.counts.refused += 1;
            return true;
        }
        log::debug!("gate: port {} full, SYN dropped for a retry", attempt.port);
        false
    }

    /// Answer `segment` (a SYN) with an ACK it cannot accept (its own sequence number):
    /// the sender answers with an RST whose sequence number is that ACK's.
    fn challenge(&mut self, segment: &TcpHeader) {
        self.reply(segment, 0, segment.seq, false);
    }

    /// ACK `segment` (or answer it with RST), from the sequence number it acknowledges.
    fn owe(&mut self, segment: &TcpHeader, rst: bool) {
        let ack = segment.seq.wrapping_add(segment.len);
        self.reply(segment, segment.ack_number, ack, rst);
    }

    /// Queue a bare ACK (or RST) back to `segment`'s sender.
    fn reply(&mut self, segment: &TcpHeader, seq: u32, ack: u32, rst: bool) {
        let owed = OwedAck {
            to_mac: segment.src_mac,
            local: IpEndpoint::new(segment.dst, segment.dst_port),
            remote: IpEndpoint::new(segment.src, segment.src_port),
            seq,
            ack,
            rst,
        };
        // Four per poll at most; a FIN beyond that is retransmitted and ACKed later.
        let _ = self.notes.acks.push(owed);
    }
}

/// Send the ACKs a poll's gate owes (TIME-WAIT duty), from `mac`.
pub(crate) fn send_owed_acks<D: Device + ?Sized>(
    device: &mut D,
    now: Instant,
    mac: EthernetAddress,
    acks: &[OwedAck],
) {
    let checksum = device.capabilities().checksum;
    for owed in acks {
        let Some(tx) = device.transmit(now) else {
            return;
        };
        let tcp = TcpRepr {
            src_port: owed.local.port,
            dst_port: owed.remote.port,
            control: if owed.rst {
                TcpControl::Rst
            } else {
                TcpControl::None
            },
            seq_number: TcpSeqNumber(owed.seq as i32),
            ack_number: (!owed.rst).then_some(TcpSeqNumber(owed.ack as i32)),
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let ip = match (owed.local.addr, owed.remote.addr) {
            (IpAddress::Ipv4(src), IpAddress::Ipv4(dst)) => {
                smoltcp::wire::IpRepr::Ipv4(smoltcp::wire::Ipv4Repr {
                    src_addr: src,
                    dst_addr: dst,
                    next_header: IpProtocol::Tcp,
                    payload_len: tcp.buffer_len(),
                    hop_limit: 64,
                })
            }
            #[cfg(feature = "ipv6")]
            (IpAddress::Ipv6(src), IpAddress::Ipv6(dst)) => {
                smoltcp::wire::IpRepr::Ipv6(smoltcp::wire::Ipv6Repr {
                    src_addr: src,
                    dst_addr: dst,
                    next_header: IpProtocol::Tcp,
                    payload_len: tcp.buffer_len(),
                    hop_limit: 64,
                })
            }
            #[cfg(feature = "ipv6")]
            _ => continue,
        };
        let ethertype = match ip {
            smoltcp::wire::IpRepr::Ipv4(_) => EthernetProtocol::Ipv4,
            #[cfg(feature = "ipv6")]
            smoltcp::wire::IpRepr::Ipv6(_) => EthernetProtocol::Ipv6,
        };
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: owed.to_mac,
            ethertype,
        };
        let len = eth.buffer_len() + ip.header_len() + tcp.buffer_len();
        tx.consume(len, |buf| {
            let mut frame = EthernetFrame::new_unchecked(&mut *buf);
            eth.emit(&mut frame);
            let ip_bytes = frame.payload_mut();
            ip.emit(&mut *ip_bytes, &checksum);
            let tcp_bytes = &mut ip_bytes[ip.header_len()..];
            let mut packet = TcpPacket::new_unchecked(tcp_bytes);
            tcp.emit(&mut packet, &owed.local.addr, &owed.remote.addr, &checksum);
        });
    }
}
