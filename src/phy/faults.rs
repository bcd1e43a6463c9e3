//! Faults on purpose: a seeded, reproducible source of lost and corrupted frames.

/// Faults to inject on a wire, in percent of frames, each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Frames lost.
    pub drop_percent: u8,
    /// Frames delivered with one bit flipped (checksums catch it; keep them on).
    pub corrupt_percent: u8,
}

/// The fault settings and their deterministic random source (xorshift32).
pub(crate) struct FaultState {
    pub(crate) faults: Faults,
    pub(crate) rng: u32,
    /// TCP segments to let pass before losing one (`Wire::lose_segment`); 0: none.
    pub(crate) lose_in: u64,
}

impl FaultState {
    pub(crate) const fn new() -> Self {
        FaultState {
            faults: Faults {
                drop_percent: 0,
                corrupt_percent: 0,
            },
            rng: 0x1234_5678,
            lose_in: 0,
        }
    }

    /// Whether this frame is the TCP segment chosen to be lost (counting it down).
    pub(crate) fn lose_this(&mut self, frame: &[u8]) -> bool {
        if self.lose_in == 0 || super::tcp_header::tcp_flags(frame).is_none() {
            return false;
        }
        self.lose_in -= 1;
        self.lose_in == 0
    }

    pub(crate) fn next(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// True with probability `percent`%.
    pub(crate) fn roll(&mut self, percent: u8) -> bool {
        percent > 0 && self.next() % 100 < u32::from(percent)
    }
}
