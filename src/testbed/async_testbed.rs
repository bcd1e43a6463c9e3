//! The testbed for async programs: two [`AsyncStack`]s on a wire, in virtual time.
//!
//! The same idea as [`Testbed`](super::Testbed), as a task: [`AsyncTestbed::run`] is the
//! runner of both stacks. It delivers every frame at the current instant, lets the
//! program's tasks run (it yields to the executor), and when they did nothing and
//! nothing is in flight, jumps the clock to the next deadline of either stack (a
//! retransmission, a `settimeout`). Run it beside the program, e.g. with
//! `embassy_futures`: `block_on(select(testbed.run(), program))`.

use core::cell::{Cell, RefCell};

use smoltcp::time::{Duration, Instant};

use super::run_error::{BUSY_TURNS, RunError, SETTLE_ROUNDS};
use crate::async_sockets::{AsyncStack, yield_now};
use crate::phy::{End, Wire};
use crate::stack::{Host, Stack, StackStorage, later};

/// Two async stacks on an in-memory wire, in virtual time (see the module docs).
pub struct AsyncTestbed<'a, const FRAME: usize = 1514, const DEPTH: usize = 64> {
    wire: RefCell<Wire<'a, FRAME, DEPTH>>,
    /// The client host ([`Host::CLIENT`]).
    pub client: AsyncStack<'a>,
    /// The server host ([`Host::SERVER`]).
    pub server: AsyncStack<'a>,
    now: Cell<Instant>,
}

impl<'a, const FRAME: usize, const DEPTH: usize> AsyncTestbed<'a, FRAME, DEPTH> {
    /// A client and a server stack on a fresh wire, at time zero.
    pub fn new<const C: usize, const CT: usize, const S: usize, const ST: usize>(
        client: &'a mut StackStorage<'a, C, CT>,
        server: &'a mut StackStorage<'a, S, ST>,
    ) -> Self {
        let mut wire = Wire::new();
        let now = Instant::ZERO;
        let client = Stack::new(Host::CLIENT, &mut wire.port(End::A), client, now);
        let server = Stack::new(Host::SERVER, &mut wire.port(End::B), server, now);
        AsyncTestbed {
            wire: RefCell::new(wire),
            client: AsyncStack::new(client),
            server: AsyncStack::new(server),
            now: Cell::new(now),
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now.get()
    }

    /// Poll both stacks at the current instant until no frame is in flight.
    fn settle(&self) {
        let now = self.now.get();
        let Ok(mut wire) = self.wire.try_borrow_mut() else {
            return;
        };
        for _ in 0..SETTLE_ROUNDS {
            let a = self.client.poll(now, &mut wire.port(End::A));
            let b = self.server.poll(now, &mut wire.port(End::B));
            if !a && !b && !wire.any_due_by(now) {
                return;
            }
        }
    }

    /// The runner of both stacks (see the module docs). It returns only when nothing is
    /// left to happen ([`RunError::Stalled`]) or the program's tasks act at every turn
    /// without ever waiting ([`RunError::Busy`]); a program that finishes ends it first.
    pub async fn run(&self) -> RunError {
        let mut turns_here = 0;
        loop {
            self.settle();
            let before = self.client.activity() + self.server.activity();
            yield_now().await;
            self.settle();
            let acted = self.client.activity() + self.server.activity() != before;
            if acted {
                turns_here += 1;
                if turns_here >= BUSY_TURNS {
                    return RunError::Busy { at: self.now() };
                }
                continue;
            }
            turns_here = 0;
            let now = self.now.get();
            // A stack deadline now or past moves the clock by 1 ms at least; a frame
            // falls due exactly when it does.
            let stacks = [self.client.poll_at(), self.server.poll_at()]
                .into_iter()
                .flatten()
                .min()
                .map(|t| t.max(later(now, Duration::from_millis(1))));
            let frames = self.wire.try_borrow().ok().and_then(|w| w.next_due());
            let Some(next) = [stacks, frames].into_iter().flatten().min() else {
                return RunError::Stalled { at: self.now() };
            };
            self.now.set(next);
        }
    }
}
