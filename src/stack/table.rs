//! The socket table: what the stack knows about each socket beyond smoltcp's own state.
//!
//! A kernel keeps a table of open files, indexed by descriptor, and each entry says who
//! holds the socket and how its last connection ended. smoltcp's `SocketSet` holds the
//! sockets and nothing else, so this table runs beside it, one [`Slot`] per socket:
//!
//! * who owns the socket ([`Owner`]: the program, or a listener's pool in one of its
//!   phases), and a **generation** that moves whenever the slot is given to someone new,
//!   so that a stale descriptor ([`SocketId`]) finds `EBADF`, never another connection;
//! * the last TCP state seen, and how the last connection ended ([`Outcome`]);
//! * the timers the program set (`settimeout`, the idle timeout) and the connect deadline;
//! * byte counts, and for a listener's socket, its port.
//!
//! This module is the only one that writes a slot: every change of owner, generation,
//! timer or state is a method here. A state change is turned into lifecycle events by
//! the pure function [`lifecycle::transition`](super::lifecycle::transition).
//!
//! Time sums saturate ([`later`]): a timeout of `Duration::MAX` is "never", not a wrap.

use core::fmt;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::State;
use smoltcp::time::{Duration, Instant};

use super::lifecycle::{self, Lifecycle, Outcome};

/// Who owns a socket slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A UDP socket, owned by the program.
    Udp,
    /// A TCP socket the program created with `TcpSocket::new`.
    Client,
    /// A listener's socket, idle (CLOSED) and ready to be armed.
    Spare,
    /// A listener's socket that is listening, or holds a connection not yet accepted.
    Listening,
    /// A listener's socket handed to the program by `accept`.
    Accepted,
    /// A listener's socket the program closed; it returns to the listener once CLOSED.
    Released,
}

impl Owner {
    /// A socket of a listener's pool, not (or no longer) the program's.
    pub(crate) fn is_pool(self) -> bool {
        matches!(self, Owner::Listening | Owner::Released | Owner::Spare)
    }
}

/// Error returned when a socket cannot be created: the stack's table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// Every slot of the [`StackStorage`](super::StackStorage) is in use (`EMFILE`).
    NoSlot,
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::NoSlot => write!(f, "no free socket slot in the stack storage"),
        }
    }
}

impl core::error::Error for SocketError {}

/// A reference to one slot of a stack's table, valid for one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketId {
    pub(crate) index: u8,
    pub(crate) generation: u16,
}

/// `at + by`, saturating: a deadline that would overflow is "never" in practice.
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    let by = i64::try_from(by.total_micros()).unwrap_or(i64::MAX);
    Instant::from_micros(at.total_micros().saturating_add(by))
}

/// One entry of the socket table (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    handle: Option<SocketHandle>,
    generation: u16,
    owner: Owner,
    state: State,
    outcome: Option<Outcome>,
    read_shut: bool,
    recv_timeout: Option<Duration>,
    waiting_since: Option<Instant>,
    idle_timeout: Option<Duration>,
    last_activity: Instant,
    connect_deadline: Option<Instant>,
    bytes_in: u64,
    bytes_out: u64,
    /// For a listener's socket: the port it listens on.
    port: u16,
}

impl Slot {
    pub(crate) const EMPTY: Slot = Slot {
        handle: None,
        generation: 0,
        owner: Owner::Spare,
        state: State::Closed,
        outcome: None,
        read_shut: false,
        recv_timeout: None,
        waiting_since: None,
        idle_timeout: None,
        last_activity: Instant::ZERO,
        connect_deadline: None,
        bytes_in: 0,
        bytes_out: 0,
        port: 0,
    };

    // ---- reading ----------------------------------------------------------------------

    pub(crate) fn handle(&self) -> Option<SocketHandle> {
        self.handle
    }
    pub(crate) fn generation(&self) -> u16 {
        self.generation
    }
    pub(crate) fn owner(&self) -> Owner {
        self.owner
    }
    /// The TCP state seen last (current after every call that observed the socket).
    pub(crate) fn state(&self) -> State {
        self.state
    }
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }
    pub(crate) fn read_shut(&self) -> bool {
        self.read_shut
    }
    pub(crate) fn recv_timeout(&self) -> Option<Duration> {
        self.recv_timeout
    }
    pub(crate) fn last_activity(&self) -> Instant {
        self.last_activity
    }
    /// Bytes received and sent on the current connection.
    pub(crate) fn byte_counts(&self) -> (u64, u64) {
        (self.bytes_in, self.bytes_out)
    }

    /// The connect deadline, while the handshake is under way.
    fn connect_due(&self) -> Option<Instant> {
        self.connect_deadline
            .filter(|_| self.state == State::SynSent)
    }

    /// When the idle timeout fires, in a state it polices.
    fn idle_due(&self) -> Option<Instant> {
        self.idle_timeout
            .filter(|_| is_idle_policed(self.state))
            .map(|idle| later(self.last_activity, idle))
    }

    /// The earliest of this slot's timers: connect, `settimeout` on a waiting `recv`,
    /// idle.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let recv = match (self.waiting_since, self.recv_timeout) {
            (Some(since), Some(timeout)) => Some(later(since, timeout)),
            _ => None,
        };
        [self.connect_deadline, recv, self.idle_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The connect or idle timer that must fire by itself (not on a call of the
    /// program), if any.
    pub(crate) fn next_watch_deadline(&self) -> Option<Instant> {
        [self.connect_due(), self.idle_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether `connect`'s deadline passed during the handshake.
    pub(crate) fn connect_expired(&self, now: Instant) -> bool {
        self.connect_due().is_some_and(|d| now >= d)
    }

    /// The idle timeout, if it expired.
    pub(crate) fn idle_expired(&self, now: Instant) -> Option<Duration> {
        self.idle_due().filter(|&d| now >= d).and(self.idle_timeout)
    }

    // ---- changes ----------------------------------------------------------------------

    /// The slot now holds `handle` for `owner` (on a listener's `port`).
    fn occupy(&mut self, handle: SocketHandle, owner: Owner, port: u16, now: Instant) {
        *self = Slot {
            handle: Some(handle),
            generation: self.generation,
            owner,
            last_activity: now,
            port,
            ..Slot::EMPTY
        };
    }

    /// Forget the previous connection's outcome and timers (not the settings).
    fn begin_connection(&mut self, now: Instant) {
        self.outcome = None;
        self.read_shut = false;
        self.waiting_since = None;
        self.last_activity = now;
        self.connect_deadline = None;
        self.bytes_in = 0;
        self.bytes_out = 0;
    }

    /// `connect` was called: the handshake must finish within `timeout`.
    pub(crate) fn start_connect(&mut self, now: Instant, timeout: Duration) {
        self.begin_connection(now);
        self.connect_deadline = Some(later(now, timeout));
    }

    /// A listener's armed socket: LISTEN, on the listener's port.
    pub(crate) fn arm(&mut self, now: Instant) {
        self.owner = Owner::Listening;
        self.outcome = None;
        self.state = State::Listen;
        self.last_activity = now;
    }

    /// A pending connection died before `accept` took it: the socket is spare again.
    pub(crate) fn orphan(&mut self) {
        self.owner = Owner::Spare;
    }

    /// `accept` hands the connection to the program.
    pub(crate) fn accept(&mut self, now: Instant) {
        self.owner = Owner::Accepted;
        self.begin_connection(now);
    }

    /// The program closed an accepted socket: it returns to the pool once CLOSED.
    /// Returns whether it was the program's.
    pub(crate) fn release(&mut self) -> bool {
        let was_accepted = self.owner == Owner::Accepted;
        if was_accepted {
            self.owner = Owner::Released;
        }
        was_accepted
    }

    /// A released socket reached CLOSED: back to the pool, and every descriptor of it is
    /// stale from now on.
    pub(crate) fn retire(&mut self) {
        self.owner = Owner::Spare;
        self.generation = self.generation.wrapping_add(1);
    }

    /// The program closed the socket for good: every descriptor of it is stale.
    pub(crate) fn invalidate(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// How the connection ended (an abort, a timeout), before smoltcp's state says so.
    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }

    /// `shutdown(SHUT_RD)`.
    pub(crate) fn shut_read(&mut self) {
        self.read_shut = true;
    }

    /// `settimeout(t)`.
    pub(crate) fn set_recv_timeout(&mut self, timeout: Option<Duration>) {
        self.recv_timeout = timeout;
        self.waiting_since = None;
    }

    /// The idle timeout, counted from `now`.
    pub(crate) fn set_idle_timeout(&mut self, timeout: Option<Duration>, now: Instant) {
        self.idle_timeout = timeout;
        self.last_activity = now;
    }

    /// `recv` found nothing at `now`: start (or go on) waiting. Returns `true` when the
    /// `settimeout` time has passed (and the wait starts over).
    pub(crate) fn recv_waits(&mut self, now: Instant) -> bool {
        let since = *self.waiting_since.get_or_insert(now);
        match self.recv_timeout {
            Some(t) if now >= later(since, t) => {
                self.waiting_since = None;
                true
            }
            _ => false,
        }
    }

    /// `recv` returned `n` bytes at `now`.
    pub(crate) fn received(&mut self, n: usize, now: Instant) {
        self.waiting_since = None;
        self.last_activity = now;
        self.bytes_in = self.bytes_in.saturating_add(n as u64);
    }

    /// `send` queued `n` bytes at `now`.
    pub(crate) fn sent(&mut self, n: usize, now: Instant) {
        self.last_activity = now;
        self.bytes_out = self.bytes_out.saturating_add(n as u64);
    }

    /// smoltcp says the socket is in `new` at `now`: record it, and return what the
    /// change means (events, how the connection ended), or `None` if nothing changed.
    pub(crate) fn observe(&mut self, new: State, now: Instant) -> Option<Lifecycle> {
        let old = self.state;
        if old == new {
            return None;
        }
        let change = lifecycle::transition(old, new, self.outcome);
        self.state = new;
        self.last_activity = now;
        if new != State::SynSent {
            self.connect_deadline = None;
        }
        if change.outcome.is_some() {
            self.outcome = change.outcome;
        }
        Some(change)
    }
}

/// States in which a connection can hang on a silent peer, so the idle timeout applies.
/// (TIME-WAIT ends by itself; LISTEN and CLOSED have no peer.)
fn is_idle_policed(state: State) -> bool {
    !matches!(state, State::Closed | State::Listen | State::TimeWait)
}

/// The slots of one stack, on caller storage.
pub(crate) struct SocketTable<'a> {
    slots: &'a mut [Slot],
    used: usize,
}

impl<'a> SocketTable<'a> {
    pub(crate) fn new(slots: &'a mut [Slot]) -> Self {
        SocketTable { slots, used: 0 }
    }

    /// Slots in all, and slots taken.
    pub(crate) fn capacity(&self) -> (usize, usize) {
        (self.slots.len(), self.used)
    }

    /// Whether a slot is free for a new socket.
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.slots.len() - self.used >= n
    }

    /// Record `handle` in a free slot.
    pub(crate) fn insert(
        &mut self,
        handle: SocketHandle,
        owner: Owner,
        port: u16,
        now: Instant,
    ) -> Result<SocketId, SocketError> {
        let index = self
            .slots
            .iter()
            .position(|s| s.handle.is_none())
            .ok_or(SocketError::NoSlot)?;
        let slot = &mut self.slots[index];
        slot.occupy(handle, owner, port, now);
        self.used += 1;
        Ok(SocketId {
            index: index as u8,
            generation: slot.generation,
        })
    }

    /// The first free slot's index, if any.
    pub(crate) fn free_index(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.handle.is_none())
    }

    /// The slot `id` names, if `id` is still current.
    pub(crate) fn get_mut(&mut self, id: SocketId) -> Option<&mut Slot> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation && s.handle.is_some())
    }

    /// Slot `index`, whatever its generation (for listeners, which own their slots).
    pub(crate) fn at_mut(&mut self, index: u8) -> Option<&mut Slot> {
        self.slots.get_mut(index as usize)
    }

    /// Every slot, with its index.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u8, &mut Slot)> {
        self.slots.iter_mut().enumerate().map(|(i, s)| (i as u8, s))
    }

    /// Every slot.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter()
    }

    /// A read-only view, for the gate.
    pub(crate) fn view(&self) -> TableView<'_> {
        TableView { slots: self.slots }
    }
}

/// The table seen read-only, while smoltcp polls (the SYN gate counts LISTEN sockets).
#[derive(Clone, Copy)]
pub(crate) struct TableView<'t> {
    slots: &'t [Slot],
}

impl TableView<'_> {
    /// How many of a listener's sockets on `port` are in LISTEN, by the last-seen states
    /// (current between polls: every call of the program observes what it touches).
    pub(crate) fn listening(&self, port: u16) -> u16 {
        self.slots
            .iter()
            .filter(|s| s.owner == Owner::Listening && s.state == State::Listen && s.port == port)
            .count() as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_as_large_as_the_docs_say() {
        // StackStorage's docs: 112 bytes on a 64-bit host.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<Slot>(), 112);
    }

    #[test]
    fn time_sums_saturate() {
        let now = Instant::from_secs(5);
        assert_eq!(later(now, Duration::MAX).total_micros(), i64::MAX);
        assert_eq!(later(now, Duration::from_secs(1)), Instant::from_secs(6));
        let mut slot = Slot::EMPTY;
        slot.set_recv_timeout(Some(Duration::MAX));
        assert!(
            !slot.recv_waits(now),
            "a huge timeout never expires at once"
        );
        assert!(!slot.recv_waits(Instant::from_micros(i64::MAX - 1)));
        slot.set_idle_timeout(Some(Duration::MAX), now);
        slot.state = State::Established;
        assert_eq!(slot.idle_expired(Instant::from_micros(i64::MAX - 1)), None);
        slot.start_connect(now, Duration::MAX);
        slot.state = State::SynSent;
        assert!(!slot.connect_expired(Instant::from_micros(i64::MAX - 1)));
    }

    #[test]
    fn recv_timeout_fires_after_the_set_time_and_starts_over() {
        let mut slot = Slot::EMPTY;
        slot.set_recv_timeout(Some(Duration::from_secs(5)));
        assert!(!slot.recv_waits(Instant::from_secs(1)));
        assert_eq!(slot.next_deadline(), Some(Instant::from_secs(6)));
        assert!(!slot.recv_waits(Instant::from_millis(5_999)));
        assert!(slot.recv_waits(Instant::from_secs(6)));
        assert_eq!(slot.next_deadline(), None, "the wait starts over");
    }

    #[test]
    fn a_released_socket_retires_with_a_new_generation() {
        let mut slot = Slot::EMPTY;
        slot.arm(Instant::ZERO);
        slot.accept(Instant::ZERO);
        assert!(slot.release());
        assert!(!slot.release(), "closing twice releases once");
        let generation = slot.generation();
        slot.retire();
        assert_eq!(slot.owner(), Owner::Spare);
        assert_ne!(slot.generation(), generation);
    }
}
