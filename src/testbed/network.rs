//! More than two hosts: `N` stacks on a [`Switch`], driven by the same virtual clock as
//! the two-host [`Testbed`](super::Testbed).
//!
//! A [`Network`] owns the switch and up to `N` stacks, added one by one with the host
//! each is ([`Network::add`]: its Ethernet and IP addresses) and its storage. Its loop is
//! the testbed's: settle (poll every stack that has frames due or was acted on, until
//! none has anything more to say), let the program act, and when nothing happens, jump the
//! clock to the earliest stack deadline or frame arrival. A test with two clients and a
//! server, one of them cut off mid-transfer, runs in microseconds of wall time.

use smoltcp::time::{Duration, Instant};

use super::run_error::{BUSY_TURNS, RunError, SETTLE_ROUNDS};
use crate::phy::{ETHERNET_FRAME, Switch};
use crate::stack::{Host, Stack, StackStorage, later};

/// `N` stacks on a switch, with a virtual clock.
pub struct Network<'a, const N: usize, const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64>
{
    /// The switch joining them: links, cuts and counters per port.
    pub switch: Switch<N, FRAME, DEPTH>,
    stacks: heapless::Vec<Stack<'a>, N>,
    /// Each stack's activity count and the clock at its last poll.
    polled: [(u64, Instant); N],
    now: Instant,
    busy_turns: u32,
}

impl<'a, const N: usize, const FRAME: usize, const DEPTH: usize> Default
    for Network<'a, N, FRAME, DEPTH>
{
    fn default() -> Self {
        Self::new(Switch::new())
    }
}

impl<'a, const N: usize, const FRAME: usize, const DEPTH: usize> Network<'a, N, FRAME, DEPTH> {
    /// A network of no hosts yet on `switch`, at time zero.
    pub fn new(switch: Switch<N, FRAME, DEPTH>) -> Self {
        Network {
            switch,
            stacks: heapless::Vec::new(),
            polled: [(u64::MAX, Instant::ZERO); N],
            now: Instant::ZERO,
            busy_turns: BUSY_TURNS,
        }
    }

    /// Plug a stack for `host` into the next free port; its port number (the index of
    /// its stack in [`stacks`](Self::stacks)), or `None` if all `N` are taken.
    pub fn add<const S: usize, const TW: usize>(
        &mut self,
        host: Host,
        storage: &'a mut StackStorage<'a, S, TW>,
    ) -> Option<usize> {
        let port = self.stacks.len();
        let stack = Stack::new(host, &mut self.switch.port(port)?, storage, self.now);
        self.stacks.push(stack).ok()?;
        Some(port)
    }

    /// The stacks, by port.
    pub fn stacks(&mut self) -> &mut [Stack<'a>] {
        &mut self.stacks
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many turns [`run`](Self::run) allows at one instant before
    /// [`RunError::Busy`].
    pub fn set_busy_turns(&mut self, turns: u32) {
        self.busy_turns = turns;
    }

    fn activity(&self) -> u64 {
        self.stacks
            .iter()
            .map(Stack::activity)
            .fold(0, u64::wrapping_add)
    }

    /// Poll the stacks at the current instant until no frame is due and none has
    /// anything more to do. Returns whether anything happened.
    pub fn settle(&mut self) -> bool {
        let mut anything = false;
        for _ in 0..SETTLE_ROUNDS {
            let mut changed = false;
            for (i, stack) in self.stacks.iter_mut().enumerate() {
                let stale = self.polled[i] != (stack.activity(), self.now);
                if !stale && !self.switch.due_by(i, self.now) {
                    continue;
                }
                if let Some(mut port) = self.switch.port(i) {
                    changed |= stack.poll(self.now, &mut port);
                }
                self.polled[i] = (stack.activity(), self.now);
            }
            if !changed && !self.switch.any_due_by(self.now) {
                return anything;
            }
            anything = true;
        }
        log::warn!("network: stacks still busy after {SETTLE_ROUNDS} rounds");
        anything
    }

    /// The earliest stack deadline (at least 1 ms ahead) or frame arrival.
    fn next_deadline(&mut self) -> Option<Instant> {
        let floor = later(self.now, Duration::from_millis(1));
        let stacks = self
            .stacks
            .iter_mut()
            .filter_map(|s| s.poll_at())
            .min()
            .map(|t| t.max(floor));
        match (stacks, self.switch.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(|t| t.max(self.now))
    }

    /// Jump the clock to the next stack deadline or frame arrival. False if there is
    /// none.
    pub fn advance(&mut self) -> bool {
        match self.next_deadline() {
            Some(next) => {
                self.now = next;
                true
            }
            None => false,
        }
    }

    /// Run the network and `step` (which gets every stack, by port) until `step` returns
    /// `true`. Fails if `limit` of virtual time passes first, if nothing can happen any
    /// more, or if the stacks stay busy at one instant.
    pub fn run<F>(&mut self, limit: Duration, mut step: F) -> Result<(), RunError>
    where
        F: FnMut(&mut [Stack<'a>]) -> bool,
    {
        let deadline = later(self.now, limit);
        let mut turns_here = 0;
        loop {
            self.settle();
            let before = self.activity();
            if step(&mut self.stacks) {
                return Ok(());
            }
            let acted = self.activity() != before;
            if self.settle() || acted {
                turns_here += 1;
                if turns_here >= self.busy_turns {
                    return Err(RunError::Busy { at: self.now });
                }
                continue;
            }
            turns_here = 0;
            if !self.advance() {
                return Err(RunError::Stalled { at: self.now });
            }
            if self.now > deadline {
                return Err(RunError::TimeLimit { at: self.now });
            }
        }
    }

    /// Run the network and `step` for `by` of virtual time; the clock stops exactly at
    /// `now + by`. Fails only with [`RunError::Busy`].
    pub fn run_for<F>(&mut self, by: Duration, mut step: F) -> Result<(), RunError>
    where
        F: FnMut(&mut [Stack<'a>]),
    {
        let end = later(self.now, by);
        let mut turns_here = 0;
        loop {
            self.settle();
            let before = self.activity();
            step(&mut self.stacks);
            let acted = self.activity() != before;
            if self.settle() || acted {
                turns_here += 1;
                if turns_here >= self.busy_turns {
                    return Err(RunError::Busy { at: self.now });
                }
                continue;
            }
            turns_here = 0;
            if self.now >= end {
                return Ok(());
            }
            self.now = self.next_deadline().map_or(end, |next| next.min(end));
        }
    }
}
