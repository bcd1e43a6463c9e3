//! A TCP connection with the tutorial's verbs: `connect`, `recv`, `send`, `sendall`,
//! `shutdown`, `close`.
//!
//! A [`TcpSocket`] is either a client's `sk` (made with [`TcpSocket::new`] on its own
//! buffers) or the `conn` that [`Listener::accept`](super::Listener::accept) returns (on a
//! buffer of the listener's pool). Every call is non-blocking, as after Python's
//! `sk.setblocking(False)`: where Python would wait, these return `WouldBlock` and the
//! program polls the stack and tries again. "Blocking" is a loop the program writes
//! around `poll`, e.g. [`Testbed::run`](crate::testbed::Testbed::run).
//! [`TcpSocket::set_timeout`] is `settimeout`: how long `connect` and `recv` may keep
//! returning `WouldBlock` before they give up with `TimedOut`.
//!
//! A [`TcpSocket`] is a descriptor: a slot number and a generation. After `close` its slot
//! may carry another connection, and the old descriptor gets `Closed` (`EBADF`) instead.

use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

use super::buffers::TcpBuffers;
use super::errors::{BindError, ConnectError, RecvError, SendAllError, SendError};
use crate::stack::{
    DEFAULT_CONNECT_TIMEOUT, EventKind, Outcome, Owner, SocketError, SocketId, Stack, TcpParts,
};

/// Which half of a connection [`TcpSocket::shutdown`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `SHUT_RD`: stop reading; what arrives is discarded, `recv` returns end of stream.
    Read,
    /// `SHUT_WR`: send FIN; the peer sees end of stream, we can still read.
    Write,
    /// `SHUT_RDWR`: both.
    Both,
}

/// A TCP connection: the `conn` of `conn, addr = sk.accept()`, or a client's `sk`.
#[derive(Debug, PartialEq, Eq)]
pub struct TcpSocket {
    id: SocketId,
}

impl TcpSocket {
    /// A new, unconnected socket on `buffers` (Python: `sk = socket.socket()`).
    pub fn new<'a, const RX: usize, const TX: usize>(
        stack: &mut Stack<'a>,
        buffers: &'a mut TcpBuffers<RX, TX>,
    ) -> Result<Self, SocketError> {
        let id = stack.add(buffers.socket(), Owner::Client, 0)?;
        Ok(TcpSocket { id })
    }

    pub(crate) fn from_id(id: SocketId) -> Self {
        TcpSocket { id }
    }

    /// A second descriptor of the same socket (Python: `sk.dup()`), for the halves of a
    /// split async stream; closing either closes the socket.
    #[cfg(feature = "async")]
    pub(crate) fn duplicate(&self) -> TcpSocket {
        TcpSocket { id: self.id }
    }

    /// This socket's slot in the stack's table (what `sk.fileno()` is to the kernel).
    pub fn fileno(&self) -> u8 {
        self.id.index
    }

    fn parts<'s, 'a>(&self, stack: &'s mut Stack<'a>) -> Option<TcpParts<'s, 'a>> {
        let mut parts = stack.tcp(self.id)?;
        parts.observe();
        Some(parts)
    }

    /// Start connecting to `remote` from an ephemeral port, or the one given to
    /// [`bind`](Self::bind) (Python: `sk.connect(addr)`, non-blocking: the SYN leaves on
    /// the next poll). Follow with [`connect_status`](Self::connect_status).
    ///
    /// A client socket may be connected again once its previous connection is CLOSED, or
    /// at once from TIME-WAIT (this side closed first): the old connection's TIME-WAIT
    /// then moves into a record, as a kernel keeps it apart from the next socket. While
    /// the previous connection is still open or closing, `InvalidState` (`EISCONN`); an
    /// accepted socket never connects.
    pub fn connect(
        &mut self,
        stack: &mut Stack<'_>,
        remote: impl Into<IpEndpoint>,
    ) -> Result<(), ConnectError> {
        let remote = remote.into();
        let bound = self.parts(stack).map_or(0, |p| p.slot.bound_port());
        let port = if bound != 0 {
            bound
        } else {
            stack.ephemeral_port()
        };
        // A previous connection in TIME-WAIT leaves its duty to a record, as a kernel's
        // would: the socket is free for this one (smoltcp would reconnect it anyway,
        // abandoning the old connection's last ACK).
        if self.state(stack) == Some(tcp::State::TimeWait) {
            stack.end_time_wait(self.id);
        }
        // A record of this very 4-tuple on our side would take the new connection's
        // SYN-ACK for a late segment of the old one.
        stack.forget_time_wait(port, remote);
        let mut p = self.parts(stack).ok_or(ConnectError::Closed)?;
        // An accepted socket is the listener's, connected or not (Python: EISCONN).
        if p.socket.state() != tcp::State::Closed || p.slot.is_accepted() {
            return Err(ConnectError::InvalidState);
        }
        p.socket.connect(p.cx, remote, port).map_err(|e| match e {
            tcp::ConnectError::InvalidState => ConnectError::InvalidState,
            tcp::ConnectError::Unaddressable => ConnectError::Unaddressable,
        })?;
        let timeout = p
            .slot
            .recv_timeout()
            .filter(|t| *t != Duration::ZERO)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        p.slot.start_connect(p.now, timeout);
        p.tracer.emit(p.index, EventKind::Connect { remote });
        p.observe();
        Ok(())
    }

    /// A client socket whose last connection waits in TIME-WAIT: leave that to a record
    /// and make the socket CLOSED (what `connect` does first). `false` if it is not in
    /// TIME-WAIT or no record could be kept.
    #[cfg_attr(not(feature = "embedded-nal"), allow(dead_code))]
    pub(crate) fn end_time_wait(&mut self, stack: &mut Stack<'_>) -> bool {
        self.state(stack) == Some(tcp::State::TimeWait) && stack.end_time_wait(self.id)
    }

    /// A closed client socket given to a new user by a layer that keeps sockets for
    /// reuse (`NalTcpStack`): unbound, without the last user's timeouts, outcome or
    /// `SHUT_RD`, as [`new`](Self::new) makes it. (smoltcp's own tunings, made with
    /// [`with_socket`](Self::with_socket), stay.)
    #[cfg_attr(
        not(any(feature = "embedded-nal", feature = "edge-nal")),
        allow(dead_code)
    )]
    pub(crate) fn renew(&mut self, stack: &mut Stack<'_>) {
        if let Some(p) = self.parts(stack) {
            p.slot.renew(p.now);
            p.tracer.touch();
        }
    }

    /// Python: `sk.bind(('', port))` before `sk.connect(addr)`: the local port of the
    /// next connection (0: an ephemeral one, the default). A port a listener of this
    /// stack holds is `AddrInUse`.
    pub fn bind(&mut self, stack: &mut Stack<'_>, port: u16) -> Result<(), BindError> {
        let mine = self
            .parts(stack)
            .ok_or(BindError::Closed)?
            .slot
            .bound_port();
        if port != 0
            && port != mine
            && (stack.is_listening_port(port) || stack.is_client_port(port))
        {
            return Err(BindError::AddrInUse);
        }
        let p = self.parts(stack).ok_or(BindError::Closed)?;
        if p.socket.state() != tcp::State::Closed || p.slot.is_accepted() {
            return Err(BindError::InvalidState);
        }
        p.slot.bind_port(port);
        p.tracer.emit(p.index, EventKind::Bind { port });
        Ok(())
    }

    /// How the connection attempt stands (Python: `sk.connect_ex(addr)` returns 0 or an
    /// errno; here `Ok(())` or the error, whose [`errno`](ConnectError::errno) is that
    /// number).
    pub fn connect_status(&self, stack: &mut Stack<'_>) -> Result<(), ConnectError> {
        let p = self.parts(stack).ok_or(ConnectError::Closed)?;
        match p.socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(ConnectError::WouldBlock),
            tcp::State::Closed | tcp::State::Listen => Err(match p.slot.outcome() {
                Some(Outcome::Refused) => ConnectError::Refused,
                Some(Outcome::TimedOut) => ConnectError::TimedOut,
                Some(Outcome::Reset | Outcome::Aborted) => ConnectError::Reset,
                Some(Outcome::Cancelled) => ConnectError::Aborted,
                Some(Outcome::Finished) | None => ConnectError::InvalidState,
            }),
            _ => Ok(()),
        }
    }

    /// Python: `sk.settimeout(t)`. `connect` fails with `TimedOut` if the handshake takes
    /// longer than `t`, and `recv` once it has returned `WouldBlock` for `t` in a row.
    /// `None` waits forever (the connect timeout is then 20 s). Zero is Python's
    /// non-blocking mode (`setblocking(False)`): every call here is non-blocking
    /// already, so nothing times out, but the adapters that wait (the async facade,
    /// `ByteStream`) return `WouldBlock` (`EAGAIN`) at once, and
    /// [`timeout`](Self::timeout) says zero, as `gettimeout()` says 0.0.
    pub fn set_timeout(&mut self, stack: &mut Stack<'_>, timeout: Option<Duration>) {
        if let Some(p) = self.parts(stack) {
            p.slot.set_recv_timeout(timeout);
            p.tracer.touch();
        }
    }

    /// A blocking read begins (`ByteStream::read`): the `settimeout` wait counts from
    /// now, as Python's does for each blocking `recv`, not from an earlier `recv` that
    /// returned `WouldBlock`.
    #[cfg_attr(not(feature = "embedded-io"), allow(dead_code))]
    pub(crate) fn restart_wait(&mut self, stack: &mut Stack<'_>) {
        if let Some(p) = self.parts(stack) {
            p.slot.restart_wait();
        }
    }

    /// Python: `sk.gettimeout()`: what [`set_timeout`](Self::set_timeout) set (`None`:
    /// none, or a stale descriptor).
    pub fn timeout(&self, stack: &mut Stack<'_>) -> Option<Duration> {
        self.parts(stack)?.slot.recv_timeout()
    }

    /// Reset the connection if nothing is sent or received for `timeout`, in any state
    /// where a silent peer could hold the socket forever (not LISTEN nor TIME-WAIT).
    /// A server's defence against clients that vanish; the kernel's analogue is
    /// `SO_KEEPALIVE` plus a timer in the application.
    pub fn set_idle_timeout(&mut self, stack: &mut Stack<'_>, timeout: Option<Duration>) {
        if let Some(p) = self.parts(stack) {
            p.slot.set_idle_timeout(timeout, p.now);
            p.tracer.touch();
        }
    }

    /// Receive up to `buf.len()` bytes (Python: `data = conn.recv(bufsize)`).
    ///
    /// `Ok(0)` is end of stream: the peer sent FIN and every byte was read (Python's
    /// `b''`).
    pub fn recv(&mut self, stack: &mut Stack<'_>, buf: &mut [u8]) -> Result<usize, RecvError> {
        let got = self.recv_with(stack, |data| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            (n, n)
        })?;
        Ok(got.unwrap_or(0))
    }

    /// Receive in place: `f` sees the bytes waiting (at least one) and returns
    /// `(consumed, result)`; only `consumed` bytes leave the buffer. A line framer uses it
    /// to take bytes up to a newline and leave the rest.
    ///
    /// `Ok(Some(result))` when `f` ran, `Ok(None)` at end of stream.
    pub fn recv_with<R>(
        &mut self,
        stack: &mut Stack<'_>,
        f: impl FnOnce(&[u8]) -> (usize, R),
    ) -> Result<Option<R>, RecvError> {
        let p = self.parts(stack).ok_or(RecvError::Closed)?;
        if !p.slot.read_shut() && p.socket.can_recv() {
            let (n, r) = p
                .socket
                .recv(|data| {
                    let (n, r) = f(data);
                    let n = n.min(data.len());
                    (n, (n, r))
                })
                .map_err(|_| RecvError::NotConnected)?;
            if n > 0 {
                p.slot.received(n, p.now);
                p.tracer.emit(p.index, EventKind::Recv { bytes: n as u32 });
            }
            return Ok(Some(r));
        }
        nothing_to_read(p).map(|()| None)
    }

    /// Move every byte received to the send side, `transform`ed on the way, straight from
    /// the receive ring into the transmit ring: one copy and one table look-up for the
    /// whole turn, where `recv` into a buffer and `sendall` from it take two copies and a
    /// look-up per verb. Never reads more than can be queued, so nothing is held between
    /// calls and a slow reader slows the writer down. The trace and counters see what
    /// `recv` and `send` would have: a `Recv` then a `Send` event for each piece moved.
    #[cfg(not(target_os = "none"))]
    pub(crate) fn relay(&mut self, stack: &mut Stack<'_>, transform: fn(&mut [u8])) -> Relayed {
        let Some(mut p) = self.parts(stack) else {
            return Relayed::Lost;
        };
        loop {
            let room = if p.socket.may_send() {
                p.socket.send_capacity() - p.socket.send_queue()
            } else {
                0
            };
            if room == 0 {
                // A full transmit buffer on a live connection waits for the peer's ACKs.
                return match p.socket.state() {
                    tcp::State::Established | tcp::State::CloseWait => Relayed::Waiting,
                    _ => Relayed::Lost,
                };
            }
            if p.slot.read_shut() || !p.socket.can_recv() {
                return match nothing_to_read(p) {
                    Ok(()) => Relayed::Finished,
                    Err(RecvError::WouldBlock) => Relayed::Waiting,
                    Err(_) => Relayed::Lost,
                };
            }
            match move_in_place(&mut p, transform) {
                Some(0) | None => return Relayed::Lost,
                Some(n) => {
                    p.slot.received(n, p.now);
                    p.tracer.emit(p.index, EventKind::Recv { bytes: n as u32 });
                    p.slot.sent(n, p.now);
                    p.tracer.emit(p.index, EventKind::Send { bytes: n as u32 });
                }
            }
        }
    }

    /// Bytes that [`send`](Self::send) could queue right now.
    pub fn send_space(&self, stack: &mut Stack<'_>) -> usize {
        match self.parts(stack) {
            Some(p) if p.socket.may_send() => p.socket.send_capacity() - p.socket.send_queue(),
            _ => 0,
        }
    }

    /// Bytes received and waiting to be read.
    pub fn recv_queue(&self, stack: &mut Stack<'_>) -> usize {
        self.parts(stack).map_or(0, |p| p.socket.recv_queue())
    }

    /// Bytes queued for sending and not yet acknowledged by the peer.
    pub fn send_queue(&self, stack: &mut Stack<'_>) -> usize {
        self.parts(stack).map_or(0, |p| p.socket.send_queue())
    }

    /// Queue as much of `data` as fits (Python: `conn.send(data)`, which "may send less
    /// than the whole string"). Returns how many bytes were queued, at least one.
    pub fn send(&mut self, stack: &mut Stack<'_>, data: &[u8]) -> Result<usize, SendError> {
        self.send_vectored(stack, &[data])
    }

    /// Queue as much of the concatenation of `parts` as fits, as one send (Python:
    /// `sk.sendmsg(parts)`): a line and its `\n` without copying them together.
    pub fn send_vectored(
        &mut self,
        stack: &mut Stack<'_>,
        parts: &[&[u8]],
    ) -> Result<usize, SendError> {
        let p = self.parts(stack).ok_or(SendError::Closed)?;
        let wanted: usize = parts.iter().map(|part| part.len()).sum();
        let mut queued = 0;
        for part in parts {
            match p.socket.send_slice(part) {
                Ok(n) => {
                    queued += n;
                    if n < part.len() {
                        break;
                    }
                }
                Err(tcp::SendError::InvalidState) => {
                    return Err(match p.socket.state() {
                        tcp::State::SynSent | tcp::State::SynReceived => SendError::WouldBlock,
                        tcp::State::FinWait1
                        | tcp::State::FinWait2
                        | tcp::State::Closing
                        | tcp::State::LastAck
                        | tcp::State::TimeWait => SendError::Shutdown,
                        _ => match p.slot.outcome() {
                            // Linux: ECONNRESET once, then EPIPE (and EPIPE at once after
                            // the peer's FIN or a refused connect).
                            Some(Outcome::Reset | Outcome::Aborted) if p.slot.report_reset() => {
                                SendError::Reset
                            }
                            Some(Outcome::Reset | Outcome::Refused | Outcome::Aborted) => {
                                SendError::Shutdown
                            }
                            Some(Outcome::TimedOut) => SendError::TimedOut,
                            Some(Outcome::Finished) => SendError::Shutdown,
                            Some(Outcome::Cancelled) | None => SendError::NotConnected,
                        },
                    });
                }
            }
        }
        if queued == 0 && wanted > 0 {
            return Err(SendError::WouldBlock);
        }
        if queued > 0 {
            p.slot.sent(queued, p.now);
            p.tracer.emit(
                p.index,
                EventKind::Send {
                    bytes: queued as u32,
                },
            );
        }
        Ok(queued)
    }

    /// Queue all of `data` (Python: `conn.sendall(data)`, "a loop of send until all is
    /// sent"). Without blocking, "all" can only mean "all that fits": if the buffer
    /// fills first, the error says how much was queued and the caller polls and calls
    /// again with the rest.
    pub fn sendall(&mut self, stack: &mut Stack<'_>, data: &[u8]) -> Result<(), SendAllError> {
        let mut sent = 0;
        while sent < data.len() {
            match self.send(stack, &data[sent..]) {
                Ok(n) => sent += n,
                Err(cause) => return Err(SendAllError { sent, cause }),
            }
        }
        Ok(())
    }

    /// Python: `sk.shutdown(how)`. `Write` sends FIN once the queued data is out; the
    /// peer reads to end of stream, and we can go on reading its data.
    ///
    /// During a connect (SYN-SENT), `Write` cancels it, as Linux does: nothing more is
    /// sent, and [`connect_status`](Self::connect_status) says `Aborted`.
    pub fn shutdown(&mut self, stack: &mut Stack<'_>, how: Shutdown) {
        if let Some(mut p) = self.parts(stack) {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                p.slot.shut_read();
                p.tracer.touch();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                close_or_cancel(&mut p);
            }
        }
    }

    /// Python: `conn.close()`. Sends FIN after the queued data (a graceful close); the
    /// connection finishes in the background. An accepted socket goes back to its
    /// listener's pool once CLOSED (or at once in TIME-WAIT, which a record keeps), and
    /// this descriptor gets `Closed` (`EBADF`) from now on, as in Python; closing twice
    /// does nothing. During a connect, nothing more is sent (no RST, as Linux).
    ///
    /// A client socket (from [`new`](Self::new)) differs from Python's: it stays the
    /// program's, on the buffers it was given, and may `connect` again (Python needs a
    /// new socket object; here that would need new buffers).
    pub fn close(&mut self, stack: &mut Stack<'_>) {
        if let Some(mut p) = self.parts(stack) {
            close_or_cancel(&mut p);
            if p.slot.release() {
                p.tracer.touch();
                p.tracer.pool_changed();
            }
            p.observe();
        }
    }

    /// `close`, and let go of the socket for good: an accepted one returns to its pool
    /// once CLOSED (as `close` does), a client's leaves the stack once CLOSED (its buffers
    /// stay lent to the stack). What an async stream does when it is dropped.
    #[cfg(feature = "async")]
    pub(crate) fn close_for_good(&mut self, stack: &mut Stack<'_>) {
        if let Some(mut p) = self.parts(stack) {
            close_or_cancel(&mut p);
            if p.slot.release() || p.slot.abandon(p.now) {
                p.tracer.touch();
                p.tracer.pool_changed();
            }
            p.observe();
        }
    }

    /// Let `waker` know when data arrives or the state changes (`recv`), or when room
    /// frees up in the send buffer (`send`): smoltcp's own waker registration.
    #[cfg(feature = "async")]
    pub(crate) fn register_waker(
        &self,
        stack: &mut Stack<'_>,
        waker: &core::task::Waker,
        for_send: bool,
    ) {
        if let Some(p) = self.parts(stack) {
            if for_send {
                p.socket.register_send_waker(waker);
            } else {
                p.socket.register_recv_waker(waker);
            }
        }
    }

    /// `close` by a layer that keeps closed client sockets for reuse (`NalTcpStack`):
    /// the program lets go of the socket, so, as for an accepted socket's `close`, the
    /// closing connection gets an idle timeout if it had none (Linux gives its orphans
    /// `tcp_fin_timeout`): a peer that never sends its FIN cannot keep the socket.
    #[cfg_attr(
        not(any(feature = "embedded-nal", feature = "edge-nal")),
        allow(dead_code)
    )]
    pub(crate) fn close_to_reuse(&mut self, stack: &mut Stack<'_>) {
        self.close(stack);
        if let Some(p) = self.parts(stack) {
            p.slot.let_go();
            p.tracer.touch();
        }
    }

    /// Drop the connection at once with an RST (Python: `SO_LINGER` 0, then `close`).
    pub fn abort(&mut self, stack: &mut Stack<'_>) {
        if let Some(mut p) = self.parts(stack) {
            if p.socket.state() != tcp::State::Closed {
                p.socket.abort();
                p.slot.set_outcome(Outcome::Aborted);
                p.tracer.emit(p.index, EventKind::Aborted);
                p.observe();
            }
            if p.slot.release() {
                p.tracer.touch();
                p.tracer.pool_changed();
            }
        }
    }

    /// Why the connection failed, if it did (Python: `sk.getsockopt(SOL_SOCKET,
    /// SO_ERROR)`): `Reset` (an RST, or refused) or `TimedOut`.
    pub fn error(&self, stack: &mut Stack<'_>) -> Option<RecvError> {
        match self.parts(stack)?.slot.outcome()? {
            Outcome::Reset | Outcome::Refused | Outcome::Aborted => Some(RecvError::Reset),
            Outcome::TimedOut => Some(RecvError::TimedOut),
            Outcome::Finished | Outcome::Cancelled => None,
        }
    }

    /// Bytes received and sent on this connection so far (what `recv` returned and
    /// `send` queued).
    pub fn byte_counts(&self, stack: &mut Stack<'_>) -> (u64, u64) {
        self.parts(stack).map_or((0, 0), |p| p.slot.byte_counts())
    }

    /// Python: `conn.getpeername()`. `None` when not connected.
    pub fn peer_addr(&self, stack: &mut Stack<'_>) -> Option<IpEndpoint> {
        self.parts(stack)?.socket.remote_endpoint()
    }

    /// Python: `sk.getsockname()`. `None` when not connected.
    pub fn local_addr(&self, stack: &mut Stack<'_>) -> Option<IpEndpoint> {
        self.parts(stack)?.socket.local_endpoint()
    }

    /// The RFC 793 state (`None` once the descriptor is stale).
    pub fn state(&self, stack: &mut Stack<'_>) -> Option<tcp::State> {
        Some(self.parts(stack)?.socket.state())
    }

    /// Tune the underlying smoltcp socket (Nagle, ACK delay, keep-alive...).
    pub fn with_socket<R>(
        &mut self,
        stack: &mut Stack<'_>,
        f: impl FnOnce(&mut tcp::Socket<'_>) -> R,
    ) -> Option<R> {
        let p = self.parts(stack)?;
        p.tracer.touch();
        Some(f(p.socket))
    }
}

/// `close` for smoltcp: a FIN after the queued data, except during a connect, which is
/// cancelled without a word (smoltcp would send an RST for a SYN-SENT socket it closes).
fn close_or_cancel(p: &mut TcpParts<'_, '_>) {
    if p.socket.state() == tcp::State::SynSent {
        p.end_quietly(Outcome::Cancelled, EventKind::Closed);
    } else {
        p.socket.close();
        p.observe();
    }
}

/// Why `TcpSocket::relay` stopped (on a host: bare metal relays through a stack buffer).
#[cfg(not(target_os = "none"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relayed {
    /// All that arrived is queued to send, or the send side waits for room.
    Waiting,
    /// The peer finished sending (or reading was shut down) and all was relayed.
    Finished,
    /// The connection is gone.
    Lost,
}

/// One contiguous piece from the receive ring into the transmit ring, `transform`ed:
/// how many bytes moved (`None` if smoltcp refused either side).
#[cfg(not(target_os = "none"))]
fn move_in_place(p: &mut TcpParts<'_, '_>, transform: fn(&mut [u8])) -> Option<usize> {
    // Look at the received bytes without taking them (0 consumed).
    let (from, waiting) = p.socket.recv(|rx| (0, (rx.as_ptr(), rx.len()))).ok()?;
    let n = p
        .socket
        .send(|tx| {
            let n = tx.len().min(waiting);
            // SAFETY: `from..from + waiting` is the receive ring's storage that `recv`
            // just showed, still holding those bytes: nothing has been dequeued. The
            // receive and transmit rings are two distinct `&mut [u8]` given to the socket
            // at its creation, so they never overlap, and smoltcp's `send` touches the
            // transmit ring and the socket's timers only, never the receive ring, so the
            // bytes stay where they are while this closure copies them.
            let received = unsafe { core::slice::from_raw_parts(from, n) };
            tx[..n].copy_from_slice(received);
            transform(&mut tx[..n]);
            (n, n)
        })
        .ok()?;
    // Now take them out of the receive ring.
    p.socket.recv(|_| (n, ())).ok()?;
    Some(n)
}

/// `recv` when there is nothing to hand over: after `shutdown(SHUT_RD)` (what arrives is
/// thrown away) or with an empty buffer: `Ok(())` for end of stream, else why not.
/// Not generic over `recv_with`'s closure, so in flash once.
fn nothing_to_read(p: TcpParts<'_, '_>) -> Result<(), RecvError> {
    if p.slot.read_shut() {
        // SHUT_RD: throw away whatever arrives.
        while let Ok(n) = p.socket.recv(|d| (d.len(), d.len())) {
            if n == 0 {
                break;
            }
        }
        return Ok(());
    }
    match p.socket.state() {
        // Connected (or about to be), no data for now.
        tcp::State::SynSent
        | tcp::State::SynReceived
        | tcp::State::Established
        | tcp::State::FinWait1
        | tcp::State::FinWait2 => {
            if p.slot.recv_waits(p.now) {
                p.tracer.emit(p.index, EventKind::TimedOut);
                Err(RecvError::TimedOut)
            } else {
                Err(RecvError::WouldBlock)
            }
        }
        // The peer's FIN arrived and everything was read.
        tcp::State::CloseWait
        | tcp::State::Closing
        | tcp::State::LastAck
        | tcp::State::TimeWait => Ok(()),
        tcp::State::Closed | tcp::State::Listen => match p.slot.outcome() {
            Some(Outcome::Finished) => Ok(()),
            // Linux: ECONNRESET once, then b'' (b'' at once after the peer's FIN).
            Some(Outcome::Reset | Outcome::Aborted) if p.slot.report_reset() => {
                Err(RecvError::Reset)
            }
            Some(Outcome::Reset | Outcome::Aborted) => Ok(()),
            // Linux: a refused connect's socket is not connected (ENOTCONN).
            Some(Outcome::Refused) => Err(RecvError::NotConnected),
            Some(Outcome::TimedOut) => Err(RecvError::TimedOut),
            Some(Outcome::Cancelled) | None => Err(RecvError::NotConnected),
        },
    }
}
