//! What a ladder is drawn from: frames and lifecycle events, in the order they happened.

use smoltcp::time::Instant;

use super::frame_summary::Summary as FrameSummary;
use crate::phy::{End, Fate};
use crate::stack::Event;

/// A frame put on the wire, summarized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// When it was sent.
    pub at: Instant,
    /// Which end sent it.
    pub from: End,
    /// What became of it.
    pub fate: Fate,
    /// What it is.
    pub summary: FrameSummary,
}

/// One thing that happened: a frame or a lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A frame put on the wire.
    Frame(FrameEntry),
    /// A stack's lifecycle event.
    Event(Event),
}
