//! `embedded-nal`'s TCP traits (`TcpClientStack`, `TcpFullStack`) on a sockless stack.
//!
//! `embedded-nal` is the non-blocking (`nb`) socket interface of embedded Rust: a stack
//! hands out socket handles and every verb takes the stack and a handle, returning
//! `WouldBlock` where Berkeley sockets would wait. That is sockless's own shape, so each
//! trait verb is one sockless verb:
//!
//! | `embedded-nal` | sockless | Python |
//! |---|---|---|
//! | `socket()` | a free client [`TcpSocket`] | `socket.socket()` |
//! | `connect(s, addr)` | [`TcpSocket::connect`], then `connect_status` | `sk.connect(addr)` |
//! | `send` / `receive` | [`TcpSocket::send`] / [`TcpSocket::recv`] | `send` / `recv` |
//! | `bind(s, port)` | [`TcpSocket::bind`] | `sk.bind(("", port))` |
//! | `listen(s)` | [`Listener::listen`] on a pool of `pool` sockets, backlog `pool` | `sk.listen(pool)` |
//! | `accept(s)` | [`Listener::accept`] | `conn, addr = sk.accept()` |
//! | `close(s)` | [`TcpSocket::close`] / [`Listener::close`] | `close()` |
//!
//! **Memory.** [`NalTcpStack::new`] takes one slice of [`TcpBuffers`]; each buffer pair
//! becomes a socket when first needed and is never given back to the stack: a closed
//! client socket is kept for the next `socket()` (once its connection is over: CLOSED,
//! or after a minute of silence from a peer that never finishes the close, as Linux's
//! `tcp_fin_timeout`; it lets go of its bound port then, as Linux), and
//! `listen` takes the next `pool` buffers (see [`with_pool`](NalTcpStack::with_pool))
//! for its listener. So `buffers.len()` bounds the client sockets plus the listeners'
//! pools. A closed listener's pool stays lent to the stack (as with
//! [`Listener::close`]): listening again needs fresh buffers.
//!
//! **The trait's handle and the listener's pool.** A handle from `socket()` is a client
//! socket. `listen` turns the handle into the listener itself (its socket goes back to
//! the free list): the pool's sockets take the SYNs, and each `accept` returns a new
//! handle for an accepted connection, whose `close` returns its socket to the pool. A
//! full pool follows the listener's [`Overflow`](crate::stack::Overflow) policy (queue,
//! as Linux; [`listener`](NalTcpStack::listener) gives the listener to change it or
//! read its counts).
//!
//! **Whose handle.** Each handle carries the adapter that made it (the address of the
//! buffers it was given, unique while they are lent, as a stack's table names its
//! descriptors): a handle passed to another adapter, on this stack or another, is `EBADF`
//! for every verb, `close` included, never that adapter's socket or listener on the same
//! port.
//!
//! **Errors** keep what happened: refused, reset and timed out are the `errno`s Python
//! would raise ([`NetError::Errno`]), and a peer's end of stream is
//! [`NetError::EndOfStream`] (all of them `PipeClosed` for the trait). A stack in use
//! elsewhere (a shared `RefCell`, used from inside a borrow) is `WouldBlock` for the
//! `nb` verbs and [`NetError::Busy`] for the others; a `close` that finds it busy is
//! done at the next call that gets the stack (every one of them: at most
//! [`MAX_CLIENTS`] client and [`MAX_ACCEPTED`] accepted handles exist at once).

use core::net::SocketAddr;

use heapless::Vec;
use smoltcp::socket::tcp;

use super::nal_udp::nb_error;
use super::shared_stack::StackRef;
use crate::socket::{
    BufferReserve, ConnectError, Errno, Listener, NetError, RecvError, SendError, TcpBuffers,
    TcpSocket,
};
use crate::stack::Stack;
use crate::stack::gate::MAX_PORTS;

/// How many client sockets a [`NalTcpStack`] keeps (open or free for reuse).
pub const MAX_CLIENTS: usize = 16;

/// `embedded-nal`'s TCP stack on a sockless [`Stack`] (see the module docs): sockets on
/// buffers of `RX` + `TX` bytes, listeners with pools of up to `POOL` sockets.
pub struct NalTcpStack<'a, S, const RX: usize = 2048, const TX: usize = 2048, const POOL: usize = 4>
{
    stack: S,
    sockets: Sockets<'a, RX, TX, POOL>,
}

/// Everything but the stack: the buffers not yet used, the sockets made from them.
struct Sockets<'a, const RX: usize, const TX: usize, const POOL: usize> {
    /// This adapter's name in its handles (see the module docs).
    tag: usize,
    unused: BufferReserve<'a, RX, TX>,
    /// Closed client sockets, for the next `socket()`.
    free: Vec<Spare, MAX_CLIENTS>,
    /// Client sockets made so far (each ends up in `free` or in a handle).
    clients: usize,
    listeners: Vec<Listener<POOL>, MAX_PORTS>,
    pool: usize,
    /// Accepted handles not yet closed (at most [`MAX_ACCEPTED`]).
    accepted: usize,
    /// Accepted connections whose `close` found the stack busy (they fit: at most
    /// [`MAX_ACCEPTED`] handles exist).
    deferred_accepted: Vec<TcpSocket, MAX_ACCEPTED>,
    /// Listening ports whose `close` found the stack busy (they fit: one per listener).
    deferred_listeners: Vec<u16, MAX_PORTS>,
}

/// A closed client socket kept for the next `socket()`, and the port its last user bound
/// that it still holds (0: none). Python frees a closed socket's port at once, or once
/// its connection is over (TIME-WAIT included): [`Sockets::release_ports`].
struct Spare {
    socket: TcpSocket,
    port: u16,
    /// Its `close` found the stack busy: to be closed at the next call.
    closing: bool,
}

/// How many accepted connections a [`NalTcpStack`] hands out at once; `accept` is
/// `EMFILE` beyond (Linux: no descriptor left), the connection staying queued. It bounds
/// what a busy stack's `close` must remember: every close is done later, none lost.
pub const MAX_ACCEPTED: usize = 16;

/// A socket handle of [`NalTcpStack`]: a client socket, a listener, or an accepted
/// connection.
#[derive(Debug)]
pub struct NalTcpSocket {
    /// The adapter that made it (its `Sockets::tag`).
    owner: usize,
    role: Role,
}

#[derive(Debug)]
enum Role {
    /// From `socket()`; `connecting` from the first `connect` until its outcome was
    /// reported.
    Client {
        socket: TcpSocket,
        port: u16,
        connecting: bool,
    },
    Listening {
        port: u16,
    },
    Accepted(TcpSocket),
}

impl NalTcpSocket {
    /// The sockless socket under this handle, for the verbs the trait lacks
    /// (`set_timeout`, `shutdown`, `peer_addr`...). `None` for a listener. What is set
    /// here is this handle's: once closed, the socket goes to the next `socket()` as a
    /// new one (smoltcp's own tunings, `with_socket`, excepted).
    pub fn socket(&mut self) -> Option<&mut TcpSocket> {
        match &mut self.role {
            Role::Client { socket, .. } | Role::Accepted(socket) => Some(socket),
            Role::Listening { .. } => None,
        }
    }

    /// Whether this handle is a listener.
    pub fn is_listening(&self) -> bool {
        matches!(self.role, Role::Listening { .. })
    }
}

impl<'a, S: StackRef<'a>, const RX: usize, const TX: usize, const POOL: usize>
    NalTcpStack<'a, S, RX, TX, POOL>
{
    /// The traits on `stack`, with `buffers` for every socket they will make (see the
    /// module docs). Listeners get pools of `POOL` sockets.
    pub fn new(stack: S, buffers: &'a mut [TcpBuffers<RX, TX>]) -> Self {
        NalTcpStack {
            stack,
            sockets: Sockets {
                tag: buffers.as_ptr() as usize,
                unused: BufferReserve::new(buffers),
                free: Vec::new(),
                clients: 0,
                listeners: Vec::new(),
                pool: pool_size::<POOL>(POOL),
                accepted: 0,
                deferred_accepted: Vec::new(),
                deferred_listeners: Vec::new(),
            },
        }
    }

    /// Pools of `pool` sockets (at least 1, at most `POOL`) for the listeners made from
    /// now on; the backlog is the pool's size.
    pub fn with_pool(mut self, pool: usize) -> Self {
        self.sockets.pool = pool_size::<POOL>(pool);
        self
    }

    /// The stack, for the program's own polling and verbs.
    pub fn stack(&mut self) -> &mut S {
        &mut self.stack
    }

    /// The listener behind a listening handle (its overflow policy, its counts).
    pub fn listener(&mut self, socket: &NalTcpSocket) -> Option<&mut Listener<POOL>> {
        let Role::Listening { port } = socket.role else {
            return None;
        };
        self.sockets.own(socket).ok()?;
        self.sockets.listeners.iter_mut().find(|l| l.port() == port)
    }

    /// Buffer pairs not yet made into sockets.
    pub fn unused_buffers(&self) -> usize {
        self.sockets.unused.len()
    }

    /// Run `f` on the stack, after the closes a busy stack deferred.
    fn run<R>(
        &mut self,
        f: impl FnOnce(&mut Sockets<'a, RX, TX, POOL>, &mut Stack<'a>) -> R,
    ) -> Result<R, NetError> {
        let sockets = &mut self.sockets;
        self.stack.with(|stack| {
            sockets.close_deferred(stack);
            sockets.release_ports(stack);
            f(sockets, stack)
        })
    }
}

impl<'a, const RX: usize, const TX: usize, const POOL: usize> Sockets<'a, RX, TX, POOL> {
    /// `EBADF` for a handle another adapter made.
    fn own(&self, handle: &NalTcpSocket) -> Result<(), NetError> {
        if handle.owner == self.tag {
            Ok(())
        } else {
            Err(Errno::EBADF.into())
        }
    }

    /// A handle of this adapter.
    fn handle(&self, role: Role) -> NalTcpSocket {
        NalTcpSocket {
            owner: self.tag,
            role,
        }
    }

    /// A closed client socket, or one on the next unused buffers.
    fn client(&mut self, stack: &mut Stack<'a>) -> Result<TcpSocket, NetError> {
        // A socket whose last connection is over; or, failing that, one whose last
        // connection waits in TIME-WAIT, which a record then keeps (as `connect` would).
        let reusable = self
            .free
            .iter()
            .position(|s| s.socket.state(stack) == Some(tcp::State::Closed))
            .or_else(|| {
                self.free
                    .iter_mut()
                    .position(|s| s.socket.end_time_wait(stack))
            });
        if let Some(i) = reusable {
            let Spare { mut socket, .. } = self.free.swap_remove(i);
            // (Never one still `closing`: `close_deferred` ran first.)
            // As a new socket: not the port, timeouts or errors of its last user.
            socket.renew(stack);
            return Ok(socket);
        }
        if self.clients >= MAX_CLIENTS {
            return Err(Errno::ENOBUFS.into());
        }
        let socket = self.unused.client(stack)?;
        self.clients += 1;
        Ok(socket)
    }

    /// A listener on `port` on the next `pool` unused buffers.
    fn listen(&mut self, stack: &mut Stack<'a>, port: u16) -> Result<(), NetError> {
        let room = !self.listeners.is_full();
        let listener = self.unused.listener(stack, port, self.pool, room)?;
        // Room was checked above.
        let _ = self.listeners.push(listener);
        Ok(())
    }

    /// Closed client sockets whose connection is over let go of their bound ports.
    fn release_ports(&mut self, stack: &mut Stack<'a>) {
        for spare in self.free.iter_mut().filter(|s| s.port != 0) {
            if spare.socket.state(stack) == Some(tcp::State::Closed)
                && spare.socket.bind(stack, 0).is_ok()
            {
                spare.port = 0;
            }
        }
    }

    fn close(&mut self, stack: &mut Stack<'a>, handle: NalTcpSocket) {
        match handle.role {
            Role::Client {
                mut socket, port, ..
            } => {
                // A peer that never finishes the close cannot keep it.
                socket.close_to_reuse(stack);
                // Room: every client socket made fits the free list.
                let _ = self.free.push(Spare {
                    socket,
                    port,
                    closing: false,
                });
                self.release_ports(stack);
            }
            Role::Accepted(mut socket) => {
                socket.close(stack);
                self.accepted = self.accepted.saturating_sub(1);
            }
            Role::Listening { port } => self.close_listener(stack, port),
        }
    }

    fn close_listener(&mut self, stack: &mut Stack<'a>, port: u16) {
        if let Some(i) = self.listeners.iter().position(|l| l.port() == port) {
            self.listeners.swap_remove(i).close(stack);
        }
    }

    /// `close` found the stack busy: remember it, in room that cannot run out (a client
    /// socket goes to the free list marked `closing`, which has room for every client;
    /// the others have lists as long as the handles that can exist).
    fn defer_close(&mut self, handle: NalTcpSocket) {
        match handle.role {
            Role::Client { socket, port, .. } => {
                let _ = self.free.push(Spare {
                    socket,
                    port,
                    closing: true,
                });
            }
            Role::Accepted(socket) => {
                let _ = self.deferred_accepted.push(socket);
            }
            Role::Listening { port } => {
                if !self.deferred_listeners.contains(&port) {
                    let _ = self.deferred_listeners.push(port);
                }
            }
        }
    }

    /// Do the closes a busy stack deferred.
    fn close_deferred(&mut self, stack: &mut Stack<'a>) {
        for spare in self.free.iter_mut().filter(|s| s.closing) {
            spare.socket.close_to_reuse(stack);
            spare.closing = false;
        }
        while let Some(mut socket) = self.deferred_accepted.pop() {
            socket.close(stack);
            self.accepted = self.accepted.saturating_sub(1);
        }
        while let Some(port) = self.deferred_listeners.pop() {
            self.close_listener(stack, port);
        }
    }
}

/// A listener's pool of `wanted` sockets as a `Listener<POOL>` takes it: at least 1, at
/// most `POOL` and a backlog's 255; 0 if `POOL` is 0 (no listener then: `ENOBUFS`).
fn pool_size<const POOL: usize>(wanted: usize) -> usize {
    wanted.max(1).min(POOL).min(u8::MAX.into())
}

/// The outcome of an `nb` verb that ran on the stack, or a busy stack.
fn flatten<T>(r: Result<nb::Result<T, NetError>, NetError>) -> nb::Result<T, NetError> {
    r.map_err(nb_error)?
}

impl<'a, S: StackRef<'a>, const RX: usize, const TX: usize, const POOL: usize>
    embedded_nal::TcpClientStack for NalTcpStack<'a, S, RX, TX, POOL>
{
    type TcpSocket = NalTcpSocket;
    type Error = NetError;

    /// A client socket: one whose last connection is over, or one on the next unused
    /// buffers (`ENOBUFS` when none is left, `EMFILE` when the stack is full).
    fn socket(&mut self) -> Result<NalTcpSocket, NetError> {
        let socket = self.run(|sockets, stack| sockets.client(stack))??;
        Ok(self.sockets.handle(Role::Client {
            socket,
            port: 0,
            connecting: false,
        }))
    }

    /// The first call starts the handshake; later calls say how it stands, until it is
    /// done (`Ok`) or failed (the error, once: the next call connects again).
    fn connect(
        &mut self,
        socket: &mut NalTcpSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), NetError> {
        self.sockets.own(socket).map_err(nb::Error::Other)?;
        let Role::Client {
            socket, connecting, ..
        } = &mut socket.role
        else {
            return Err(nb::Error::Other(Errno::EISCONN.into()));
        };
        let remote = NetError::endpoint(remote).map_err(nb::Error::Other)?;
        flatten(self.run(|_, stack| {
            if !*connecting {
                socket
                    .connect(stack, remote)
                    .map_err(|e| nb::Error::Other(e.errno().into()))?;
                *connecting = true;
            }
            match socket.connect_status(stack) {
                Ok(()) => {
                    *connecting = false;
                    Ok(())
                }
                Err(ConnectError::WouldBlock) => Err(nb::Error::WouldBlock),
                Err(e) => {
                    *connecting = false;
                    Err(nb::Error::Other(e.errno().into()))
                }
            }
        }))
    }

    /// On a listener: `EPIPE`, as Linux.
    fn send(&mut self, socket: &mut NalTcpSocket, buffer: &[u8]) -> nb::Result<usize, NetError> {
        self.sockets.own(socket).map_err(nb::Error::Other)?;
        let socket = socket
            .socket()
            .ok_or(nb::Error::Other(Errno::EPIPE.into()))?;
        if buffer.is_empty() {
            return Ok(0);
        }
        flatten(self.run(|_, stack| match socket.send(stack, buffer) {
            Ok(n) => Ok(n),
            Err(SendError::WouldBlock) => Err(nb::Error::WouldBlock),
            Err(e) => Err(nb::Error::Other(e.errno().into())),
        }))
    }

    /// At the end of the peer's stream: [`NetError::EndOfStream`] (`PipeClosed`).
    fn receive(
        &mut self,
        socket: &mut NalTcpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, NetError> {
        self.sockets.own(socket).map_err(nb::Error::Other)?;
        let socket = socket
            .socket()
            .ok_or(nb::Error::Other(Errno::ENOTCONN.into()))?;
        if buffer.is_empty() {
            return Ok(0);
        }
        flatten(self.run(|_, stack| match socket.recv(stack, buffer) {
            Ok(0) => Err(nb::Error::Other(NetError::EndOfStream)),
            Ok(n) => Ok(n),
            Err(RecvError::WouldBlock) => Err(nb::Error::WouldBlock),
            Err(e) => Err(nb::Error::Other(e.errno().into())),
        }))
    }

    /// Python's `close()`: a connection sends FIN and finishes in the background (a
    /// client socket is reused once CLOSED); a listener stops listening, its pending
    /// connections reset. On a busy stack the close is done at the next call.
    fn close(&mut self, socket: NalTcpSocket) -> Result<(), NetError> {
        self.sockets.own(&socket)?;
        let mut handle = Some(socket);
        let result = self.run(|sockets, stack| {
            if let Some(handle) = handle.take() {
                sockets.close(stack, handle);
            }
        });
        if let Some(handle) = handle {
            // Busy: at the next call that gets the stack.
            self.sockets.defer_close(handle);
        }
        result
    }
}

impl<'a, S: StackRef<'a>, const RX: usize, const TX: usize, const POOL: usize>
    embedded_nal::TcpFullStack for NalTcpStack<'a, S, RX, TX, POOL>
{
    /// Python: `sk.bind(("", port))` (0: none). A port a listener or another socket of
    /// the stack holds is `EADDRINUSE`.
    fn bind(&mut self, socket: &mut NalTcpSocket, local_port: u16) -> Result<(), NetError> {
        self.sockets.own(socket)?;
        let Role::Client { socket, port, .. } = &mut socket.role else {
            return Err(Errno::EINVAL.into());
        };
        self.run(|_, stack| socket.bind(stack, local_port))?
            .map_err(|e| NetError::from(e.errno()))?;
        *port = local_port;
        Ok(())
    }

    /// Python: `sk.listen(pool)` on the bound port (or, as Linux, an ephemeral one if
    /// none was bound): a [`Listener`] on the next `pool` buffers. Again on a listener:
    /// nothing to do (Linux only sets the backlog again; here the pool is the backlog).
    fn listen(&mut self, socket: &mut NalTcpSocket) -> Result<(), NetError> {
        self.sockets.own(socket)?;
        let (client, port, connecting) = match &mut socket.role {
            Role::Client {
                socket,
                port,
                connecting,
            } => (socket, port, connecting),
            Role::Listening { .. } => return Ok(()),
            Role::Accepted(_) => return Err(Errno::EINVAL.into()),
        };
        if *connecting {
            return Err(Errno::EISCONN.into());
        }
        let listening = self.run(|sockets, stack| {
            if client.state(stack) != Some(tcp::State::Closed) {
                return Err(NetError::from(Errno::EISCONN));
            }
            let listen_port = match *port {
                0 => stack.ephemeral_port(),
                bound => bound,
            };
            // The client socket lets go of the port for the listener.
            let _ = client.bind(stack, 0);
            match sockets.listen(stack, listen_port) {
                Ok(()) => Ok(listen_port),
                Err(e) => {
                    let _ = client.bind(stack, *port);
                    Err(e)
                }
            }
        })??;
        let old = core::mem::replace(&mut socket.role, Role::Listening { port: listening });
        if let Role::Client { socket, .. } = old {
            // Room: every client socket made fits the free list. Its port is the
            // listener's now.
            let _ = self.sockets.free.push(Spare {
                socket,
                port: 0,
                closing: false,
            });
        }
        Ok(())
    }

    /// Python: `conn, addr = sk.accept()`: the oldest established connection.
    fn accept(
        &mut self,
        socket: &mut NalTcpSocket,
    ) -> nb::Result<(NalTcpSocket, SocketAddr), NetError> {
        self.sockets.own(socket).map_err(nb::Error::Other)?;
        let Role::Listening { port } = socket.role else {
            return Err(nb::Error::Other(Errno::EINVAL.into()));
        };
        flatten(self.run(|sockets, stack| {
            if sockets.accepted >= MAX_ACCEPTED {
                // Linux: EMFILE, the connection stays queued for a later accept.
                return Err(nb::Error::Other(Errno::EMFILE.into()));
            }
            let listener = sockets
                .listeners
                .iter_mut()
                .find(|l| l.port() == port)
                .ok_or(nb::Error::Other(Errno::EBADF.into()))?;
            let mut conn = listener.accept(stack).map_err(|_| nb::Error::WouldBlock)?;
            let Some(peer) = conn.peer_addr(stack) else {
                // Accepted and gone at once (reset before the program looked).
                conn.close(stack);
                return Err(nb::Error::WouldBlock);
            };
            sockets.accepted += 1;
            Ok((sockets.handle(Role::Accepted(conn)), SocketAddr::from(peer)))
        }))
    }
}
