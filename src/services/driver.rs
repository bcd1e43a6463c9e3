//! The service driver: one listening port, a fixed pool of connections, poll-driven.
//!
//! The tutorial's servers are `while True: conn, addr = sk.accept(); ...` loops that serve
//! one client at a time and block in between. A kernel lets them do that because it queues
//! the next clients meanwhile. Without threads or a kernel, a server is instead a state
//! machine that is polled: [`TcpService::poll`] accepts what is ready, gives each open
//! connection its turn through a [`Handler`], and closes those that are done. Nothing
//! blocks, so one loop serves every port and every client at once.
//!
//! What a service promises, at a fixed pool of `POOL` connections:
//!
//! * up to `POOL` clients are served at once; when a conversation ends its socket is
//!   re-armed at once (the connection's last steps, TIME-WAIT or FIN-WAIT-2, are kept by a
//!   record: [`time_wait`](crate::stack::time_wait)) and the next client is served;
//! * client `POOL + 1`, while all are busy, **waits** ([`Overflow::Queue`], the default, as
//!   with a kernel's full backlog): its SYN is held and it is served as soon as a socket
//!   frees; with [`Overflow::Refuse`] it gets an RST and `ConnectionRefusedError` at once;
//! * a connection idle for the configured time (nothing received, nothing sent) is reset,
//!   so a client that vanished cannot hold a socket forever;
//! * a connection that is reset or times out is counted and its socket reused; the other
//!   connections are not disturbed.

use smoltcp::socket::tcp::State;
use smoltcp::time::Duration;

use super::report::{Report, ServiceStats};
use crate::socket::{
    BindError, ListenError, Listener, RecvError, RecvFromError, TcpBuffers, TcpSocket, UdpBuffers,
    UdpSocket,
};
use crate::stack::{Overflow, Stack};

/// What a [`Handler`] says after its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep the connection; poll it again later.
    Open,
    /// The conversation is over: close the connection (FIN after the queued data).
    Close,
    /// The connection died (reset, timed out): release it.
    Lost,
}

/// The protocol of one TCP service, connection by connection.
pub trait Handler {
    /// What the service remembers per connection.
    type Session;

    /// A connection was accepted (send a greeting here).
    fn open(&mut self, conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Self::Session;

    /// The connection's turn: read what arrived, send what is due.
    fn serve(
        &mut self,
        session: &mut Self::Session,
        conn: &mut TcpSocket,
        stack: &mut Stack<'_>,
    ) -> Status;
}

/// A TCP service: a [`Listener`] with a pool of up to `POOL` connections and a [`Handler`].
pub struct TcpService<H: Handler, const POOL: usize> {
    core: Pool<POOL>,
    handler: H,
    /// One per connection of `core`, in the same order.
    sessions: heapless::Vec<H::Session, POOL>,
}

/// The part of a [`TcpService`] that does not depend on its handler: the listener, the
/// connections, the counters. Its methods are compiled once for every service (the
/// handler's type would make one copy per service of everything `TcpService` does).
struct Pool<const POOL: usize> {
    name: &'static str,
    listener: Listener<POOL>,
    conns: heapless::Vec<TcpSocket, POOL>,
    idle_timeout: Option<Duration>,
    stats: ServiceStats,
}

impl<H: Handler, const POOL: usize> TcpService<H, POOL> {
    /// Listen on `port` with one socket per element of `pool`, all of them listening
    /// (backlog = pool size).
    pub fn start<'a, const RX: usize, const TX: usize>(
        name: &'static str,
        stack: &mut Stack<'a>,
        port: u16,
        pool: &'a mut [TcpBuffers<RX, TX>],
        handler: H,
        idle_timeout: Option<Duration>,
        overflow: Overflow,
    ) -> Result<Self, ListenError> {
        Ok(TcpService {
            core: Pool::start(name, stack, port, pool, idle_timeout, overflow)?,
            handler,
            sessions: heapless::Vec::new(),
        })
    }

    /// Accept, serve and close. Call after every poll of the stack.
    pub fn poll(&mut self, stack: &mut Stack<'_>) {
        while let Some(conn) = self.core.accept(stack) {
            let session = self.handler.open(conn, stack);
            // `accept` hands out a connection only while there is room for one more.
            let _ = self.sessions.push(session);
        }
        let mut i = 0;
        while let (Some(conn), Some(session)) =
            (self.core.conns.get_mut(i), self.sessions.get_mut(i))
        {
            let status = self.handler.serve(session, conn, stack);
            if self.core.settle(i, status, stack) {
                i += 1;
            } else {
                self.sessions.swap_remove(i);
            }
        }
        self.core.count_syns(stack);
    }

    /// The service's counters.
    pub fn stats(&self) -> ServiceStats {
        self.core.stats
    }

    /// The counters as a printable line.
    pub fn report(&self) -> Report {
        Report {
            name: self.core.name,
            udp: false,
            stats: self.core.stats,
        }
    }

    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.core.conns.len()
    }

    /// The listener (pool state).
    pub fn listener(&mut self) -> &mut Listener<POOL> {
        &mut self.core.listener
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.core.name
    }
}

impl<const POOL: usize> Pool<POOL> {
    fn start<'a, const RX: usize, const TX: usize>(
        name: &'static str,
        stack: &mut Stack<'a>,
        port: u16,
        pool: &'a mut [TcpBuffers<RX, TX>],
        idle_timeout: Option<Duration>,
        overflow: Overflow,
    ) -> Result<Self, ListenError> {
        let backlog = pool.len();
        let listener = Listener::listen(stack, port, backlog, pool)?;
        listener.set_overflow(stack, overflow);
        log::info!("{name}: listening on port {port}, pool {backlog}");
        Ok(Pool {
            name,
            listener,
            conns: heapless::Vec::new(),
            idle_timeout,
            stats: ServiceStats::default(),
        })
    }

    /// The next connection accepted, added last to the connections.
    ///
    /// On a host, where this runs at every poll of every service and nearly always finds
    /// nothing, the listener's first test (has anything moved since its last scan?) is
    /// inlined into the caller, the rest is a call. On bare metal it is all one function
    /// for every service, and the test stays in [`Listener::accept`] only.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn accept(&mut self, stack: &mut Stack<'_>) -> Option<&mut TcpSocket> {
        #[cfg(not(target_os = "none"))]
        if self.listener.settled(stack) {
            return None;
        }
        self.accept_next(stack)
    }

    #[cfg_attr(target_os = "none", inline(always))]
    fn accept_next(&mut self, stack: &mut Stack<'_>) -> Option<&mut TcpSocket> {
        loop {
            let mut conn = self.listener.accept(stack).ok()?;
            conn.set_idle_timeout(stack, self.idle_timeout);
            self.stats.accepted += 1;
            match self.conns.push(conn) {
                Ok(()) => return self.conns.last_mut(),
                // Cannot happen: the listener never has more than POOL sockets.
                Err(mut conn) => conn.abort(stack),
            }
        }
    }

    /// After the handler's turn on connection `i`: `true` if it stays open, else it is
    /// counted, closed and removed (the last connection takes its place).
    fn settle(&mut self, i: usize, status: Status, stack: &mut Stack<'_>) -> bool {
        let Some(conn) = self.conns.get_mut(i) else {
            return false;
        };
        if settle(self.name, &mut self.stats, conn, status, stack) {
            return true;
        }
        self.conns.swap_remove(i);
        false
    }

    /// The listener's connection requests into the counters.
    fn count_syns(&mut self, stack: &Stack<'_>) {
        let counts = self.listener.syn_counts(stack);
        (self.stats.refused, self.stats.queued) = (counts.refused, counts.queued);
    }
}

/// After the handler's turn: `true` if the connection stays open, else it is counted and
/// closed (not generic, like [`finish`]: one copy for every service).
fn settle(
    name: &str,
    stats: &mut ServiceStats,
    conn: &mut TcpSocket,
    status: Status,
    stack: &mut Stack<'_>,
) -> bool {
    let mut status = status;
    if status == Status::Open && matches!(conn.state(stack), None | Some(State::Closed)) {
        // Whatever the handler thinks, a CLOSED socket carries nothing any more.
        status = Status::Lost;
    }
    if status == Status::Open {
        return true;
    }
    finish(name, stats, conn, status, stack);
    false
}

/// Count and close a connection whose conversation is over (not generic: one copy for
/// every service).
fn finish(
    name: &str,
    stats: &mut ServiceStats,
    conn: &mut TcpSocket,
    status: Status,
    stack: &mut Stack<'_>,
) {
    let (bytes_in, bytes_out) = conn.byte_counts(stack);
    stats.bytes_in += bytes_in;
    stats.bytes_out += bytes_out;
    match (status, conn.error(stack)) {
        (Status::Close, _) => stats.closed += 1,
        (_, Some(RecvError::TimedOut)) => stats.timed_out += 1,
        _ => stats.reset += 1,
    }
    if status == Status::Lost {
        log::info!("{name}: connection lost");
    }
    conn.close(stack);
}

/// The protocol of one UDP service: the reply to a datagram.
pub trait DatagramHandler {
    /// Given a datagram of `len` bytes in `buf`, return the reply (or `None`).
    fn reply<'b>(&mut self, buf: &'b mut [u8], len: usize) -> Option<&'b [u8]>;
}

/// The largest datagram a UDP service reads.
pub const DATAGRAM_MAX: usize = 2048;

/// A UDP service: a bound socket that answers each datagram to its sender.
pub struct UdpService<H: DatagramHandler> {
    name: &'static str,
    handler: H,
    socket: UdpSocket,
    stats: ServiceStats,
}

impl<H: DatagramHandler> UdpService<H> {
    /// Bind `port`.
    pub fn start<'a, const PACKETS: usize, const BYTES: usize>(
        name: &'static str,
        stack: &mut Stack<'a>,
        port: u16,
        buffers: &'a mut UdpBuffers<PACKETS, BYTES>,
        handler: H,
    ) -> Result<Self, BindError> {
        let socket = UdpSocket::bind(stack, port, buffers)?;
        log::info!("{name}: bound to UDP port {port}");
        Ok(UdpService {
            name,
            handler,
            socket,
            stats: ServiceStats::default(),
        })
    }

    /// Answer every datagram waiting, while there is room to queue answers.
    pub fn poll(&mut self, stack: &mut Stack<'_>) {
        self.serve(stack);
    }

    /// [`poll`](Self::poll); `true` if datagrams wait that found no room to be answered
    /// (room comes as frames leave, not as they arrive: the next turn must look again).
    pub(crate) fn serve(&mut self, stack: &mut Stack<'_>) -> bool {
        answer_datagrams(
            self.name,
            &mut self.stats,
            &mut self.socket,
            &mut self.handler,
            stack,
        )
    }

    /// The service's counters.
    pub fn stats(&self) -> ServiceStats {
        self.stats
    }

    /// The counters as a printable line.
    pub fn report(&self) -> Report {
        Report {
            name: self.name,
            udp: true,
            stats: self.stats,
        }
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// [`UdpService::poll`], not generic: one copy for every UDP service (the handler is
/// called through `dyn`, once per datagram).
fn answer_datagrams(
    name: &str,
    stats: &mut ServiceStats,
    socket: &mut UdpSocket,
    handler: &mut dyn DatagramHandler,
    stack: &mut Stack<'_>,
) -> bool {
    if !socket.can_recv(stack) {
        return false;
    }
    let mut buf = [0u8; DATAGRAM_MAX];
    loop {
        if !socket.can_send(stack) {
            return socket.can_recv(stack);
        }
        match socket.recvfrom(stack, &mut buf) {
            Ok((len, from)) => {
                stats.accepted += 1;
                stats.bytes_in += len as u64;
                if let Some(reply) = handler.reply(&mut buf, len) {
                    let reply_len = reply.len() as u64;
                    match socket.sendto(stack, reply, from) {
                        Ok(()) => {
                            stats.answered += 1;
                            stats.bytes_out += reply_len;
                        }
                        Err(e) => {
                            stats.dropped += 1;
                            log::info!("{name}: reply to {from} dropped: {e}");
                        }
                    }
                }
            }
            Err(RecvFromError::Truncated { size, from, .. }) => {
                stats.accepted += 1;
                stats.dropped += 1;
                log::info!("{name}: {size}-byte datagram from {from} dropped");
            }
            Err(_) => return false,
        }
    }
}
