//! A stack's event plumbing: where lifecycle events go, and the two counts that tell
//! drivers and listeners whether anything happened.
//!
//! A kernel wakes a blocked program when its socket changes; here nothing blocks, so a
//! driver asks instead. Every verb and every state change bumps the stack's **activity**
//! count ([`Stack::activity`](super::Stack::activity)): a loop that sees it stand still
//! after the program's turn knows the program did nothing and time may move. Every
//! change to a listener's pool bumps the **pool epoch**: while it stands still, no
//! listener has anything to accept or re-arm. Events themselves go to an optional
//! [`Observer`] (a [`Trace`](super::trace::Trace)), stamped with the stack's clock.

use core::cell::Cell;

use smoltcp::time::Instant;

use super::trace::{Event, EventKind, Observer};

/// A stack's event bookkeeping (see the module docs).
pub(crate) struct Events<'a> {
    observer: Option<&'a dyn Observer>,
    host: &'static str,
    activity: Cell<u64>,
    pools: Cell<u64>,
}

impl<'a> Events<'a> {
    pub(crate) fn new(host: &'static str) -> Self {
        Events {
            observer: None,
            host,
            activity: Cell::new(0),
            pools: Cell::new(0),
        }
    }

    pub(crate) fn set_observer(&mut self, observer: Option<&'a dyn Observer>) {
        self.observer = observer;
    }

    pub(crate) fn activity(&self) -> u64 {
        self.activity.get()
    }

    pub(crate) fn pool_epoch(&self) -> u64 {
        self.pools.get()
    }

    /// The events at one instant, for one call.
    pub(crate) fn at(&self, now: Instant) -> Tracer<'_> {
        Tracer { events: self, now }
    }
}

/// A stack's events at one instant, as the facade and the socket table use them.
#[derive(Clone, Copy)]
pub(crate) struct Tracer<'s> {
    events: &'s Events<'s>,
    pub(crate) now: Instant,
}

impl Tracer<'_> {
    pub(crate) fn host(&self) -> &'static str {
        self.events.host
    }

    /// Something a listener must look at happened: one of its sockets changed state,
    /// or an accepted one was handed back.
    pub(crate) fn pool_changed(&self) {
        let pools = &self.events.pools;
        pools.set(pools.get().wrapping_add(1));
    }

    /// Count a change that has no event of its own (a descriptor released).
    pub(crate) fn touch(&self) {
        let activity = &self.events.activity;
        activity.set(activity.get().wrapping_add(1));
    }

    /// Record `kind` for socket `socket`.
    pub(crate) fn emit(&self, socket: u8, kind: EventKind) {
        self.touch();
        log::debug!("{}: #{socket} {kind}", self.host());
        if let Some(observer) = self.events.observer {
            observer.record(Event {
                at: self.now,
                host: self.host(),
                socket,
                kind,
            });
        }
    }
}
