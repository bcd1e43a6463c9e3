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
}

impl FaultState {
    pub(crate) const fn new() -> Self {
        FaultState {
            faults: Faults {
                drop_percent: 0,
                corrupt_percent: 0,
            },
            rng: 0x1234_5678,
        }
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
