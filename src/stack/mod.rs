//! The stack: one smoltcp `Interface` and its sockets, on memory the caller owns.
//!
//! Under Berkeley sockets the kernel keeps a table of sockets, indexed by file descriptor,
//! and allocates their buffers as it pleases. smoltcp keeps no such table of its own beyond
//! a [`SocketSet`] over a slice the caller provides; nothing in it watches the clock for
//! the program, and nothing tells the program how a connection ended. [`Stack`] adds that
//! thin layer, still without a heap. Its parts, one file each:
//!
//! * [`storage`]: [`StackStorage<N>`], the caller's memory for `N` sockets.
//! * `table`: the socket table, one entry per socket: who owns it, a generation that
//!   makes a closed descriptor stale (`EBADF`, not someone else's connection), the last
//!   TCP state seen, the timers (connect deadline, `settimeout`, idle timeout).
//! * `lifecycle`: what a TCP state change means (SYN received, established, FIN sent,
//!   closed, reset...), a pure function.
//! * `events` and [`trace`]: where those events go ([`Observer`], [`Trace`]), and the
//!   activity count drivers read to know whether anything happened.
//! * [`gate`]: what happens to a SYN before smoltcp sees it: one socket per client, a
//!   full listener's [`Overflow`], the segments of connections in TIME-WAIT.
//! * `sack_hint` (feature `sack-hint`): a peer's SACK blocks turned into the duplicate
//!   ACKs smoltcp counts, so a lost segment is resent at once, not after 1 s.
//! * [`time_wait`]: TIME-WAIT kept in a compact record, so a finished connection's
//!   socket is free at once.
//! * [`host`]: who the stack is on the link ([`Host`]).
//!
//! [`Stack::poll`] runs smoltcp, then compares the TCP sockets' states with the last ones
//! seen, logs each change (`tcp#3 state=SYN-SENT=>ESTABLISHED`), reports it to the
//! [`Observer`], and fires the timers that expired. [`Stack::poll_at`] includes those
//! timers, so a driver that sleeps until then never misses one.
//!
//! Time is whatever the caller says it is: [`Stack::poll`] takes `now`. On a board that is
//! a hardware counter, on a desktop the wall clock, in tests a virtual clock
//! ([`Testbed`](crate::testbed::Testbed)).

mod events;
pub mod gate;
pub mod host;
mod lifecycle;
#[cfg(feature = "sack-hint")]
pub mod sack_hint;
pub mod storage;
mod table;
pub mod time_wait;
pub mod trace;

use heapless::Vec;
use smoltcp::iface::{Config, Interface, PollResult, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::{AnySocket, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};

use events::Events;
pub(crate) use events::Tracer;
use gate::{Gate, GateMemory, Judge, MAX_PORTS, PollNotes, PortPolicy};
pub use gate::{Overflow, SynCounts};
pub use host::Host;
pub(crate) use lifecycle::Outcome;
pub use storage::StackStorage;
pub use table::SocketError;
use table::SocketTable;
pub(crate) use table::{NEVER, Owner, Slot, SocketId, earliest, later};
pub use time_wait::TimeWaitStats;
use time_wait::TimeWaitTable;
pub use trace::{Event, EventKind, Observer, Trace};

/// How long `connect` waits for the handshake when no timeout was set with
/// [`TcpSocket::set_timeout`](crate::socket::TcpSocket::set_timeout).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The first ephemeral port handed to `connect` (IANA's dynamic range).
pub const EPHEMERAL_PORT_FIRST: u16 = 49152;

/// A TCP socket with its table entry, as the facade sees it during one call.
pub(crate) struct TcpParts<'s, 'a> {
    pub(crate) socket: &'s mut tcp::Socket<'a>,
    pub(crate) slot: &'s mut Slot,
    pub(crate) cx: &'s mut smoltcp::iface::Context,
    pub(crate) tracer: Tracer<'s>,
    pub(crate) index: u8,
    pub(crate) now: Instant,
    ready: &'s mut u32,
}

impl TcpParts<'_, '_> {
    /// Bring the table up to date with the socket's state (events, outcome).
    pub(crate) fn observe(&mut self) {
        // Nearly every verb finds the state unchanged: that costs a comparison, not a call.
        if self.slot.state() != self.socket.state() {
            observe(self.socket, self.slot, self.ready, &self.tracer, self.index);
        }
    }

    /// End the connection at once without a word to the peer (see [`end_quietly`]).
    pub(crate) fn end_quietly(&mut self, outcome: Outcome, kind: EventKind) {
        end_quietly(
            self.socket,
            self.slot,
            self.ready,
            &self.tracer,
            self.index,
            outcome,
            kind,
        );
    }
}

/// An smoltcp interface, its sockets and its socket table, on caller storage.
pub struct Stack<'a> {
    host: Host,
    iface: Interface,
    sockets: SocketSet<'a>,
    table: SocketTable<'a>,
    time_wait: TimeWaitTable<'a>,
    gate: GateMemory,
    /// What the gate saw in the current poll (kept here, cleared per poll).
    notes: PollNotes,
    /// The interface's addresses, as the gate checks them (read again after
    /// [`interface`](Self::interface) lent the interface out).
    addrs: Vec<IpCidr, 4>,
    addrs_stale: bool,
    /// The device's checksum duties, as smoltcp will apply them (read once: a stack
    /// polls one kind of device).
    checksum: smoltcp::phy::ChecksumCapabilities,
    /// The largest IP packet one frame of the device carries (smoltcp, as built here,
    /// does not fragment: a larger one is dropped when it would leave).
    ip_mtu: usize,
    now: Instant,
    next_port: u16,
    events: Events<'a>,
    ports: Vec<PortPolicy, MAX_PORTS>,
    /// The activity count when the table was last watched.
    watched: u64,
    /// The earliest timer `watch` must fire (connect or idle deadline).
    next_timer: Option<Instant>,
    /// When the table was last watched, and whether a connection was live then (smoltcp
    /// changes live sockets on its own timers: TIME-WAIT, retransmission).
    watched_at: Instant,
    live: bool,
    /// Frames taken in since the stack started (see [`arrivals`](Self::arrivals)).
    arrivals: u64,
}

impl<'a> Stack<'a> {
    /// A stack for `host` on `device`, with its sockets in `storage`.
    ///
    /// `device` is only asked for its capabilities here; it is passed again to every
    /// [`poll`](Self::poll), so the stack never holds on to it.
    pub fn new<D: Device + ?Sized, const N: usize, const TW: usize>(
        host: Host,
        device: &mut D,
        storage: &'a mut StackStorage<'a, N, TW>,
        now: Instant,
    ) -> Self {
        let mut config = Config::new(HardwareAddress::Ethernet(host.mac));
        config.random_seed = host.random_seed;
        let caps = device.capabilities();
        let checksum = caps.checksum.clone();
        let ip_mtu = caps.ip_mtu();
        let mut iface = Interface::new(config, device, now);
        iface.update_ip_addrs(|addrs| {
            // Two addresses fit the default `iface-max-addr-count` of smoltcp.
            let _ = addrs.push(host.ipv4);
            #[cfg(feature = "ipv6")]
            let _ = addrs.push(host.ipv6);
        });
        let StackStorage {
            sockets,
            table,
            time_wait,
        } = storage;
        let port_spread = (host.random_seed % 1024) as u16;
        Stack {
            host,
            iface,
            sockets: SocketSet::new(&mut sockets[..]),
            table: SocketTable::new(&mut table[..]),
            time_wait: TimeWaitTable::new(&mut time_wait[..]),
            gate: GateMemory::new(),
            notes: PollNotes::new(),
            addrs: Vec::new(),
            addrs_stale: true,
            checksum,
            ip_mtu,
            now,
            next_port: EPHEMERAL_PORT_FIRST + port_spread,
            events: Events::new(host.name),
            ports: Vec::new(),
            watched: u64::MAX,
            next_timer: None,
            watched_at: now,
            live: false,
            arrivals: 0,
        }
    }

    /// Turn the gate's SACK hints ([`sack_hint`]) on (the default) or off: with them off,
    /// smoltcp repairs losses on its own (for comparisons, e.g. the loss tables).
    #[cfg(feature = "sack-hint")]
    pub fn set_sack_hints(&mut self, on: bool) {
        self.gate.set_sack_hints(on);
    }

    /// Report lifecycle events to `observer` from now on (or to nobody).
    pub fn set_observer(&mut self, observer: Option<&'a dyn Observer>) {
        self.events.set_observer(observer);
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
        self.table.capacity()
    }

    /// How many lifecycle events this stack has produced so far (whether or not an
    /// observer records them): a driver compares it before and after the program's turn
    /// to know whether the program did anything.
    pub fn activity(&self) -> u64 {
        self.events.activity()
    }

    /// A count that moves whenever a listener's socket changes state or an accepted
    /// socket is closed: while it stands still, no listener has anything to do.
    pub(crate) fn pool_epoch(&self) -> u64 {
        self.events.pool_epoch()
    }

    /// How many frames the stack has taken in so far. With [`activity`](Self::activity)
    /// and the pool epoch it tells a server whether anything can have happened to its
    /// sockets since its last turn: only an arriving frame brings data, room to send
    /// (an ACK) or a new connection; whatever else changes a socket is an event.
    pub(crate) fn arrivals(&self) -> u64 {
        self.arrivals
    }

    /// The smoltcp interface, for what this crate does not wrap (routes, extra addresses).
    pub fn interface(&mut self) -> &mut Interface {
        // The caller may change the addresses: the gate reads them afresh at the next poll.
        self.addrs_stale = true;
        &mut self.iface
    }

    /// Run the stack at time `now`: take in every frame `device` has, send what the
    /// sockets have queued, then update the socket table (state changes, timers).
    ///
    /// Returns `true` if anything may have changed for a socket user.
    ///
    /// Never inlined on bare metal: a firmware that calls it from one place would get its
    /// 5 KB merged into its main loop, where it costs flash rather than saves it.
    #[cfg_attr(target_os = "none", inline(never))]
    pub fn poll<D: Device + ?Sized>(&mut self, now: Instant, device: &mut D) -> bool {
        self.now = now;
        self.notes.clear();
        if self.addrs_stale {
            self.addrs.clear();
            for cidr in self.iface.ip_addrs() {
                let _ = self.addrs.push(*cidr);
            }
            self.addrs_stale = false;
        }
        // At most two rounds: the poll proper, and an egress-only one when a timer aborted
        // a connection, so that its RST goes out now. One call of smoltcp's poll on one
        // device type for both: its transmit path is compiled once (see `Gate`).
        let mut aborted = false;
        loop {
            let mut gate = if aborted {
                Gate::egress_only(device)
            } else {
                let judge = Judge {
                    policies: &mut self.ports,
                    table: self.table.view(),
                    time_wait: &mut self.time_wait,
                    memory: &mut self.gate,
                    notes: &mut self.notes,
                    addrs: &self.addrs,
                    now,
                };
                Gate::new(device, judge, self.checksum.clone())
            };
            let changed = self.iface.poll(now, &mut gate, &mut self.sockets);
            if aborted {
                return true;
            }
            self.arrivals = self.arrivals.wrapping_add(u64::from(self.notes.frames));
            if !self.notes.acks.is_empty() {
                gate::send_owed_acks(device, now, self.host.mac, &self.notes.acks);
            }
            for i in 0..self.notes.stale.len() {
                let (remote, port) = self.notes.stale[i];
                self.reset_stale(remote, port);
            }
            let syns = self.notes.syns;
            // The table only needs a look if smoltcp changed something, the program did,
            // or a timer is due: most polls of a busy stack change nothing.
            let due =
                self.next_timer.is_some_and(|t| now >= t) || (self.live && now != self.watched_at);
            aborted = (changed == PollResult::SocketStateChanged
                || due
                || self.events.activity() != self.watched)
                && self.watch(syns > 0);
            if !aborted {
                return changed == PollResult::SocketStateChanged;
            }
        }
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
    /// arrives). Includes the socket table's timers as well as smoltcp's own. A timer
    /// at the end of time (a timeout of `Duration::MAX`) is none: no driver should move
    /// its clock there.
    pub fn poll_at(&mut self) -> Option<Instant> {
        let now = self.now;
        let mut at = earliest(
            self.iface.poll_at(now, &self.sockets),
            self.gate.poll_at(now),
        );
        for slot in self.table.iter() {
            if slot.handle().is_some() {
                at = earliest(at, slot.next_deadline(now));
            }
        }
        // NEVER is the latest instant: the earliest is NEVER only if every timer is.
        at.filter(|&t| t < NEVER)
    }

    /// How long the caller may sleep before the next [`poll`](Self::poll), from `now`.
    pub fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        self.poll_at()
            .map(|at| if at > now { at - now } else { Duration::ZERO })
    }

    /// Choose what `port`'s listener does with a SYN when no socket is free (see
    /// [`gate`]). `false` if nothing listens on `port`.
    pub fn set_overflow(&mut self, port: u16, overflow: Overflow) -> bool {
        match self.ports.iter_mut().find(|p| p.port == port) {
            Some(policy) => {
                policy.overflow = overflow;
                true
            }
            None => false,
        }
    }

    /// What happened to the connection requests to `port` since its listener started
    /// (see [`SynCounts`]).
    pub fn syn_counts(&self, port: u16) -> SynCounts {
        self.ports
            .iter()
            .find(|p| p.port == port)
            .map_or(SynCounts::default(), |p| p.counts)
    }

    /// What the TIME-WAIT records did since the stack started, and how many are in use.
    pub fn time_wait_stats(&self) -> (TimeWaitStats, usize) {
        (self.time_wait.stats(), self.time_wait.in_use(self.now))
    }

    /// Whether a listener holds `port`.
    pub(crate) fn is_listening_port(&self, port: u16) -> bool {
        self.ports.iter().any(|p| p.port == port)
    }

    /// Whether a client socket is bound to `port` (`TcpSocket::bind`).
    pub(crate) fn is_client_port(&self, port: u16) -> bool {
        self.table.client_bound(port)
    }

    /// The program opens a connection from local `port` to `remote`: a TIME-WAIT record of
    /// that very 4-tuple on this side has nothing left to guard (the peer's own TIME-WAIT
    /// judges the new SYN).
    pub(crate) fn forget_time_wait(&mut self, port: u16, remote: IpEndpoint) {
        self.time_wait.forget(port, remote);
    }

    /// The largest UDP payload one frame carries to `to` (IPv4: the IP MTU less 28
    /// bytes of headers, IPv6: less 48).
    pub(crate) fn max_udp_payload(&self, to: IpAddress) -> usize {
        let headers = match to {
            IpAddress::Ipv4(_) => 20 + 8,
            #[cfg(feature = "ipv6")]
            IpAddress::Ipv6(_) => 40 + 8,
        };
        self.ip_mtu.saturating_sub(headers)
    }

    /// Whether a UDP socket is bound to `port`.
    pub(crate) fn is_udp_port(&self, port: u16) -> bool {
        self.table.udp_bound(port)
    }

    /// Start keeping a policy for a listening port. `false` if the stack keeps its
    /// maximum already.
    pub(crate) fn register_port(&mut self, port: u16) -> bool {
        self.ports.push(PortPolicy::new(port)).is_ok()
    }

    /// Whether one more listening port can be kept (see [`register_port`](Self::register_port)).
    #[cfg_attr(not(feature = "embedded-nal"), allow(dead_code))]
    pub(crate) fn can_register_port(&self) -> bool {
        !self.ports.is_full()
    }

    /// The listener on `port` closed: the port is free again.
    pub(crate) fn release_port(&mut self, port: u16) {
        self.ports.retain(|p| p.port != port);
    }

    // ---- crate-internal: the socket layer's access to sockets and the table ----------

    pub(crate) fn tracer(&self) -> Tracer<'_> {
        self.events.at(self.now)
    }

    /// Whether `n` more sockets fit.
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.table.has_room(n)
    }

    /// The current descriptor of slot `index` (for a listener handing out a socket).
    pub(crate) fn socket_id(&self, index: u8) -> SocketId {
        self.table.id(index)
    }

    /// Take a socket out of the stack: its slot is free, its descriptors stale. The
    /// socket must already be CLOSED with no peer (else smoltcp would never say goodbye).
    pub(crate) fn remove(&mut self, index: u8) {
        let Some(slot) = self.table.at_mut(index) else {
            return;
        };
        if let Some(handle) = slot.handle() {
            self.sockets.remove(handle);
            self.table.remove(index);
            self.events.at(self.now).touch();
        }
    }

    /// A client's socket in TIME-WAIT that the program wants to use again: move its
    /// TIME-WAIT to a record and free the socket (what a kernel does for a client, whose
    /// next `connect` gets a new socket while the old 4-tuple waits in the kernel).
    /// `false` if it is not in TIME-WAIT or no record could be kept.
    pub(crate) fn end_time_wait(&mut self, id: SocketId) -> bool {
        let now = self.now;
        let Some((slot, ready)) = self.table.entry(id) else {
            return false;
        };
        let Some(socket) = slot
            .handle()
            .and_then(|h| tcp::Socket::downcast_mut(self.sockets.get_mut::<Socket<'a>>(h)))
        else {
            return false;
        };
        let tracer = self.events.at(now);
        to_time_wait_record(
            socket,
            slot,
            ready,
            &mut self.time_wait,
            &self.gate,
            &tracer,
            id.index,
        )
    }

    /// The connection of a listener's socket on `port` with `remote` is stale (the peer
    /// opened anew on its 4-tuple): reset it without a word to the peer.
    fn reset_stale(&mut self, remote: IpEndpoint, port: u16) {
        let Some(index) = self.table.view().holder_index(remote, port) else {
            return;
        };
        if let Some(mut p) = self.tcp_at(index) {
            p.end_quietly(Outcome::Reset, EventKind::Reset);
        }
    }

    /// Put `socket` in a free slot, for `owner` (on a listener's `port`).
    #[inline]
    pub(crate) fn add<T: AnySocket<'a>>(
        &mut self,
        socket: T,
        owner: Owner,
        port: u16,
    ) -> Result<SocketId, SocketError> {
        self.add_socket(socket.upcast(), owner, port)
    }

    /// [`add`](Self::add), compiled once for TCP and UDP sockets.
    fn add_socket(
        &mut self,
        socket: Socket<'a>,
        owner: Owner,
        port: u16,
    ) -> Result<SocketId, SocketError> {
        // The set has exactly as many slots as the table, and both fill together, so the
        // set has a free slot whenever the table has one, and `add` (which panics when
        // full) cannot fail.
        self.table.free_index().ok_or(SocketError::NoSlot)?;
        let handle = self.sockets.add(socket);
        self.table.insert(handle, owner, port, self.now)
    }

    /// The DHCPv4 socket of `id`, if `id` is of this stack, still current, and names one.
    #[cfg(feature = "dhcp")]
    pub(crate) fn dhcp(
        &mut self,
        id: SocketId,
    ) -> Option<&mut smoltcp::socket::dhcpv4::Socket<'a>> {
        use smoltcp::socket::AnySocket;
        let (slot, _) = self.table.entry(id)?;
        let handle = slot.handle()?;
        smoltcp::socket::dhcpv4::Socket::downcast_mut(self.sockets.get_mut::<Socket<'a>>(handle))
    }

    /// The TCP socket of `id` with its slot, if `id` is of this stack, still current,
    /// names a TCP socket and the program holds it (not a listener's).
    pub(crate) fn tcp(&mut self, id: SocketId) -> Option<TcpParts<'_, 'a>> {
        let (slot, ready) = self.table.entry(id)?;
        if !slot.is_programs() {
            return None;
        }
        let socket = tcp::Socket::downcast_mut(self.sockets.get_mut::<Socket<'a>>(slot.handle()?))?;
        Some(TcpParts {
            socket,
            slot,
            cx: self.iface.context(),
            tracer: self.events.at(self.now),
            index: id.index,
            now: self.now,
            ready,
        })
    }

    /// The TCP socket in slot `index`, whatever its generation and owner (for listeners,
    /// which own their slots).
    pub(crate) fn tcp_at(&mut self, index: u8) -> Option<TcpParts<'_, 'a>> {
        let (slot, ready) = self.table.observing(index)?;
        let socket = tcp::Socket::downcast_mut(self.sockets.get_mut::<Socket<'a>>(slot.handle()?))?;
        Some(TcpParts {
            socket,
            slot,
            cx: self.iface.context(),
            tracer: self.events.at(self.now),
            index,
            now: self.now,
            ready,
        })
    }

    /// The UDP socket of `id` with its slot, if `id` is of this stack, still current and
    /// names a UDP socket.
    pub(crate) fn udp(
        &mut self,
        id: SocketId,
    ) -> Option<(&mut udp::Socket<'a>, &mut Slot, Tracer<'_>)> {
        let slot = self.table.get_mut(id)?;
        // A closed socket still sending its last datagrams is nobody's.
        if slot.owner() != Owner::Udp {
            return None;
        }
        let socket = udp::Socket::downcast_mut(self.sockets.get_mut::<Socket<'a>>(slot.handle()?))?;
        Some((socket, slot, self.events.at(self.now)))
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

    /// Compare each TCP socket's state with the last one seen; fire expired timers; move
    /// finished connections' TIME-WAIT into records; let go of orphans that are done.
    ///
    /// Only slots smoltcp may have changed are visited: a CLOSED socket changes only by a
    /// call of the program (which observes it then), and a LISTEN one only on a SYN.
    fn watch(&mut self, syns_arrived: bool) -> bool {
        let tracer = self.events.at(self.now);
        let now = self.now;
        let mut aborted_any = false;
        let mut next_timer: Option<Instant> = None;
        let mut live = false;
        let mut leaving: Vec<u8, 8> = Vec::new();
        self.time_wait.sweep(now);
        let (slots, ready) = self.table.iter_mut();
        for (index, slot) in slots {
            // Most slots are skipped on their state alone (a free slot is CLOSED too).
            let skip = match slot.state() {
                tcp::State::Closed => slot.owner() != Owner::Orphan,
                tcp::State::Listen => !syns_arrived,
                _ => slot.owner() == Owner::Udp,
            };
            if skip {
                continue;
            }
            let Some(handle) = slot.handle() else {
                continue;
            };
            let any = self.sockets.get_mut::<Socket>(handle);
            if let Socket::Udp(udp) = any {
                // A UDP socket closed with datagrams still queued: it leaves once they
                // are sent (Python's `sendto` then `close` loses nothing either).
                if udp.send_queue() == 0 {
                    let _ = leaving.push(index);
                } else {
                    live = true;
                }
                continue;
            }
            let Some(socket) = tcp::Socket::downcast_mut(any) else {
                continue;
            };
            if slot.state() != socket.state() {
                observe(socket, slot, ready, &tracer, index);
            }

            if slot.connect_expired(now) {
                slot.set_outcome(Outcome::TimedOut);
                socket.abort();
                tracer.emit(index, EventKind::TimedOut);
                observe(socket, slot, ready, &tracer, index);
                aborted_any = true;
            } else if let Some(idle) = slot.idle_expired(now) {
                log::info!(
                    "{}: tcp#{index} idle for {idle} in state {}: reset",
                    tracer.host(),
                    slot.state()
                );
                slot.set_outcome(Outcome::TimedOut);
                socket.abort();
                tracer.emit(index, EventKind::TimedOut);
                observe(socket, slot, ready, &tracer, index);
                aborted_any = true;
            } else if matches!(slot.state(), tcp::State::TimeWait | tcp::State::FinWait2)
                && slot.owner().is_closed_by_program()
            {
                to_time_wait_record(
                    socket,
                    slot,
                    ready,
                    &mut self.time_wait,
                    &self.gate,
                    &tracer,
                    index,
                );
            }
            if slot.owner() == Owner::Orphan && slot.state() == tcp::State::Closed {
                // Its listener is gone and the program closed it: it leaves the stack
                // (after this poll's egress, so an abort's RST still goes out).
                let _ = leaving.push(index);
            }
            next_timer = earliest(next_timer, slot.next_watch_deadline());
            live |= !matches!(slot.state(), tcp::State::Closed | tcp::State::Listen);
        }
        for index in leaving {
            self.remove(index);
        }
        self.next_timer = next_timer;
        self.live = live;
        self.watched_at = now;
        self.watched = self.events.activity();
        aborted_any
    }
}

type Socket<'a> = smoltcp::socket::Socket<'a>;

/// Bring `slot` up to date with `socket`'s state: log the change, emit its events.
pub(crate) fn observe(
    socket: &tcp::Socket<'_>,
    slot: &mut Slot,
    ready: &mut u32,
    tracer: &Tracer<'_>,
    index: u8,
) {
    let old = slot.state();
    let new = socket.state();
    if old == new {
        // The common case, on every verb: nothing to record.
        return;
    }
    let Some(change) = slot.observe(new, socket.remote_endpoint(), tracer.now, ready) else {
        return;
    };
    log::debug!("{}: tcp#{index} state={old}=>{new}", tracer.host());
    if slot.owner().is_pool() {
        tracer.pool_changed();
    }
    for kind in change.events.iter() {
        tracer.emit(index, kind);
    }
}

/// Close `socket` at once without a word to the peer: CLOSED, no 4-tuple, so smoltcp
/// sends nothing (an `abort` alone would send an RST at the next poll).
fn silence(socket: &mut tcp::Socket<'_>) {
    let port = socket.local_endpoint().map_or(1, |e| e.port.max(1));
    socket.abort();
    // From CLOSED, `listen` resets the socket (and forgets the 4-tuple); a second abort
    // brings it back to CLOSED.
    let _ = socket.listen(port);
    socket.abort();
}

/// Move a connection in TIME-WAIT or FIN-WAIT-2 into a record and free its socket
/// (CLOSED, silently). `false` (and nothing changed) if it is in neither or no record can
/// be kept.
fn to_time_wait_record(
    socket: &mut tcp::Socket<'_>,
    slot: &mut Slot,
    ready: &mut u32,
    time_wait: &mut TimeWaitTable<'_>,
    gate: &GateMemory,
    tracer: &Tracer<'_>,
    index: u8,
) -> bool {
    let wait = match socket.state() {
        tcp::State::TimeWait => time_wait::Wait::TimeWait,
        tcp::State::FinWait2 => time_wait::Wait::FinWait2,
        _ => return false,
    };
    let (Some(local), Some(remote)) = (socket.local_endpoint(), socket.remote_endpoint()) else {
        return false;
    };
    let peer_next = gate.peer_next(remote, local.port);
    if !time_wait.enter(wait, local, remote, peer_next, tracer.now) {
        return false;
    }
    log::debug!(
        "{}: tcp#{index} {} with {} kept in a record, socket free",
        tracer.host(),
        socket.state(),
        trace::Endpoint(remote)
    );
    // Finished as far as the program is concerned (the record does the rest).
    end_quietly(
        socket,
        slot,
        ready,
        tracer,
        index,
        Outcome::Finished,
        EventKind::Closed,
    );
    true
}

/// End `socket`'s connection at once without a word to the peer ([`silence`]): record
/// how it ended (`outcome`, `kind` for the trace) before the table sees it CLOSED.
fn end_quietly(
    socket: &mut tcp::Socket<'_>,
    slot: &mut Slot,
    ready: &mut u32,
    tracer: &Tracer<'_>,
    index: u8,
    outcome: Outcome,
    kind: EventKind,
) {
    slot.set_outcome(outcome);
    silence(socket);
    tracer.emit(index, kind);
    observe(socket, slot, ready, tracer, index);
}
