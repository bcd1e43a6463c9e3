//! The frame queue under both in-memory links: one direction of a [`Wire`](super::Wire),
//! or the whole of a [`Loopback`](super::Loopback).
//!
//! A direction is a [`heapless::Deque`] of `DEPTH` frames of at most `FRAME` bytes, with
//! its counters ([`WireStats`]) and a [`RetransmitCounter`] watching what passes. The
//! tokens smoltcp gets from a port build each frame in a scratch buffer, let the fault
//! injector have its say, then queue it (or drop and count it when the queue is full).

use heapless::{Deque, Vec};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};

use super::faults::FaultState;
use super::frame_observer::{DropCause, Fate, Reporter};
use super::retransmit_counter::RetransmitCounter;

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
    /// Frames dropped on purpose by fault injection ([`Wire::set_faults`](super::Wire::set_faults)).
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

/// A queue of frames in one direction, with its counters.
pub(crate) struct Lane<const FRAME: usize, const DEPTH: usize> {
    pub(crate) frames: Deque<Frame<FRAME>, DEPTH>,
    pub(crate) stats: WireStats,
    watch: RetransmitCounter,
}

impl<const FRAME: usize, const DEPTH: usize> Lane<FRAME, DEPTH> {
    pub(crate) const fn new() -> Self {
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

    pub(crate) fn stats(&self) -> WireStats {
        WireStats {
            tcp_segments: self.watch.segments(),
            retransmitted: self.watch.retransmitted(),
            ..self.stats
        }
    }

    pub(crate) fn queue(&mut self) -> Queue<'_, FRAME> {
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

    /// A transmit token into this queue; `report` tells an observer what became of the
    /// frame.
    pub(crate) fn tx<'t>(
        &'t mut self,
        scratch: &'t mut [u8; FRAME],
        faults: Option<&'t mut FaultState>,
        report: Option<Reporter<'t>>,
    ) -> TxToken<'t, FRAME> {
        TxToken {
            queue: self.reborrow(),
            scratch,
            faults,
            report,
        }
    }
}

/// Object-safe view of a `Deque<Frame, DEPTH>` that hides `DEPTH`, so ports and tokens
/// need one const parameter only.
pub(crate) trait FrameQueue<const FRAME: usize> {
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
    pub(crate) report: Option<Reporter<'w>>,
}

impl<const FRAME: usize> phy::RxToken for RxToken<'_, FRAME> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // `receive` only hands out a token when a frame is queued.
        let result = match self.queue.frames.front() {
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
    faults: Option<&'w mut FaultState>,
    report: Option<Reporter<'w>>,
}

impl<const FRAME: usize> phy::TxToken for TxToken<'_, FRAME> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if len > FRAME {
            // Cannot happen with smoltcp (it honours the MTU we report); count it anyway.
            self.queue.stats.dropped_oversize += 1;
            let result = f(&mut self.scratch[..]);
            if let Some(report) = self.report {
                report.sent(Fate::Dropped(DropCause::Oversize), &self.scratch[..]);
            }
            return result;
        }
        let buf = &mut self.scratch[..len];
        let result = f(buf);
        self.queue.watch.observe(buf);
        let mut fate = Fate::Sent;
        if let Some(faults) = self.faults {
            if faults.lose_this(buf) || faults.roll(faults.faults.drop_percent) {
                self.queue.stats.dropped_fault += 1;
                if let Some(report) = self.report {
                    report.sent(Fate::Dropped(DropCause::Fault), buf);
                }
                return result;
            }
            if len > 0 && faults.roll(faults.faults.corrupt_percent) {
                let at = faults.next() as usize % len;
                buf[at] ^= 1 << (faults.next() % 8);
                self.queue.stats.corrupted += 1;
                fate = Fate::Corrupted;
            }
        }
        if self.queue.frames.push_back(buf) {
            self.queue.stats.sent += 1;
        } else {
            self.queue.stats.dropped_full += 1;
            fate = Fate::Dropped(DropCause::QueueFull);
            log::trace!("wire: queue full, frame of {len} bytes dropped");
        }
        if let Some(report) = self.report {
            report.sent(fate, buf);
        }
        result
    }
}
