//! The stack: one smoltcp `Interface` and its sockets, on memory the caller owns.
//!
//! Under Berkeley sockets the kernel keeps a table of sockets, indexed by file descriptor,
//! and allocates their buffers as it pleases. smoltcp keeps no such table of its own beyond
//! a [`SocketSet`] over a slice the caller provides; nothing in it watches the clock for
//! the program, and nothing tells the program how a connection ended. [`Stack`] adds that
//! thin layer, still without a heap:
//!
//! * **Storage.** [`StackStorage<N>`] holds `N` socket slots and `N` table entries. Each slot
//!   costs `size_of::<SocketStorage>()` (a few hundred bytes, mostly the TCP socket's
//!   state) plus a table entry of about 80 bytes; the data buffers are separate
//!   ([`TcpBuffers`](crate::TcpBuffers), [`UdpBuffers`](crate::UdpBuffers)) and sized by
//!   their own const generics. [`StackStorage::SIZE`] gives the exact figure for a build.
//!   Note for firmware: a `static` `StackStorage` is not all-zero (an empty
//!   `SocketStorage` is `None` of an enum whose niche is not zero, smoltcp #1199), so it is
//!   placed in `.data` and costs flash for its initial image as well as RAM.
//! * **The socket table.** Each slot records who owns the socket (a listener, the program),
//!   a generation number that makes a closed descriptor stale (`EBADF`, not someone else's
//!   connection), the last TCP state seen, and the socket's timers: the connect deadline,
//!   the `settimeout` receive timeout and the idle timeout.
//! * **The poll.** [`Stack::poll`] runs smoltcp, then compares every TCP socket's state with
//!   the last one seen, logs the change (`tcp#3 state=SYN-SENT=>ESTABLISHED`), reports it
//!   to the [`Observer`], and fires the timers that expired. [`Stack::poll_at`] includes
//!   those timers, so a driver that sleeps until then never misses one.
//!
//! Time is whatever the caller says it is: [`Stack::poll`] takes `now`. On a board that is
//! a hardware counter, on a desktop the wall clock, in tests a virtual clock
//! ([`Testbed`](crate::Testbed)).

use core::cell::Cell;
use core::fmt;

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{AnySocket, tcp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::HardwareAddress;

use crate::gate::{Gate, MAX_PORTS, Overflow, PortPolicy};
use crate::host::Host;
use crate::trace::{Event, EventKind, Observer};

/// How long `connect` waits for the handshake when no timeout was set with
/// [`TcpSocket::set_timeout`](crate::TcpSocket::set_timeout).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The first ephemeral port handed to `connect` (IANA's dynamic range).
pub const EPHEMERAL_PORT_FIRST: u16 = 49152;

/// Error returned when a socket cannot be created: the stack's table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// Every slot of the [`StackStorage`] is in use (`EMFILE`).
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

/// How the last TCP connection of a slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Finished,
    Refused,
    Reset,
    TimedOut,
    Aborted,
}

/// One entry of the socket table (see the module docs). About 80 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) handle: Option<SocketHandle>,
    pub(crate) generation: u16,
    pub(crate) owner: Owner,
    pub(crate) state: tcp::State,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) read_shut: bool,
    pub(crate) recv_timeout: Option<Duration>,
    pub(crate) waiting_since: Option<Instant>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) last_activity: Instant,
    pub(crate) connect_deadline: Option<Instant>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// For a listener's socket: the port it listens on.
    pub(crate) port: u16,
}

impl Slot {
    const EMPTY: Slot = Slot {
        handle: None,
        generation: 0,
        owner: Owner::Spare,
        state: tcp::State::Closed,
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

    /// Forget the previous connection's outcome and timers (not the settings).
    pub(crate) fn begin_connection(&mut self, now: Instant) {
        self.outcome = None;
        self.read_shut = false;
        self.waiting_since = None;
        self.last_activity = now;
        self.connect_deadline = None;
        self.bytes_in = 0;
        self.bytes_out = 0;
    }
}

/// The caller-owned memory of a [`Stack`] with room for `N` sockets.
///
/// Build it with [`StackStorage::new`] (a `const fn`, so it can be a `static`), then hand
/// it to [`Stack::new`] for the stack's whole life.
pub struct StackStorage<'a, const N: usize> {
    sockets: [SocketStorage<'a>; N],
    table: [Slot; N],
}

impl<const N: usize> Default for StackStorage<'_, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const N: usize> StackStorage<'a, N> {
    /// Room for `N` sockets, all free.
    pub const fn new() -> Self {
        assert!(N <= u8::MAX as usize, "at most 255 sockets per stack");
        StackStorage {
            sockets: [SocketStorage::EMPTY; N],
            table: [Slot::EMPTY; N],
        }
    }

    /// Build the storage where it lies (a `static` on a board, a heap allocation), one
    /// entry at a time, without building the whole value on the call stack first as
    /// [`new`](Self::new) does.
    pub fn init(slot: &mut core::mem::MaybeUninit<Self>) -> &mut Self {
        let this = slot.as_mut_ptr();
        for i in 0..N {
            // SAFETY: each element of both arrays is written once, in bounds, before the
            // reference is made.
            unsafe {
                core::ptr::addr_of_mut!((*this).sockets[i]).write(SocketStorage::EMPTY);
                core::ptr::addr_of_mut!((*this).table[i]).write(Slot::EMPTY);
            }
        }
        // SAFETY: every field was written above.
        unsafe { slot.assume_init_mut() }
    }

    /// Bytes this storage takes (excluding the sockets' data buffers).
    pub const SIZE: usize = core::mem::size_of::<Self>();
}

/// A reference to one slot of a stack's table, valid for one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketId {
    pub(crate) index: u8,
    pub(crate) generation: u16,
}

/// A stack's event bookkeeping: where trace events go, and the two counts drivers and
/// listeners read to know whether anything happened ([`Stack::activity`],
/// [`Stack::pool_epoch`]).
struct Events<'a> {
    observer: Option<&'a dyn Observer>,
    host: &'static str,
    activity: Cell<u64>,
    pools: Cell<u64>,
}

/// The stack's events at one instant, as the facade and the socket table use them.
#[derive(Clone, Copy)]
pub(crate) struct Tracer<'s> {
    events: &'s Events<'s>,
    pub(crate) now: Instant,
}

impl<'s> Tracer<'s> {
    fn host(&self) -> &'static str {
        self.events.host
    }

    /// Something a listener must look at happened: one of its sockets changed state,
    /// or an accepted one was handed back.
    pub(crate) fn pool_changed(&self) {
        let pools = &self.events.pools;
        pools.set(pools.get() + 1);
    }

    /// Count a change that has no event of its own (a descriptor released).
    pub(crate) fn touch(&self) {
        let activity = &self.events.activity;
        activity.set(activity.get() + 1);
    }

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

/// A TCP socket with its table entry, as the facade sees it during one call.
pub(crate) struct TcpParts<'s, 'a> {
    pub(crate) socket: &'s mut tcp::Socket<'a>,
    pub(crate) slot: &'s mut Slot,
    pub(crate) cx: &'s mut smoltcp::iface::Context,
    pub(crate) tracer: Tracer<'s>,
    pub(crate) index: u8,
    pub(crate) now: Instant,
}

/// An smoltcp interface, its sockets and its socket table, on caller storage.
pub struct Stack<'a> {
    host: Host,
    iface: Interface,
    sockets: SocketSet<'a>,
    table: &'a mut [Slot],
    used: usize,
    now: Instant,
    next_port: u16,
    events: Events<'a>,
    ports: heapless::Vec<PortPolicy, MAX_PORTS>,
    /// The activity count when the table was last watched.
    watched: u64,
    /// The earliest timer `watch` must fire (connect or idle deadline).
    next_timer: Option<Instant>,
    /// When the table was last watched, and whether a connection was live then (smoltcp
    /// changes live sockets on its own timers: TIME-WAIT, retransmission give-up).
    watched_at: Instant,
    live: bool,
}

impl<'a> Stack<'a> {
    /// A stack for `host` on `device`, with its sockets in `storage`.
    ///
    /// `device` is only asked for its capabilities here; it is passed again to every
    /// [`poll`](Self::poll), so the stack never holds on to it.
    pub fn new<D: Device + ?Sized, const N: usize>(
        host: Host,
        device: &mut D,
        storage: &'a mut StackStorage<'a, N>,
        now: Instant,
    ) -> Self {
        let mut config = Config::new(HardwareAddress::Ethernet(host.mac));
        config.random_seed = host.random_seed;
        let mut iface = Interface::new(config, device, now);
        iface.update_ip_addrs(|addrs| {
            // Two addresses fit the default `iface-max-addr-count` of smoltcp.
            let _ = addrs.push(host.ipv4);
            #[cfg(feature = "ipv6")]
            let _ = addrs.push(host.ipv6);
        });
        let StackStorage { sockets, table } = storage;
        let port_spread = (host.random_seed % 1024) as u16;
        Stack {
            host,
            iface,
            sockets: SocketSet::new(&mut sockets[..]),
            table: &mut table[..],
            used: 0,
            now,
            next_port: EPHEMERAL_PORT_FIRST + port_spread,
            events: Events {
                observer: None,
                host: host.name,
                activity: Cell::new(0),
                pools: Cell::new(0),
            },
            ports: heapless::Vec::new(),
            watched: u64::MAX,
            next_timer: None,
            watched_at: now,
            live: false,
        }
    }

    /// Report lifecycle events to `observer` from now on (or to nobody).
    pub fn set_observer(&mut self, observer: Option<&'a dyn Observer>) {
        self.events.observer = observer;
    }

    /// Who this stack is.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The time of the last poll.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many sockets the storage holds, and how many are taken.
    pub fn capacity(&self) -> (usize, usize) {
        (self.table.len(), self.used)
    }

    /// How many lifecycle events this stack has produced so far (whether or not an
    /// observer records them): a driver compares it before and after the program's turn
    /// to know whether the program did anything.
    pub fn activity(&self) -> u64 {
        self.events.activity.get()
    }

    /// A count that moves whenever a listener's socket changes state or an accepted
    /// socket is closed: while it stands still, no listener has anything to do.
    pub(crate) fn pool_epoch(&self) -> u64 {
        self.events.pools.get()
    }

    /// The smoltcp interface, for what this crate does not wrap (routes, extra addresses).
    pub fn interface(&mut self) -> &mut Interface {
        &mut self.iface
    }

    /// Run the stack at time `now`: take in every frame `device` has, send what the
    /// sockets have queued, then update the socket table (state changes, timers).
    ///
    /// Returns `true` if anything may have changed for a socket user.
    pub fn poll<D: Device + ?Sized>(&mut self, now: Instant, device: &mut D) -> bool {
        self.now = now;
        let mut syns = 0;
        let mut gate = Gate::new(device, &mut self.ports, self.table, &mut syns);
        let changed = self.iface.poll(now, &mut gate, &mut self.sockets);
        // The table only needs a look if smoltcp changed something, the program did, or a
        // timer is due: most polls of a busy stack change nothing.
        let due =
            self.next_timer.is_some_and(|t| now >= t) || (self.live && now != self.watched_at);
        let aborted = (changed == PollResult::SocketStateChanged
            || due
            || self.events.activity.get() != self.watched)
            && self.watch(syns > 0);
        if aborted {
            // A timer aborted a connection: let its RST go out now.
            self.iface.poll_egress(now, device, &mut self.sockets);
        }
        changed == PollResult::SocketStateChanged || aborted
    }

    /// Poll on `device` and let `app` act, again and again, until neither has anything
    /// more to do at this instant (at most 64 rounds, so a busy program cannot starve the
    /// caller's loop): the shape of every real host's inner loop. `clock` reads the time
    /// before each poll (it is given the device: a board's clock may be on its chip).
    pub fn poll_until_quiet<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        mut clock: impl FnMut(&mut D) -> Instant,
        mut app: impl FnMut(&mut Stack<'a>),
    ) {
        for _ in 0..64 {
            let now = clock(device);
            let changed = self.poll(now, device);
            let before = self.activity();
            app(self);
            if !changed && self.activity() == before {
                break;
            }
        }
    }

    /// When [`poll`](Self::poll) must run next at the latest (`None`: only when a frame
    /// arrives). Includes the socket table's timers as well as smoltcp's own.
    pub fn poll_at(&mut self) -> Option<Instant> {
        let mut at = self.iface.poll_at(self.now, &self.sockets);
        for slot in self.table.iter() {
            let Some(_) = slot.handle else { continue };
            let mut consider = |t: Option<Instant>| {
                if let Some(t) = t {
                    at = Some(at.map_or(t, |a| a.min(t)));
                }
            };
            consider(slot.connect_deadline);
            if let (Some(since), Some(timeout)) = (slot.waiting_since, slot.recv_timeout) {
                consider(Some(since + timeout));
            }
            if let Some(idle) = slot.idle_timeout
                && is_idle_policed(slot.state)
            {
                consider(Some(slot.last_activity + idle));
            }
        }
        at
    }

    /// How long the caller may sleep before the next [`poll`](Self::poll), from `now`.
    pub fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        self.poll_at()
            .map(|at| if at > now { at - now } else { Duration::ZERO })
    }

    /// Choose what `port`'s listener does with a SYN when no socket is free (see
    /// [`gate`](crate::gate)). `false` if nothing listens on `port`.
    pub fn set_overflow(&mut self, port: u16, overflow: Overflow) -> bool {
        match self.ports.iter_mut().find(|p| p.port == port) {
            Some(policy) => {
                policy.overflow = overflow;
                true
            }
            None => false,
        }
    }

    /// Connection requests to `port` refused and queued (dropped for a retry) because no
    /// socket was free, since the listener started.
    pub fn overflow_counts(&self, port: u16) -> (u64, u64) {
        self.ports
            .iter()
            .find(|p| p.port == port)
            .map_or((0, 0), |p| (p.refused, p.queued))
    }

    /// Start keeping a policy for a listening port (once per port).
    pub(crate) fn register_port(&mut self, port: u16) -> bool {
        self.ports.iter().any(|p| p.port == port) || self.ports.push(PortPolicy::new(port)).is_ok()
    }

    // ---- crate-internal socket table -------------------------------------------------

    pub(crate) fn tracer(&self) -> Tracer<'_> {
        Tracer {
            events: &self.events,
            now: self.now,
        }
    }

    /// Put `socket` in a free slot.
    pub(crate) fn add<T: AnySocket<'a>>(
        &mut self,
        socket: T,
        owner: Owner,
    ) -> Result<SocketId, SocketError> {
        let index = self
            .table
            .iter()
            .position(|s| s.handle.is_none())
            .ok_or(SocketError::NoSlot)?;
        // The set has exactly as many slots as the table, and both fill together, so the
        // set has a free slot too and `add` (which panics when full) cannot fail.
        let handle = self.sockets.add(socket);
        let slot = &mut self.table[index];
        *slot = Slot {
            handle: Some(handle),
            generation: slot.generation,
            owner,
            last_activity: self.now,
            ..Slot::EMPTY
        };
        self.used += 1;
        Ok(SocketId {
            index: index as u8,
            generation: slot.generation,
        })
    }

    pub(crate) fn slot_mut(&mut self, index: u8) -> &mut Slot {
        &mut self.table[index as usize]
    }

    /// The TCP socket of `id` with its slot, if `id` is still current.
    pub(crate) fn tcp(&mut self, id: SocketId) -> Option<TcpParts<'_, 'a>> {
        let tracer = Tracer {
            events: &self.events,
            now: self.now,
        };
        let slot = self.table.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let socket = self.sockets.get_mut::<tcp::Socket<'a>>(slot.handle?);
        Some(TcpParts {
            socket,
            slot,
            cx: self.iface.context(),
            tracer,
            index: id.index,
            now: self.now,
        })
    }

    /// The TCP socket in slot `index`, whatever its generation (for listeners).
    pub(crate) fn tcp_at(&mut self, index: u8) -> (&mut tcp::Socket<'a>, &mut Slot, Tracer<'_>) {
        let tracer = Tracer {
            events: &self.events,
            now: self.now,
        };
        let slot = &mut self.table[index as usize];
        let handle = slot.handle.expect("listener slots always hold a socket");
        (
            self.sockets.get_mut::<tcp::Socket<'a>>(handle),
            slot,
            tracer,
        )
    }

    /// The UDP socket of `id`, if `id` is still current.
    pub(crate) fn udp(
        &mut self,
        id: SocketId,
    ) -> Option<(&mut smoltcp::socket::udp::Socket<'a>, Tracer<'_>)> {
        let tracer = Tracer {
            events: &self.events,
            now: self.now,
        };
        let slot = self.table.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        Some((
            self.sockets
                .get_mut::<smoltcp::socket::udp::Socket<'a>>(slot.handle?),
            tracer,
        ))
    }

    /// A local port for `connect`, cycling through the ephemeral range.
    pub(crate) fn ephemeral_port(&mut self) -> u16 {
        let port = self.next_port;
        self.next_port = if port == u16::MAX {
            EPHEMERAL_PORT_FIRST
        } else {
            port + 1
        };
        port
    }

    /// Compare each TCP socket's state with the last one seen; fire expired timers.
    ///
    /// Only slots smoltcp may have changed are visited: a CLOSED socket changes only by a
    /// call of the program (which observes it then), and a LISTEN one only on a SYN.
    fn watch(&mut self, syns_arrived: bool) -> bool {
        let tracer = Tracer {
            events: &self.events,
            now: self.now,
        };
        let now = self.now;
        let mut aborted_any = false;
        let mut next_timer = None;
        let mut live = false;
        for (index, slot) in self.table.iter_mut().enumerate() {
            let Some(handle) = slot.handle else { continue };
            if slot.owner == Owner::Udp
                || slot.state == tcp::State::Closed
                || (slot.state == tcp::State::Listen && !syns_arrived)
            {
                continue;
            }
            let Some(socket) = tcp::Socket::downcast_mut(self.sockets.get_mut::<Socket>(handle))
            else {
                continue;
            };
            let index = index as u8;
            observe(socket, slot, &tracer, index);

            if slot.state == tcp::State::SynSent && slot.connect_deadline.is_some_and(|d| now >= d)
            {
                slot.outcome = Some(Outcome::TimedOut);
                socket.abort();
                tracer.emit(index, EventKind::TimedOut);
                observe(socket, slot, &tracer, index);
                aborted_any = true;
            } else if let Some(idle) = slot.idle_timeout
                && is_idle_policed(slot.state)
                && now >= slot.last_activity + idle
            {
                log::info!(
                    "{}: tcp#{index} idle for {idle} in state {}: reset",
                    tracer.host(),
                    slot.state
                );
                slot.outcome = Some(Outcome::TimedOut);
                socket.abort();
                tracer.emit(index, EventKind::TimedOut);
                observe(socket, slot, &tracer, index);
                aborted_any = true;
            }
            let connect = slot
                .connect_deadline
                .filter(|_| slot.state == tcp::State::SynSent);
            let idle = slot
                .idle_timeout
                .filter(|_| is_idle_policed(slot.state))
                .map(|idle| slot.last_activity + idle);
            for t in [connect, idle].into_iter().flatten() {
                next_timer = Some(next_timer.map_or(t, |n: Instant| n.min(t)));
            }
            live |= !matches!(slot.state, tcp::State::Closed | tcp::State::Listen);
        }
        self.next_timer = next_timer;
        self.live = live;
        self.watched_at = now;
        self.watched = self.events.activity.get();
        aborted_any
    }
}

type Socket<'a> = smoltcp::socket::Socket<'a>;

/// How many of a listener's sockets on `port` are in LISTEN, by the table's last-seen
/// states (current between polls: every call of the program observes what it touches).
pub(crate) fn listening_sockets(table: &[Slot], port: u16) -> u16 {
    table
        .iter()
        .filter(|s| s.owner == Owner::Listening && s.state == tcp::State::Listen && s.port == port)
        .count() as u16
}

/// States in which a connection can hang on a silent peer, so the idle timeout applies.
/// (TIME-WAIT ends by itself; LISTEN and CLOSED have no peer.)
fn is_idle_policed(state: tcp::State) -> bool {
    !matches!(
        state,
        tcp::State::Closed | tcp::State::Listen | tcp::State::TimeWait
    )
}

fn fin_sent(s: tcp::State) -> bool {
    use tcp::State::*;
    matches!(s, FinWait1 | FinWait2 | Closing | LastAck | TimeWait)
}

fn fin_received(s: tcp::State) -> bool {
    use tcp::State::*;
    matches!(s, CloseWait | Closing | LastAck | TimeWait)
}

/// Turn a state change into log lines and trace events.
pub(crate) fn observe(socket: &tcp::Socket<'_>, slot: &mut Slot, tracer: &Tracer<'_>, index: u8) {
    use tcp::State::*;
    let old = slot.state;
    let new = socket.state();
    if old == new {
        return;
    }
    log::debug!("{}: tcp#{index} state={old}=>{new}", tracer.host());
    slot.state = new;
    if matches!(
        slot.owner,
        Owner::Listening | Owner::Released | Owner::Spare
    ) {
        tracer.pool_changed();
    }
    slot.last_activity = tracer.now;
    if new != SynSent {
        slot.connect_deadline = None;
    }
    if old == Listen && new != Closed && new != Listen {
        tracer.emit(index, EventKind::SynReceived);
    }
    if matches!(old, Listen | SynSent | SynReceived)
        && !matches!(new, Listen | SynSent | SynReceived | Closed)
    {
        tracer.emit(index, EventKind::Established);
    }
    if fin_sent(new) && !fin_sent(old) && old != Closed {
        tracer.emit(index, EventKind::FinSent);
    }
    if fin_received(new) && !fin_received(old) {
        tracer.emit(index, EventKind::FinReceived);
    }
    if new == Closed {
        match (old, slot.outcome) {
            (_, Some(_)) | (Listen, _) => {}
            (SynSent, None) => {
                slot.outcome = Some(Outcome::Refused);
                tracer.emit(index, EventKind::Refused);
            }
            (TimeWait | LastAck, None) => {
                slot.outcome = Some(Outcome::Finished);
                tracer.emit(index, EventKind::Closed);
            }
            (_, None) => {
                slot.outcome = Some(Outcome::Reset);
                tracer.emit(index, EventKind::Reset);
            }
        }
    }
}
