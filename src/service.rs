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
//! * up to `POOL` clients are served at once; when a connection ends its socket is
//!   re-armed and the next client is served;
//! * client `POOL + 1`, while all are busy, is **refused** (RST): its `connect` fails at
//!   once with `ConnectionRefusedError` and it can try again later;
//! * a connection idle for the configured time (nothing received, nothing sent) is reset,
//!   so a client that vanished cannot hold a socket forever;
//! * a connection that is reset or times out is counted and its socket reused; the other
//!   connections are not disturbed.

use smoltcp::socket::tcp::State;
use smoltcp::time::Duration;

use crate::gate::Overflow;
use crate::stack::Stack;
use crate::tcp::{ListenError, Listener, RecvError, TcpBuffers, TcpSocket};
use crate::udp::{BindError, RecvFromError, UdpBuffers, UdpSocket};

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

/// Counters of one service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Connections accepted (TCP) or datagrams received (UDP).
    pub accepted: u64,
    /// Connection requests refused (RST) because every socket was taken.
    pub refused: u64,
    /// Connection requests dropped for a retry because every socket was taken
    /// ([`Overflow::Queue`]).
    pub queued: u64,
    /// Connections closed because the conversation ended.
    pub closed: u64,
    /// Connections lost to a reset (an RST from the peer).
    pub reset: u64,
    /// Connections lost to a timeout (idle, or the peer stopped answering).
    pub timed_out: u64,
    /// Bytes received, over finished connections (TCP) or datagrams (UDP).
    pub bytes_in: u64,
    /// Bytes sent, likewise.
    pub bytes_out: u64,
    /// UDP datagrams answered.
    pub answered: u64,
    /// UDP datagrams dropped (too large for the buffer, or no room to answer).
    pub dropped: u64,
}

impl ServiceStats {
    /// Connections lost, whatever the reason.
    pub fn lost(&self) -> u64 {
        self.reset + self.timed_out
    }
}

/// One service's counters, printable as one line (`demo` and `serve` print these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The service's name.
    pub name: &'static str,
    /// A UDP service (datagrams, not connections).
    pub udp: bool,
    /// Its counters.
    pub stats: ServiceStats,
}

impl core::fmt::Display for Report {
    /// One line, the name padded to 9 columns. Only `write_str` and [`Count`]: no integer
    /// formatting or padding from `core::fmt`, so firmware that prints reports does not
    /// pay for them (see [`Count`]).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = &self.stats;
        f.write_str(self.name)?;
        for _ in self.name.len()..9 {
            f.write_str(" ")?;
        }
        let mut field = |label: &str, n: u64| {
            f.write_str(label)?;
            Count(n).fmt(f)
        };
        if self.udp {
            field(" datagrams ", s.accepted)?;
            field(" answered ", s.answered)?;
            field(" dropped ", s.dropped)?;
        } else {
            field(" accepted ", s.accepted)?;
            field(" refused ", s.refused)?;
            field(" queued ", s.queued)?;
            field(" closed ", s.closed)?;
            field(" reset ", s.reset)?;
            field(" timed out ", s.timed_out)?;
        }
        field(", ", s.bytes_in)?;
        field(" B in ", s.bytes_out)?;
        f.write_str(" B out")
    }
}

/// A counter, printed in decimal with nothing but `write_str`.
///
/// `write!(out, "{}", n)` for an integer brings in `core::fmt`'s integer formatting and
/// padding: about 1.5 KB of flash on a Cortex-M, a cost every size-tuned firmware notices.
/// The reports and the firmware's `stats` reply print their numbers through this instead.
/// (Width, fill and the other format options are ignored.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl core::fmt::Display for Count {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut digits = [0u8; 20]; // u64::MAX has 20
        let mut at = digits.len();
        let mut n = self.0;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits were written.
        f.write_str(core::str::from_utf8(&digits[at..]).unwrap_or("?"))
    }
}

/// A TCP service: a [`Listener`] with a pool of up to `POOL` connections and a [`Handler`].
pub struct TcpService<H: Handler, const POOL: usize> {
    name: &'static str,
    handler: H,
    listener: Listener<POOL>,
    conns: heapless::Vec<(TcpSocket, H::Session), POOL>,
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
        let backlog = pool.len();
        let listener = Listener::listen(stack, port, backlog, pool)?;
        listener.set_overflow(stack, overflow);
        log::info!("{name}: listening on port {port}, pool {backlog}");
        Ok(TcpService {
            name,
            handler,
            listener,
            conns: heapless::Vec::new(),
            idle_timeout,
            stats: ServiceStats::default(),
        })
    }

    /// Accept, serve and close. Call after every poll of the stack.
    pub fn poll(&mut self, stack: &mut Stack<'_>) {
        while let Ok(mut conn) = self.listener.accept(stack) {
            conn.set_idle_timeout(stack, self.idle_timeout);
            let session = self.handler.open(&mut conn, stack);
            self.stats.accepted += 1;
            if let Err((mut conn, _)) = self.conns.push((conn, session)) {
                // Cannot happen: the listener never has more than POOL sockets.
                conn.abort(stack);
            }
        }
        let mut i = 0;
        while i < self.conns.len() {
            let (conn, session) = &mut self.conns[i];
            let mut status = self.handler.serve(session, conn, stack);
            if status == Status::Open && matches!(conn.state(stack), None | Some(State::Closed)) {
                // Whatever the handler thinks, a CLOSED socket carries nothing any more.
                status = Status::Lost;
            }
            if status == Status::Open {
                i += 1;
            } else {
                finish(self.name, &mut self.stats, conn, status, stack);
                self.conns.swap_remove(i);
            }
        }
        (self.stats.refused, self.stats.queued) = self.listener.overflow_counts(stack);
    }

    /// The service's counters.
    pub fn stats(&self) -> ServiceStats {
        self.stats
    }

    /// The counters as a printable line.
    pub fn report(&self) -> Report {
        Report {
            name: self.name,
            udp: false,
            stats: self.stats,
        }
    }

    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.conns.len()
    }

    /// The listener (pool state).
    pub fn listener(&mut self) -> &mut Listener<POOL> {
        &mut self.listener
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
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
        if !self.socket.can_recv(stack) {
            return;
        }
        let mut buf = [0u8; DATAGRAM_MAX];
        while self.socket.can_send(stack) {
            match self.socket.recvfrom(stack, &mut buf) {
                Ok((len, from)) => {
                    self.stats.accepted += 1;
                    self.stats.bytes_in += len as u64;
                    if let Some(reply) = self.handler.reply(&mut buf, len) {
                        let reply_len = reply.len() as u64;
                        match self.socket.sendto(stack, reply, from) {
                            Ok(()) => {
                                self.stats.answered += 1;
                                self.stats.bytes_out += reply_len;
                            }
                            Err(e) => {
                                self.stats.dropped += 1;
                                log::info!("{}: reply to {from} dropped: {e}", self.name);
                            }
                        }
                    }
                }
                Err(RecvFromError::Truncated { size, from, .. }) => {
                    self.stats.accepted += 1;
                    self.stats.dropped += 1;
                    log::info!("{}: {size}-byte datagram from {from} dropped", self.name);
                }
                Err(_) => break,
            }
        }
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

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn counts_print_in_decimal_without_core_integer_formatting() {
        for n in [0, 7, 10, 1024, 4_294_967_296, u64::MAX] {
            assert_eq!(format!("{}", Count(n)), format!("{n}"));
        }
    }

    #[test]
    fn a_report_is_one_line_with_the_name_in_nine_columns() {
        let stats = ServiceStats {
            accepted: 3,
            refused: 1,
            closed: 2,
            reset: 1,
            bytes_in: 4096,
            bytes_out: 12,
            ..ServiceStats::default()
        };
        let tcp = Report {
            name: "echo",
            udp: false,
            stats,
        };
        assert_eq!(
            format!("{tcp}"),
            "echo      accepted 3 refused 1 queued 0 closed 2 reset 1 timed out 0, 4096 B in 12 B out"
        );
        let stats = ServiceStats {
            accepted: 6,
            answered: 5,
            dropped: 1,
            bytes_in: 70,
            bytes_out: 10,
            ..ServiceStats::default()
        };
        let udp = Report {
            name: "udp-ok",
            udp: true,
            stats,
        };
        assert_eq!(
            format!("{udp}"),
            "udp-ok    datagrams 6 answered 5 dropped 1, 70 B in 10 B out"
        );
        // A name longer than the column is not cut.
        let long = Report {
            name: "a-long-name",
            udp: true,
            stats,
        };
        assert!(format!("{long}").starts_with("a-long-name datagrams 6"));
    }
}
