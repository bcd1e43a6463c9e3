//! Why a testbed run stopped.

use core::fmt;

use smoltcp::time::Instant;

/// Why [`Testbed::run`](super::Testbed::run) stopped before the program said it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunError {
    /// Nothing is in flight and no stack has a deadline: nothing will ever happen again.
    Stalled {
        /// The virtual time when it stalled.
        at: Instant,
    },
    /// The virtual time limit passed.
    TimeLimit {
        /// The virtual time when it stopped.
        at: Instant,
    },
    /// The program acted at every turn for [`BUSY_TURNS`] turns (or the limit set with
    /// [`Testbed::set_busy_turns`](super::Testbed::set_busy_turns)) without the clock ever
    /// moving: it never waits, so virtual time cannot pass (a program that should pace
    /// itself, or a loop that never ends).
    Busy {
        /// The instant it was stuck at.
        at: Instant,
    },
}

/// How many turns [`Testbed::run`](super::Testbed::run) allows at one instant before it reports
/// [`RunError::Busy`].
pub const BUSY_TURNS: u32 = 1_000_000;

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Stalled { at } => write!(f, "stalled at {at}: nothing left to happen"),
            RunError::TimeLimit { at } => write!(f, "virtual time limit reached at {at}"),
            RunError::Busy { at } => write!(
                f,
                "busy at {at}: the program acted at every turn, so time never moved"
            ),
        }
    }
}

impl core::error::Error for RunError {}

/// How many poll rounds [`Testbed::settle`](super::Testbed::settle) allows before it decides the stacks are
/// talking forever (a bug, not a network condition).
pub const SETTLE_ROUNDS: usize = 100_000;
