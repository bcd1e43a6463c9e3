//! Frames in flight, each with the instant it is due: one direction of a
//! [`Wire`](super::Wire) or one port of a [`Switch`](super::Switch).
//!
//! `DEPTH` slots of at most `FRAME` bytes, and the slots' numbers in order of due time
//! (ties in the order they came), in a ring. A frame sent on an ideal link is due at once
//! and goes to the back, so the common case costs what a plain FIFO costs; a delayed one
//! is put in its place by moving slot numbers (two bytes each), never frames. A frame held
//! by a scripted rule waits at the back with the instant [`HELD`] until it is released.

use smoltcp::time::Instant;

use super::frame_queue::{Frame, FrameQueue};
use super::link::HELD;

/// No rule holds the frame.
const FREE: u8 = u8::MAX;

pub(crate) struct TimedQueue<const FRAME: usize, const DEPTH: usize> {
    slots: [Frame<FRAME>; DEPTH],
    due: [Instant; DEPTH],
    /// The rule holding each slot's frame, or `FREE`.
    held_by: [u8; DEPTH],
    /// Slot numbers by due time: a ring of `len` from `head`.
    order: [u16; DEPTH],
    head: usize,
    len: usize,
    /// Slot numbers not in use: a stack of `free_len`.
    free: [u16; DEPTH],
    free_len: usize,
}

impl<const FRAME: usize, const DEPTH: usize> TimedQueue<FRAME, DEPTH> {
    pub(crate) const fn new() -> Self {
        const { assert!(DEPTH <= u16::MAX as usize, "at most 65535 frames in flight") };
        let mut free = [0u16; DEPTH];
        let mut i = 0;
        while i < DEPTH {
            // Taken from the end: slot 0 first.
            free[i] = (DEPTH - 1 - i) as u16;
            i += 1;
        }
        TimedQueue {
            slots: [const { Frame::new() }; DEPTH],
            due: [Instant::ZERO; DEPTH],
            held_by: [FREE; DEPTH],
            order: [0; DEPTH],
            head: 0,
            len: 0,
            free,
            free_len: DEPTH,
        }
    }

    /// Frames stored (due or not, held or not).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn ring(&self, i: usize) -> usize {
        let at = self.head + i;
        if at >= DEPTH { at - DEPTH } else { at }
    }

    #[inline]
    fn slot(&self, i: usize) -> usize {
        usize::from(self.order[self.ring(i)])
    }

    /// When the next frame is due (held frames are not).
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let due = self.due[self.slot(0)];
        (due != HELD).then_some(due)
    }

    /// Frames due by `now`.
    pub(crate) fn due_by(&self, now: Instant) -> bool {
        self.len > 0 && self.due[self.slot(0)] <= now
    }

    /// The frame due first, due or not (a test takes it off the wire).
    pub(crate) fn pop_any(&mut self) -> Option<Frame<FRAME>> {
        if self.len == 0 {
            return None;
        }
        let slot = self.slot(0);
        let frame = core::mem::take(&mut self.slots[slot]);
        self.remove_front();
        Some(frame)
    }

    fn remove_front(&mut self) {
        let slot = self.order[self.head];
        self.held_by[usize::from(slot)] = FREE;
        self.head = self.ring(1);
        self.len -= 1;
        self.free[self.free_len] = slot;
        self.free_len += 1;
    }

    /// Store `frame`, due at `due`, held by rule `held_by` if any. False if full.
    pub(crate) fn insert(&mut self, frame: &[u8], due: Instant, held_by: Option<u8>) -> bool {
        if self.free_len == 0 || frame.len() > FRAME {
            return false;
        }
        self.free_len -= 1;
        let slot = self.free[self.free_len];
        let s = usize::from(slot);
        self.slots[s].clear();
        // Fits: checked above.
        let _ = self.slots[s].extend_from_slice(frame);
        self.due[s] = if held_by.is_some() { HELD } else { due };
        self.held_by[s] = held_by.unwrap_or(FREE);
        self.place(slot);
        true
    }

    /// Put `slot` in the ring after every frame due no later than it.
    fn place(&mut self, slot: u16) {
        let due = self.due[usize::from(slot)];
        let mut at = self.len;
        while at > 0 && self.due[self.slot(at - 1)] > due {
            at -= 1;
        }
        let mut i = self.len;
        while i > at {
            self.order[self.ring(i)] = self.order[self.ring(i - 1)];
            i -= 1;
        }
        self.order[self.ring(at)] = slot;
        self.len += 1;
    }

    /// Release the frames held by `rule` (every held frame for `None`): due at `now`, in
    /// the order they were held. Returns how many.
    pub(crate) fn release(&mut self, rule: Option<u8>, now: Instant) -> usize {
        let mut released = [0u16; DEPTH];
        let mut count = 0;
        let mut kept = 0;
        for i in 0..self.len {
            let slot = self.order[self.ring(i)];
            let held = self.held_by[usize::from(slot)];
            if held != FREE && rule.is_none_or(|r| r == held) {
                released[count] = slot;
                count += 1;
            } else {
                let to = self.ring(kept);
                self.order[to] = slot;
                kept += 1;
            }
        }
        self.len = kept;
        for &slot in &released[..count] {
            self.held_by[usize::from(slot)] = FREE;
            self.due[usize::from(slot)] = now;
            self.place(slot);
        }
        count
    }

    /// Frames held by `rule` (by any rule for `None`).
    pub(crate) fn held(&self, rule: Option<u8>) -> usize {
        (0..self.len)
            .filter(|&i| {
                let held = self.held_by[self.slot(i)];
                held != FREE && rule.is_none_or(|r| r == held)
            })
            .count()
    }
}

impl<const FRAME: usize, const DEPTH: usize> FrameQueue<FRAME> for TimedQueue<FRAME, DEPTH> {
    #[inline]
    fn front(&self, now: Instant) -> Option<&Frame<FRAME>> {
        if !self.due_by(now) {
            return None;
        }
        Some(&self.slots[self.slot(0)])
    }

    #[inline]
    fn pop_front(&mut self) {
        if self.len > 0 {
            self.remove_front();
        }
    }

    #[inline]
    fn push(&mut self, frame: &[u8], due: Instant, held_by: Option<u8>) -> bool {
        self.insert(frame, due, held_by)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    fn drain<const D: usize>(q: &mut TimedQueue<8, D>, now: Instant) -> heapless::Vec<u8, 16> {
        let mut out = heapless::Vec::new();
        while let Some(f) = q.front(now) {
            let _ = out.push(f[0]);
            q.pop_front();
        }
        out
    }

    #[test]
    fn frames_leave_in_due_order_ties_in_sending_order() {
        let mut q = TimedQueue::<8, 4>::new();
        assert!(q.insert(&[1], at(30), None));
        assert!(q.insert(&[2], at(10), None));
        assert!(q.insert(&[3], at(30), None));
        assert!(q.insert(&[4], at(20), None));
        assert!(!q.insert(&[5], at(0), None), "full");
        assert_eq!(q.next_due(), Some(at(10)));
        assert!(q.front(at(9)).is_none());
        assert_eq!(drain(&mut q, at(20)), [2, 4]);
        assert_eq!(drain(&mut q, at(30)), [1, 3]);
        assert_eq!(q.len(), 0);
        // The ring wraps and the slots are reused.
        for round in 0..10u8 {
            assert!(q.insert(&[round], at(40), None));
            assert!(q.insert(&[round + 100], at(35), None));
            assert_eq!(drain(&mut q, at(40)), [round + 100, round]);
        }
    }

    #[test]
    fn held_frames_wait_until_released() {
        let mut q = TimedQueue::<8, 4>::new();
        assert!(q.insert(&[1], at(0), Some(0)));
        assert!(q.insert(&[2], at(0), Some(1)));
        assert!(q.insert(&[3], at(5), None));
        assert_eq!(q.next_due(), Some(at(5)));
        assert_eq!(q.held(None), 2);
        assert_eq!(drain(&mut q, at(1000)), [3]);
        assert_eq!(q.release(Some(1), at(1000)), 1);
        assert_eq!(drain(&mut q, at(1000)), [2]);
        assert_eq!(q.next_due(), None, "held: never due by itself");
        assert_eq!(q.release(None, at(2000)), 1);
        assert_eq!(drain(&mut q, at(2000)), [1]);
        assert!(q.pop_any().is_none());
        assert!(!q.insert(&[0; 9], at(0), None), "oversize");
    }
}
