//! embedded-nal's TCP and UDP stacks on sockless: every call sequence the traits' docs
//! describe, with WouldBlock and errors, on two stacks shared through `RefCell`s (as a
//! program whose main loop polls the stack while a protocol crate owns the adapter).

use core::cell::RefCell;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_nal::{
    TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, UdpClientStack, UdpFullStack, nb,
};
use sockless::ecosystem::{MAX_CLIENTS, NalTcpSocket, NalTcpStack, NalUdpStack, NetError};
use sockless::phy::{End, Wire};
use sockless::smoltcp::socket::tcp::State;
use sockless::smoltcp::time::{Duration, Instant};
use sockless::socket::{Errno, Shutdown};
use sockless::stack::Overflow;
use sockless::{Host, Stack, StackStorage, TcpBuffers, UdpBuffers};

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

type Shared = &'static RefCell<Stack<'static>>;

/// Two stacks on a wire, each in a `RefCell`, and a virtual clock.
struct Net {
    wire: &'static mut Wire<'static>,
    client: Shared,
    server: Shared,
    now: Instant,
}

impl Net {
    fn new() -> Net {
        let wire: &'static mut Wire<'static> = leak(Wire::new());
        let now = Instant::ZERO;
        let client = Stack::new(
            Host::CLIENT,
            &mut wire.port(End::A),
            leak(StackStorage::<24>::new()),
            now,
        );
        let server = Stack::new(
            Host::SERVER,
            &mut wire.port(End::B),
            leak(StackStorage::<24>::new()),
            now,
        );
        Net {
            wire,
            client: leak(RefCell::new(client)),
            server: leak(RefCell::new(server)),
            now,
        }
    }

    /// The program's main loop, once: poll both stacks until quiet, then move the clock
    /// to the next deadline (at most 100 ms on).
    fn step(&mut self) {
        for _ in 0..1000 {
            let a = self
                .client
                .borrow_mut()
                .poll(self.now, &mut self.wire.port(End::A));
            let b = self
                .server
                .borrow_mut()
                .poll(self.now, &mut self.wire.port(End::B));
            if !a && !b && self.wire.is_idle() {
                break;
            }
        }
        let next = [
            self.client.borrow_mut().poll_at(),
            self.server.borrow_mut().poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.now + Duration::from_millis(100));
        self.now = next
            .max(self.now + Duration::from_millis(1))
            .min(self.now + Duration::from_millis(100));
    }

    /// Step until `f` gives a value (at most `steps` times).
    fn until<T>(&mut self, steps: usize, mut f: impl FnMut() -> Option<T>) -> T {
        for _ in 0..steps {
            if let Some(v) = f() {
                return v;
            }
            self.step();
        }
        panic!("nothing after {steps} steps (now {})", self.now);
    }
}

fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::from(Host::SERVER.ipv4_addr()), port)
}

fn tcp_buffers(n: usize) -> &'static mut [TcpBuffers<1024, 1024>] {
    Vec::leak((0..n).map(|_| TcpBuffers::new()).collect())
}

type Tcp = NalTcpStack<'static, Shared, 1024, 1024, 4>;

fn tcp_stacks(net: &Net, client_buffers: usize, server_buffers: usize) -> (Tcp, Tcp) {
    (
        NalTcpStack::new(net.client, tcp_buffers(client_buffers)),
        NalTcpStack::new(net.server, tcp_buffers(server_buffers)),
    )
}

/// An nb result as an Option: `None` for WouldBlock, the error panics.
fn ready<T>(r: nb::Result<T, NetError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(nb::Error::WouldBlock) => None,
        Err(nb::Error::Other(e)) => panic!("unexpected error {e}"),
    }
}

fn failed<T: core::fmt::Debug>(r: nb::Result<T, NetError>) -> Option<NetError> {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(nb::Error::WouldBlock) => None,
        Err(nb::Error::Other(e)) => Some(e),
    }
}

/// A server listening on `port` with pools of `pool`, and a connected client socket with
/// the server's accepted one.
fn connected(
    net: &mut Net,
    client: &mut Tcp,
    server: &mut Tcp,
    listening: &mut NalTcpSocket,
) -> (NalTcpSocket, NalTcpSocket, SocketAddr) {
    let mut sk = client.socket().unwrap();
    assert!(
        ready(client.connect(&mut sk, server_addr(7))).is_none(),
        "no handshake without a poll"
    );
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    let (conn, addr) = net.until(100, || ready(server.accept(listening)));
    (sk, conn, addr)
}

fn listening(server: &mut Tcp, port: u16) -> NalTcpSocket {
    let mut s = server.socket().unwrap();
    server.bind(&mut s, port).unwrap();
    server.listen(&mut s).unwrap();
    assert!(s.is_listening());
    s
}

#[test]
fn tcp_full_stack_sequence_socket_bind_listen_accept_send_receive_close() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 10);
    let mut lsk = listening(&mut server, 7);
    assert!(ready(server.accept(&mut lsk)).is_none(), "nobody yet");
    let (mut sk, mut conn, addr) = connected(&mut net, &mut client, &mut server, &mut lsk);
    // The accepted peer is the client's own address and port.
    let client_local = sk
        .socket()
        .unwrap()
        .local_addr(&mut net.client.borrow_mut())
        .unwrap();
    assert_eq!(addr, SocketAddr::from(client_local));
    assert_eq!(addr.ip(), IpAddr::from(Host::CLIENT.ipv4_addr()));

    // send / receive both ways.
    assert_eq!(client.send(&mut sk, b"hello").unwrap(), 5);
    let mut buf = [0u8; 64];
    assert!(
        ready(server.receive(&mut conn, &mut buf)).is_none(),
        "nothing before a poll"
    );
    let n = net.until(50, || ready(server.receive(&mut conn, &mut buf)));
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(server.send(&mut conn, b"HELLO").unwrap(), 5);
    let n = net.until(50, || ready(client.receive(&mut sk, &mut buf)));
    assert_eq!(&buf[..n], b"HELLO");
    // Empty buffers: nothing to do, no error.
    assert_eq!(client.send(&mut sk, b"").unwrap(), 0);
    assert_eq!(client.receive(&mut sk, &mut []).unwrap(), 0);

    // The client closes: the server reads the end of stream, kind PipeClosed.
    client.close(sk).unwrap();
    let end = net.until(50, || failed(server.receive(&mut conn, &mut buf)));
    assert_eq!(end, NetError::EndOfStream);
    assert_eq!(end.kind(), TcpErrorKind::PipeClosed);
    server.close(conn).unwrap();
    server.close(lsk).unwrap();
    // The port is free again: a new listener may take it (on fresh buffers).
    let _again = listening(&mut server, 7);
}

#[test]
fn connect_refused_is_reported_once_then_connect_starts_again() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 1, 5);
    let mut sk = client.socket().unwrap();
    let err = net.until(100, || failed(client.connect(&mut sk, server_addr(7))));
    assert_eq!(err, NetError::Errno(Errno::ECONNREFUSED));
    assert_eq!(err.kind(), TcpErrorKind::Other);
    // Now someone listens: the same handle connects.
    let mut lsk = listening(&mut server, 7);
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    net.until(100, || ready(server.accept(&mut lsk)));
}

#[test]
fn wrong_calls_for_a_handle_get_the_errno_linux_gives() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 9);
    let mut lsk = listening(&mut server, 7);
    // Listening handle: no bind, no connect, no send or receive.
    assert_eq!(
        server.bind(&mut lsk, 8),
        Err(NetError::Errno(Errno::EINVAL))
    );
    assert_eq!(
        failed(server.connect(&mut lsk, server_addr(9))),
        Some(NetError::Errno(Errno::EISCONN))
    );
    assert_eq!(
        failed(server.send(&mut lsk, b"x")),
        Some(NetError::Errno(Errno::EPIPE))
    );
    assert_eq!(
        failed(server.receive(&mut lsk, &mut [0u8; 4])),
        Some(NetError::Errno(Errno::ENOTCONN))
    );
    // A second listener on the port, or a client bound to it: in use.
    let mut other = server.socket().unwrap();
    assert_eq!(
        server.bind(&mut other, 7),
        Err(NetError::Errno(Errno::EADDRINUSE))
    );
    // listen twice on one handle: Linux lets it be (the backlog is the pool here).
    server.listen(&mut lsk).unwrap();
    assert!(lsk.is_listening());
    // A client handle is no listener: accept is EINVAL.
    assert_eq!(
        failed(server.accept(&mut other)),
        Some(NetError::Errno(Errno::EINVAL))
    );
    // Send before connect: not connected.
    let mut sk = client.socket().unwrap();
    assert_eq!(
        failed(client.send(&mut sk, b"x")),
        Some(NetError::Errno(Errno::ENOTCONN))
    );
    // Connect twice while connecting: the second call only asks how it stands.
    assert!(ready(client.connect(&mut sk, server_addr(7))).is_none());
    assert!(ready(client.connect(&mut sk, server_addr(7))).is_none());
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    // Connected: connecting again is EISCONN.
    assert_eq!(
        failed(client.connect(&mut sk, server_addr(7))),
        Some(NetError::Errno(Errno::EISCONN))
    );
    // listen on a connected socket: EISCONN.
    assert_eq!(client.listen(&mut sk), Err(NetError::Errno(Errno::EISCONN)));
}

#[test]
fn listen_without_bind_takes_an_ephemeral_port_as_linux() {
    let net = Net::new();
    let (_, mut server) = tcp_stacks(&net, 0, 5);
    let mut s = server.socket().unwrap();
    server.listen(&mut s).unwrap();
    let port = server.listener(&s).unwrap().port();
    assert!(port >= 49152, "{port}");
}

#[test]
fn the_listener_pool_is_the_backlog_and_extra_callers_wait_in_order() {
    let mut net = Net::new();
    let (mut client, server) = tcp_stacks(&net, 3, 3);
    let mut server = server.with_pool(2);
    let mut lsk = listening(&mut server, 7);
    assert_eq!(server.unused_buffers(), 0, "one socket + a pool of 2");
    let mut sks: Vec<_> = (0..3).map(|_| client.socket().unwrap()).collect();
    for sk in sks.iter_mut() {
        let _ = client.connect(sk, server_addr(7));
        net.step();
    }
    for _ in 0..20 {
        net.step();
    }
    let connected = |client: &mut Tcp, sks: &mut Vec<NalTcpSocket>| {
        sks.iter_mut()
            .map(|sk| matches!(client.connect(sk, server_addr(7)), Ok(())))
            .collect::<Vec<_>>()
    };
    // Two handshakes done; the third caller's SYN is held (Overflow::Queue), not refused.
    assert_eq!(connected(&mut client, &mut sks), [true, true, false]);
    let counts = server
        .listener(&lsk)
        .unwrap()
        .syn_counts(&net.server.borrow());
    assert_eq!((counts.accepted, counts.refused), (2, 0));
    assert!(counts.queued >= 1);
    // accept is first come, first served.
    let (c1, a1) = ready(server.accept(&mut lsk)).unwrap();
    let (c2, a2) = ready(server.accept(&mut lsk)).unwrap();
    let port_of = |sk: &mut NalTcpSocket| {
        sk.socket()
            .unwrap()
            .local_addr(&mut net.client.borrow_mut())
            .unwrap()
            .port
    };
    assert_eq!(a1.port(), port_of(&mut sks[0]));
    assert_eq!(a2.port(), port_of(&mut sks[1]));
    assert!(ready(server.accept(&mut lsk)).is_none());
    // One closes: its socket returns to the pool, the waiting caller gets in.
    server.close(c1).unwrap();
    let (_c3, a3) = net.until(400, || ready(server.accept(&mut lsk)));
    assert_eq!(a3.port(), port_of(&mut sks[2]));
    server.close(c2).unwrap();
}

#[test]
fn overflow_refuse_makes_the_extra_caller_refused() {
    let mut net = Net::new();
    let (mut client, server) = tcp_stacks(&net, 2, 2);
    let mut server = server.with_pool(1);
    let lsk = listening(&mut server, 7);
    server
        .listener(&lsk)
        .unwrap()
        .set_overflow(&mut net.server.borrow_mut(), Overflow::Refuse);
    let mut a = client.socket().unwrap();
    net.until(100, || ready(client.connect(&mut a, server_addr(7))));
    let mut b = client.socket().unwrap();
    let err = net.until(100, || failed(client.connect(&mut b, server_addr(7))));
    assert_eq!(err, NetError::Errno(Errno::ECONNREFUSED));
}

#[test]
fn sockets_run_out_and_come_back_once_closed() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 5);
    let mut lsk = listening(&mut server, 7);
    let (sk1, conn1, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    let sk2 = client.socket().unwrap();
    assert_eq!(
        client.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS)
    );
    // A closed socket whose connection is not over yet is not handed out again...
    client.close(sk1).unwrap();
    client.close(sk2).unwrap();
    let reused = client.socket().unwrap();
    client.close(reused).unwrap();
    // ...and the closing one is, once CLOSED (TIME-WAIT moves into a record when the
    // server closes too).
    server.close(conn1).unwrap();
    for _ in 0..50 {
        net.step();
    }
    let a = client.socket().unwrap();
    let b = client.socket().unwrap();
    assert_eq!(
        client.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS)
    );
    client.close(a).unwrap();
    client.close(b).unwrap();
}

#[test]
fn a_reset_connection_is_pipe_closed_and_a_timeout_is_timed_out() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 5);
    let mut lsk = listening(&mut server, 7);
    let (mut sk, mut conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    // The server's receive waits at most 2 s (settimeout on the socket under the handle).
    conn.socket()
        .unwrap()
        .set_timeout(&mut net.server.borrow_mut(), Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8];
    let start = net.now;
    let err = net.until(100, || failed(server.receive(&mut conn, &mut buf)));
    assert_eq!(err, NetError::Errno(Errno::ETIMEDOUT));
    assert_eq!(err.kind(), TcpErrorKind::PipeClosed);
    assert!(net.now - start >= Duration::from_secs(2));
    // The client aborts: the server's next receive is a reset.
    sk.socket().unwrap().abort(&mut net.client.borrow_mut());
    let err = net.until(100, || failed(server.receive(&mut conn, &mut buf)));
    assert_eq!(err, NetError::Errno(Errno::ECONNRESET));
    assert_eq!(err.kind(), TcpErrorKind::PipeClosed);
    let err = failed(server.send(&mut conn, b"x")).unwrap();
    assert_eq!(err.kind(), TcpErrorKind::PipeClosed);
}

#[test]
fn a_busy_shared_stack_is_would_block_and_a_busy_close_is_done_later() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 5);
    let mut lsk = listening(&mut server, 7);
    let (mut sk, _conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    {
        let _held = net.client.borrow_mut();
        assert!(matches!(
            client.send(&mut sk, b"x"),
            Err(nb::Error::WouldBlock)
        ));
        assert_eq!(client.socket().unwrap_err(), NetError::Busy);
        assert_eq!(client.close(sk), Err(NetError::Busy));
    }
    // The deferred close happens at the next call that gets the stack.
    let mut other = client.socket().unwrap();
    assert!(ready(client.connect(&mut other, server_addr(7))).is_none());
    let mut buf = [0u8; 4];
    let mut conn = _conn;
    let end = net.until(100, || failed(server.receive(&mut conn, &mut buf)));
    assert_eq!(end, NetError::EndOfStream);
}

#[test]
fn client_socket_state_is_reported_through_the_handle() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 1, 5);
    let mut lsk = listening(&mut server, 7);
    let (mut sk, _conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    let state = sk
        .socket()
        .unwrap()
        .state(&mut net.client.borrow_mut())
        .unwrap();
    assert_eq!(state, State::Established);
}

// ---- UDP ---------------------------------------------------------------------------

fn udp_buffers(n: usize) -> &'static mut [UdpBuffers<4, 1024>] {
    Vec::leak((0..n).map(|_| UdpBuffers::new()).collect())
}

type Udp = NalUdpStack<'static, Shared, 4, 1024>;

#[test]
fn udp_send_to_and_receive_round_trip() {
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(2));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(2));
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 9999).unwrap();
    let mut sk = client.socket().unwrap();
    client.connect(&mut sk, server_addr(9999)).unwrap();
    client.send(&mut sk, b"hello").unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = net.until(50, || ready(server.receive(&mut srv, &mut buf)));
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from.ip(), IpAddr::from(Host::CLIENT.ipv4_addr()));
    server.send_to(&mut srv, from, b"ok").unwrap();
    let (n, from) = net.until(50, || ready(client.receive(&mut sk, &mut buf)));
    assert_eq!((&buf[..n], from), (&b"ok"[..], server_addr(9999)));
    // A datagram larger than the buffer is cut, as Linux's recvfrom does.
    client.send(&mut sk, &[7u8; 100]).unwrap();
    let mut small = [0u8; 10];
    let (n, _) = net.until(50, || ready(server.receive(&mut srv, &mut small)));
    assert_eq!(n, 10);
}

#[test]
fn udp_errors_and_reuse() {
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(2));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(3));
    let mut a = server.socket().unwrap();
    server.bind(&mut a, 9999).unwrap();
    let mut b = server.socket().unwrap();
    assert_eq!(
        server.bind(&mut b, 9999),
        Err(NetError::Errno(Errno::EADDRINUSE))
    );
    // send without a peer.
    assert_eq!(
        failed(server.send(&mut b, b"x")),
        Some(NetError::Errno(Errno::EDESTADDRREQ))
    );
    // Close frees the port at once; the socket is reused by the next socket().
    server.close(a).unwrap();
    server.bind(&mut b, 9999).unwrap();
    let c = server.socket().unwrap();
    let d = server.socket().unwrap();
    assert_eq!(
        server.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS)
    );
    server.close(c).unwrap();
    server.close(d).unwrap();
    // A connected socket hears only its peer: a datagram from another port is dropped.
    let mut sk = client.socket().unwrap();
    client.connect(&mut sk, server_addr(9999)).unwrap();
    let mut stranger = client.socket().unwrap();
    client.bind(&mut stranger, 5000).unwrap();
    let sk_port = sk.socket().local_port();
    let to_sk = SocketAddr::new(IpAddr::from(Host::CLIENT.ipv4_addr()), sk_port);
    server.send_to(&mut b, to_sk, b"from 9999").unwrap();
    net.step();
    client.send_to(&mut stranger, to_sk, b"stranger").unwrap();
    let mut buf = [0u8; 32];
    for _ in 0..10 {
        net.step();
    }
    let (n, _) = ready(client.receive(&mut sk, &mut buf)).unwrap();
    assert_eq!(&buf[..n], b"from 9999");
    assert!(ready(client.receive(&mut sk, &mut buf)).is_none());
    // Port 0 or an unspecified address: unreachable.
    assert_eq!(
        client.connect(
            &mut stranger,
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7)
        ),
        Err(NetError::Errno(Errno::ENETUNREACH))
    );
}

#[test]
fn udp_send_to_before_bind_takes_an_ephemeral_port() {
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(1));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(1));
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 7).unwrap();
    let mut sk = client.socket().unwrap();
    assert_eq!(sk.socket().local_port(), 0);
    client.send_to(&mut sk, server_addr(7), b"hi").unwrap();
    assert!(sk.socket().local_port() >= 49152);
    let mut buf = [0u8; 8];
    let (_, from) = net.until(50, || ready(server.receive(&mut srv, &mut buf)));
    assert_eq!(from.port(), sk.socket().local_port());
}

#[test]
fn a_handle_of_another_adapter_is_ebadf_never_that_adapters_socket() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 6, 10);
    // Both adapters listen on port 7, each on its own stack.
    let mut theirs = listening(&mut client, 7);
    let mut lsk = listening(&mut server, 7);
    let mut sk = client.socket().unwrap();
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    // The client adapter's listener on the server adapter: not the server's listener.
    assert_eq!(
        failed(server.accept(&mut theirs)),
        Some(NetError::Errno(Errno::EBADF))
    );
    assert!(server.listener(&theirs).is_none());
    assert_eq!(server.close(theirs), Err(NetError::Errno(Errno::EBADF)));
    // The server's listener was not touched: its own handle accepts the connection.
    let (mut conn, _) = ready(server.accept(&mut lsk)).unwrap();
    assert_eq!(server.send(&mut conn, b"still here").unwrap(), 10);
    // A client handle of another adapter: EBADF for every verb, close included.
    assert_eq!(
        failed(server.send(&mut sk, b"x")),
        Some(NetError::Errno(Errno::EBADF))
    );
    assert_eq!(
        failed(server.connect(&mut sk, server_addr(7))),
        Some(NetError::Errno(Errno::EBADF))
    );
    assert_eq!(server.bind(&mut sk, 9), Err(NetError::Errno(Errno::EBADF)));
    assert_eq!(server.listen(&mut sk), Err(NetError::Errno(Errno::EBADF)));
    assert_eq!(server.close(sk), Err(NetError::Errno(Errno::EBADF)));
    // Two adapters on one stack: each knows only its own handles.
    let mut other: Tcp = NalTcpStack::new(net.server, tcp_buffers(1));
    let mine = server.socket().unwrap();
    assert_eq!(other.close(mine), Err(NetError::Errno(Errno::EBADF)));
    let mut own = other.socket().unwrap();
    assert_eq!(other.unused_buffers(), 0, "a socket on its own buffers");
    other.bind(&mut own, 9).unwrap();
    other.close(own).unwrap();
    server.close(conn).unwrap();
    server.close(lsk).unwrap();
}

#[test]
fn udp_a_handle_of_another_adapter_is_ebadf_and_never_reused() {
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(2));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(1));
    let mut theirs = client.socket().unwrap();
    client.bind(&mut theirs, 9).unwrap();
    assert_eq!(
        server.connect(&mut theirs, server_addr(9)),
        Err(NetError::Errno(Errno::EBADF))
    );
    assert_eq!(
        failed(server.send_to(&mut theirs, server_addr(9), b"x")),
        Some(NetError::Errno(Errno::EBADF))
    );
    assert_eq!(server.close(theirs), Err(NetError::Errno(Errno::EBADF)));
    // The server adapter's next socket is its own, on its own buffers.
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 9).unwrap();
    let mut sk = client.socket().unwrap();
    client.send_to(&mut sk, server_addr(9), b"mine").unwrap();
    let mut buf = [0u8; 8];
    let (n, _) = net.until(50, || ready(server.receive(&mut srv, &mut buf)));
    assert_eq!(&buf[..n], b"mine");
}

#[test]
fn a_closed_socket_lets_go_of_its_bound_port_as_linux() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 7);
    // Python: a.bind(p); a.close(); b.bind(p) works at once.
    let mut a = server.socket().unwrap();
    let mut b = server.socket().unwrap();
    server.bind(&mut a, 5000).unwrap();
    server.close(a).unwrap();
    server.bind(&mut b, 5000).unwrap();
    server.listen(&mut b).unwrap();
    // Bind, then connect: the connection leaves from the bound port.
    let mut sk = client.socket().unwrap();
    let mut other = client.socket().unwrap();
    client.bind(&mut sk, 6000).unwrap();
    net.until(100, || ready(client.connect(&mut sk, server_addr(5000))));
    let local = sk
        .socket()
        .unwrap()
        .local_addr(&mut net.client.borrow_mut())
        .unwrap();
    assert_eq!(local.port, 6000);
    let (conn, addr) = net.until(100, || ready(server.accept(&mut b)));
    assert_eq!(addr.port(), 6000);
    // Bind after connect: EINVAL, as Linux.
    assert_eq!(
        client.bind(&mut sk, 6001),
        Err(NetError::Errno(Errno::EINVAL))
    );
    // Once that connection is over (TIME-WAIT included), its port is free again.
    client.close(sk).unwrap();
    server.close(conn).unwrap();
    for _ in 0..300 {
        net.step();
    }
    client.bind(&mut other, 6000).unwrap();
    client.close(other).unwrap();
    server.close(b).unwrap();
}

#[test]
fn pool_sizes_zero_one_and_more_than_pool() {
    let net = Net::new();
    // POOL = 0: a listener could hold no socket. listen fails, and keeps the buffers.
    let mut none: NalTcpStack<'static, Shared, 1024, 1024, 0> =
        NalTcpStack::new(net.server, tcp_buffers(3));
    let mut s = none.socket().unwrap();
    none.bind(&mut s, 7).unwrap();
    for _ in 0..3 {
        assert_eq!(none.listen(&mut s), Err(NetError::Errno(Errno::ENOBUFS)));
        assert_eq!(none.unused_buffers(), 2);
    }
    assert!(!s.is_listening());
    none.close(s).unwrap();
    // with_pool(0) is a pool of 1; with_pool(POOL + 1) one of POOL.
    let mut one: Tcp = NalTcpStack::new(net.server, tcp_buffers(6)).with_pool(0);
    let lsk = listening(&mut one, 8);
    assert_eq!(one.listener(&lsk).unwrap().pool_size(), 1);
    assert_eq!(one.unused_buffers(), 4);
    let mut four: Tcp = NalTcpStack::new(net.server, tcp_buffers(6)).with_pool(5);
    let lsk4 = listening(&mut four, 9);
    assert_eq!(four.listener(&lsk4).unwrap().pool_size(), 4);
    assert_eq!(four.unused_buffers(), 1);
    // Too few buffers left for a pool: ENOBUFS, nothing taken.
    let mut s = four.socket().unwrap();
    assert_eq!(four.listen(&mut s), Err(NetError::Errno(Errno::ENOBUFS)));
    four.close(s).unwrap();
    one.close(lsk).unwrap();
    four.close(lsk4).unwrap();
}

#[test]
fn udp_bind_on_a_bound_socket_is_einval_and_keeps_what_it_queued() {
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(2));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(1));
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 9).unwrap();
    let mut sk = client.socket().unwrap();
    client.send_to(&mut sk, server_addr(9), b"one").unwrap();
    for _ in 0..5 {
        net.step();
    }
    // Python: binding a bound socket is EINVAL, and the datagram waiting stays.
    assert_eq!(
        server.bind(&mut srv, 10),
        Err(NetError::Errno(Errno::EINVAL))
    );
    assert_eq!(
        server.bind(&mut srv, 9),
        Err(NetError::Errno(Errno::EINVAL))
    );
    let mut buf = [0u8; 8];
    let (n, _) = ready(server.receive(&mut srv, &mut buf)).unwrap();
    assert_eq!(&buf[..n], b"one");
    // connect binds an ephemeral port: bind after it is EINVAL too.
    let mut c = client.socket().unwrap();
    client.connect(&mut c, server_addr(9)).unwrap();
    assert_eq!(
        client.bind(&mut c, 5000),
        Err(NetError::Errno(Errno::EINVAL))
    );
    // bind(0) on a fresh socket: an ephemeral port.
    client.close(c).unwrap();
    let mut d = client.socket().unwrap();
    client.bind(&mut d, 0).unwrap();
    assert!(d.socket().local_port() >= 49152);
}

#[test]
fn udp_a_close_on_a_busy_stack_is_done_at_the_next_call() {
    let net = Net::new();
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(2));
    let mut a = server.socket().unwrap();
    server.bind(&mut a, 9).unwrap();
    let mut b = server.socket().unwrap();
    {
        let _held = net.server.borrow_mut();
        assert_eq!(server.close(a), Err(NetError::Busy));
        assert_eq!(server.bind(&mut b, 9), Err(NetError::Busy));
    }
    // The next call unbinds it: its port is free, the socket is reused.
    server.bind(&mut b, 9).unwrap();
    let c = server.socket().unwrap();
    let mut c = c;
    assert_eq!(c.socket().local_port(), 0);
}

#[test]
fn udp_a_datagram_larger_than_a_frame_or_the_buffer_is_emsgsize_never_lost() {
    let mut net = Net::new();
    type Big = NalUdpStack<'static, Shared, 4, 4096>;
    let big_buffers = || Vec::leak((0..1).map(|_| UdpBuffers::new()).collect());
    let mut client: Big = NalUdpStack::new(net.client, big_buffers());
    let mut server: Big = NalUdpStack::new(net.server, big_buffers());
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 9).unwrap();
    let mut sk = client.socket().unwrap();
    client.connect(&mut sk, server_addr(9)).unwrap();
    // One Ethernet frame carries 1500 - 20 (IPv4) - 8 (UDP) = 1472 bytes; smoltcp does not
    // fragment, so a larger datagram cannot leave: EMSGSIZE, not Ok and lost on the way.
    let mut buf = [0u8; 4096];
    client.send(&mut sk, &[1u8; 1472]).unwrap();
    let (n, _) = net.until(50, || ready(server.receive(&mut srv, &mut buf)));
    assert_eq!(n, 1472);
    for size in [1473, 4096, 4097] {
        assert_eq!(
            failed(client.send(&mut sk, &vec![2u8; size])),
            Some(NetError::Errno(Errno::EMSGSIZE)),
            "{size} bytes"
        );
    }
    // Buffer-exact: a datagram of exactly BYTES goes and arrives whole, into a buffer of
    // exactly its size; one byte more is EMSGSIZE.
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(1));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(1));
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 10).unwrap();
    let mut sk = client.socket().unwrap();
    client.connect(&mut sk, server_addr(10)).unwrap();
    for _ in 0..3 {
        client.send(&mut sk, &[3u8; 1024]).unwrap();
        let mut exact = [0u8; 1024];
        let (n, _) = net.until(50, || ready(server.receive(&mut srv, &mut exact)));
        assert_eq!(n, 1024);
        assert_eq!(exact, [3u8; 1024]);
    }
    assert_eq!(
        failed(client.send(&mut sk, &[3u8; 1025])),
        Some(NetError::Errno(Errno::EMSGSIZE))
    );
    // Empty datagrams go too, as in Python.
    client.send(&mut sk, b"").unwrap();
    let (n, _) = net.until(50, || ready(server.receive(&mut srv, &mut buf)));
    assert_eq!(n, 0);
}

#[test]
fn accepted_handles_outlive_their_closed_listener_as_in_python() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 3, 10);
    let mut lsk = listening(&mut server, 7);
    let (mut sk, mut conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    let mut waiting = client.socket().unwrap();
    net.until(100, || ready(client.connect(&mut waiting, server_addr(7))));
    // The listener closes: the connection not yet accepted is reset, the accepted one
    // stays the program's.
    server.close(lsk).unwrap();
    let mut buf = [0u8; 16];
    let err = net.until(100, || failed(client.receive(&mut waiting, &mut buf)));
    assert_eq!(err, NetError::Errno(Errno::ECONNRESET));
    assert_eq!(client.send(&mut sk, b"ping").unwrap(), 4);
    let n = net.until(50, || ready(server.receive(&mut conn, &mut buf)));
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(server.send(&mut conn, b"pong").unwrap(), 4);
    let n = net.until(50, || ready(client.receive(&mut sk, &mut buf)));
    assert_eq!(&buf[..n], b"pong");
    // Wrong calls on it are what they were (Linux: EINVAL, EINVAL, EISCONN).
    assert_eq!(
        server.listen(&mut conn),
        Err(NetError::Errno(Errno::EINVAL))
    );
    assert_eq!(
        server.bind(&mut conn, 8),
        Err(NetError::Errno(Errno::EINVAL))
    );
    assert_eq!(
        failed(server.connect(&mut conn, server_addr(7))),
        Some(NetError::Errno(Errno::EISCONN))
    );
    assert_eq!(
        failed(server.accept(&mut conn)),
        Some(NetError::Errno(Errno::EINVAL))
    );
    // A new listener on the port, on fresh buffers, while the old connection lives.
    let mut again = listening(&mut server, 7);
    server.close(conn).unwrap();
    let end = net.until(100, || failed(client.receive(&mut sk, &mut buf)));
    assert_eq!(end, NetError::EndOfStream);
    client.close(sk).unwrap();
    client.close(waiting).unwrap();
    let mut sk = net.until(100, || client.socket().ok());
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    let (conn, _) = net.until(100, || ready(server.accept(&mut again)));
    server.close(conn).unwrap();
    server.close(again).unwrap();
    client.close(sk).unwrap();
}

#[test]
fn max_clients_sockets_then_enobufs_and_a_failed_connect_is_pipe_closed() {
    let mut net = Net::new();
    let (mut client, _server) = tcp_stacks(&net, MAX_CLIENTS + 1, 0);
    let mut sks: Vec<_> = (0..MAX_CLIENTS).map(|_| client.socket().unwrap()).collect();
    assert_eq!(
        client.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS)
    );
    assert_eq!(client.unused_buffers(), 1);
    // Nobody listens: refused, then send and receive on that handle fail, never block.
    let sk = &mut sks[0];
    let err = net.until(100, || failed(client.connect(sk, server_addr(7))));
    assert_eq!(err, NetError::Errno(Errno::ECONNREFUSED));
    let err = failed(client.send(sk, b"x")).unwrap();
    assert_eq!(err.kind(), TcpErrorKind::PipeClosed);
    let err = failed(client.receive(sk, &mut [0u8; 4])).unwrap();
    assert_eq!(err.kind(), TcpErrorKind::PipeClosed);
    // One closed: the next socket() is that one.
    let first = sks.remove(0);
    client.close(first).unwrap();
    sks.push(client.socket().unwrap());
    for sk in sks {
        client.close(sk).unwrap();
    }
}

#[test]
fn a_reused_socket_starts_fresh_without_its_last_users_state() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 1, 5);
    let mut sk = client.socket().unwrap();
    // Its last user set timeouts, was refused, and shut its reading side.
    {
        let mut stack = net.client.borrow_mut();
        let s = sk.socket().unwrap();
        s.set_timeout(&mut stack, Some(Duration::from_secs(1)));
        s.set_idle_timeout(&mut stack, Some(Duration::from_secs(1)));
    }
    let err = net.until(100, || failed(client.connect(&mut sk, server_addr(7))));
    assert_eq!(err, NetError::Errno(Errno::ECONNREFUSED));
    sk.socket()
        .unwrap()
        .shutdown(&mut net.client.borrow_mut(), Shutdown::Read);
    client.close(sk).unwrap();
    // The next socket() is the same socket (one buffer), as a new one: Python's
    // socket.socket() has no timeout, no pending error, nothing read or sent.
    let mut sk = client.socket().unwrap();
    {
        let mut stack = net.client.borrow_mut();
        let s = sk.socket().unwrap();
        assert_eq!(s.timeout(&mut stack), None);
        assert_eq!(s.error(&mut stack), None);
        assert_eq!(s.byte_counts(&mut stack), (0, 0));
    }
    let mut buf = [0u8; 4];
    assert_eq!(
        failed(client.receive(&mut sk, &mut buf)),
        Some(NetError::Errno(Errno::ENOTCONN))
    );
    assert_eq!(
        failed(client.send(&mut sk, b"x")),
        Some(NetError::Errno(Errno::ENOTCONN))
    );
    // Its connection is not reset by the last user's idle timeout.
    let mut lsk = listening(&mut server, 7);
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    let (conn, _) = net.until(100, || ready(server.accept(&mut lsk)));
    let start = net.now;
    while net.now - start < Duration::from_secs(5) {
        net.step();
    }
    assert_eq!(client.send(&mut sk, b"x").unwrap(), 1);
    client.close(sk).unwrap();
    server.close(conn).unwrap();
    server.close(lsk).unwrap();
}

#[test]
fn a_closed_socket_whose_peer_never_closes_comes_back_after_linux_fin_timeout() {
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 1, 5);
    let mut lsk = listening(&mut server, 7);
    let (sk, conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    // The client closes; the server reads nothing more and never closes (CLOSE-WAIT):
    // the client's socket waits in FIN-WAIT-2 for a FIN that never comes.
    client.close(sk).unwrap();
    for _ in 0..20 {
        net.step();
    }
    assert_eq!(
        client.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS)
    );
    // Linux lets such an orphan go after tcp_fin_timeout (60 s): so does the adapter,
    // and its one buffer serves the next socket().
    let start = net.now;
    let mut sk = net.until(2000, || client.socket().ok());
    assert!(
        net.now - start <= Duration::from_secs(61),
        "{}",
        net.now - start
    );
    net.until(100, || ready(client.connect(&mut sk, server_addr(7))));
    client.close(sk).unwrap();
    server.close(conn).unwrap();
    server.close(lsk).unwrap();
}

#[test]
fn udp_connect_keeps_the_datagrams_already_queued_from_anyone_as_linux() {
    // Python on 127.0.0.1: x and y send to u; u.connect(x); u receives both queued
    // datagrams (y's too); afterwards y's are dropped and x's received.
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(2));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(1));
    let mut u = server.socket().unwrap();
    server.bind(&mut u, 9999).unwrap();
    let (mut x, mut y) = (client.socket().unwrap(), client.socket().unwrap());
    client.bind(&mut x, 1001).unwrap();
    client.bind(&mut y, 1002).unwrap();
    let at = |port| SocketAddr::new(IpAddr::from(Host::CLIENT.ipv4_addr()), port);
    // The receive queue (1024 bytes) wraps: y's 500 bytes go after 418 bytes of
    // padding, which the filter must count as queued before the connect.
    client
        .send_to(&mut x, server_addr(9999), &[b'x'; 600])
        .unwrap();
    client
        .send_to(&mut x, server_addr(9999), b"from-x")
        .unwrap();
    net.step();
    let mut big = [0u8; 1024];
    assert_eq!(ready(server.receive(&mut u, &mut big)).unwrap().0, 600);
    client
        .send_to(&mut y, server_addr(9999), &[b'y'; 500])
        .unwrap();
    for _ in 0..5 {
        net.step();
    }
    server.connect(&mut u, at(1001)).unwrap();
    let mut got = Vec::new();
    client
        .send_to(&mut y, server_addr(9999), b"y-after")
        .unwrap();
    client
        .send_to(&mut x, server_addr(9999), b"x-after")
        .unwrap();
    for _ in 0..5 {
        net.step();
    }
    while let Some((n, from)) = ready(server.receive(&mut u, &mut big)) {
        got.push((big[..n.min(8)].to_vec(), from.port()));
    }
    assert_eq!(
        got,
        [
            (b"from-x".to_vec(), 1001),
            (vec![b'y'; 8], 1002),
            (b"x-after".to_vec(), 1001)
        ]
    );
}

#[test]
fn any_number_of_closes_on_a_busy_stack_are_all_done_later_none_leaked() {
    // Six connections closed while the stack is borrowed elsewhere: each FIN goes at the
    // next call that gets the stack (a fixed list of four used to drop the fifth).
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 6, 9);
    let mut l7 = listening(&mut server, 7);
    let mut l8 = listening(&mut server, 8);
    let mut pairs = Vec::new();
    for i in 0..6 {
        let (lsk, port) = if i % 2 == 0 {
            (&mut l7, 7)
        } else {
            (&mut l8, 8)
        };
        let mut sk = client.socket().unwrap();
        net.until(100, || ready(client.connect(&mut sk, server_addr(port))));
        let (conn, _) = net.until(100, || ready(server.accept(lsk)));
        pairs.push((sk, conn));
    }
    let mut conns = Vec::new();
    {
        let _held = net.client.borrow_mut();
        for (sk, conn) in pairs {
            assert_eq!(client.close(sk), Err(NetError::Busy));
            conns.push(conn);
        }
    }
    // The next call that gets the stack does every deferred close.
    assert_eq!(
        client.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS),
        "all six sockets closing, none free yet"
    );
    let mut buf = [0u8; 4];
    for conn in conns.iter_mut() {
        let end = net.until(100, || failed(server.receive(conn, &mut buf)));
        assert_eq!(end, NetError::EndOfStream);
    }
    for conn in conns {
        server.close(conn).unwrap();
    }
    // Once their connections are over, all six sockets come back.
    for _ in 0..50 {
        net.step();
    }
    let again: Vec<_> = (0..6).map(|_| client.socket().unwrap()).collect();
    assert_eq!(again.len(), 6);
}

#[test]
fn accepted_handles_are_bounded_emfile_beyond_and_all_busy_closes_are_done_later() {
    use sockless::ecosystem::MAX_ACCEPTED;
    let mut net = Net::new();
    let mut server: Tcp = NalTcpStack::new(net.server, tcp_buffers(1 + 5 * 4));
    let mut clients: [Tcp; 2] = [
        NalTcpStack::new(net.client, tcp_buffers(9)),
        NalTcpStack::new(net.client, tcp_buffers(9)),
    ];
    let mut listeners: Vec<_> = (7..12).map(|p| listening(&mut server, p)).collect();
    let total = MAX_ACCEPTED + 1;
    let mut sks = Vec::new();
    for i in 0..total {
        let client = &mut clients[i % 2];
        let mut sk = client.socket().unwrap();
        let port = 7 + (i % 5) as u16;
        net.until(100, || ready(client.connect(&mut sk, server_addr(port))));
        sks.push((i % 2, sk));
    }
    let mut conns = Vec::new();
    for i in 0..MAX_ACCEPTED {
        let lsk = &mut listeners[i % 5];
        conns.push(net.until(100, || ready(server.accept(lsk))).0);
    }
    // One more than MAX_ACCEPTED: EMFILE (Linux: out of descriptors), left queued.
    let last = &mut listeners[MAX_ACCEPTED % 5];
    assert_eq!(
        failed(server.accept(last)),
        Some(NetError::Errno(Errno::EMFILE))
    );
    {
        let _held = net.server.borrow_mut();
        for conn in conns {
            assert_eq!(server.close(conn), Err(NetError::Busy));
        }
    }
    // The next call does all sixteen closes, and the queued caller is accepted.
    let (_conn, _) = net.until(100, || ready(server.accept(last)));
    let mut buf = [0u8; 4];
    for (c, sk) in sks.iter_mut().take(MAX_ACCEPTED) {
        let end = net.until(100, || failed(clients[*c].receive(sk, &mut buf)));
        assert_eq!(end, NetError::EndOfStream);
    }
}

#[test]
fn refused_reset_and_broken_pipe_keep_their_errnos_through_the_trait_as_linux() {
    // Python on 127.0.0.1: connect to a closed port ECONNREFUSED; recv after an RST
    // ECONNRESET, then b''; send after the peer closed: the first goes, the next EPIPE.
    // embedded-nal's kinds are only PipeClosed and Other; the errno stays in the error.
    let mut net = Net::new();
    let (mut client, mut server) = tcp_stacks(&net, 2, 5);
    let mut sk = client.socket().unwrap();
    let err = net.until(100, || failed(client.connect(&mut sk, server_addr(9))));
    assert_eq!(
        (err, err.kind()),
        (NetError::Errno(Errno::ECONNREFUSED), TcpErrorKind::Other)
    );
    client.close(sk).unwrap();
    let mut lsk = listening(&mut server, 7);
    let (mut sk, mut conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    conn.socket().unwrap().abort(&mut net.server.borrow_mut());
    let mut buf = [0u8; 4];
    let err = net.until(100, || failed(client.receive(&mut sk, &mut buf)));
    assert_eq!(
        (err, err.kind()),
        (NetError::Errno(Errno::ECONNRESET), TcpErrorKind::PipeClosed)
    );
    assert_eq!(
        failed(client.receive(&mut sk, &mut buf)),
        Some(NetError::EndOfStream)
    );
    let err = failed(client.send(&mut sk, b"x")).unwrap();
    assert_eq!(
        (err, err.kind()),
        (NetError::Errno(Errno::EPIPE), TcpErrorKind::PipeClosed)
    );
    client.close(sk).unwrap();
    server.close(conn).unwrap();
    let (mut sk, conn, _) = connected(&mut net, &mut client, &mut server, &mut lsk);
    server.close(conn).unwrap();
    let end = net.until(100, || failed(client.receive(&mut sk, &mut buf)));
    assert_eq!(end, NetError::EndOfStream);
    assert_eq!(client.send(&mut sk, b"x").ok(), Some(1));
    for _ in 0..5 {
        net.step();
    }
    let err = failed(client.send(&mut sk, b"x")).unwrap();
    assert_eq!(
        (err, err.kind()),
        (NetError::Errno(Errno::EPIPE), TcpErrorKind::PipeClosed)
    );
}

#[test]
fn udp_a_socket_closed_right_after_send_to_still_sends_the_datagram() {
    // Python: sk.sendto(b'ok', addr); sk.close(): the datagram goes (the kernel had it).
    let mut net = Net::new();
    let mut client: Udp = NalUdpStack::new(net.client, udp_buffers(1));
    let mut server: Udp = NalUdpStack::new(net.server, udp_buffers(1));
    let mut srv = server.socket().unwrap();
    server.bind(&mut srv, 9999).unwrap();
    let mut sk = client.socket().unwrap();
    client
        .send_to(&mut sk, server_addr(9999), b"last words")
        .unwrap();
    let port = sk.socket().local_port();
    client.close(sk).unwrap();
    // Until it is out, the only buffers are busy with it: no socket (no loss), and its
    // port stays taken.
    assert_eq!(
        client.socket().unwrap_err(),
        NetError::Errno(Errno::ENOBUFS)
    );
    let mut buf = [0u8; 32];
    let (n, _) = net.until(50, || ready(server.receive(&mut srv, &mut buf)));
    assert_eq!(&buf[..n], b"last words");
    // Then the socket comes back unbound, and the port is free.
    let mut again = client.socket().unwrap();
    assert_eq!(again.socket().local_port(), 0);
    client.bind(&mut again, port).unwrap();
}
