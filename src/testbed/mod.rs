//! Two hosts on an in-memory wire, driven by a virtual clock.
//!
//! A test of a network protocol wants two things a real network does not give: the same
//! result on every run, and no waiting. The testbed gives both. A client stack and a
//! server stack share a [`Wire`]; time is an [`Instant`] the testbed owns, and it moves
//! only when nothing else can happen:
//!
//! 1. [`settle`](Testbed::settle) polls both stacks in turn, at the current instant, until
//!    no frame is in flight and neither stack has anything more to say;
//! 2. the program (services, clients, a test) gets its turn;
//! 3. if that did not put anything on the wire, [`advance`](Testbed::advance) jumps the
//!    clock to the earliest deadline either stack has (a delayed ACK, a retransmission, a
//!    `settimeout`, TIME-WAIT...) or to the next frame's arrival, when the wire has a
//!    [`Link`](crate::phy::Link) with latency: a 100 ms link costs no wall time either.
//!
//! So a frame is never left sitting in a queue while the clock runs (smoltcp's loopback
//! example does that, and retransmits needlessly), and a test that waits through
//! TIME-WAIT's 10 seconds takes microseconds. [`run`](Testbed::run) is that loop.
//!
//! More than two hosts: a [`Network`] runs `N` stacks on a [`Switch`](crate::phy::Switch)
//! the same way.
//!
//! # Your own protocol on a bad network
//!
//! The wire's [`Link`](crate::phy::Link) gives each direction latency, jitter, loss,
//! duplication, reordering and a bandwidth limit, and [`Wire::add_rule`] loses or holds
//! chosen frames; the program under test is whatever the `run` closure does. Here a
//! protocol of your own, a sensor that answers `TEMP?` with `TEMP 21` over UDP, with a
//! client that asks again every 250 ms until it hears back, on a link of 80 ms each way
//! that loses a third of the frames:
//!
//! ```
//! use sockless::phy::{Chance, End, Link, Wire};
//! use sockless::smoltcp::time::{Duration, Instant};
//! use sockless::smoltcp::wire::IpEndpoint;
//! use sockless::{Host, StackStorage, Testbed, UdpBuffers, UdpSocket};
//!
//! let mut wire = Wire::new();
//! wire.set_links(Link::IDEAL.latency(Duration::from_millis(80)).drop(Chance::percent(33)));
//! wire.set_seed(7); // the same losses on every run
//! let (mut c, mut s) = (StackStorage::<1>::new(), StackStorage::<1>::new());
//! let mut tb: Testbed =
//!     Testbed::with_wire(wire, Host::CLIENT, &mut c, Host::SERVER, &mut s);
//!
//! let (mut sb, mut cb) = (UdpBuffers::<2, 256>::new(), UdpBuffers::<2, 256>::new());
//! let mut sensor = UdpSocket::bind(&mut tb.server, 5000, &mut sb).unwrap();
//! let mut asker = UdpSocket::bind(&mut tb.client, 0, &mut cb).unwrap();
//! let to = IpEndpoint::new(Host::SERVER.ipv4_addr(), 5000);
//!
//! // The client asks, then lets the network (and the sensor) run for 250 ms; again
//! // until it hears back. `run_for` moves the clock even with nothing in flight.
//! let (mut asked, mut answer) = (0, None);
//! while answer.is_none() && asked < 40 {
//!     // (While the server's Ethernet address is unknown, the stack keeps the
//!     // datagrams, and a full buffer refuses one more: then it only waits.)
//!     if asker.sendto(&mut tb.client, b"TEMP?", to).is_ok() {
//!         asked += 1;
//!     }
//!     tb.run_for(Duration::from_millis(250), |client, server| {
//!         // The sensor: answer every question.
//!         let mut buf = [0u8; 64];
//!         while let Ok((n, from)) = sensor.recvfrom(server, &mut buf) {
//!             if &buf[..n] == b"TEMP?" {
//!                 let _ = sensor.sendto(server, b"TEMP 21", from);
//!             }
//!         }
//!         if let Ok((n, _)) = asker.recvfrom(client, &mut buf) {
//!             answer.get_or_insert((buf[..n].to_vec(), client.now()));
//!         }
//!     })
//!     .unwrap();
//! }
//!
//! let (reply, at) = answer.unwrap();
//! assert_eq!(reply, b"TEMP 21");
//! // Every exchange costs a round trip of 160 ms at least, and this link lost some.
//! assert!(at >= Instant::from_millis(160));
//! assert!(asked > 1, "the client had to ask again");
//! let lost = tb.wire.stats(End::A).dropped_fault + tb.wire.stats(End::B).dropped_fault;
//! assert!(lost > 0);
//! println!("answered at {at} after {asked} questions; {lost} frames lost");
//! ```
//!
//! The client's own timer is not one the testbed knows of, so the client does not wait
//! inside [`run`](Testbed::run) (with nothing in flight and no socket deadline, that would
//! end in [`RunError::Stalled`]): [`run_for`](Testbed::run_for) lets a stretch of virtual
//! time pass, jumping from one frame arrival or stack deadline to the next.

use smoltcp::time::{Duration, Instant};

#[cfg(feature = "async")]
mod async_testbed;
mod network;
mod run_error;

#[cfg(feature = "async")]
pub use async_testbed::AsyncTestbed;
pub use network::Network;
pub use run_error::{BUSY_TURNS, RunError, SETTLE_ROUNDS};

use crate::phy::{End, Wire};
use crate::socket::{Blocking, StackAccess};
use crate::stack::{Host, Stack, StackStorage, later};

/// What one turn of a run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The program said it is done.
    Done,
    /// Something happened: go again at the same instant.
    Again,
    /// Nothing happened: the clock may move.
    Idle,
}

/// A client and a server stack on one wire, with a virtual clock.
pub struct Testbed<'a, const FRAME: usize = 1514, const DEPTH: usize = 64> {
    /// The link between them.
    pub wire: Wire<'a, FRAME, DEPTH>,
    /// The client host ([`Host::CLIENT`] by default), on end A of the wire.
    pub client: Stack<'a>,
    /// The server host ([`Host::SERVER`] by default), on end B of the wire.
    pub server: Stack<'a>,
    now: Instant,
    busy_turns: u32,
    /// Each stack's activity count and the clock at its last poll.
    client_polled: (u64, Instant),
    server_polled: (u64, Instant),
}

impl<'a, const FRAME: usize, const DEPTH: usize> Testbed<'a, FRAME, DEPTH> {
    /// The usual pair: [`Host::CLIENT`] and [`Host::SERVER`], checksums on, time zero.
    pub fn new<const C: usize, const CT: usize, const S: usize, const ST: usize>(
        client: &'a mut StackStorage<'a, C, CT>,
        server: &'a mut StackStorage<'a, S, ST>,
    ) -> Self {
        Self::with_wire(Wire::new(), Host::CLIENT, client, Host::SERVER, server)
    }

    /// A pair of any two hosts on a given wire.
    pub fn with_wire<const C: usize, const CT: usize, const S: usize, const ST: usize>(
        mut wire: Wire<'a, FRAME, DEPTH>,
        client_host: Host,
        client: &'a mut StackStorage<'a, C, CT>,
        server_host: Host,
        server: &'a mut StackStorage<'a, S, ST>,
    ) -> Self {
        let now = Instant::ZERO;
        let client = Stack::new(client_host, &mut wire.port(End::A), client, now);
        let server = Stack::new(server_host, &mut wire.port(End::B), server, now);
        Testbed {
            wire,
            client,
            server,
            now,
            busy_turns: BUSY_TURNS,
            client_polled: (u64::MAX, now),
            server_polled: (u64::MAX, now),
        }
    }

    /// How many turns [`run`](Self::run) allows at one instant ([`BUSY_TURNS`] by
    /// default) before [`RunError::Busy`].
    pub fn set_busy_turns(&mut self, turns: u32) {
        self.busy_turns = turns;
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Poll both stacks at the current instant until the wire is empty and neither has
    /// anything more to do. Returns whether anything happened.
    pub fn settle(&mut self) -> bool {
        let mut anything = false;
        // A poll takes in what arrived and flushes every socket's output, so a stack needs
        // polling only when frames wait for it, when the program did something to it
        // (its activity count moved), or when the clock moved (timers).
        for _ in 0..SETTLE_ROUNDS {
            let a = self.needs_poll(End::A) && {
                let changed = self.client.poll(self.now, &mut self.wire.port(End::A));
                self.client_polled = (self.client.activity(), self.now);
                changed
            };
            let b = self.needs_poll(End::B) && {
                let changed = self.server.poll(self.now, &mut self.wire.port(End::B));
                self.server_polled = (self.server.activity(), self.now);
                changed
            };
            if !a && !b && !self.wire.any_due_by(self.now) {
                return anything;
            }
            anything = true;
        }
        log::warn!("testbed: stacks still busy after {SETTLE_ROUNDS} rounds");
        anything
    }

    fn needs_poll(&self, end: End) -> bool {
        let (stack, polled) = match end {
            End::A => (&self.client, self.client_polled),
            End::B => (&self.server, self.server_polled),
        };
        self.wire.due_by(end, self.now) || polled != (stack.activity(), self.now)
    }

    /// The earliest deadline of either stack, or the next frame due on the wire.
    fn next_deadline(&mut self) -> Option<Instant> {
        let stacks = match (self.client.poll_at(), self.server.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(t), None) | (None, Some(t)) => Some(t),
            (None, None) => None,
        };
        // A stack deadline in the past (or now) means "poll now": move by at least 1 ms
        // so a busy deadline cannot spin the loop at one instant. A frame is due when
        // it is due.
        let stacks = stacks.map(|t| t.max(later(self.now, Duration::from_millis(1))));
        match (stacks, self.wire.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Jump the clock to the next deadline (a stack's, or a frame's arrival), but not
    /// past `cap`. Returns `false` (and leaves the clock alone) if there is no deadline
    /// before `cap`.
    fn advance_until(&mut self, cap: Option<Instant>) -> bool {
        let Some(next) = self.next_deadline() else {
            return match cap {
                Some(cap) if cap > self.now => {
                    self.now = cap;
                    true
                }
                _ => false,
            };
        };
        // Never backwards (a frame released late is due "in the past": now).
        let next = next.max(self.now);
        self.now = cap.map_or(next, |cap| next.min(cap));
        true
    }

    /// Jump the clock to the next deadline: the earliest of either stack's, or the next
    /// frame's arrival on the wire. Returns `false` (and leaves the clock alone) if there
    /// is none.
    pub fn advance(&mut self) -> bool {
        self.advance_until(None)
    }

    /// Let `by` of virtual time pass with the network running (and nobody else): a
    /// pause in the program. Stops exactly at `now + by`.
    pub fn sleep(&mut self, by: Duration) {
        // Without a program, only the stacks act, and they always fall quiet.
        let _ = self.run_for(by, |_, _| {});
    }

    /// Run the network and `step` for `by` of virtual time: like [`run`](Self::run),
    /// but the clock stops exactly at `now + by` instead of jumping past it. Fails only
    /// with [`RunError::Busy`].
    pub fn run_for<F>(&mut self, by: Duration, mut step: F) -> Result<(), RunError>
    where
        F: FnMut(&mut Stack<'a>, &mut Stack<'a>),
    {
        let end = later(self.now, by);
        let mut step = |c: &mut Stack<'a>, s: &mut Stack<'a>| {
            step(c, s);
            false
        };
        let mut turns_here = 0;
        loop {
            if self.turn(&mut step, &mut turns_here)? == Turn::Idle
                && (self.now >= end || !self.advance_until(Some(end)))
            {
                return Ok(());
            }
        }
    }

    /// Run the network and `step` until `step` returns `true` (done).
    ///
    /// `step` gets both stacks after every settle: it is where services poll and clients
    /// make progress. Fails if `limit` of virtual time passes first, or if nothing can
    /// happen any more.
    pub fn run<F>(&mut self, limit: Duration, mut step: F) -> Result<(), RunError>
    where
        F: FnMut(&mut Stack<'a>, &mut Stack<'a>) -> bool,
    {
        let deadline = later(self.now, limit);
        let mut turns_here = 0;
        loop {
            match self.turn(&mut step, &mut turns_here)? {
                // What `step` did last reaches the wire at the next call: every call on
                // the testbed starts by settling.
                Turn::Done => return Ok(()),
                Turn::Again => {}
                Turn::Idle => {
                    if !self.advance() {
                        return Err(RunError::Stalled { at: self.now });
                    }
                    if self.now > deadline {
                        return Err(RunError::TimeLimit { at: self.now });
                    }
                }
            }
        }
    }

    /// One turn: settle, let `step` act, settle. `Again` if anything happened (count it
    /// against the busy limit), `Idle` if the clock may move.
    fn turn<F>(&mut self, step: &mut F, turns_here: &mut u32) -> Result<Turn, RunError>
    where
        F: FnMut(&mut Stack<'a>, &mut Stack<'a>) -> bool,
    {
        self.settle();
        let before = self.client.activity() + self.server.activity();
        if step(&mut self.client, &mut self.server) {
            return Ok(Turn::Done);
        }
        let acted = self.client.activity() + self.server.activity() != before;
        if self.settle() || acted {
            *turns_here += 1;
            if *turns_here >= self.busy_turns {
                return Err(RunError::Busy { at: self.now });
            }
            return Ok(Turn::Again);
        }
        *turns_here = 0;
        Ok(Turn::Idle)
    }
}

/// A blocking call on the client (`embedded-io`'s `read`, say) cannot return to a
/// [`Testbed::run`] loop to let the network move; so [`ClientSide`] moves it for the call:
/// each [`wait`](Blocking::wait) is one turn of the testbed (both stacks polled, the
/// server's program run once), and when nothing happens at this instant, the virtual clock
/// jumps to the next deadline, as in `run`: the stacks' or the call's own, whichever
/// comes first, and never past the side's limit (as [`run_for`](Testbed::run_for)), so
/// a `settimeout` of `Duration::MAX` leaves the clock where the testbed can go on.
///
/// The client's side of a testbed, with the server's program.
pub struct ClientSide<'t, 'a, F, const FRAME: usize, const DEPTH: usize> {
    testbed: &'t mut Testbed<'a, FRAME, DEPTH>,
    server: F,
    deadline: Instant,
    turns_here: u32,
}

impl<'a, const FRAME: usize, const DEPTH: usize> Testbed<'a, FRAME, DEPTH> {
    /// The client's stack for blocking calls, with `server` as the server's program (run
    /// once a turn while a call waits). A wait gives up (`false`) once the virtual clock
    /// reaches `limit` from now (it never moves past it), or when nothing is left to happen.
    pub fn client_side<F: FnMut(&mut Stack<'a>)>(
        &mut self,
        limit: Duration,
        server: F,
    ) -> ClientSide<'_, 'a, F, FRAME, DEPTH> {
        let deadline = later(self.now, limit);
        ClientSide {
            testbed: self,
            server,
            deadline,
            turns_here: 0,
        }
    }
}

impl<'a, F: FnMut(&mut Stack<'a>), const FRAME: usize, const DEPTH: usize> StackAccess<'a>
    for ClientSide<'_, 'a, F, FRAME, DEPTH>
{
    fn stack(&mut self) -> &mut Stack<'a> {
        &mut self.testbed.client
    }
}

impl<'a, F: FnMut(&mut Stack<'a>), const FRAME: usize, const DEPTH: usize> Blocking<'a>
    for ClientSide<'_, 'a, F, FRAME, DEPTH>
{
    fn wait(&mut self, until: Option<Instant>) -> bool {
        let server = &mut self.server;
        let mut step = |_: &mut Stack<'a>, s: &mut Stack<'a>| {
            server(s);
            false
        };
        let before = self.testbed.client.activity() + self.testbed.server.activity();
        match self.testbed.turn(&mut step, &mut self.turns_here) {
            Err(_) => false,
            Ok(Turn::Done | Turn::Again) => true,
            // Something happened at this instant (a frame delivered): look again first.
            Ok(Turn::Idle)
                if self.testbed.client.activity() + self.testbed.server.activity() != before =>
            {
                true
            }
            Ok(Turn::Idle) => {
                let now = self.testbed.now;
                if now >= self.deadline
                    || (until.is_none() && self.testbed.next_deadline().is_none())
                {
                    return false;
                }
                let cap = until.map_or(self.deadline, |until| until.min(self.deadline));
                if cap <= now {
                    // The call's own deadline passed: it looks and gives up.
                    return true;
                }
                self.testbed.advance_until(Some(cap));
                // The stacks see the new time before the call looks again (a timeout
                // that just expired is then due).
                self.testbed.settle();
                true
            }
        }
    }
}

impl<F, const FRAME: usize, const DEPTH: usize> ClientSide<'_, '_, F, FRAME, DEPTH> {
    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.testbed.now
    }
}
