//! A pcap capture of an in-memory wire, for Wireshark and `tcpdump -r`.
//!
//! On a kernel's network one runs `tcpdump -w` on an interface; the in-memory
//! [`Wire`](super::Wire) has no interface, so a [`PcapCapture`] is handed to it as its
//! [`FrameObserver`] instead. It writes the classic libpcap format (Ethernet link type,
//! microsecond timestamps in virtual time) through smoltcp's [`PcapSink`], which needs
//! neither `std` nor `alloc`: a file on a host, a buffer in RAM, a UART on a board.
//! (smoltcp's own [`PcapWriter`](smoltcp::phy::PcapWriter) wraps a device and records what
//! one stack sends and receives; a capture of the wire records the link itself.)
//!
//! Where the capture listens: at each sender, as `tcpdump` on the sending host would. Every
//! frame put on the wire is recorded once, when it is sent, including the ones the wire
//! then loses (dropped by a fault or a full queue): a lost segment shows in Wireshark
//! followed by its retransmission. So the number of records is the wire's counters'
//! `sent + dropped()`, both directions, while it listened.

use core::cell::{Cell, RefCell};

use smoltcp::phy::{PcapLinkType, PcapSink};

use super::frame_observer::{FrameObserver, WireFrame};

/// A [`FrameObserver`] that writes every frame put on the wire into a [`PcapSink`].
pub struct PcapCapture<S: PcapSink> {
    sink: RefCell<S>,
    frames: Cell<u64>,
}

impl<S: PcapSink> PcapCapture<S> {
    /// A capture into `sink`: the pcap file header is written at once.
    pub fn new(mut sink: S) -> Self {
        sink.global_header(PcapLinkType::Ethernet);
        PcapCapture {
            sink: RefCell::new(sink),
            frames: Cell::new(0),
        }
    }

    /// How many frames were recorded.
    pub fn frames(&self) -> u64 {
        self.frames.get()
    }

    /// Lend the sink to `f` (to flush it, or ask it how the writing went) while the
    /// capture is still lent to a wire. `None` only if called from within the sink itself.
    pub fn with_sink<R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        let mut sink = self.sink.try_borrow_mut().ok()?;
        Some(f(&mut sink))
    }

    /// The sink back, with everything written to it.
    pub fn into_sink(self) -> S {
        self.sink.into_inner()
    }
}

impl<S: PcapSink> FrameObserver for PcapCapture<S> {
    fn frame(&self, frame: &WireFrame<'_>) {
        if !frame.fate.is_transmission() {
            return;
        }
        // An observer is only called from the wire, one frame at a time; a sink that
        // reports into the same wire would find the capture busy and lose its frame
        // rather than panic.
        let Ok(mut sink) = self.sink.try_borrow_mut() else {
            return;
        };
        // `packet` writes the record header and the frame, then flushes.
        sink.packet(frame.at, frame.bytes);
        self.frames.set(self.frames.get().saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use heapless::Vec;
    use smoltcp::phy::{Device, RxToken, TxToken};
    use smoltcp::time::Instant;

    use super::*;
    use crate::phy::{End, Faults, Wire};

    /// A sink in RAM (what a board without a file system would use).
    #[derive(Default)]
    struct Ram(Vec<u8, 4096>);

    impl PcapSink for Ram {
        fn write(&mut self, data: &[u8]) {
            let _ = self.0.extend_from_slice(data);
        }
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// The records of a pcap file: (seconds, microseconds, bytes).
    fn records(file: &[u8]) -> impl Iterator<Item = (u32, u32, &[u8])> {
        assert_eq!(u32_at(file, 0), 0xa1b2_c3d4, "magic");
        assert_eq!(u32_at(file, 20), 1, "Ethernet link type");
        let mut at = 24;
        core::iter::from_fn(move || {
            if at >= file.len() {
                return None;
            }
            let (secs, micros) = (u32_at(file, at), u32_at(file, at + 4));
            let (caught, len) = (u32_at(file, at + 8) as usize, u32_at(file, at + 12));
            assert_eq!(caught, len as usize, "never cut");
            let bytes = &file[at + 16..at + 16 + caught];
            at += 16 + caught;
            Some((secs, micros, bytes))
        })
    }

    #[test]
    fn records_every_frame_put_on_the_wire_once_with_its_virtual_time() {
        let capture = PcapCapture::new(Ram::default());
        let mut wire: Wire<'_, 64, 8> = Wire::new();
        wire.set_faults(
            Faults {
                drop_percent: 50,
                corrupt_percent: 0,
            },
            1,
        );
        wire.set_observer(Some(&capture));
        for i in 0..10u8 {
            let mut port = wire.port(End::A);
            let tx = port
                .transmit(Instant::from_micros(1_500_000 + i64::from(i)))
                .unwrap();
            tx.consume(20 + usize::from(i), |buf| buf.fill(i));
        }
        // Delivered frames are not recorded again.
        let mut port = wire.port(End::B);
        if let Some((rx, _)) = port.receive(Instant::from_secs(2)) {
            rx.consume(|_| ());
        }
        let stats = wire.stats(End::A);
        assert!(stats.dropped_fault > 0, "{stats:?}");
        assert_eq!(capture.frames(), 10);
        let file = capture.into_sink().0;
        let all: std::vec::Vec<_> = records(&file).collect();
        assert_eq!(all.len() as u64, stats.sent + stats.dropped());
        for (i, (secs, micros, bytes)) in all.into_iter().enumerate() {
            assert_eq!((secs, micros), (1, 500_000 + i as u32));
            assert_eq!(bytes.len(), 20 + i);
            assert!(bytes.iter().all(|b| usize::from(*b) == i));
        }
    }
}
