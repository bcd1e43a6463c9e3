//! The frame queue under both in-memory links: one direction of a [`Wire`](super::Wire),
//! or the whole of a [`Loopback`](super::Loopback).
//!
//! A direction is a [`heapless::Deque`] of `DEPTH` frames of at most `FRAME` bytes, with
//! its counters ([`WireStats`]) and a [`RetransmitCounter`] watching what passes. The
//! tokens smoltcp gets from a port build each frame in a scratch buffer, let the link
//! model and the scripted faults have their say (a wire's only), then queue it with the
//! instant it is due (or drop and count it when the queue is full).

use heapless::{Deque, Vec};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::{Duration, Instant};

use super::end::End;
use super::frame_observer::{DropCause, Fate, Reporter};
use super::link::{Direction, Passage, Rng, after};
use super::retransmit_counter::RetransmitCounter;
use super::script::{Action, Script};

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
    /// Frames lost on the link by chance ([`Link::drop`](super::Link::drop), or
    /// [`Wire::set_faults`](super::Wire::set_faults)).
    pub dropped_fault: u64,
    /// Frames with one bit flipped by fault injection.
    pub corrupted: u64,
    /// TCP segments sent (data, SYN or FIN), seen on the wire.
    pub tcp_segments: u64,
    /// Of those, segments the stack sent again (see [`RetransmitCounter`]).
    pub retransmitted: u64,
    /// Frames dropped by the link's bottleneck: its drop-tail queue was full.
    pub dropped_queue: u64,
    /// Frames sent while the link was cut (a partition).
    pub dropped_partition: u64,
    /// Frames dropped by a scripted rule.
    pub dropped_script: u64,
    /// Extra copies delivered (by the link, or by a scripted rule).
    pub duplicated: u64,
    /// Frames held back by the link's reordering.
    pub reordered: u64,
    /// Frames held by a scripted rule (until released).
    pub held: u64,
}

impl WireStats {
    /// All frames dropped, for whatever reason.
    pub const fn dropped(&self) -> u64 {
        self.dropped_full
            + self.dropped_oversize
            + self.dropped_fault
            + self.dropped_queue
            + self.dropped_partition
            + self.dropped_script
    }
}

/// A queue of frames in one direction (`Q`: a plain FIFO for the loopback, a
/// [`TimedQueue`](super::timed_queue::TimedQueue) for a wire), with its counters.
pub(crate) struct Lane<Q> {
    pub(crate) frames: Q,
    pub(crate) stats: WireStats,
    watch: RetransmitCounter,
}

impl<Q> Lane<Q> {
    pub(crate) const fn new(frames: Q) -> Self {
        Lane {
            frames,
            stats: WireStats {
                sent: 0,
                delivered: 0,
                dropped_full: 0,
                dropped_oversize: 0,
                dropped_fault: 0,
                corrupted: 0,
                tcp_segments: 0,
                retransmitted: 0,
                dropped_queue: 0,
                dropped_partition: 0,
                dropped_script: 0,
                duplicated: 0,
                reordered: 0,
                held: 0,
            },
            watch: RetransmitCounter::new(),
        }
    }

    pub(crate) fn stats(&self) -> WireStats {
        WireStats {
            tcp_segments: self.watch.segments(),
            retransmitted: self.watch.retransmitted(),
            ..self.stats
        }
    }

    pub(crate) fn queue<const FRAME: usize>(&mut self) -> Queue<'_, FRAME>
    where
        Q: FrameQueue<FRAME>,
    {
        Queue {
            frames: &mut self.frames,
            stats: &mut self.stats,
            watch: &mut self.watch,
        }
    }
}

/// A queue seen from one side: frames plus the counters of that direction.
pub(crate) struct Queue<'w, const FRAME: usize> {
    pub(crate) frames: &'w mut dyn FrameQueue<FRAME>,
    pub(crate) stats: &'w mut WireStats,
    watch: &'w mut RetransmitCounter,
}

impl<const FRAME: usize> Queue<'_, FRAME> {
    /// The same queue, borrowed for less time (for a token).
    pub(crate) fn reborrow(&mut self) -> Queue<'_, FRAME> {
        Queue {
            frames: &mut *self.frames,
            stats: &mut *self.stats,
            watch: &mut *self.watch,
        }
    }

    /// A transmit token into this queue, through a link (`None`: straight in).
    pub(crate) fn tx<'t>(
        &'t mut self,
        scratch: &'t mut [u8; FRAME],
        sending: Option<Sending<'t>>,
    ) -> TxToken<'t, FRAME> {
        TxToken {
            queue: self.reborrow(),
            scratch,
            sending,
        }
    }

    /// Store a frame due at `due` (held by a rule if `held_by`), counted; sent, or
    /// dropped because the store is full.
    fn push(&mut self, frame: &[u8], due: Instant, held_by: Option<u8>) -> Fate {
        if self.frames.push(frame, due, held_by) {
            self.stats.sent += 1;
            Fate::Sent
        } else {
            self.stats.dropped_full += 1;
            log::trace!("wire: queue full, frame of {} bytes dropped", frame.len());
            Fate::Dropped(DropCause::QueueFull)
        }
    }
}

/// What a transmit token needs to send through a link: the direction's link model, the
/// wire's random source and script, who sends, whether the link is cut, and when.
pub(crate) struct Sending<'t> {
    pub(crate) link: &'t mut Direction,
    pub(crate) rng: &'t mut Rng,
    pub(crate) script: &'t mut Script,
    pub(crate) from: End,
    pub(crate) cut: bool,
    pub(crate) now: Instant,
    /// Who is told what became of the frame.
    pub(crate) report: Option<Reporter<'t>>,
}

impl Sending<'_> {
    /// Whether the frame goes straight in, due now: the common case, kept cheap.
    #[inline]
    fn is_plain(&self) -> bool {
        self.link.is_ideal() && self.script.is_empty() && !self.cut
    }

    /// The plain path: due now.
    #[inline]
    fn send_plain<const FRAME: usize>(self, queue: &mut Queue<'_, FRAME>, frame: &[u8]) {
        let fate = queue.push(frame, self.now, None);
        if let Some(report) = self.report {
            report.sent(fate, frame);
        }
    }

    /// The slow path: partition, script, then the link model.
    fn send<const FRAME: usize>(self, queue: &mut Queue<'_, FRAME>, frame: &mut [u8]) {
        let report = self.report;
        let lost = |queue: &mut Queue<'_, FRAME>, cause: DropCause, frame: &[u8]| {
            let counter = match cause {
                DropCause::Partition => &mut queue.stats.dropped_partition,
                DropCause::Script => &mut queue.stats.dropped_script,
                DropCause::Bottleneck => &mut queue.stats.dropped_queue,
                _ => &mut queue.stats.dropped_fault,
            };
            *counter += 1;
            if let Some(report) = report {
                report.sent(Fate::Dropped(cause), frame);
            }
        };
        if self.cut {
            return lost(queue, DropCause::Partition, frame);
        }
        if self.script.lose_this(frame) {
            return lost(queue, DropCause::Fault, frame);
        }
        let mut extra = Duration::ZERO;
        let mut scripted_copy = false;
        if let Some(verdict) = self.script.judge(self.from, frame) {
            match verdict.action {
                Action::Drop => return lost(queue, DropCause::Script, frame),
                Action::Hold => {
                    queue.stats.held += 1;
                    let fate = queue.push(frame, self.now, Some(verdict.rule));
                    if let Some(report) = report {
                        report.sent(fate, frame);
                    }
                    return;
                }
                Action::Delay(by) => extra = by,
                Action::Duplicate => scripted_copy = true,
            }
        }
        match self.link.send(self.rng, frame, self.now) {
            Passage::QueueFull => lost(queue, DropCause::Bottleneck, frame),
            Passage::Lost => lost(queue, DropCause::Fault, frame),
            Passage::Due {
                due,
                copy,
                corrupted,
                reordered,
            } => {
                queue.stats.corrupted += u64::from(corrupted);
                queue.stats.reordered += u64::from(reordered);
                let copy = copy.or(scripted_copy.then_some(due));
                for (at, is_copy) in [(Some(due), false), (copy, true)] {
                    let Some(at) = at else { continue };
                    queue.stats.duplicated += u64::from(is_copy);
                    let mut fate = queue.push(frame, after(at, extra), None);
                    if corrupted && fate == Fate::Sent {
                        fate = Fate::Corrupted;
                    }
                    if let Some(report) = report {
                        report.sent(fate, frame);
                    }
                }
            }
        }
    }
}

/// Object-safe view of a frame store that hides `DEPTH`, so ports and tokens need one
/// const parameter only.
pub(crate) trait FrameQueue<const FRAME: usize> {
    /// The next frame, if it is due by `now`.
    fn front(&self, now: Instant) -> Option<&Frame<FRAME>>;
    /// Remove the frame `front` returned.
    fn pop_front(&mut self);
    /// Store a frame, due at `due` (held by a rule if `held_by`); false if full.
    fn push(&mut self, frame: &[u8], due: Instant, held_by: Option<u8>) -> bool;
}

/// The loopback's store: first in, first out, everything due at once.
impl<const FRAME: usize, const DEPTH: usize> FrameQueue<FRAME> for Deque<Frame<FRAME>, DEPTH> {
    fn front(&self, _now: Instant) -> Option<&Frame<FRAME>> {
        Deque::front(self)
    }
    fn pop_front(&mut self) {
        Deque::pop_front(self);
    }
    fn push(&mut self, frame: &[u8], _due: Instant, _held_by: Option<u8>) -> bool {
        if self.is_full() || frame.len() > FRAME {
            return false;
        }
        // Push an empty frame, then fill it in place: one copy, from the scratch buffer.
        let ok = Deque::push_back(self, Vec::new()).is_ok();
        if let Some(slot) = self.back_mut() {
            let _ = slot.extend_from_slice(frame);
        }
        ok
    }
}

pub(crate) fn capabilities(frame: usize, checksums: bool) -> DeviceCapabilities {
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

#[doc(hidden)]
pub struct RxToken<'w, const FRAME: usize> {
    pub(crate) queue: Queue<'w, FRAME>,
    pub(crate) now: Instant,
    pub(crate) report: Option<Reporter<'w>>,
}

impl<const FRAME: usize> phy::RxToken for RxToken<'_, FRAME> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // `receive` only hands out a token when a frame is queued.
        let result = match self.queue.frames.front(self.now) {
            Some(frame) => {
                if let Some(report) = self.report {
                    report.delivered(frame);
                }
                f(frame)
            }
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
    sending: Option<Sending<'w>>,
}

impl<const FRAME: usize> phy::TxToken for TxToken<'_, FRAME> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, len: usize, f: F) -> R {
        if len > FRAME {
            // Cannot happen with smoltcp (it honours the MTU we report); count it anyway.
            self.queue.stats.dropped_oversize += 1;
            let result = f(&mut self.scratch[..]);
            if let Some(report) = self.sending.and_then(|s| s.report) {
                report.sent(Fate::Dropped(DropCause::Oversize), &self.scratch[..]);
            }
            return result;
        }
        let buf = &mut self.scratch[..len];
        let result = f(buf);
        self.queue.watch.observe(buf);
        match self.sending {
            None => {
                self.queue.push(buf, Instant::ZERO, None);
            }
            Some(sending) if sending.is_plain() => sending.send_plain(&mut self.queue, buf),
            Some(sending) => sending.send(&mut self.queue, buf),
        }
        result
    }
}
