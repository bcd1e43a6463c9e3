//! Static phys: an in-memory Ethernet wire between two stacks, and a loopback.
//!
//! A Berkeley-sockets program never sees a network card: the kernel owns the driver and the
//! loopback device. smoltcp instead talks to anything that implements its
//! [`Device`] trait, and the one in-memory device it ships (`phy::Loopback`) keeps its
//! frames in a `VecDeque<Vec<u8>>`, which needs `alloc`. This module is the heap-free
//! equivalent:
//!
//! * [`Wire`] is a full-duplex Ethernet cable with a host on each end ([`End::A`],
//!   [`End::B`]). Each direction stores `DEPTH` frames of at most `FRAME` bytes
//!   (Ethernet header included) with their due instants, so a wire costs about
//!   `2 * DEPTH * (FRAME + 21)` bytes and a few hundred more for its rules.
//! * [`Loopback`] is one queue that a single stack transmits into and receives from.
//!
//! A wire can also misbehave on purpose, reproducibly, from one seeded generator:
//!
//! * each direction has a [`Link`] ([`Wire::set_link`]): latency, jitter, reordering,
//!   duplication, loss, corruption, a bandwidth limit with a drop-tail queue (see
//!   [`link`](super::Link) for the model). A frame in flight carries the instant it is
//!   due, and a port hands a stack only the frames due by the instant it polls at;
//!   [`Wire::next_due`] tells the testbed when to come back. [`Wire::set_faults`] is the
//!   short way to loss and corruption alone;
//! * partitions: [`Wire::cut`], [`Wire::cut_from`] (one way), [`Wire::heal`], now or at a
//!   chosen virtual time ([`Wire::partition_at`]); a frame sent while its direction is
//!   cut is lost (frames already in flight still arrive);
//! * scripted faults ([`Wire::add_rule`], [`Rule`]): frames named by what they are,
//!   dropped, delayed, duplicated or held until [`Wire::release`].
//!
//! Every direction counts what happened to its frames, and the TCP segments and
//! retransmissions that passed ([`WireStats`]). An optional [`FrameObserver`]
//! ([`Wire::set_observer`]) sees every frame and its fate with the virtual time: when it
//! is sent (or lost, and why) and when it is delivered, which on a link with latency is
//! later; a pcap capture, a ladder diagram. With the default [`Link::IDEAL`], no
//! partition and no rule, a frame is due the instant it is sent and takes the same short
//! path as before the link model existed.
//!
//! Both behave like a real link, not like a pipe: a frame that arrives while its queue is
//! full is **dropped and counted** in [`WireStats`], exactly as a NIC whose ring is full
//! would, and TCP's retransmission recovers it. A device never panics on a frame.
//!
//! On an in-memory link nothing corrupts frames, so checksums may be skipped to save work:
//! [`Wire::without_checksums`]. The default computes and verifies them, as a real link must
//! (TAP and firmware always do).
//!
//! A port ([`WirePort`]) borrows the wire only for the length of one `poll`, so the two
//! stacks take turns: `stack_a.poll(now, &mut wire.port(End::A))`, then the same for B.

use heapless::Vec;
use smoltcp::phy::{Device, DeviceCapabilities};
use smoltcp::time::Instant;

use super::end::End;
use super::faults::Faults;
use super::frame_observer::{DropCause, Fate, FrameObserver, Reporter};
use super::frame_queue::{
    ETHERNET_FRAME, Frame, Lane, Queue, RxToken, Sending, TxToken, WireStats, capabilities,
};
use super::link::{Chance, Direction, Link, Rng};
use super::script::{Rule, RuleId, Script};
use super::timed_queue::TimedQueue;

/// A change of a wire's partition ([`Wire::partition_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Both directions cut.
    Cut,
    /// Frames sent by this end are lost; the other direction works (a one-way cut).
    CutFrom(End),
    /// Both directions work again.
    Heal,
}

/// How many partition changes a wire keeps scheduled.
pub const SCHEDULED_PARTITIONS: usize = 8;

/// Which directions are cut, and the changes to come.
struct Partitions {
    /// Cut, by sending end.
    cut: [bool; 2],
    /// Changes by time (ties in the order scheduled).
    schedule: Vec<(Instant, Partition), SCHEDULED_PARTITIONS>,
}

impl Partitions {
    const fn new() -> Self {
        Partitions {
            cut: [false; 2],
            schedule: Vec::new(),
        }
    }

    fn change(&mut self, change: Partition) {
        self.cut = match change {
            Partition::Cut => [true; 2],
            Partition::CutFrom(end) => {
                let mut cut = self.cut;
                cut[end.index()] = true;
                cut
            }
            Partition::Heal => [false; 2],
        };
    }

    /// Make the changes due by `now`.
    #[inline]
    fn catch_up(&mut self, now: Instant) {
        while let Some(&(at, change)) = self.schedule.first() {
            if at > now {
                break;
            }
            self.schedule.remove(0);
            self.change(change);
        }
    }
}

/// A full-duplex in-memory Ethernet link between two stacks.
///
/// `FRAME` is the largest frame in bytes (Ethernet header included; [`ETHERNET_FRAME`] for
/// the usual 1500-byte MTU) and `DEPTH` how many frames each direction holds in flight
/// (with a slow or long link, make it hold a bandwidth-delay product and the queue); `'o`
/// is how long its [`FrameObserver`], if any, is lent.
pub struct Wire<'o, const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64> {
    a_to_b: Lane<TimedQueue<FRAME, DEPTH>>,
    b_to_a: Lane<TimedQueue<FRAME, DEPTH>>,
    /// Where a frame is built before it is queued (or dropped).
    scratch: [u8; FRAME],
    checksums: bool,
    /// The links, by sending end.
    links: [Direction; 2],
    rng: Rng,
    script: Script,
    partitions: Partitions,
    /// The latest instant a port was used at: when injected and released frames are due.
    now: Instant,
    observer: Option<&'o dyn FrameObserver>,
}

impl<const FRAME: usize, const DEPTH: usize> Default for Wire<'_, FRAME, DEPTH> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'o, const FRAME: usize, const DEPTH: usize> Wire<'o, FRAME, DEPTH> {
    /// An empty, ideal wire that computes and checks every checksum.
    pub const fn new() -> Self {
        Wire {
            a_to_b: Lane::new(TimedQueue::new()),
            b_to_a: Lane::new(TimedQueue::new()),
            scratch: [0; FRAME],
            checksums: true,
            links: [Direction::new(), Direction::new()],
            rng: Rng::seeded(0),
            script: Script::new(),
            partitions: Partitions::new(),
            now: Instant::ZERO,
            observer: None,
        }
    }

    /// Report every frame from now on to `observer` (or to nobody): each frame a host
    /// transmits, with its [`Fate`], and each one a host receives
    /// ([`Fate::Delivered`]), stamped with the time of the poll.
    pub fn set_observer(&mut self, observer: Option<&'o dyn FrameObserver>) {
        self.observer = observer;
    }

    /// Lose the `nth` TCP segment put on the wire from now on, either way (1: the next
    /// one; 0: none), counted as a fault drop: one chosen loss, to watch TCP repair it.
    pub fn lose_segment(&mut self, nth: u64) {
        self.script.lose_in = nth;
    }

    /// An empty wire whose stacks neither compute nor verify IP/TCP/UDP/ICMP checksums.
    /// Safe only while nothing on the link corrupts a frame.
    pub const fn without_checksums() -> Self {
        let mut wire = Self::new();
        wire.checksums = false;
        wire
    }

    /// Drop and corrupt frames from now on, in both directions, reproducibly: the same
    /// `seed` and traffic give the same faults. The rest of each direction's [`Link`]
    /// stays as it was.
    pub fn set_faults(&mut self, faults: Faults, seed: u32) {
        for direction in &mut self.links {
            let link = direction
                .link
                .drop(Chance::percent(faults.drop_percent))
                .corrupt(Chance::percent(faults.corrupt_percent));
            direction.set(link);
        }
        self.set_seed(seed);
    }

    /// Seed the random source of every link effect (loss, corruption, jitter,
    /// duplication, reordering).
    pub fn set_seed(&mut self, seed: u32) {
        self.rng = Rng::seeded(seed);
    }

    /// The link frames sent by the host at `from` go through, from now on.
    pub fn set_link(&mut self, from: End, link: Link) {
        self.links[from.index()].set(link);
    }

    /// The same link both ways.
    pub fn set_links(&mut self, link: Link) {
        self.set_link(End::A, link);
        self.set_link(End::B, link);
    }

    /// The link frames sent by the host at `from` go through.
    pub fn link(&self, from: End) -> Link {
        self.links[from.index()].link
    }

    /// Cut both directions now (a frame already in flight still arrives).
    pub fn cut(&mut self) {
        self.partitions.change(Partition::Cut);
    }

    /// Cut the direction from `from` now: its frames are lost, the other way works.
    pub fn cut_from(&mut self, from: End) {
        self.partitions.change(Partition::CutFrom(from));
    }

    /// Mend both directions now.
    pub fn heal(&mut self) {
        self.partitions.change(Partition::Heal);
    }

    /// Make `change` at the virtual instant `at` (it takes effect for frames sent from
    /// then on). False if [`SCHEDULED_PARTITIONS`] changes are already waiting.
    pub fn partition_at(&mut self, at: Instant, change: Partition) -> bool {
        let schedule = &mut self.partitions.schedule;
        let place = schedule.iter().take_while(|(t, _)| *t <= at).count();
        schedule.insert(place, (at, change)).is_ok()
    }

    /// Whether frames sent by the host at `from` are lost to a partition (as of the
    /// last instant the wire was used at).
    pub fn is_cut(&self, from: End) -> bool {
        self.partitions.cut[from.index()]
    }

    /// Add a scripted fault, after the ones already there. `None` if the wire holds
    /// [`RULES`](super::RULES) rules already.
    pub fn add_rule(&mut self, rule: Rule) -> Option<RuleId> {
        self.script.add(rule)
    }

    /// Remove every rule (frames they hold stay held until released).
    pub fn clear_rules(&mut self) {
        self.script.clear();
    }

    /// How many frames a rule has acted on.
    pub fn rule_hits(&self, rule: RuleId) -> u32 {
        self.script.hits(rule)
    }

    /// Let the frames `rule` holds go: due now, in the order they were sent. Returns
    /// how many.
    pub fn release(&mut self, rule: RuleId) -> usize {
        let now = self.now;
        self.a_to_b.frames.release(Some(rule.0), now)
            + self.b_to_a.frames.release(Some(rule.0), now)
    }

    /// Frames a rule holds.
    pub fn held(&self, rule: RuleId) -> usize {
        self.a_to_b.frames.held(Some(rule.0)) + self.b_to_a.frames.held(Some(rule.0))
    }

    /// The device for the host at `end`, borrowed for one poll.
    pub fn port(&mut self, end: End) -> WirePort<'_, FRAME> {
        let observer = self.observer;
        let (rx, tx) = match end {
            End::A => (&mut self.b_to_a, &mut self.a_to_b),
            End::B => (&mut self.a_to_b, &mut self.b_to_a),
        };
        WirePort {
            rx: rx.queue(),
            tx: tx.queue(),
            scratch: &mut self.scratch,
            checksums: self.checksums,
            link: &mut self.links[end.index()],
            rng: &mut self.rng,
            script: &mut self.script,
            partitions: &mut self.partitions,
            now: &mut self.now,
            end,
            observer,
        }
    }

    fn lane_to(&mut self, to: End) -> &mut Lane<TimedQueue<FRAME, DEPTH>> {
        match to {
            End::A => &mut self.b_to_a,
            End::B => &mut self.a_to_b,
        }
    }

    fn lane_to_ref(&self, to: End) -> &Lane<TimedQueue<FRAME, DEPTH>> {
        match to {
            End::A => &self.b_to_a,
            End::B => &self.a_to_b,
        }
    }

    /// Put a raw frame on the wire for the host at `to`, as if the other end had sent
    /// it (fuzzing, hand-made packets): due at once, after the frames already due, past
    /// the link, the partitions and the rules. Dropped and counted if it does not fit.
    pub fn inject(&mut self, to: End, frame: &[u8]) -> bool {
        let now = self.now;
        let lane = self.lane_to(to);
        let (queued, fate) = if frame.len() > FRAME {
            lane.stats.dropped_oversize += 1;
            (false, Fate::Dropped(DropCause::Oversize))
        } else if lane.frames.insert(frame, now, None) {
            lane.stats.sent += 1;
            (true, Fate::Sent)
        } else {
            lane.stats.dropped_full += 1;
            (false, Fate::Dropped(DropCause::QueueFull))
        };
        if let Some(observer) = self.observer {
            let report = Reporter {
                observer,
                at: now,
                end: to.other(),
            };
            report.sent(fate, frame);
        }
        queued
    }

    /// Take the next frame queued for the host at `to` off the wire (the one due first,
    /// due yet or not), before that host sees it: a test that loses, holds or rewrites
    /// one chosen frame (give it back, or another, with [`inject`](Self::inject)).
    /// Counted nowhere.
    pub fn take(&mut self, to: End) -> Option<Frame<FRAME>> {
        self.lane_to(to).frames.pop_any()
    }

    /// Frames in flight in either direction (held ones included).
    pub fn in_flight(&self) -> usize {
        self.a_to_b.frames.len() + self.b_to_a.frames.len()
    }

    /// Frames in flight to the host at `end` (held ones included).
    pub fn waiting(&self, end: End) -> usize {
        self.lane_to_ref(end).frames.len()
    }

    /// Whether a frame for the host at `end` is due by `now`: that host has something
    /// to receive if it polls at `now`.
    #[inline]
    pub fn due_by(&self, end: End, now: Instant) -> bool {
        self.lane_to_ref(end).frames.due_by(now)
    }

    /// Whether a frame in either direction is due by `now`.
    #[inline]
    pub fn any_due_by(&self, now: Instant) -> bool {
        self.a_to_b.frames.due_by(now) || self.b_to_a.frames.due_by(now)
    }

    /// When the next frame in flight falls due (held frames never do by themselves):
    /// a deadline for the testbed's clock, beside the stacks' own.
    pub fn next_due(&self) -> Option<Instant> {
        match (self.a_to_b.frames.next_due(), self.b_to_a.frames.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether no frame is in flight in either direction.
    pub fn is_idle(&self) -> bool {
        self.in_flight() == 0
    }

    /// Counters of frames sent by the host at `from`.
    pub fn stats(&self, from: End) -> WireStats {
        match from {
            End::A => self.a_to_b.stats(),
            End::B => self.b_to_a.stats(),
        }
    }
}

/// The [`Device`] for one host: receives what the other end sent (once due), transmits
/// to it through the link.
pub struct WirePort<'w, const FRAME: usize> {
    rx: Queue<'w, FRAME>,
    tx: Queue<'w, FRAME>,
    scratch: &'w mut [u8; FRAME],
    checksums: bool,
    link: &'w mut Direction,
    rng: &'w mut Rng,
    script: &'w mut Script,
    partitions: &'w mut Partitions,
    now: &'w mut Instant,
    end: End,
    observer: Option<&'w dyn FrameObserver>,
}

impl<'w, const FRAME: usize> WirePort<'w, FRAME> {
    /// The observer's view of this port at `now`.
    fn reporter(&self, now: Instant) -> Option<Reporter<'w>> {
        let observer = self.observer?;
        Some(Reporter {
            observer,
            at: now,
            end: self.end,
        })
    }

    /// A transmit token at `now`, with the partitions caught up.
    fn tx_at(&mut self, now: Instant) -> TxToken<'_, FRAME> {
        if now > *self.now {
            *self.now = now;
        }
        self.partitions.catch_up(now);
        let report = self.reporter(now);
        let sending = Sending {
            link: &mut *self.link,
            rng: &mut *self.rng,
            script: &mut *self.script,
            from: self.end,
            cut: self.partitions.cut[self.end.index()],
            now,
            report,
        };
        self.tx.tx(self.scratch, Some(sending))
    }
}

impl<const FRAME: usize> Device for WirePort<'_, FRAME> {
    type RxToken<'a>
        = RxToken<'a, FRAME>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, FRAME>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.rx.frames.front(now)?;
        let report = self.reporter(now);
        let rx = RxToken {
            queue: self.rx.reborrow(),
            now,
            report,
        };
        // Split borrows: the receive side and the transmit side are different lanes.
        let WirePort {
            tx,
            scratch,
            link,
            rng,
            script,
            partitions,
            now: latest,
            end,
            ..
        } = self;
        if now > **latest {
            **latest = now;
        }
        partitions.catch_up(now);
        let sending = Sending {
            link,
            rng,
            script,
            from: *end,
            cut: partitions.cut[end.index()],
            now,
            report,
        };
        Some((rx, tx.tx(scratch, Some(sending))))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        Some(self.tx_at(now))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(FRAME, self.checksums)
    }
}
