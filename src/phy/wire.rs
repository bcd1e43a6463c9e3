//! Static phys: an in-memory Ethernet wire between two stacks, and a loopback.
//!
//! A Berkeley-sockets program never sees a network card: the kernel owns the driver and the
//! loopback device. smoltcp instead talks to anything that implements its
//! [`Device`] trait, and the one in-memory device it ships (`phy::Loopback`) keeps its
//! frames in a `VecDeque<Vec<u8>>`, which needs `alloc`. This module is the heap-free
//! equivalent:
//!
//! * [`Wire`] is a full-duplex Ethernet cable with a host on each end ([`End::A`],
//!   [`End::B`]). Each direction is a [`heapless::Deque`] of `DEPTH` frames of at most
//!   `FRAME` bytes (Ethernet header included), so a wire costs about
//!   `2 * DEPTH * (FRAME + 8)` bytes and nothing else.
//! * [`Loopback`] is one queue that a single stack transmits into and receives from.
//!
//! A wire can also misbehave on purpose, reproducibly: [`Wire::set_faults`] drops and
//! corrupts a percentage of frames from a seeded generator, and every direction counts TCP
//! segments and retransmissions as they pass ([`WireStats`]). An optional
//! [`FrameObserver`] ([`Wire::set_observer`]) sees every frame and its fate, with the
//! virtual time: a pcap capture, a ladder diagram.
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

use smoltcp::phy::{Device, DeviceCapabilities};
use smoltcp::time::Instant;

use super::end::End;
use super::faults::{FaultState, Faults};
use super::frame_observer::{DropCause, Fate, FrameObserver, Reporter};
use super::frame_queue::{
    ETHERNET_FRAME, Frame, Lane, Queue, RxToken, TxToken, WireStats, capabilities,
};

/// A full-duplex in-memory Ethernet link between two stacks.
///
/// `FRAME` is the largest frame in bytes (Ethernet header included; [`ETHERNET_FRAME`] for
/// the usual 1500-byte MTU) and `DEPTH` how many frames each direction holds; `'o` is how
/// long its [`FrameObserver`], if any, is lent.
pub struct Wire<'o, const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64> {
    a_to_b: Lane<FRAME, DEPTH>,
    b_to_a: Lane<FRAME, DEPTH>,
    /// Where a frame is built before it is queued (or dropped).
    scratch: [u8; FRAME],
    checksums: bool,
    faults: FaultState,
    observer: Option<&'o dyn FrameObserver>,
    /// The time of the last poll through a port (for frames injected between polls).
    now: Instant,
}

impl<const FRAME: usize, const DEPTH: usize> Default for Wire<'_, FRAME, DEPTH> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'o, const FRAME: usize, const DEPTH: usize> Wire<'o, FRAME, DEPTH> {
    /// An empty wire that computes and checks every checksum.
    pub const fn new() -> Self {
        Wire {
            a_to_b: Lane::new(),
            b_to_a: Lane::new(),
            scratch: [0; FRAME],
            checksums: true,
            faults: FaultState::new(),
            observer: None,
            now: Instant::ZERO,
        }
    }

    /// Report every frame from now on to `observer` (or to nobody): each frame a host
    /// transmits, with its [`Fate`], and each one a host receives
    /// ([`Fate::Delivered`]), stamped with the time of the poll.
    pub fn set_observer(&mut self, observer: Option<&'o dyn FrameObserver>) {
        self.observer = observer;
    }

    /// Drop and corrupt frames from now on, in both directions, reproducibly: the same
    /// `seed` and traffic give the same faults.
    pub fn set_faults(&mut self, faults: Faults, seed: u32) {
        // xorshift32 must not start at 0; mix the seed so that nearby seeds differ.
        let rng = seed.wrapping_mul(0x9e37_79b9) ^ 0x5eed_f00d;
        self.faults = FaultState {
            faults,
            rng: if rng == 0 { 1 } else { rng },
            lose_in: self.faults.lose_in,
        };
    }

    /// Lose the `nth` TCP segment put on the wire from now on, either way (1: the next
    /// one; 0: none), counted as a fault drop: one chosen loss, to watch TCP repair it.
    pub fn lose_segment(&mut self, nth: u64) {
        self.faults.lose_in = nth;
    }

    /// An empty wire whose stacks neither compute nor verify IP/TCP/UDP/ICMP checksums.
    /// Safe only because nothing on an in-memory link corrupts a frame.
    pub const fn without_checksums() -> Self {
        let mut wire = Self::new();
        wire.checksums = false;
        wire
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
            faults: &mut self.faults,
            observer,
            end,
            now: &mut self.now,
        }
    }

    /// Put a raw frame on the wire for the host at `to`, as if the other end had sent
    /// it (fuzzing, hand-made packets). Dropped and counted if it does not fit.
    pub fn inject(&mut self, to: End, frame: &[u8]) -> bool {
        let lane = match to {
            End::A => &mut self.b_to_a,
            End::B => &mut self.a_to_b,
        };
        let (queued, fate) = if frame.len() > FRAME {
            lane.stats.dropped_oversize += 1;
            (false, Fate::Dropped(DropCause::Oversize))
        } else if lane.queue().frames.push_back(frame) {
            lane.stats.sent += 1;
            (true, Fate::Sent)
        } else {
            lane.stats.dropped_full += 1;
            (false, Fate::Dropped(DropCause::QueueFull))
        };
        if let Some(observer) = self.observer {
            let from = to.other();
            let report = Reporter {
                observer,
                at: self.now,
                end: from,
            };
            report.sent(fate, frame);
        }
        queued
    }

    /// Take the next frame queued for the host at `to` off the wire, before that host
    /// sees it: a test that loses, holds or rewrites one chosen frame (give it back, or
    /// another, with [`inject`](Self::inject)). Counted nowhere.
    pub fn take(&mut self, to: End) -> Option<Frame<FRAME>> {
        let lane = match to {
            End::A => &mut self.b_to_a,
            End::B => &mut self.a_to_b,
        };
        lane.frames.pop_front()
    }

    /// Frames still queued in either direction.
    pub fn in_flight(&self) -> usize {
        self.a_to_b.frames.len() + self.b_to_a.frames.len()
    }

    /// Frames queued for the host at `end` to receive.
    pub fn waiting(&self, end: End) -> usize {
        match end {
            End::A => self.b_to_a.frames.len(),
            End::B => self.a_to_b.frames.len(),
        }
    }

    /// Whether no frame is queued in either direction.
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

/// The [`Device`] for one host: receives what the other end sent, transmits to it.
pub struct WirePort<'w, const FRAME: usize> {
    rx: Queue<'w, FRAME>,
    tx: Queue<'w, FRAME>,
    scratch: &'w mut [u8; FRAME],
    checksums: bool,
    faults: &'w mut FaultState,
    observer: Option<&'w dyn FrameObserver>,
    end: End,
    now: &'w mut Instant,
}

impl<'w, const FRAME: usize> WirePort<'w, FRAME> {
    /// The observer's view of this port at `now` (and the wire's clock set to it).
    fn reporter(&mut self, now: Instant) -> Option<Reporter<'w>> {
        *self.now = now;
        let observer = self.observer?;
        Some(Reporter {
            observer,
            at: now,
            end: self.end,
        })
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
        self.rx.frames.front()?;
        let report = self.reporter(now);
        Some((
            RxToken {
                queue: self.rx.reborrow(),
                report,
            },
            self.tx.tx(self.scratch, Some(&mut *self.faults), report),
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let report = self.reporter(now);
        Some(self.tx.tx(self.scratch, Some(&mut *self.faults), report))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(FRAME, self.checksums)
    }
}
