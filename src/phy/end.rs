//! The two ends of a [`Wire`](super::Wire): which host sent a frame, which receives it.

/// One end of a [`Wire`](super::Wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The first host (by convention the client).
    A,
    /// The second host (by convention the server).
    B,
}

impl End {
    /// The end across the wire.
    pub const fn other(self) -> End {
        match self {
            End::A => End::B,
            End::B => End::A,
        }
    }

    /// 0 for A, 1 for B: an index into per-direction arrays.
    pub(crate) const fn index(self) -> usize {
        match self {
            End::A => 0,
            End::B => 1,
        }
    }
}
