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
use smoltcp::wire::IpEndpoint;

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
    /// An accepted socket whose listener was closed: still the program's.
    Detached,
    /// A socket of a closed listener that the program closed too: it leaves the stack once
    /// CLOSED (or in TIME-WAIT, to a record).
    Orphan,
}

impl Owner {
    /// A socket of a listener's pool, not (or no longer) the program's.
    pub(crate) fn is_pool(self) -> bool {
        matches!(self, Owner::Listening | Owner::Released | Owner::Spare)
    }

    /// A socket the program closed, finishing its connection on its own.
    pub(crate) fn is_closed_by_program(self) -> bool {
        matches!(self, Owner::Released | Owner::Orphan)
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

/// A reference to one slot of one stack's table, valid for one generation.
///
/// `stack` names the table (its address): a descriptor used with another stack finds
/// nothing (`EBADF`), never that stack's socket of the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketId {
    pub(crate) stack: usize,
    pub(crate) index: u8,
    pub(crate) generation: u16,
}

/// How long a connection the program closed may take to finish closing when nothing more
/// is heard from its peer (Linux's `tcp_fin_timeout` is 60 s too).
pub(crate) const ORPHAN_TIMEOUT: Duration = Duration::from_secs(60);

/// Where [`later`] saturates: a deadline there is "never" (a timeout of
/// `Duration::MAX`), not an instant to move a clock to.
pub(crate) const NEVER: Instant = Instant::from_micros_const(i64::MAX);

/// `at + by`, saturating: a deadline that would overflow is [`NEVER`].
///
/// Not inlined on bare metal: the saturating 64-bit sum is 40 bytes of Thumb code at each
/// of a dozen places (a host keeps it inlined, for speed).
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    let by = i64::try_from(by.total_micros()).unwrap_or(i64::MAX);
    Instant::from_micros(at.total_micros().saturating_add(by))
}

/// The earlier of two deadlines, either of which may be missing (`None`: never). Not
/// inlined on bare metal either (see [`later`]).
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// One entry of the socket table (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    handle: Option<SocketHandle>,
    generation: u16,
    owner: Owner,
    state: State,
    outcome: Option<Outcome>,
    /// `READ_SHUT`, `FIN_RECEIVED`, `RESET_REPORTED` (one byte: a slot is in every
    /// socket table).
    flags: u8,
    recv_timeout: Option<Duration>,
    waiting_since: Option<Instant>,
    idle_timeout: Option<Duration>,
    last_activity: Instant,
    connect_deadline: Option<Instant>,
    bytes_in: u64,
    bytes_out: u64,
    /// When the handshake finished, as a count of finished handshakes on this stack:
    /// `accept` takes the lowest first (the kernel's accept queue is first come, first
    /// served).
    ready_order: u32,
    /// The local port: a listener's, or a UDP socket's.
    port: u16,
    /// The peer, once a connection has one (for the gate: a SYN whose 4-tuple already
    /// has a socket must not take a second one).
    remote: Option<IpEndpoint>,
}

/// `shutdown(SHUT_RD)` was called: what arrives is thrown away.
const READ_SHUT: u8 = 1;
/// The peer's FIN came in this connection (a reset after it is Linux's `EPIPE`).
const FIN_RECEIVED: u8 = 2;
/// A reset was reported to the program once (`recv` or `send`), as Linux clears
/// `SO_ERROR` once it is returned: then `recv` is end of stream, `send` `EPIPE`.
const RESET_REPORTED: u8 = 4;

impl Slot {
    pub(crate) const EMPTY: Slot = Slot {
        handle: None,
        generation: 0,
        owner: Owner::Spare,
        state: State::Closed,
        outcome: None,
        flags: 0,
        recv_timeout: None,
        waiting_since: None,
        idle_timeout: None,
        last_activity: Instant::ZERO,
        connect_deadline: None,
        bytes_in: 0,
        bytes_out: 0,
        ready_order: 0,
        port: 0,
        remote: None,
    };

    // ---- reading ----------------------------------------------------------------------

    pub(crate) fn handle(&self) -> Option<SocketHandle> {
        self.handle
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
    /// How a reset shows to the program now (Linux): the first `recv` or `send` after
    /// it reports it (`true`, and it is reported from now on), later ones see the end of
    /// the stream and `EPIPE` (`false`); after the peer's FIN, always `false`.
    pub(crate) fn report_reset(&mut self) -> bool {
        let first = self.flags & (FIN_RECEIVED | RESET_REPORTED) == 0;
        self.flags |= RESET_REPORTED;
        first
    }

    pub(crate) fn read_shut(&self) -> bool {
        self.flags & READ_SHUT != 0
    }
    pub(crate) fn recv_timeout(&self) -> Option<Duration> {
        self.recv_timeout
    }
    /// The order in which the handshake finished (see the field).
    pub(crate) fn ready_order(&self) -> u32 {
        self.ready_order
    }
    /// Whether the program holds a descriptor of this slot (a client's or an accepted
    /// socket, a UDP socket): the only owners a descriptor may act on.
    pub(crate) fn is_programs(&self) -> bool {
        matches!(
            self.owner,
            Owner::Client | Owner::Accepted | Owner::Detached | Owner::Udp
        )
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

    /// The earliest of this slot's timers still ahead of `now`: connect, `settimeout` on
    /// a waiting `recv`, idle. A `recv` deadline that has passed no longer counts: it was
    /// due once, to wake the program, and only the program's next `recv` can act on it
    /// (counting it forever would make every sleep zero).
    pub(crate) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let recv = match (self.waiting_since, self.recv_timeout) {
            (Some(since), Some(timeout)) if timeout != Duration::ZERO => {
                Some(later(since, timeout)).filter(|&t| t > now)
            }
            _ => None,
        };
        earliest(earliest(self.connect_deadline, recv), self.idle_due())
    }

    /// The connect or idle timer that must fire by itself (not on a call of the
    /// program), if any.
    pub(crate) fn next_watch_deadline(&self) -> Option<Instant> {
        earliest(self.connect_due(), self.idle_due())
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
        self.flags = 0;
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

    /// A closed client socket handed to a new user (a socket layer that keeps closed
    /// sockets for reuse): none of the last user's settings, port or outcome, as a new
    /// socket.
    pub(crate) fn renew(&mut self, now: Instant) {
        self.recv_timeout = None;
        self.idle_timeout = None;
        self.port = 0;
        self.begin_connection(now);
    }

    /// A listener's armed socket: LISTEN, on the listener's port.
    pub(crate) fn arm(&mut self, now: Instant) {
        self.owner = Owner::Listening;
        self.outcome = None;
        self.flags &= !(FIN_RECEIVED | RESET_REPORTED);
        self.state = State::Listen;
        self.last_activity = now;
    }

    /// A pending connection died before `accept` took it: the socket is spare again.
    pub(crate) fn orphan(&mut self) {
        self.owner = Owner::Spare;
    }

    /// `accept` hands the connection to the program: a fresh descriptor, with none of
    /// the settings the previous connection of this socket had (Python's `accept()`
    /// returns a socket without a timeout).
    pub(crate) fn accept(&mut self, now: Instant) {
        self.owner = Owner::Accepted;
        self.recv_timeout = None;
        self.idle_timeout = None;
        self.begin_connection(now);
    }

    /// The listener went away: an accepted socket stays the program's, one the program
    /// closed finishes on its own; either leaves the stack at the end.
    pub(crate) fn detach(&mut self) {
        self.owner = match self.owner {
            Owner::Accepted => Owner::Detached,
            _ => Owner::Orphan,
        };
    }

    /// The program let go of a client socket it closed (an async stream dropped): it
    /// leaves the stack once CLOSED, its TIME-WAIT in a record, with an idle timeout
    /// against a peer that vanished meanwhile ([`ORPHAN_TIMEOUT`]). Returns whether it
    /// was a client's.
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn abandon(&mut self, now: Instant) -> bool {
        if self.owner != Owner::Client {
            return false;
        }
        self.owner = Owner::Orphan;
        if self.idle_timeout.is_none() {
            self.set_idle_timeout(Some(ORPHAN_TIMEOUT), now);
        }
        true
    }

    /// The program closed an accepted socket: it returns to the pool once CLOSED.
    /// Returns whether it was the program's.
    ///
    /// From then on nobody is left to notice a peer that vanished while the connection
    /// closes (our FIN unacknowledged, or theirs never coming without a record to wait
    /// for it), so the socket gets an idle timeout if it had none: [`ORPHAN_TIMEOUT`],
    /// as Linux gives an orphan `tcp_fin_timeout` and a few retries.
    pub(crate) fn release(&mut self) -> bool {
        match self.owner {
            Owner::Accepted => self.owner = Owner::Released,
            Owner::Detached => self.owner = Owner::Orphan,
            _ => return false,
        }
        self.let_go();
        true
    }

    /// The program let go of the socket while its connection closes (an accepted one's
    /// `release`, or a client socket that a socket layer keeps for reuse): the idle
    /// timeout [`ORPHAN_TIMEOUT`] if it had none (see [`release`](Self::release)).
    pub(crate) fn let_go(&mut self) {
        if self.idle_timeout.is_none() {
            self.idle_timeout = Some(ORPHAN_TIMEOUT);
        }
    }

    /// Whether the socket came from a listener (accepted), not from `TcpSocket::new`.
    pub(crate) fn is_accepted(&self) -> bool {
        matches!(self.owner, Owner::Accepted | Owner::Detached)
    }

    /// A released socket reached CLOSED: back to the pool, and every descriptor of it is
    /// stale from now on.
    pub(crate) fn retire(&mut self) {
        self.owner = Owner::Spare;
        self.generation = self.generation.wrapping_add(1);
    }

    /// How the connection ended (an abort, a timeout), before smoltcp's state says so.
    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }

    /// `bind(port)` on a client socket: the local port of its next connection.
    pub(crate) fn bind_port(&mut self, port: u16) {
        self.port = port;
    }

    /// The local port a client socket was bound to (0: none).
    pub(crate) fn bound_port(&self) -> u16 {
        self.port
    }

    /// `shutdown(SHUT_RD)`.
    pub(crate) fn shut_read(&mut self) {
        self.flags |= READ_SHUT;
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

    /// A blocking `recv` begins: its `settimeout` counts from its first look, not from
    /// an earlier non-blocking `recv` that found nothing.
    pub(crate) fn restart_wait(&mut self) {
        self.waiting_since = None;
    }

    /// `recv` found nothing at `now`: start (or go on) waiting. Returns `true` when the
    /// `settimeout` time has passed (and the wait starts over).
    pub(crate) fn recv_waits(&mut self, now: Instant) -> bool {
        let since = *self.waiting_since.get_or_insert(now);
        match self.recv_timeout {
            // Zero: non-blocking, nothing to time out (Python's `BlockingIOError`).
            Some(t) if t != Duration::ZERO && now >= later(since, t) => {
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
    /// `ready_order` is the stack's count of finished handshakes, for `accept`'s order.
    pub(crate) fn observe(
        &mut self,
        new: State,
        remote: Option<IpEndpoint>,
        now: Instant,
        ready_order: &mut u32,
    ) -> Option<Lifecycle> {
        self.remote = remote;
        let old = self.state;
        if old == new {
            return None;
        }
        let change = lifecycle::transition(old, new, self.outcome);
        if change.events.contains(super::trace::EventKind::Established) {
            *ready_order = ready_order.wrapping_add(1);
            self.ready_order = *ready_order;
        }
        self.state = new;
        self.last_activity = now;
        if new != State::SynSent {
            self.connect_deadline = None;
        }
        if !matches!(
            new,
            State::SynSent | State::SynReceived | State::Established
        ) {
            // Nothing more will arrive to wait for: `recv` answers at once from now on.
            self.waiting_since = None;
        }
        if change.outcome.is_some() {
            self.outcome = change.outcome;
        }
        if change.events.contains(super::trace::EventKind::FinReceived) {
            self.flags |= FIN_RECEIVED;
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
    /// Handshakes finished so far (for `accept`'s order).
    ready: u32,
}

impl<'a> SocketTable<'a> {
    pub(crate) fn new(slots: &'a mut [Slot]) -> Self {
        SocketTable {
            slots,
            used: 0,
            ready: 0,
        }
    }

    /// This table's name in descriptors (its address: unique among live stacks).
    pub(crate) fn tag(&self) -> usize {
        self.slots.as_ptr() as usize
    }

    /// The current descriptor of slot `index`.
    pub(crate) fn id(&self, index: u8) -> SocketId {
        SocketId {
            stack: self.tag(),
            index,
            generation: self.slots.get(index as usize).map_or(0, |s| s.generation),
        }
    }

    /// The slot `id` names (if current) and the stack's handshake count.
    pub(crate) fn entry(&mut self, id: SocketId) -> Option<(&mut Slot, &mut u32)> {
        if id.stack != self.tag() {
            return None;
        }
        let slot = self
            .slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation && s.handle.is_some())?;
        Some((slot, &mut self.ready))
    }

    /// Slot `index` and the stack's handshake count, to observe a state change.
    pub(crate) fn observing(&mut self, index: u8) -> Option<(&mut Slot, &mut u32)> {
        let slot = self.slots.get_mut(index as usize)?;
        Some((slot, &mut self.ready))
    }

    /// Free slot `index` (its socket has left the set): every descriptor of it is stale.
    pub(crate) fn remove(&mut self, index: u8) {
        if let Some(slot) = self.slots.get_mut(index as usize)
            && slot.handle.is_some()
        {
            let generation = slot.generation.wrapping_add(1);
            *slot = Slot {
                generation,
                ..Slot::EMPTY
            };
            self.used -= 1;
        }
    }

    /// Whether a client socket is bound to `port`.
    pub(crate) fn client_bound(&self, port: u16) -> bool {
        port != 0
            && self
                .slots
                .iter()
                .any(|s| s.handle.is_some() && s.owner == Owner::Client && s.port == port)
    }

    /// Whether a UDP socket is bound to `port`.
    pub(crate) fn udp_bound(&self, port: u16) -> bool {
        port != 0
            && self
                .slots
                .iter()
                .any(|s| s.handle.is_some() && s.owner == Owner::Udp && s.port == port)
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
        self.slots[index].occupy(handle, owner, port, now);
        self.used += 1;
        Ok(self.id(index as u8))
    }

    /// The first free slot's index, if any.
    pub(crate) fn free_index(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.handle.is_none())
    }

    /// The slot `id` names, if `id` is of this stack and still current.
    pub(crate) fn get_mut(&mut self, id: SocketId) -> Option<&mut Slot> {
        if id.stack != self.tag() {
            return None;
        }
        self.slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation && s.handle.is_some())
    }

    /// Slot `index`, whatever its generation (for listeners, which own their slots).
    pub(crate) fn at_mut(&mut self, index: u8) -> Option<&mut Slot> {
        self.slots.get_mut(index as usize)
    }

    /// Every slot, with its index, and the stack's handshake count.
    pub(crate) fn iter_mut(&mut self) -> (impl Iterator<Item = (u8, &mut Slot)>, &mut u32) {
        let slots = self.slots.iter_mut().enumerate().map(|(i, s)| (i as u8, s));
        (slots, &mut self.ready)
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
    /// The slot of a listener's socket on `port` that carries a connection from `remote`.
    pub(crate) fn holder_index(&self, remote: IpEndpoint, port: u16) -> Option<u8> {
        self.slots
            .iter()
            .position(|s| {
                s.port == port
                    && s.remote == Some(remote)
                    && !matches!(s.owner, Owner::Udp | Owner::Client | Owner::Spare)
                    && !matches!(s.state, State::Closed | State::Listen)
            })
            .map(|i| i as u8)
    }

    /// The state of a listener's socket on `port` that carries a connection from
    /// `remote`, if one does.
    pub(crate) fn holder(&self, remote: IpEndpoint, port: u16) -> Option<State> {
        self.holder_index(remote, port)
            .and_then(|i| self.slots.get(usize::from(i)))
            .map(|s| s.state)
    }

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
        // StackStorage's docs: 136 bytes on a 64-bit host (with IPv6 addresses; 128
        // without the `ipv6` feature).
        #[cfg(all(target_pointer_width = "64", feature = "ipv6"))]
        assert_eq!(core::mem::size_of::<Slot>(), 136);
        #[cfg(all(target_pointer_width = "64", not(feature = "ipv6")))]
        assert_eq!(core::mem::size_of::<Slot>(), 128);
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
        assert_eq!(
            slot.next_deadline(Instant::from_secs(1)),
            Some(Instant::from_secs(6))
        );
        assert!(!slot.recv_waits(Instant::from_millis(5_999)));
        assert!(slot.recv_waits(Instant::from_secs(6)));
        assert_eq!(
            slot.next_deadline(Instant::from_secs(6)),
            None,
            "the wait starts over"
        );
    }

    #[test]
    fn a_passed_recv_deadline_wakes_once_and_then_no_more() {
        // settimeout(5), one recv that would block, then nothing: the deadline is due
        // once (to wake the program), then it is no reason to wake again.
        let mut slot = Slot::EMPTY;
        slot.set_recv_timeout(Some(Duration::from_secs(5)));
        slot.recv_waits(Instant::ZERO);
        assert_eq!(
            slot.next_deadline(Instant::ZERO),
            Some(Instant::from_secs(5))
        );
        assert_eq!(slot.next_deadline(Instant::from_secs(5)), None);
        assert_eq!(slot.next_deadline(Instant::from_secs(30)), None);
    }

    #[test]
    fn an_accepted_connection_starts_without_the_last_ones_timeouts() {
        let mut slot = Slot::EMPTY;
        slot.arm(Instant::ZERO);
        slot.accept(Instant::ZERO);
        slot.set_recv_timeout(Some(Duration::from_secs(5)));
        slot.set_idle_timeout(Some(Duration::from_secs(1)), Instant::ZERO);
        assert!(slot.release());
        slot.retire();
        slot.arm(Instant::ZERO);
        slot.accept(Instant::from_secs(100));
        assert_eq!(slot.recv_timeout(), None);
        slot.state = State::Established;
        assert_eq!(slot.idle_expired(Instant::from_secs(1000)), None);
        assert_eq!(slot.byte_counts(), (0, 0));
    }

    #[test]
    fn a_released_socket_retires_with_a_new_generation() {
        let mut slot = Slot::EMPTY;
        slot.arm(Instant::ZERO);
        slot.accept(Instant::ZERO);
        assert!(slot.release());
        assert!(!slot.release(), "closing twice releases once");
        let generation = slot.generation;
        slot.retire();
        assert_eq!(slot.owner(), Owner::Spare);
        assert_ne!(slot.generation, generation);
    }
}
