//! A single-stack loopback on the same heap-free frame queue as the [`Wire`](super::Wire).

use heapless::Deque;
use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;

use super::frame_queue::{ETHERNET_FRAME, Frame, Lane, Queue, TxToken, WireStats, capabilities};

/// A single-stack loopback device: every frame transmitted is received back.
///
/// The heap-free counterpart of smoltcp's `phy::Loopback`, with the same drop-and-count
/// behaviour as [`Wire`](super::Wire) when full.
pub struct Loopback<const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64> {
    lane: Lane<Deque<Frame<FRAME>, DEPTH>>,
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
            lane: Lane::new(Deque::new()),
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

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // The frame must leave the queue before the stack may transmit into the same queue,
        // so a loopback receive copies it out (one frame on the stack).
        let frame = self.lane.frames.front(now)?.clone();
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
