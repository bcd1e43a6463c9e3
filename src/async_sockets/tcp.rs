//! The tutorial's TCP verbs as `async fn`s: `accept().await`, `recv().await`, ...

use core::future::poll_fn;
use core::marker::PhantomData;
use core::task::Poll;

use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

use super::async_stack::{AsyncStack, finish};
use crate::socket::{
    AcceptError, ConnectError, ListenError, Listener, RecvError, SendAllError, SendError, Shutdown,
    TcpBuffers, TcpSocket,
};
use crate::stack::{SocketError, later};

/// Python's `settimeout(0)`: non-blocking, a verb that would wait returns `WouldBlock`.
pub(super) fn non_blocking(timeout: Option<Duration>) -> bool {
    timeout == Some(Duration::ZERO)
}

/// A deadline `timeout` after `start` (none without a timeout).
fn deadline(start: Instant, timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| later(start, t))
}

/// A listening port with its pool (Python: `sk.bind(addr); sk.listen(backlog)`), whose
/// `accept` waits. Dropping it closes it.
pub struct AsyncListener<'s, 'a, const POOL: usize, const TIMERS: usize = 8> {
    stack: &'s AsyncStack<'a, TIMERS>,
    listener: Option<Listener<POOL>>,
    timeout: Option<Duration>,
}

impl<'s, 'a, const POOL: usize, const TIMERS: usize> AsyncListener<'s, 'a, POOL, TIMERS> {
    /// [`Listener::listen`] on the shared stack.
    pub fn listen<const RX: usize, const TX: usize>(
        stack: &'s AsyncStack<'a, TIMERS>,
        port: u16,
        backlog: usize,
        pool: &'a mut [TcpBuffers<RX, TX>],
    ) -> Result<Self, ListenError> {
        let listener = stack
            .with(|s| Listener::listen(s, port, backlog, pool))
            .ok_or(ListenError::NoSlot)??;
        Ok(AsyncListener {
            stack,
            listener: Some(listener),
            timeout: None,
        })
    }

    /// Python: `sk.settimeout(t)` on the listening socket: `accept` gives up with
    /// `TimedOut` after `t` without a connection (`None`: it waits forever; zero:
    /// non-blocking, `WouldBlock` at once, as Python's `BlockingIOError`).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The listener, for what the async facade does not wrap (overflow, counts).
    pub fn listener(&mut self) -> Option<&mut Listener<POOL>> {
        self.listener.as_mut()
    }

    /// Python: `conn, addr = sk.accept()`: waits for the oldest established connection.
    /// `Closed`... a closed listener waits for nothing: `WouldBlock` at once.
    pub async fn accept(
        &mut self,
    ) -> Result<(AsyncTcpStream<'s, 'a, TIMERS>, IpEndpoint), AcceptError> {
        let stack = self.stack;
        let Some(listener) = self.listener.as_mut() else {
            return Err(AcceptError::WouldBlock);
        };
        let mut until = None;
        let timeout = self.timeout;
        poll_fn(|cx| {
            let step = stack.with(|s| {
                let until = *until.get_or_insert_with(|| deadline(s.now(), timeout));
                match listener.accept(s) {
                    Ok(conn) => {
                        let peer = conn.peer_addr(s);
                        Poll::Ready(Ok((conn, peer)))
                    }
                    Err(_) if non_blocking(timeout) => Poll::Ready(Err(AcceptError::WouldBlock)),
                    Err(_) if until.is_some_and(|t| s.now() >= t) => {
                        Poll::Ready(Err(AcceptError::TimedOut))
                    }
                    Err(_) => {
                        listener.register_waker(s, cx.waker());
                        Poll::Pending
                    }
                }
            });
            if let Some(Poll::Pending) = step {
                // A socket that comes back to the pool (its connection closed) carries
                // its last task's waker: hear of it from the stack's next change.
                stack.wake_on_change(cx.waker());
                if let Some(Some(t)) = until {
                    stack_wake_at(stack, t, cx);
                }
            }
            match step {
                Some(Poll::Ready(Ok((socket, peer)))) => Poll::Ready(Ok((
                    AsyncTcpStream::from_socket(stack, socket),
                    peer.unwrap_or(IpEndpoint::new(smoltcp::wire::IpAddress::v4(0, 0, 0, 0), 0)),
                ))),
                Some(Poll::Ready(Err(e))) => Poll::Ready(Err(e)),
                Some(Poll::Pending) => Poll::Pending,
                None => busy(cx),
            }
        })
        .await
    }

    /// Python: `sk.close()` on the listening socket (see [`Listener::close`]).
    pub fn close(&mut self) {
        if let Some(listener) = self.listener.take()
            && self.stack.with(|s| listener.close(s)).is_none()
        {
            // The stack was busy: the listener stays as it was (a program error: the
            // stack was borrowed while it closed).
        }
    }
}

impl<const POOL: usize, const TIMERS: usize> Drop for AsyncListener<'_, '_, POOL, TIMERS> {
    /// `close()`: the port is free again (its pool stays lent to the stack).
    fn drop(&mut self) {
        self.close();
    }
}

/// `wake_at` outside the stack's borrow: the timer list is the `AsyncStack`'s.
fn stack_wake_at<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    at: Instant,
    cx: &core::task::Context<'_>,
) {
    stack.wake_at(at, cx.waker());
}

/// The stack was borrowed elsewhere: try again at once.
pub(super) fn busy<T>(cx: &mut core::task::Context<'_>) -> Poll<T> {
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// A TCP connection whose verbs wait (Python's blocking socket): the `conn` of
/// `accept().await`, or a client's `sk`. Dropping it closes it (FIN) and lets go of its
/// socket, as embassy-net's sockets are freed on drop.
pub struct AsyncTcpStream<'s, 'a, const TIMERS: usize = 8> {
    stack: &'s AsyncStack<'a, TIMERS>,
    socket: TcpSocket,
}

impl<'s, 'a, const TIMERS: usize> AsyncTcpStream<'s, 'a, TIMERS> {
    /// A new, unconnected socket on `buffers` (Python: `sk = socket.socket()`).
    pub fn new<const RX: usize, const TX: usize>(
        stack: &'s AsyncStack<'a, TIMERS>,
        buffers: &'a mut TcpBuffers<RX, TX>,
    ) -> Result<Self, SocketError> {
        let socket = stack
            .with(|s| TcpSocket::new(s, buffers))
            .ok_or(SocketError::NoSlot)??;
        Ok(Self::from_socket(stack, socket))
    }

    fn from_socket(stack: &'s AsyncStack<'a, TIMERS>, socket: TcpSocket) -> Self {
        AsyncTcpStream { stack, socket }
    }

    /// The socket under the stream and its stack, for the verbs the facade does not wrap.
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut TcpSocket, &mut crate::stack::Stack<'a>) -> R,
    ) -> Option<R> {
        let socket = &mut self.socket;
        self.stack.with(|s| f(socket, s))
    }

    /// Python: `sk.connect(addr)`: waits for the handshake (at most the `settimeout`
    /// time, else 20 s: [`DEFAULT_CONNECT_TIMEOUT`](crate::stack::DEFAULT_CONNECT_TIMEOUT)).
    pub async fn connect(&mut self, remote: impl Into<IpEndpoint>) -> Result<(), ConnectError> {
        connect_on(self.stack, &mut self.socket, remote.into()).await
    }

    /// Python: `sk.settimeout(t)` (see [`TcpSocket::set_timeout`]); `recv`, `send`,
    /// `send_all` and `close` give up after `t` too. Zero is non-blocking: a verb that
    /// would wait returns `WouldBlock` at once (`connect`: once the SYN is sent).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        let socket = &mut self.socket;
        let _ = self.stack.with(|s| socket.set_timeout(s, timeout));
    }

    /// Python: `data = conn.recv(bufsize)`: waits for data; `Ok(0)` at end of stream.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        recv_on(self.stack, &mut self.socket, buf).await
    }

    /// Python: `conn.send(data)`: waits for room, then queues what fits (at least one
    /// byte); `TimedOut` after the `settimeout` time without room.
    pub async fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        send_on(self.stack, &mut self.socket, data).await
    }

    /// Python: `conn.sendall(data)`: waits until all of it is queued.
    pub async fn send_all(&mut self, data: &[u8]) -> Result<(), SendAllError> {
        let mut sent = 0;
        while sent < data.len() {
            match self.send(&data[sent..]).await {
                Ok(n) => sent += n,
                Err(cause) => return Err(SendAllError { sent, cause }),
            }
        }
        Ok(())
    }

    /// Wait until the peer acknowledged every byte sent (or the connection failed, or
    /// the `settimeout` time passed: `TimedOut`). Python has no such call; embedded-io's
    /// `flush` is it.
    pub async fn flush(&mut self) -> Result<(), SendError> {
        flush_on(self.stack, &mut self.socket).await
    }

    /// Data waiting to be read, or a `recv` that would return at once (end of stream,
    /// an error).
    pub fn read_ready(&mut self) -> bool {
        let socket = &mut self.socket;
        self.stack
            .with(|s| would_not_wait(socket, s))
            .unwrap_or(false)
    }

    /// Room in the send buffer, or a `send` that would fail at once.
    pub fn write_ready(&mut self) -> bool {
        let socket = &mut self.socket;
        self.stack
            .with(|s| {
                socket.send_space(s) > 0
                    || !matches!(
                        socket.state(s),
                        Some(
                            tcp::State::SynSent
                                | tcp::State::SynReceived
                                | tcp::State::Established
                                | tcp::State::CloseWait
                        )
                    )
            })
            .unwrap_or(false)
    }

    /// The stream as a read half and a write half that can wait at the same time (one
    /// task reading while another writes; what HTTP servers take). The stream stays
    /// the owner: the halves borrow it, and it closes when dropped.
    pub fn split(
        &mut self,
    ) -> (
        AsyncReadHalf<'_, 'a, TIMERS>,
        AsyncWriteHalf<'_, 'a, TIMERS>,
    ) {
        halves(self.stack, &self.socket)
    }

    /// Wait until a `recv` would not wait: data, the end of the stream, or an error.
    pub async fn readable(&mut self) {
        readable_on(self.stack, &mut self.socket).await
    }

    /// Python: `sk.shutdown(how)` (see [`TcpSocket::shutdown`]).
    pub fn shutdown(&mut self, how: Shutdown) {
        let socket = &mut self.socket;
        let _ = self.stack.with(|s| socket.shutdown(s, how));
    }

    /// Python: `conn.close()`, waiting until the peer acknowledged our FIN (or the
    /// connection ended otherwise, or the `settimeout` time passed): then the socket is
    /// let go ([`TcpSocket::close`]) and the stream is done. Returns whether the FIN was
    /// acknowledged (`false`: reset, timed out, never connected).
    pub async fn close(mut self) -> bool {
        let stack = self.stack;
        let socket = &mut self.socket;
        let _ = stack.with(|s| socket.shutdown(s, Shutdown::Write));
        let mut until: Option<Option<Instant>> = None;
        poll_fn(|cx| {
            let step = stack.with(|s| {
                let until = *until.get_or_insert_with(|| deadline(s.now(), socket.timeout(s)));
                let state = socket.state(s);
                match state {
                    Some(tcp::State::FinWait2 | tcp::State::TimeWait) => Poll::Ready(true),
                    Some(tcp::State::Closed) | None => {
                        Poll::Ready(socket.error(s).is_none() && state.is_some())
                    }
                    _ if until.is_some_and(|t| s.now() >= t) => Poll::Ready(false),
                    _ => {
                        socket.register_waker(s, cx.waker(), true);
                        Poll::Pending
                    }
                }
            });
            finish(stack, step, until, cx)
        })
        .await
        // Drop lets go of the socket.
    }

    /// Python: `conn.getpeername()`.
    pub fn peer_addr(&mut self) -> Option<IpEndpoint> {
        let socket = &self.socket;
        self.stack.with(|s| socket.peer_addr(s)).flatten()
    }

    /// Python: `sk.getsockname()`.
    pub fn local_addr(&mut self) -> Option<IpEndpoint> {
        let socket = &self.socket;
        self.stack.with(|s| socket.local_addr(s)).flatten()
    }

    /// The RFC 793 state (`None` once the socket is gone).
    pub fn state(&mut self) -> Option<tcp::State> {
        let socket = &self.socket;
        self.stack.with(|s| socket.state(s)).flatten()
    }
}

/// The read half of a [split](AsyncTcpStream::split) stream.
pub struct AsyncReadHalf<'h, 'a, const TIMERS: usize = 8> {
    stack: &'h AsyncStack<'a, TIMERS>,
    socket: TcpSocket,
    _stream: PhantomData<&'h mut ()>,
}

/// The write half of a [split](AsyncTcpStream::split) stream.
pub struct AsyncWriteHalf<'h, 'a, const TIMERS: usize = 8> {
    stack: &'h AsyncStack<'a, TIMERS>,
    socket: TcpSocket,
    _stream: PhantomData<&'h mut ()>,
}

impl<const TIMERS: usize> AsyncReadHalf<'_, '_, TIMERS> {
    /// [`AsyncTcpStream::recv`].
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        recv_on(self.stack, &mut self.socket, buf).await
    }

    /// [`AsyncTcpStream::readable`].
    pub async fn readable(&mut self) {
        readable_on(self.stack, &mut self.socket).await
    }
}

/// The two halves of `socket`'s stream (descriptors of the same socket).
pub(super) fn halves<'h, 'a, const TIMERS: usize>(
    stack: &'h AsyncStack<'a, TIMERS>,
    socket: &TcpSocket,
) -> (
    AsyncReadHalf<'h, 'a, TIMERS>,
    AsyncWriteHalf<'h, 'a, TIMERS>,
) {
    (
        AsyncReadHalf {
            stack,
            socket: socket.duplicate(),
            _stream: PhantomData,
        },
        AsyncWriteHalf {
            stack,
            socket: socket.duplicate(),
            _stream: PhantomData,
        },
    )
}

/// Whether a `recv` on `socket` would return at once.
fn would_not_wait(socket: &TcpSocket, s: &mut crate::stack::Stack<'_>) -> bool {
    socket.recv_queue(s) > 0
        || !matches!(
            socket.state(s),
            Some(
                tcp::State::SynSent
                    | tcp::State::SynReceived
                    | tcp::State::Established
                    | tcp::State::FinWait1
                    | tcp::State::FinWait2
            )
        )
}

pub(super) async fn readable_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut TcpSocket,
) {
    poll_fn(|cx| {
        match stack.with(|s| {
            if would_not_wait(socket, s) {
                Poll::Ready(())
            } else {
                socket.register_waker(s, cx.waker(), false);
                Poll::Pending
            }
        }) {
            Some(poll) => poll,
            None => busy(cx),
        }
    })
    .await
}

impl<const TIMERS: usize> AsyncWriteHalf<'_, '_, TIMERS> {
    /// [`AsyncTcpStream::send`].
    pub async fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        send_on(self.stack, &mut self.socket, data).await
    }

    /// [`AsyncTcpStream::flush`].
    pub async fn flush(&mut self) -> Result<(), SendError> {
        flush_on(self.stack, &mut self.socket).await
    }
}

// ---- the waits behind the stream's verbs (shared with its halves) ------------------

pub(super) async fn connect_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut TcpSocket,
    remote: IpEndpoint,
) -> Result<(), ConnectError> {
    stack
        .with(|s| socket.connect(s, remote))
        .ok_or(ConnectError::WouldBlock)??;
    poll_fn(|cx| {
        match stack.with(|s| match socket.connect_status(s) {
            Err(ConnectError::WouldBlock) if non_blocking(socket.timeout(s)) => {
                Poll::Ready(Err(ConnectError::WouldBlock))
            }
            Err(ConnectError::WouldBlock) => {
                // A state change (SYN-ACK, RST, the connect timeout's abort) wakes it.
                socket.register_waker(s, cx.waker(), false);
                Poll::Pending
            }
            done => Poll::Ready(done),
        }) {
            Some(poll) => poll,
            None => busy(cx),
        }
    })
    .await
}

pub(super) async fn recv_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut TcpSocket,
    buf: &mut [u8],
) -> Result<usize, RecvError> {
    let mut until: Option<Option<Instant>> = None;
    poll_fn(|cx| {
        let step = stack.with(|s| match socket.recv(s, buf) {
            Err(RecvError::WouldBlock) if non_blocking(socket.timeout(s)) => {
                Poll::Ready(Err(RecvError::WouldBlock))
            }
            Err(RecvError::WouldBlock) => {
                socket.register_waker(s, cx.waker(), false);
                // The timeout is the socket's own (`recv` returns `TimedOut` then);
                // the task must be polled again at that time.
                until.get_or_insert_with(|| deadline(s.now(), socket.timeout(s)));
                Poll::Pending
            }
            done => Poll::Ready(done),
        });
        finish(stack, step, until, cx)
    })
    .await
}

pub(super) async fn send_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut TcpSocket,
    data: &[u8],
) -> Result<usize, SendError> {
    if data.is_empty() {
        return Ok(0);
    }
    let mut until: Option<Option<Instant>> = None;
    poll_fn(|cx| {
        let step = stack.with(|s| {
            let until = *until.get_or_insert_with(|| deadline(s.now(), socket.timeout(s)));
            match socket.send(s, data) {
                Err(SendError::WouldBlock) if non_blocking(socket.timeout(s)) => {
                    Poll::Ready(Err(SendError::WouldBlock))
                }
                Err(SendError::WouldBlock) if until.is_some_and(|t| s.now() >= t) => {
                    Poll::Ready(Err(SendError::TimedOut))
                }
                Err(SendError::WouldBlock) => {
                    socket.register_waker(s, cx.waker(), true);
                    Poll::Pending
                }
                done => Poll::Ready(done),
            }
        });
        finish(stack, step, until, cx)
    })
    .await
}

pub(super) async fn flush_on<const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    socket: &mut TcpSocket,
) -> Result<(), SendError> {
    let mut until: Option<Option<Instant>> = None;
    poll_fn(|cx| {
        let step = stack.with(|s| {
            let until = *until.get_or_insert_with(|| deadline(s.now(), socket.timeout(s)));
            if socket.send_queue(s) == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = socket.error(s) {
                return Poll::Ready(Err(match e {
                    RecvError::TimedOut => SendError::TimedOut,
                    _ => SendError::Reset,
                }));
            }
            if non_blocking(socket.timeout(s)) {
                return Poll::Ready(Err(SendError::WouldBlock));
            }
            if until.is_some_and(|t| s.now() >= t) {
                return Poll::Ready(Err(SendError::TimedOut));
            }
            socket.register_waker(s, cx.waker(), true);
            Poll::Pending
        });
        finish(stack, step, until, cx)
    })
    .await
}

impl<const TIMERS: usize> Drop for AsyncTcpStream<'_, '_, TIMERS> {
    /// `close()` without waiting: FIN after the queued data, the connection finishes in
    /// the background, and the socket goes back to its pool or leaves the stack.
    fn drop(&mut self) {
        let socket = &mut self.socket;
        let _ = self.stack.with(|s| socket.close_for_good(s));
    }
}
