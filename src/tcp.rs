//! TCP with the tutorial's verbs: `listen`, `accept`, `connect`, `recv`, `send`, `close`.
//!
//! Berkeley sockets and smoltcp disagree on what a listening socket is. In the kernel,
//! `listen(5)` turns one socket into a factory: SYNs are answered by the kernel, finished
//! handshakes wait in a queue of up to 5, and `accept()` hands out a *new* socket for each.
//! smoltcp has no accept and no backlog (smoltcp issues #852 and #441): a socket in LISTEN
//! state *becomes* the connection when a SYN arrives, and a second SYN to the same port
//! finds nobody listening and is answered with an RST.
//!
//! [`Listener`] bridges the two with a fixed pool of sockets, all on one port:
//!
//! * `listen(port, backlog)` arms `backlog` sockets of the pool in LISTEN. Each can take
//!   one connection, so at most `backlog` connections wait for `accept`, as in the kernel.
//!   A SYN that arrives when all `backlog` are taken is **refused** (RST) by default: the
//!   client's `connect` fails with `ConnectionRefusedError` at once. Or, with
//!   [`Listener::set_overflow`]`(Overflow::Queue)`, it is dropped and the client's own
//!   retransmission tries again later, as with a kernel's full backlog ([`gate`](crate::gate)).
//! * `accept()` hands out the oldest established connection as a [`TcpSocket`] and arms a
//!   spare socket of the pool in its place, if one is free. It never blocks: no
//!   connection ready is [`AcceptError::WouldBlock`].
//! * `close()` on an accepted socket sends FIN; once the connection is fully CLOSED
//!   (after LAST-ACK or TIME-WAIT) the socket returns to the pool and is re-armed.
//!
//! So a pool of `P` sockets serves at most `P` connections at once, of which at most
//! `backlog` wait for `accept`. The pool's buffers are the caller's ([`TcpBuffers`]).
//!
//! Every call is non-blocking, as after Python's `sk.setblocking(False)`: where Python
//! would wait, these return `WouldBlock` and the program polls the stack and tries again.
//! "Blocking" is a loop the program writes around `poll`, e.g.
//! [`Testbed::run`](crate::Testbed::run). [`TcpSocket::set_timeout`] is `settimeout`:
//! how long `connect` and `recv` may keep returning `WouldBlock` before they give up with
//! `TimedOut`.
//!
//! A [`TcpSocket`] is a descriptor: a slot number and a generation. After `close` its slot
//! may carry another connection, and the old descriptor gets `Closed` (`EBADF`) instead.

use core::fmt;

use heapless::Vec;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use crate::gate::Overflow;
use crate::stack::{
    DEFAULT_CONNECT_TIMEOUT, Outcome, Owner, SocketError, SocketId, Stack, TcpParts, observe,
};
use crate::trace::EventKind;

/// The receive and transmit buffers of one TCP socket: `RX + TX` bytes.
///
/// The receive buffer bounds the window the peer may fill; the transmit buffer bounds what
/// `send` can queue before it returns `WouldBlock`.
pub struct TcpBuffers<const RX: usize = 2048, const TX: usize = 2048> {
    rx: [u8; RX],
    tx: [u8; TX],
}

impl<const RX: usize, const TX: usize> Default for TcpBuffers<RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const TX: usize> TcpBuffers<RX, TX> {
    /// Zeroed buffers (a `const fn`: they can be a `static`, in `.bss`).
    pub const fn new() -> Self {
        TcpBuffers {
            rx: [0; RX],
            tx: [0; TX],
        }
    }

    fn socket(&mut self) -> tcp::Socket<'_> {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut self.rx[..]),
            tcp::SocketBuffer::new(&mut self.tx[..]),
        );
        // Detect a dead peer on a connection that has data outstanding.
        socket.set_timeout(None);
        socket
    }
}

/// Error returned by [`Listener::listen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenError {
    /// Port 0 cannot be listened on.
    Unaddressable,
    /// `backlog` is 0 or larger than the pool.
    BadBacklog,
    /// The pool is larger than the listener's capacity `POOL`.
    PoolTooLarge,
    /// The stack has no free slot for the pool's sockets (`EMFILE`).
    NoSlot,
    /// The stack already keeps a policy for its maximum of listening ports
    /// ([`gate::MAX_PORTS`](crate::gate::MAX_PORTS)).
    TooManyPorts,
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::Unaddressable => write!(f, "cannot listen on port 0"),
            ListenError::BadBacklog => write!(f, "backlog must be between 1 and the pool size"),
            ListenError::PoolTooLarge => write!(f, "more buffers than the listener can hold"),
            ListenError::NoSlot => write!(f, "no free socket slot in the stack storage"),
            ListenError::TooManyPorts => write!(f, "too many listening ports on this stack"),
        }
    }
}

impl core::error::Error for ListenError {}

impl From<SocketError> for ListenError {
    fn from(_: SocketError) -> Self {
        ListenError::NoSlot
    }
}

/// Error returned by [`Listener::accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// No connection is ready (Python: `BlockingIOError`).
    WouldBlock,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::WouldBlock => write!(f, "no connection is ready to accept"),
        }
    }
}

impl core::error::Error for AcceptError {}

/// Error returned by [`TcpSocket::connect`] and [`TcpSocket::connect_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The handshake is in progress (`EINPROGRESS`): poll and ask again.
    WouldBlock,
    /// The peer answered with RST: nobody listens there (`ECONNREFUSED`).
    Refused,
    /// No answer before the timeout (`ETIMEDOUT`).
    TimedOut,
    /// The connection was established, then reset before it was checked.
    Reset,
    /// Port 0, an unspecified address, or no source address for that family.
    Unaddressable,
    /// The socket is connected, connecting, or its last connection is still closing
    /// (TIME-WAIT) (`EISCONN`).
    InvalidState,
    /// The descriptor was closed (`EBADF`).
    Closed,
}

impl ConnectError {
    /// The Linux `errno` Python's `connect_ex` would return for this outcome.
    pub const fn errno(&self) -> i32 {
        match self {
            ConnectError::WouldBlock => 115,    // EINPROGRESS
            ConnectError::Refused => 111,       // ECONNREFUSED
            ConnectError::TimedOut => 110,      // ETIMEDOUT
            ConnectError::Reset => 104,         // ECONNRESET
            ConnectError::Unaddressable => 101, // ENETUNREACH
            ConnectError::InvalidState => 106,  // EISCONN
            ConnectError::Closed => 9,          // EBADF
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::WouldBlock => write!(f, "connection in progress"),
            ConnectError::Refused => write!(f, "connection refused"),
            ConnectError::TimedOut => write!(f, "connection timed out"),
            ConnectError::Reset => write!(f, "connection reset by peer"),
            ConnectError::Unaddressable => write!(f, "address not reachable"),
            ConnectError::InvalidState => write!(f, "socket is already connected"),
            ConnectError::Closed => write!(f, "socket is closed"),
        }
    }
}

impl core::error::Error for ConnectError {}

/// Error returned by [`TcpSocket::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// No data yet (`BlockingIOError`): poll and try again.
    WouldBlock,
    /// The peer reset the connection (`ConnectionResetError`), or it was refused.
    Reset,
    /// The `settimeout` time passed with no data (`socket.timeout`), or the connection
    /// was dropped by a timeout.
    TimedOut,
    /// The socket is not connected (`ENOTCONN`).
    NotConnected,
    /// The descriptor was closed (`EBADF`).
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::WouldBlock => write!(f, "no data available yet"),
            RecvError::Reset => write!(f, "connection reset by peer"),
            RecvError::TimedOut => write!(f, "timed out"),
            RecvError::NotConnected => write!(f, "socket is not connected"),
            RecvError::Closed => write!(f, "socket is closed"),
        }
    }
}

impl core::error::Error for RecvError {}

/// Error returned by [`TcpSocket::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The transmit buffer is full, or the handshake is not done (`BlockingIOError`).
    WouldBlock,
    /// The peer reset the connection (`ConnectionResetError`).
    Reset,
    /// The connection was dropped by a timeout.
    TimedOut,
    /// We already sent FIN (`shutdown(SHUT_WR)` or `close`): `BrokenPipeError`.
    Shutdown,
    /// The socket is not connected (`ENOTCONN`).
    NotConnected,
    /// The descriptor was closed (`EBADF`).
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::WouldBlock => write!(f, "transmit buffer full"),
            SendError::Reset => write!(f, "connection reset by peer"),
            SendError::TimedOut => write!(f, "timed out"),
            SendError::Shutdown => write!(f, "cannot send after shutdown"),
            SendError::NotConnected => write!(f, "socket is not connected"),
            SendError::Closed => write!(f, "socket is closed"),
        }
    }
}

impl core::error::Error for SendError {}

/// Error returned by [`TcpSocket::sendall`]: only `sent` bytes were queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendAllError {
    /// How many bytes of the data were queued.
    pub sent: usize,
    /// Why the rest was not: [`SendError::WouldBlock`] means "call again with the rest".
    pub cause: SendError,
}

impl fmt::Display for SendAllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "queued {} bytes, then: {}", self.sent, self.cause)
    }
}

impl core::error::Error for SendAllError {}

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

/// A listening TCP port with a pool of up to `POOL` sockets (see the module docs).
///
/// Python: `sk = socket.socket(); sk.bind(ip_port); sk.listen(backlog)`.
#[derive(Debug)]
pub struct Listener<const POOL: usize> {
    port: u16,
    backlog: u8,
    pool: Vec<u8, POOL>,
    /// The stack's pool epoch when the pool was last scanned: while it has not moved,
    /// nothing can have become ready to accept or to re-arm.
    scanned_at: Option<u64>,
}

impl<const POOL: usize> Listener<POOL> {
    /// Bind to `port` on every address of the stack and listen with `backlog`, using one
    /// socket per element of `pool` (Python: `sk.bind(("", port)); sk.listen(backlog)`).
    pub fn listen<'a, const RX: usize, const TX: usize>(
        stack: &mut Stack<'a>,
        port: u16,
        backlog: usize,
        pool: &'a mut [TcpBuffers<RX, TX>],
    ) -> Result<Self, ListenError> {
        if port == 0 {
            return Err(ListenError::Unaddressable);
        }
        if backlog == 0 || backlog > pool.len() || backlog > u8::MAX as usize {
            return Err(ListenError::BadBacklog);
        }
        if pool.len() > POOL {
            return Err(ListenError::PoolTooLarge);
        }
        let free = stack.capacity().0 - stack.capacity().1;
        if free < pool.len() {
            return Err(ListenError::NoSlot);
        }
        if !stack.register_port(port) {
            return Err(ListenError::TooManyPorts);
        }
        let mut listener = Listener {
            port,
            backlog: backlog as u8,
            pool: Vec::new(),
            scanned_at: None,
        };
        for buffers in pool.iter_mut() {
            let id = stack.add(buffers.socket(), Owner::Spare)?;
            stack.slot_mut(id.index).port = port;
            // Capacity was checked above.
            let _ = listener.pool.push(id.index);
        }
        stack.tracer().emit(
            listener.pool[0],
            EventKind::Listen {
                port,
                backlog: backlog as u8,
            },
        );
        listener.arm(stack);
        Ok(listener)
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What to do with a connection request when every socket is taken: refuse it
    /// (RST, the default) or drop it so that the client retries (see
    /// [`gate`](crate::gate)).
    pub fn set_overflow(&self, stack: &mut Stack<'_>, overflow: Overflow) {
        stack.set_overflow(self.port, overflow);
    }

    /// Connection requests refused and queued so far because no socket was free.
    pub fn overflow_counts(&self, stack: &Stack<'_>) -> (u64, u64) {
        stack.overflow_counts(self.port)
    }

    /// Python: `sk.getsockname()` (the unspecified address: every address of the stack).
    pub fn local_addr(&self) -> IpListenEndpoint {
        IpListenEndpoint::from(self.port)
    }

    /// Take the oldest established connection (Python: `conn, addr = sk.accept()`).
    ///
    /// Also returns closed sockets to the pool and re-arms spare ones, so calling it
    /// regularly keeps `backlog` sockets listening.
    pub fn accept(&mut self, stack: &mut Stack<'_>) -> Result<TcpSocket, AcceptError> {
        if self.scanned_at == Some(stack.pool_epoch()) {
            return Err(AcceptError::WouldBlock);
        }
        self.arm(stack);
        let mut oldest: Option<(u8, smoltcp::time::Instant)> = None;
        for &index in self.pool.iter() {
            let (socket, slot, _) = stack.tcp_at(index);
            let ready = slot.owner == Owner::Listening
                && matches!(
                    socket.state(),
                    tcp::State::Established | tcp::State::CloseWait
                );
            if ready && oldest.is_none_or(|(_, at)| slot.last_activity < at) {
                oldest = Some((index, slot.last_activity));
            }
        }
        let Some((index, _)) = oldest else {
            // Only a scan that found nothing may be skipped next time: after taking one
            // connection, others may still be waiting.
            self.scanned_at = Some(stack.pool_epoch());
            return Err(AcceptError::WouldBlock);
        };
        let (socket, slot, tracer) = stack.tcp_at(index);
        observe(socket, slot, &tracer, index);
        slot.owner = Owner::Accepted;
        slot.begin_connection(tracer.now);
        let peer = socket
            .remote_endpoint()
            .unwrap_or(IpEndpoint::new(smoltcp::wire::IpAddress::v4(0, 0, 0, 0), 0));
        tracer.emit(index, EventKind::Accept { peer });
        let generation = slot.generation;
        self.arm(stack);
        Ok(TcpSocket {
            id: SocketId { index, generation },
        })
    }

    /// Connections established and waiting for `accept`.
    pub fn pending(&mut self, stack: &mut Stack<'_>) -> usize {
        self.count(stack, |owner, state| {
            owner == Owner::Listening && state != tcp::State::Listen
        })
    }

    /// Sockets in LISTEN state, ready for a SYN.
    pub fn listening(&mut self, stack: &mut Stack<'_>) -> usize {
        self.count(stack, |owner, state| {
            owner == Owner::Listening && state == tcp::State::Listen
        })
    }

    /// Sockets that carry a connection (pending or accepted) or are still closing.
    pub fn busy(&mut self, stack: &mut Stack<'_>) -> usize {
        self.pool.len()
            - self.count(stack, |owner, state| {
                owner == Owner::Spare || (owner == Owner::Listening && state == tcp::State::Listen)
            })
    }

    /// The pool's size.
    pub fn pool_size(&self) -> usize {
        self.pool.len()
    }

    fn count(&mut self, stack: &mut Stack<'_>, f: impl Fn(Owner, tcp::State) -> bool) -> usize {
        self.arm(stack);
        self.pool
            .iter()
            .filter(|&&index| {
                let (socket, slot, _) = stack.tcp_at(index);
                f(slot.owner, socket.state())
            })
            .count()
    }

    /// Return finished sockets to the pool; arm spare ones up to `backlog`.
    fn arm(&mut self, stack: &mut Stack<'_>) {
        let mut waiting = 0;
        for &index in self.pool.iter() {
            let (socket, slot, tracer) = stack.tcp_at(index);
            observe(socket, slot, &tracer, index);
            match slot.owner {
                Owner::Released if socket.state() == tcp::State::Closed => {
                    slot.owner = Owner::Spare;
                    slot.generation = slot.generation.wrapping_add(1);
                }
                Owner::Listening if socket.state() == tcp::State::Closed => {
                    // A pending connection died before `accept` took it.
                    slot.owner = Owner::Spare;
                }
                Owner::Listening => waiting += 1,
                _ => {}
            }
        }
        for &index in self.pool.iter() {
            if waiting >= self.backlog {
                break;
            }
            let (socket, slot, tracer) = stack.tcp_at(index);
            if slot.owner == Owner::Spare && socket.listen(self.port).is_ok() {
                slot.owner = Owner::Listening;
                slot.outcome = None;
                slot.state = socket.state();
                slot.last_activity = tracer.now;
                waiting += 1;
            }
        }
    }
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
        let id = stack.add(buffers.socket(), Owner::Client)?;
        Ok(TcpSocket { id })
    }

    /// This socket's slot in the stack's table (what `sk.fileno()` is to the kernel).
    pub fn fileno(&self) -> u8 {
        self.id.index
    }

    fn parts<'s, 'a>(&self, stack: &'s mut Stack<'a>) -> Option<TcpParts<'s, 'a>> {
        let parts = stack.tcp(self.id)?;
        observe(parts.socket, parts.slot, &parts.tracer, parts.index);
        Some(parts)
    }

    /// Start connecting to `remote` from an ephemeral port (Python: `sk.connect(addr)`,
    /// non-blocking: the SYN leaves on the next poll). Follow with
    /// [`connect_status`](Self::connect_status).
    ///
    /// A client socket may be connected again once its previous connection is fully
    /// CLOSED: after TIME-WAIT (10 s) if this side closed first. Before that,
    /// `InvalidState`.
    pub fn connect(
        &mut self,
        stack: &mut Stack<'_>,
        remote: impl Into<IpEndpoint>,
    ) -> Result<(), ConnectError> {
        let remote = remote.into();
        let port = stack.ephemeral_port();
        let p = self.parts(stack).ok_or(ConnectError::Closed)?;
        // Only a fully CLOSED socket: smoltcp would also reconnect one in TIME-WAIT, which
        // abandons the old connection's last ACK and leaves the peer stuck in LAST-ACK.
        if p.socket.state() != tcp::State::Closed {
            return Err(ConnectError::InvalidState);
        }
        p.socket.connect(p.cx, remote, port).map_err(|e| match e {
            tcp::ConnectError::InvalidState => ConnectError::InvalidState,
            tcp::ConnectError::Unaddressable => ConnectError::Unaddressable,
        })?;
        p.slot.begin_connection(p.now);
        p.slot.connect_deadline =
            Some(p.now + p.slot.recv_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
        p.tracer.emit(p.index, EventKind::Connect { remote });
        observe(p.socket, p.slot, &p.tracer, p.index);
        Ok(())
    }

    /// How the connection attempt stands (Python: `sk.connect_ex(addr)` returns 0 or an
    /// errno; here `Ok(())` or the error, whose [`errno`](ConnectError::errno) is that
    /// number).
    pub fn connect_status(&self, stack: &mut Stack<'_>) -> Result<(), ConnectError> {
        let p = self.parts(stack).ok_or(ConnectError::Closed)?;
        match p.socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(ConnectError::WouldBlock),
            tcp::State::Closed | tcp::State::Listen => Err(match p.slot.outcome {
                Some(Outcome::Refused) => ConnectError::Refused,
                Some(Outcome::TimedOut) => ConnectError::TimedOut,
                Some(Outcome::Reset | Outcome::Aborted) => ConnectError::Reset,
                Some(Outcome::Finished) | None => ConnectError::InvalidState,
            }),
            _ => Ok(()),
        }
    }

    /// Python: `sk.settimeout(t)`. `connect` fails with `TimedOut` if the handshake takes
    /// longer than `t`, and `recv` once it has returned `WouldBlock` for `t` in a row.
    /// `None` waits forever (the connect timeout is then 20 s).
    pub fn set_timeout(&mut self, stack: &mut Stack<'_>, timeout: Option<Duration>) {
        if let Some(p) = self.parts(stack) {
            p.slot.recv_timeout = timeout;
            p.slot.waiting_since = None;
            p.tracer.touch();
        }
    }

    /// Reset the connection if nothing is sent or received for `timeout`, in any state
    /// where a silent peer could hold the socket forever (not LISTEN nor TIME-WAIT).
    /// A server's defence against clients that vanish; the kernel's analogue is
    /// `SO_KEEPALIVE` plus a timer in the application.
    pub fn set_idle_timeout(&mut self, stack: &mut Stack<'_>, timeout: Option<Duration>) {
        if let Some(p) = self.parts(stack) {
            p.slot.idle_timeout = timeout;
            p.slot.last_activity = p.now;
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
        if p.slot.read_shut {
            // SHUT_RD: throw away whatever arrives.
            while let Ok(n) = p.socket.recv(|d| (d.len(), d.len())) {
                if n == 0 {
                    break;
                }
            }
            return Ok(None);
        }
        if p.socket.can_recv() {
            let (n, r) = p
                .socket
                .recv(|data| {
                    let (n, r) = f(data);
                    let n = n.min(data.len());
                    (n, (n, r))
                })
                .map_err(|_| RecvError::NotConnected)?;
            if n > 0 {
                p.slot.waiting_since = None;
                p.slot.last_activity = p.now;
                p.slot.bytes_in += n as u64;
                p.tracer.emit(p.index, EventKind::Recv { bytes: n as u32 });
            }
            return Ok(Some(r));
        }
        match p.socket.state() {
            // Connected (or about to be), no data for now.
            tcp::State::SynSent
            | tcp::State::SynReceived
            | tcp::State::Established
            | tcp::State::FinWait1
            | tcp::State::FinWait2 => {
                let since = *p.slot.waiting_since.get_or_insert(p.now);
                match p.slot.recv_timeout {
                    Some(t) if p.now >= since + t => {
                        p.slot.waiting_since = None;
                        p.tracer.emit(p.index, EventKind::TimedOut);
                        Err(RecvError::TimedOut)
                    }
                    _ => Err(RecvError::WouldBlock),
                }
            }
            // The peer's FIN arrived and everything was read.
            tcp::State::CloseWait
            | tcp::State::Closing
            | tcp::State::LastAck
            | tcp::State::TimeWait => Ok(None),
            tcp::State::Closed | tcp::State::Listen => match p.slot.outcome {
                Some(Outcome::Finished) => Ok(None),
                Some(Outcome::Reset | Outcome::Refused | Outcome::Aborted) => Err(RecvError::Reset),
                Some(Outcome::TimedOut) => Err(RecvError::TimedOut),
                None => Err(RecvError::NotConnected),
            },
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
                        _ => match p.slot.outcome {
                            Some(Outcome::Reset | Outcome::Refused | Outcome::Aborted) => {
                                SendError::Reset
                            }
                            Some(Outcome::TimedOut) => SendError::TimedOut,
                            Some(Outcome::Finished) => SendError::Shutdown,
                            None => SendError::NotConnected,
                        },
                    });
                }
            }
        }
        if queued == 0 && wanted > 0 {
            return Err(SendError::WouldBlock);
        }
        if queued > 0 {
            p.slot.last_activity = p.now;
            p.slot.bytes_out += queued as u64;
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
    pub fn shutdown(&mut self, stack: &mut Stack<'_>, how: Shutdown) {
        if let Some(p) = self.parts(stack) {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                p.slot.read_shut = true;
                p.tracer.touch();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                p.socket.close();
                observe(p.socket, p.slot, &p.tracer, p.index);
            }
        }
    }

    /// Python: `conn.close()`. Sends FIN after the queued data (a graceful close); the
    /// connection finishes in the background. An accepted socket goes back to its
    /// listener's pool once CLOSED; this descriptor then gets `Closed` errors. A client
    /// socket stays the program's and may `connect` again.
    pub fn close(&mut self, stack: &mut Stack<'_>) {
        if let Some(p) = self.parts(stack) {
            p.socket.close();
            if p.slot.owner == Owner::Accepted {
                p.slot.owner = Owner::Released;
                p.tracer.touch();
                p.tracer.pool_changed();
            }
            observe(p.socket, p.slot, &p.tracer, p.index);
        }
    }

    /// Drop the connection at once with an RST (Python: `SO_LINGER` 0, then `close`).
    pub fn abort(&mut self, stack: &mut Stack<'_>) {
        if let Some(p) = self.parts(stack) {
            if p.socket.state() != tcp::State::Closed {
                p.socket.abort();
                p.slot.outcome = Some(Outcome::Aborted);
                p.tracer.emit(p.index, EventKind::Aborted);
                observe(p.socket, p.slot, &p.tracer, p.index);
            }
            if p.slot.owner == Owner::Accepted {
                p.slot.owner = Owner::Released;
                p.tracer.touch();
                p.tracer.pool_changed();
            }
        }
    }

    /// Why the connection failed, if it did (Python: `sk.getsockopt(SOL_SOCKET,
    /// SO_ERROR)`): `Reset` (an RST, or refused) or `TimedOut`.
    pub fn error(&self, stack: &mut Stack<'_>) -> Option<RecvError> {
        match self.parts(stack)?.slot.outcome? {
            Outcome::Reset | Outcome::Refused | Outcome::Aborted => Some(RecvError::Reset),
            Outcome::TimedOut => Some(RecvError::TimedOut),
            Outcome::Finished => None,
        }
    }

    /// Bytes received and sent on this connection so far (what `recv` returned and
    /// `send` queued).
    pub fn byte_counts(&self, stack: &mut Stack<'_>) -> (u64, u64) {
        self.parts(stack)
            .map_or((0, 0), |p| (p.slot.bytes_in, p.slot.bytes_out))
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
