//! Faults on purpose, the short way: a percentage of frames lost and corrupted, both
//! directions. A [`Link`](super::Link) says the same and more (latency, jitter,
//! duplication, bandwidth); [`Wire::set_faults`](super::Wire::set_faults) sets these two
//! fields of both directions' links.

/// Faults to inject on a wire, in percent of frames, each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Frames lost.
    pub drop_percent: u8,
    /// Frames delivered with one bit flipped (checksums catch it; keep them on).
    pub corrupt_percent: u8,
}
