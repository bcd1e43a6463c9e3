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
//! segments and retransmissions as they pass ([`WireStats`]).
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

use heapless::{Deque, Vec};

use crate::retransmit::RetransmitCounter;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The usual Ethernet frame size: a 1500-byte IP MTU plus the 14-byte Ethernet header.
pub const ETHERNET_FRAME: usize = 1514;

/// One frame on the wire: at most `FRAME` bytes.
pub type Frame<const FRAME: usize> = Vec<u8, FRAME>;

/// Counters of what crossed a wire, one set per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Frames queued for the peer.
    pub sent: u64,
    /// Frames the peer took off the queue.
    pub delivered: u64,
    /// Frames dropped because the queue was full.
    pub dropped_full: u64,
    /// Frames dropped because they were larger than `FRAME` (a device misconfiguration;
    /// smoltcp itself never emits one, since the device reports `FRAME` as its MTU).
    pub dropped_oversize: u64,
    /// Frames dropped on purpose by fault injection ([`Wire::set_faults`]).
    pub dropped_fault: u64,
    /// Frames with one bit flipped by fault injection.
    pub corrupted: u64,
    /// TCP segments sent (data, SYN or FIN), seen on the wire.
    pub tcp_segments: u64,
    /// Of those, segments the stack sent again (see [`RetransmitCounter`]).
    pub retransmitted: u64,
}

impl WireStats {
    /// All frames dropped, for whatever reason.
    pub const fn dropped(&self) -> u64 {
        self.dropped_full + self.dropped_oversize + self.dropped_fault
    }
}

/// Faults to inject on a wire, in percent of frames, each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Frames lost.
    pub drop_percent: u8,
    /// Frames delivered with one bit flipped (checksums catch it; keep them on).
    pub corrupt_percent: u8,
}

/// The fault settings and their deterministic random source (xorshift32).
struct FaultState {
    faults: Faults,
    rng: u32,
}

impl FaultState {
    const fn new() -> Self {
        FaultState {
            faults: Faults {
                drop_percent: 0,
                corrupt_percent: 0,
            },
            rng: 0x1234_5678,
        }
    }

    fn next(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// True with probability `percent`%.
    fn roll(&mut self, percent: u8) -> bool {
        percent > 0 && self.next() % 100 < u32::from(percent)
    }
}

/// One end of a [`Wire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The first host (by convention the client).
    A,
    /// The second host (by convention the server).
    B,
}

/// A queue of frames in one direction, with its counters.
struct Lane<const FRAME: usize, const DEPTH: usize> {
    frames: Deque<Frame<FRAME>, DEPTH>,
    stats: WireStats,
    watch: RetransmitCounter,
}

impl<const FRAME: usize, const DEPTH: usize> Lane<FRAME, DEPTH> {
    const fn new() -> Self {
        Lane {
            frames: Deque::new(),
            stats: WireStats {
                sent: 0,
                delivered: 0,
                dropped_full: 0,
                dropped_oversize: 0,
                dropped_fault: 0,
                corrupted: 0,
                tcp_segments: 0,
                retransmitted: 0,
            },
            watch: RetransmitCounter::new(),
        }
    }

    fn stats(&self) -> WireStats {
        WireStats {
            tcp_segments: self.watch.segments(),
            retransmitted: self.watch.retransmitted(),
            ..self.stats
        }
    }

    fn queue(&mut self) -> Queue<'_, FRAME> {
        Queue {
            frames: &mut self.frames,
            stats: &mut self.stats,
            watch: &mut self.watch,
        }
    }
}

/// A full-duplex in-memory Ethernet link between two stacks.
///
/// `FRAME` is the largest frame in bytes (Ethernet header included; [`ETHERNET_FRAME`] for
/// the usual 1500-byte MTU) and `DEPTH` how many frames each direction holds.
pub struct Wire<const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64> {
    a_to_b: Lane<FRAME, DEPTH>,
    b_to_a: Lane<FRAME, DEPTH>,
    /// Where a frame is built before it is queued (or dropped).
    scratch: [u8; FRAME],
    checksums: bool,
    faults: FaultState,
}

impl<const FRAME: usize, const DEPTH: usize> Default for Wire<FRAME, DEPTH> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const FRAME: usize, const DEPTH: usize> Wire<FRAME, DEPTH> {
    /// An empty wire that computes and checks every checksum.
    pub const fn new() -> Self {
        Wire {
            a_to_b: Lane::new(),
            b_to_a: Lane::new(),
            scratch: [0; FRAME],
            checksums: true,
            faults: FaultState::new(),
        }
    }

    /// Drop and corrupt frames from now on, in both directions, reproducibly: the same
    /// `seed` and traffic give the same faults.
    pub fn set_faults(&mut self, faults: Faults, seed: u32) {
        // xorshift32 must not start at 0; mix the seed so that nearby seeds differ.
        let rng = seed.wrapping_mul(0x9e37_79b9) ^ 0x5eed_f00d;
        self.faults = FaultState {
            faults,
            rng: if rng == 0 { 1 } else { rng },
        };
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
        }
    }

    /// Put a raw frame on the wire for the host at `to`, as if the other end had sent
    /// it (fuzzing, hand-made packets). Dropped and counted if it does not fit.
    pub fn inject(&mut self, to: End, frame: &[u8]) -> bool {
        let lane = match to {
            End::A => &mut self.b_to_a,
            End::B => &mut self.a_to_b,
        };
        if frame.len() > FRAME {
            lane.stats.dropped_oversize += 1;
            return false;
        }
        if lane.queue().frames.push_back(frame) {
            lane.stats.sent += 1;
            true
        } else {
            lane.stats.dropped_full += 1;
            false
        }
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

/// A single-stack loopback device: every frame transmitted is received back.
///
/// The heap-free counterpart of smoltcp's `phy::Loopback`, with the same drop-and-count
/// behaviour as [`Wire`] when full.
pub struct Loopback<const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64> {
    lane: Lane<FRAME, DEPTH>,
    scratch: [u8; FRAME],
}

impl<const FRAME: usize, const DEPTH: usize> Default for Loopback<FRAME, DEPTH> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const FRAME: usize, const DEPTH: usize> Loopback<FRAME, DEPTH> {
    /// An empty loopback.
    pub const fn new() -> Self {
        Loopback {
            lane: Lane::new(),
            scratch: [0; FRAME],
        }
    }

    /// Counters of what went round the loop.
    pub fn stats(&self) -> WireStats {
        self.lane.stats()
    }

    /// Frames queued.
    pub fn in_flight(&self) -> usize {
        self.lane.frames.len()
    }
}

/// A queue seen from one side: frames plus the counters of that direction.
struct Queue<'w, const FRAME: usize> {
    frames: &'w mut dyn FrameQueue<FRAME>,
    stats: &'w mut WireStats,
    watch: &'w mut RetransmitCounter,
}

impl<const FRAME: usize> Queue<'_, FRAME> {
    /// The same queue, borrowed for less time (for a token).
    fn reborrow(&mut self) -> Queue<'_, FRAME> {
        Queue {
            frames: &mut *self.frames,
            stats: &mut *self.stats,
            watch: &mut *self.watch,
        }
    }

    /// A transmit token into this queue.
    fn tx<'t>(
        &'t mut self,
        scratch: &'t mut [u8; FRAME],
        faults: Option<&'t mut FaultState>,
    ) -> TxToken<'t, FRAME> {
        TxToken {
            queue: self.reborrow(),
            scratch,
            faults,
        }
    }
}

/// Object-safe view of a `Deque<Frame, DEPTH>` that hides `DEPTH`, so ports and tokens
/// need one const parameter only.
trait FrameQueue<const FRAME: usize> {
    fn front(&self) -> Option<&Frame<FRAME>>;
    fn pop_front(&mut self);
    fn push_back(&mut self, frame: &[u8]) -> bool;
}

impl<const FRAME: usize, const DEPTH: usize> FrameQueue<FRAME> for Deque<Frame<FRAME>, DEPTH> {
    fn front(&self) -> Option<&Frame<FRAME>> {
        Deque::front(self)
    }
    fn pop_front(&mut self) {
        Deque::pop_front(self);
    }
    fn push_back(&mut self, frame: &[u8]) -> bool {
        if self.is_full() {
            return false;
        }
        // Push an empty frame, then fill it in place: one copy, from the scratch buffer.
        let ok = Deque::push_back(self, Vec::new()).is_ok();
        if let Some(slot) = self.back_mut() {
            // `frame.len() <= FRAME` was checked by the caller.
            let _ = slot.extend_from_slice(frame);
        }
        ok
    }
}

/// The [`Device`] for one host: receives what the other end sent, transmits to it.
pub struct WirePort<'w, const FRAME: usize> {
    rx: Queue<'w, FRAME>,
    tx: Queue<'w, FRAME>,
    scratch: &'w mut [u8; FRAME],
    checksums: bool,
    faults: &'w mut FaultState,
}

fn capabilities(frame: usize, checksums: bool) -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = frame;
    caps.checksum = if checksums {
        ChecksumCapabilities::default()
    } else {
        let mut c = ChecksumCapabilities::ignored();
        c.ipv4 = Checksum::None;
        c
    };
    caps
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

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.rx.frames.front()?;
        Some((
            RxToken {
                queue: self.rx.reborrow(),
            },
            self.tx.tx(self.scratch, Some(&mut *self.faults)),
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(self.tx.tx(self.scratch, Some(&mut *self.faults)))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(FRAME, self.checksums)
    }
}

/// The [`Device`] of a [`Loopback`].
pub struct LoopbackPort<'w, const FRAME: usize> {
    lane: Queue<'w, FRAME>,
    scratch: &'w mut [u8; FRAME],
}

impl<const FRAME: usize, const DEPTH: usize> Loopback<FRAME, DEPTH> {
    /// The device, borrowed for one poll.
    pub fn port(&mut self) -> LoopbackPort<'_, FRAME> {
        LoopbackPort {
            lane: self.lane.queue(),
            scratch: &mut self.scratch,
        }
    }
}

impl<const FRAME: usize> Device for LoopbackPort<'_, FRAME> {
    type RxToken<'a>
        = LoopbackRx<FRAME>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, FRAME>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // The frame must leave the queue before the stack may transmit into the same queue,
        // so a loopback receive copies it out (one frame on the stack).
        let frame = self.lane.frames.front()?.clone();
        self.lane.frames.pop_front();
        self.lane.stats.delivered += 1;
        Some((LoopbackRx { frame }, self.lane.tx(self.scratch, None)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(self.lane.tx(self.scratch, None))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(FRAME, true)
    }
}

#[doc(hidden)]
pub struct LoopbackRx<const FRAME: usize> {
    frame: Frame<FRAME>,
}

impl<const FRAME: usize> phy::RxToken for LoopbackRx<FRAME> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.frame)
    }
}

#[doc(hidden)]
pub struct RxToken<'w, const FRAME: usize> {
    queue: Queue<'w, FRAME>,
}

impl<const FRAME: usize> phy::RxToken for RxToken<'_, FRAME> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // `receive` only hands out a token when a frame is queued.
        let result = match self.queue.frames.front() {
            Some(frame) => f(frame),
            None => f(&[]),
        };
        self.queue.frames.pop_front();
        self.queue.stats.delivered += 1;
        result
    }
}

#[doc(hidden)]
pub struct TxToken<'w, const FRAME: usize> {
    queue: Queue<'w, FRAME>,
    scratch: &'w mut [u8; FRAME],
    faults: Option<&'w mut FaultState>,
}

impl<const FRAME: usize> phy::TxToken for TxToken<'_, FRAME> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if len > FRAME {
            // Cannot happen with smoltcp (it honours the MTU we report); count it anyway.
            self.queue.stats.dropped_oversize += 1;
            return f(&mut self.scratch[..]);
        }
        let buf = &mut self.scratch[..len];
        let result = f(buf);
        self.queue.watch.observe(buf);
        if let Some(faults) = self.faults {
            if faults.roll(faults.faults.drop_percent) {
                self.queue.stats.dropped_fault += 1;
                return result;
            }
            if len > 0 && faults.roll(faults.faults.corrupt_percent) {
                let at = faults.next() as usize % len;
                buf[at] ^= 1 << (faults.next() % 8);
                self.queue.stats.corrupted += 1;
            }
        }
        if self.queue.frames.push_back(buf) {
            self.queue.stats.sent += 1;
        } else {
            self.queue.stats.dropped_full += 1;
            log::trace!("wire: queue full, frame of {len} bytes dropped");
        }
        result
    }
}
