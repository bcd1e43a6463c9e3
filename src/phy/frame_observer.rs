//! Watching the wire: every frame, when it went on and what became of it.
//!
//! On a real network, `tcpdump` shows what crossed a link; a Berkeley-sockets program
//! never sees it. The in-memory [`Wire`](super::Wire) can tell a caller instead: give it
//! a [`FrameObserver`] ([`Wire::set_observer`](super::Wire::set_observer)) and it reports
//! every frame a host hands to the wire, with the virtual time, the direction and its
//! [`Fate`] (queued, corrupted, dropped and why), and again when the peer takes it off
//! ([`Fate::Delivered`]). A capture ([`PcapCapture`](super::PcapCapture)) and the
//! tutorial's ladder diagram are two such observers.
//!
//! Like the stack's lifecycle [`Observer`](crate::Observer) it takes `&self` (an observer
//! that keeps state uses a `Cell` or `RefCell`) and lends the frame only for the call:
//! nothing is copied or allocated, and a wire without an observer pays one `None` check
//! per frame.

use smoltcp::time::Instant;

use super::end::End;

/// What became of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// Queued for the peer as sent.
    Sent,
    /// Queued for the peer with one bit flipped by fault injection (the bytes reported
    /// are the corrupted ones, as the peer will see them).
    Corrupted,
    /// Not queued: lost.
    Dropped(DropCause),
    /// Taken off the wire by the peer (reported a second time, at the time it arrives).
    Delivered,
}

impl Fate {
    /// Whether the frame went onto the wire (sent, corrupted or dropped), as opposed to a
    /// report of its arrival: what a capture at the sender records, once per frame.
    pub const fn is_transmission(&self) -> bool {
        !matches!(self, Fate::Delivered)
    }
}

/// Why a frame was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropCause {
    /// The peer's queue was full (as a NIC's full ring).
    QueueFull,
    /// Larger than the wire's `FRAME` (the bytes reported are cut to what fits, or empty).
    Oversize,
    /// Lost on purpose by fault injection: the link's chance of loss
    /// ([`Link::drop`](super::Link::drop), [`Wire::set_faults`](super::Wire::set_faults))
    /// or [`Wire::lose_segment`](super::Wire::lose_segment).
    Fault,
    /// The link's bottleneck had no room: its drop-tail queue was full
    /// ([`Link::bandwidth`](super::Link::bandwidth)).
    Bottleneck,
    /// Sent while the link was cut ([`Wire::cut`](super::Wire::cut)).
    Partition,
    /// A scripted rule dropped it ([`Wire::add_rule`](super::Wire::add_rule)).
    Script,
}

/// One report of a frame on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireFrame<'f> {
    /// The virtual time of the report (the poll that sent or received it).
    pub at: Instant,
    /// The end whose host sent it.
    pub from: End,
    /// What became of it.
    pub fate: Fate,
    /// The Ethernet frame, header included.
    pub bytes: &'f [u8],
}

/// Receives every frame reported by a [`Wire`](super::Wire).
pub trait FrameObserver {
    /// Called once per report, in the order things happened.
    fn frame(&self, frame: &WireFrame<'_>);
}

impl<T: FrameObserver + ?Sized> FrameObserver for &T {
    fn frame(&self, frame: &WireFrame<'_>) {
        (**self).frame(frame);
    }
}

/// An observer that may be absent (a capture only when asked for).
impl<T: FrameObserver> FrameObserver for Option<T> {
    fn frame(&self, frame: &WireFrame<'_>) {
        if let Some(observer) = self {
            observer.frame(frame);
        }
    }
}

/// Two observers on one wire (a capture and a ladder, say): each sees every report, the
/// first one first.
impl<A: FrameObserver, B: FrameObserver> FrameObserver for (A, B) {
    fn frame(&self, frame: &WireFrame<'_>) {
        self.0.frame(frame);
        self.1.frame(frame);
    }
}

/// A wire's observer with the time and direction of the port that reports (for the
/// frame queue's tokens).
#[derive(Clone, Copy)]
pub(crate) struct Reporter<'o> {
    pub(crate) observer: &'o dyn FrameObserver,
    pub(crate) at: Instant,
    /// The end that transmits through this port.
    pub(crate) end: End,
}

impl Reporter<'_> {
    /// A frame this port's host transmitted.
    pub(crate) fn sent(&self, fate: Fate, bytes: &[u8]) {
        self.report(self.end, fate, bytes);
    }

    /// A frame this port's host received.
    pub(crate) fn delivered(&self, bytes: &[u8]) {
        self.report(self.end.other(), Fate::Delivered, bytes);
    }

    fn report(&self, from: End, fate: Fate, bytes: &[u8]) {
        self.observer.frame(&WireFrame {
            at: self.at,
            from,
            fate,
            bytes,
        });
    }
}

#[cfg(test)]
mod tests {
    use core::cell::RefCell;

    use heapless::Vec;
    use smoltcp::phy::{Device, RxToken, TxToken};

    use super::*;
    use crate::phy::{Faults, Wire};

    /// What an observer saw: time (ms), sender, fate, first byte.
    #[derive(Default)]
    struct Seen(RefCell<Vec<(i64, End, Fate, u8), 64>>);

    impl FrameObserver for Seen {
        fn frame(&self, f: &WireFrame<'_>) {
            let first = f.bytes.first().copied().unwrap_or(0);
            let _ = self
                .0
                .borrow_mut()
                .push((f.at.total_millis(), f.from, f.fate, first));
        }
    }

    fn send<const F: usize, const D: usize>(wire: &mut Wire<'_, F, D>, from: End, ms: i64, b: u8) {
        let mut port = wire.port(from);
        let token = port.transmit(Instant::from_millis(ms)).unwrap();
        token.consume(4, |buf| buf.fill(b));
    }

    fn receive<const F: usize, const D: usize>(wire: &mut Wire<'_, F, D>, to: End, ms: i64) -> u8 {
        let mut port = wire.port(to);
        let (rx, _) = port.receive(Instant::from_millis(ms)).unwrap();
        rx.consume(|buf| buf[0])
    }

    #[test]
    fn every_frame_is_reported_with_time_direction_and_fate() {
        let seen = Seen::default();
        let mut wire: Wire<'_, 64, 2> = Wire::new();
        wire.set_observer(Some(&seen));
        send(&mut wire, End::A, 5, 0xa1);
        send(&mut wire, End::B, 6, 0xb1);
        assert_eq!(receive(&mut wire, End::B, 7), 0xa1);
        send(&mut wire, End::A, 8, 0xa2);
        send(&mut wire, End::A, 8, 0xa3);
        send(&mut wire, End::A, 8, 0xa4); // the queue holds two: dropped
        wire.inject(End::A, &[0xc1; 4]);
        wire.inject(End::A, &[0xc2; 100]); // larger than FRAME
        assert_eq!(
            seen.0.borrow().as_slice(),
            &[
                (5, End::A, Fate::Sent, 0xa1),
                (6, End::B, Fate::Sent, 0xb1),
                (7, End::A, Fate::Delivered, 0xa1),
                (8, End::A, Fate::Sent, 0xa2),
                (8, End::A, Fate::Sent, 0xa3),
                (8, End::A, Fate::Dropped(DropCause::QueueFull), 0xa4),
                // Injected between polls: the time of the last one.
                (8, End::B, Fate::Sent, 0xc1),
                (8, End::B, Fate::Dropped(DropCause::Oversize), 0xc2),
            ]
        );
        // One transmission report per frame the counters know of.
        let transmissions = seen
            .0
            .borrow()
            .iter()
            .filter(|s| s.2.is_transmission())
            .count();
        let (a, b) = (wire.stats(End::A), wire.stats(End::B));
        assert_eq!(
            transmissions as u64,
            a.sent + a.dropped() + b.sent + b.dropped()
        );
        assert_eq!(a.delivered, 1);
    }

    #[test]
    fn faults_are_reported_as_what_they_did() {
        let seen = Seen::default();
        let mut wire: Wire<'_, 64, 64> = Wire::new();
        wire.set_faults(
            Faults {
                drop_percent: 30,
                corrupt_percent: 30,
            },
            7,
        );
        wire.set_observer(Some(&seen));
        for i in 0..40 {
            send(&mut wire, End::A, i, 0x55);
        }
        let seen = seen.0.borrow();
        let count = |fate| seen.iter().filter(|s| s.2 == fate).count() as u64;
        let stats = wire.stats(End::A);
        assert!(stats.dropped_fault > 0 && stats.corrupted > 0, "{stats:?}");
        assert_eq!(count(Fate::Dropped(DropCause::Fault)), stats.dropped_fault);
        assert_eq!(count(Fate::Corrupted), stats.corrupted);
        assert_eq!(count(Fate::Sent) + count(Fate::Corrupted), stats.sent);
    }

    #[test]
    fn without_an_observer_nothing_is_reported_and_it_can_be_removed() {
        let seen = Seen::default();
        let mut wire: Wire<'_, 64, 4> = Wire::new();
        send(&mut wire, End::A, 1, 1);
        wire.set_observer(Some(&seen));
        send(&mut wire, End::A, 2, 2);
        wire.set_observer(None);
        send(&mut wire, End::A, 3, 3);
        assert_eq!(seen.0.borrow().len(), 1);
    }
}

#[cfg(test)]
mod lose_segment_tests {
    use smoltcp::phy::{Device, TxToken};
    use smoltcp::time::Instant;

    use crate::phy::{End, Wire};

    fn send(wire: &mut Wire<'_, 64, 16>, tcp: bool) {
        let mut port = wire.port(End::A);
        port.transmit(Instant::ZERO).unwrap().consume(60, |buf| {
            buf.fill(0);
            if tcp {
                buf[12] = 0x08;
                buf[14] = 0x45;
                buf[23] = 6;
            }
        });
    }

    #[test]
    fn the_chosen_tcp_segment_is_lost_and_only_it() {
        let mut wire: Wire<'_, 64, 16> = Wire::new();
        wire.lose_segment(2);
        send(&mut wire, true);
        send(&mut wire, false); // not TCP: not counted
        assert_eq!(wire.stats(End::A).dropped_fault, 0);
        send(&mut wire, true);
        assert_eq!(wire.stats(End::A).dropped_fault, 1);
        for _ in 0..5 {
            send(&mut wire, true);
        }
        assert_eq!(wire.stats(End::A).dropped_fault, 1);
        assert_eq!(wire.stats(End::A).sent, 7);
        wire.lose_segment(0);
        send(&mut wire, true);
        assert_eq!(wire.stats(End::A).dropped_fault, 1);
    }
}
