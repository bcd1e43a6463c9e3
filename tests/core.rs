//! The socket verbs on two stacks over the in-memory wire, in virtual time.

use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::{IpAddress, IpEndpoint};
use sockless::socket::RecvFromError;
use sockless::socket::{AcceptError, ConnectError, RecvError, SendError, Shutdown};
use sockless::{
    EventKind, Host, Listener, Overflow, StackStorage, TcpBuffers, TcpSocket, Testbed, Trace,
    UdpBuffers, UdpSocket,
};

const LIMIT: Duration = Duration::from_secs(120);

fn server_v4(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), port)
}

fn server_v6(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv6_addr(), port)
}

/// Run until the client's connection is up and the listener has accepted it.
fn establish<const F: usize, const D: usize, const P: usize>(
    tb: &mut Testbed<'_, F, D>,
    listener: &mut Listener<P>,
    sk: &TcpSocket,
) -> TcpSocket {
    let mut conn = None;
    tb.run(LIMIT, |c, s| {
        if conn.is_none() {
            conn = listener.accept(s).ok();
        }
        conn.is_some() && sk.connect_status(c).is_ok()
    })
    .unwrap();
    conn.unwrap()
}

/// Connect, accept, echo, close: the tutorial's first conversation, with its trace.
#[test]
fn connect_accept_echo_close_round_trip() {
    let trace = Trace::<256>::new();
    let mut pool = [const { TcpBuffers::<1024, 1024>::new() }; 2];
    let mut cbuf = TcpBuffers::<1024, 1024>::new();
    let mut cs = StackStorage::<4>::new();
    let mut ss = StackStorage::<4>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    tb.client.set_observer(Some(&trace));
    tb.server.set_observer(Some(&trace));

    let mut listener = Listener::<2>::listen(&mut tb.server, 9999, 2, &mut pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    sk.connect(&mut tb.client, server_v4(9999)).unwrap();
    assert_eq!(
        sk.connect_status(&mut tb.client),
        Err(ConnectError::WouldBlock)
    );

    let mut conn = establish(&mut tb, &mut listener, &sk);

    sk.sendall(&mut tb.client, "请求占领地球".as_bytes())
        .unwrap();
    let mut buf = [0u8; 1024];
    let mut got = 0;
    tb.run(LIMIT, |_, s| {
        match conn.recv(s, &mut buf[got..]) {
            Ok(n) => got += n,
            Err(RecvError::WouldBlock) => {}
            Err(e) => panic!("server recv: {e}"),
        }
        got == "请求占领地球".len()
    })
    .unwrap();
    assert_eq!(&buf[..got], "请求占领地球".as_bytes());

    conn.sendall(&mut tb.server, &buf[..got]).unwrap();
    conn.close(&mut tb.server);
    let mut reply = [0u8; 64];
    let mut n = 0;
    let mut eof = false;
    tb.run(LIMIT, |c, _| {
        match sk.recv(c, &mut reply[n..]) {
            Ok(0) => eof = true,
            Ok(k) => n += k,
            Err(RecvError::WouldBlock) => {}
            Err(e) => panic!("client recv: {e}"),
        }
        eof
    })
    .unwrap();
    assert_eq!(&reply[..n], "请求占领地球".as_bytes());
    sk.close(&mut tb.client);
    // Wait until both sides are fully closed. The server closed first, so its side is in
    // TIME-WAIT (10 s), kept by a record: its socket is back in the pool at once.
    let closing_started = tb.now();
    tb.run(LIMIT, |c, s| {
        sk.state(c) == Some(sockless::smoltcp::socket::tcp::State::Closed) && listener.busy(s) == 0
    })
    .unwrap();
    assert!(
        tb.now() - closing_started < Duration::from_secs(1),
        "the pool socket waited until {}",
        tb.now()
    );
    let (time_wait, in_use) = tb.server.time_wait_stats();
    assert_eq!((time_wait.entered, in_use), (1, 1));
    // The closed descriptor is stale (Python: EBADF).
    assert_eq!(conn.recv(&mut tb.server, &mut buf), Err(RecvError::Closed));

    let server_story: Vec<EventKind> = trace
        .events()
        .filter(|e| e.host == "server")
        .map(|e| e.kind)
        .collect();
    let expected_prefix = [
        EventKind::Listen {
            port: 9999,
            backlog: 2,
        },
        EventKind::SynReceived,
        EventKind::Established,
    ];
    assert_eq!(&server_story[..3], &expected_prefix);
    let tail: Vec<_> = server_story[3..]
        .iter()
        .filter(|k| !matches!(k, EventKind::Accept { .. }))
        .copied()
        .collect();
    assert_eq!(
        tail,
        vec![
            EventKind::Recv { bytes: 18 },
            EventKind::Send { bytes: 18 },
            EventKind::FinSent,
            EventKind::FinReceived,
            EventKind::Closed,
        ]
    );
    let client_story: Vec<EventKind> = trace
        .events()
        .filter(|e| e.host == "client")
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        client_story,
        vec![
            EventKind::Connect {
                remote: server_v4(9999)
            },
            EventKind::Established,
            EventKind::Send { bytes: 18 },
            // The server's reply and its FIN arrive together, before the client reads.
            EventKind::FinReceived,
            EventKind::Recv { bytes: 18 },
            EventKind::FinSent,
            EventKind::Closed,
        ]
    );
}

/// `listen(2)`, nobody accepting, three clients: two wait, the third is refused.
#[test]
fn backlog_two_with_three_connects_refuses_the_third() {
    let mut pool = [const { TcpBuffers::<512, 512>::new() }; 4];
    let mut cbufs = [const { TcpBuffers::<512, 512>::new() }; 3];
    let mut cs = StackStorage::<4>::new();
    let mut ss = StackStorage::<4>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut listener = Listener::<4>::listen(&mut tb.server, 7, 2, &mut pool).unwrap();
    listener.set_overflow(&mut tb.server, Overflow::Refuse);
    let mut clients: Vec<TcpSocket> = cbufs
        .iter_mut()
        .map(|b| TcpSocket::new(&mut tb.client, b).unwrap())
        .collect();
    for sk in clients.iter_mut() {
        sk.connect(&mut tb.client, server_v4(7)).unwrap();
    }
    tb.run(LIMIT, |c, _| {
        clients
            .iter()
            .all(|sk| sk.connect_status(c) != Err(ConnectError::WouldBlock))
    })
    .unwrap();
    let outcomes: Vec<_> = clients
        .iter()
        .map(|sk| sk.connect_status(&mut tb.client))
        .collect();
    assert_eq!(outcomes, vec![Ok(()), Ok(()), Err(ConnectError::Refused)]);
    assert_eq!(ConnectError::Refused.errno().code(), 111);
    assert_eq!(listener.pending(&mut tb.server), 2);

    // Accepting one frees a backlog place: a new connect now succeeds.
    let _first = listener.accept(&mut tb.server).unwrap();
    clients[2].connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, _| {
        clients[2].connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    assert_eq!(clients[2].connect_status(&mut tb.client), Ok(()));
    assert!(listener.accept(&mut tb.server).is_ok());
    assert!(listener.accept(&mut tb.server).is_ok());
    assert_eq!(
        listener.accept(&mut tb.server),
        Err(AcceptError::WouldBlock)
    );
}

/// A backlog-1 listener with one socket serves 100 clients one after another: each
/// closed connection's socket is re-armed.
#[test]
fn accept_rearms_for_100_sequential_connections() {
    let mut pool = [const { TcpBuffers::<256, 256>::new() }; 1];
    let mut cbuf = TcpBuffers::<256, 256>::new();
    let mut cs = StackStorage::<2>::new();
    let mut ss = StackStorage::<2>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, &mut pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    for round in 0..100u32 {
        sk.connect(&mut tb.client, server_v4(7))
            .unwrap_or_else(|e| panic!("round {round}: connect: {e}"));
        let msg = round.to_be_bytes();
        let mut conn: Option<TcpSocket> = None;
        let mut echoed = [0u8; 4];
        let mut got = 0;
        let mut sent = false;
        tb.run(LIMIT, |c, s| {
            if conn.is_none() {
                conn = listener.accept(s).ok();
            }
            if !sent && sk.connect_status(c).is_ok() {
                sk.sendall(c, &msg).unwrap();
                sent = true;
            }
            if let Some(conn) = conn.as_mut() {
                let mut buf = [0u8; 8];
                if let Ok(n) = conn.recv(s, &mut buf)
                    && n > 0
                {
                    conn.sendall(s, &buf[..n]).unwrap();
                    conn.close(s);
                }
            }
            if let Ok(n) = sk.recv(c, &mut echoed[got..]) {
                got += n;
            }
            got == 4
        })
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(echoed, msg, "round {round}");
        sk.close(&mut tb.client);
        // Both ends must be CLOSED before the single socket can serve the next client.
        tb.run(LIMIT, |c, s| {
            sk.state(c) == Some(sockless::smoltcp::socket::tcp::State::Closed)
                && listener.busy(s) == 0
        })
        .unwrap_or_else(|e| panic!("round {round}: closing: {e}"));
    }
    assert_eq!(listener.listening(&mut tb.server), 1);
}

/// After `shutdown(SHUT_WR)` the client still reads everything the server sends.
#[test]
fn half_close_still_delivers_the_rest() {
    let mut pool = [const { TcpBuffers::<4096, 4096>::new() }; 1];
    let mut cbuf = TcpBuffers::<4096, 4096>::new();
    let mut cs = StackStorage::<2>::new();
    let mut ss = StackStorage::<2>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, &mut pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let mut conn = establish(&mut tb, &mut listener, &sk);
    sk.sendall(&mut tb.client, b"question").unwrap();
    sk.shutdown(&mut tb.client, Shutdown::Write);
    assert_eq!(
        sk.send(&mut tb.client, b"more"),
        Err(SendError::Shutdown),
        "no sending after SHUT_WR"
    );

    // The server reads to end of stream, then answers with 10 000 bytes and closes.
    let answer: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut question = Vec::new();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut client_eof = false;
    let mut server_closed = false;
    tb.run(LIMIT, |c, s| {
        let mut buf = [0u8; 512];
        match conn.recv(s, &mut buf) {
            _ if server_closed => {}
            Ok(0) if sent < answer.len() => match conn.send(s, &answer[sent..]) {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => {}
                Err(e) => panic!("server send: {e}"),
            },
            Ok(0) => {
                conn.close(s);
                server_closed = true;
            }
            Ok(n) => question.extend_from_slice(&buf[..n]),
            Err(RecvError::WouldBlock) => {}
            Err(e) => panic!("server recv: {e}"),
        }
        match sk.recv(c, &mut buf) {
            Ok(0) => client_eof = true,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(RecvError::WouldBlock) => {}
            Err(e) => panic!("client recv: {e}"),
        }
        client_eof
    })
    .unwrap();
    assert_eq!(question, b"question");
    assert_eq!(received.len(), answer.len());
    assert!(received == answer, "the answer arrived altered");
}

/// `connect_ex` to a port nobody listens on: refused at once (RST), errno 111.
#[test]
fn connect_to_closed_port_is_refused() {
    let trace = Trace::<32>::new();
    let mut cbuf = TcpBuffers::<256, 256>::new();
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    tb.client.set_observer(Some(&trace));
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    sk.connect(&mut tb.client, server_v4(8005)).unwrap();
    tb.run(LIMIT, |c, _| {
        sk.connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    let outcome = sk.connect_status(&mut tb.client);
    assert_eq!(outcome, Err(ConnectError::Refused));
    assert!(
        tb.now().total_millis() < 100,
        "refused at once, not after a timeout"
    );
    assert!(trace.events().any(|e| e.kind == EventKind::Refused));
    // Python on Linux: after connect raised ConnectionRefusedError, recv is
    // OSError ENOTCONN and send BrokenPipeError.
    assert_eq!(
        sk.recv(&mut tb.client, &mut [0u8; 8]),
        Err(RecvError::NotConnected),
        "a refused socket is not connected"
    );
    assert_eq!(sk.send(&mut tb.client, b"x"), Err(SendError::Shutdown));
}

/// Connecting to an address where nobody answers ARP times out after `settimeout`.
#[test]
fn connect_times_out_when_nobody_answers() {
    let mut cbuf = TcpBuffers::<256, 256>::new();
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(5)));
    let nobody = IpEndpoint::new(IpAddress::v4(192, 168, 69, 77), 80);
    sk.connect(&mut tb.client, nobody).unwrap();
    tb.run(LIMIT, |c, _| {
        sk.connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    assert_eq!(
        sk.connect_status(&mut tb.client),
        Err(ConnectError::TimedOut)
    );
    assert_eq!(tb.now().secs(), 5);
}

/// `settimeout(5)` then `recv` with nothing coming: `socket.timeout` after 5 s.
#[test]
fn recv_timeout_gives_timed_out() {
    let mut pool = [const { TcpBuffers::<256, 256>::new() }; 1];
    let mut cbuf = TcpBuffers::<256, 256>::new();
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut listener = Listener::<1>::listen(&mut tb.server, 8888, 1, &mut pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    sk.connect(&mut tb.client, server_v4(8888)).unwrap();
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(5)));
    let mut conn = establish(&mut tb, &mut listener, &sk);
    let start = tb.now();
    let mut result = Err(RecvError::WouldBlock);
    tb.run(LIMIT, |c, _| {
        result = sk.recv(c, &mut [0u8; 16]);
        result != Err(RecvError::WouldBlock)
    })
    .unwrap();
    assert_eq!(result, Err(RecvError::TimedOut));
    assert_eq!((tb.now() - start).secs(), 5);
    // The connection itself is still up: data sent now is received.
    conn.sendall(&mut tb.server, b"late").unwrap();
    let mut buf = [0u8; 16];
    let mut n = 0;
    tb.run(LIMIT, |c, _| {
        if let Ok(k) = sk.recv(c, &mut buf) {
            n = k;
        }
        n > 0
    })
    .unwrap();
    assert_eq!(&buf[..n], b"late");
}

/// UDP: the tutorial's `sendto` and `recvfrom`, a reply to the sender's address, and
/// a datagram too large for the buffer reported as truncated.
#[test]
fn udp_sendto_recvfrom_and_truncation() {
    let mut sbuf = UdpBuffers::<4, 2048>::new();
    let mut cbuf = UdpBuffers::<4, 2048>::new();
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut server = UdpSocket::bind(&mut tb.server, 9999, &mut sbuf).unwrap();
    let mut client = UdpSocket::bind(&mut tb.client, 0, &mut cbuf).unwrap();
    assert!(client.local_port() >= 49152);

    client
        .sendto(&mut tb.client, "数据".as_bytes(), server_v4(9999))
        .unwrap();
    let mut buf = [0u8; 1024];
    let mut got = None;
    tb.run(LIMIT, |_, s| {
        if let Ok(r) = server.recvfrom(s, &mut buf) {
            got = Some(r);
        }
        got.is_some()
    })
    .unwrap();
    let (n, from) = got.unwrap();
    assert_eq!(&buf[..n], "数据".as_bytes());
    assert_eq!(
        from,
        IpEndpoint::new(Host::CLIENT.ipv4_addr(), client.local_port())
    );
    server.sendto(&mut tb.server, b"ok", from).unwrap();
    let mut reply = None;
    tb.run(LIMIT, |c, _| {
        if let Ok(r) = client.recvfrom(c, &mut buf) {
            reply = Some(r);
        }
        reply.is_some()
    })
    .unwrap();
    assert_eq!(&buf[..reply.unwrap().0], b"ok");

    // 1000 bytes into a 100-byte buffer: the first 100 bytes, and the real size.
    let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    client
        .sendto(&mut tb.client, &big, server_v4(9999))
        .unwrap();
    let mut small = [0u8; 100];
    let mut result = Err(RecvFromError::WouldBlock);
    tb.run(LIMIT, |_, s| {
        result = server.recvfrom(s, &mut small);
        result != Err(RecvFromError::WouldBlock)
    })
    .unwrap();
    assert_eq!(
        result,
        Err(RecvFromError::Truncated {
            copied: 100,
            size: 1000,
            from: IpEndpoint::new(Host::CLIENT.ipv4_addr(), client.local_port()),
        })
    );
    assert_eq!(&small[..], &big[..100]);
    // The datagram was consumed: nothing else waits.
    assert_eq!(
        server.recvfrom(&mut tb.server, &mut small),
        Err(RecvFromError::WouldBlock)
    );
    // A datagram larger than the whole transmit buffer is refused, not cut.
    assert_eq!(
        client.sendto(&mut tb.client, &[0u8; 4096], server_v4(9999)),
        Err(sockless::socket::SendToError::TooLarge)
    );
    server.close(&mut tb.server);
    assert_eq!(
        server.recvfrom(&mut tb.server, &mut small),
        Err(RecvFromError::Closed)
    );
}

/// `getpeername` and `getsockname` on both ends, over IPv4 and over IPv6.
#[test]
fn peer_and_local_addresses_ipv4_and_ipv6() {
    for (remote, client_addr) in [
        (server_v4(6969), Host::CLIENT.ipv4_addr()),
        (server_v6(6969), Host::CLIENT.ipv6_addr()),
    ] {
        let mut pool = [const { TcpBuffers::<256, 256>::new() }; 1];
        let mut cbuf = TcpBuffers::<256, 256>::new();
        let mut cs = StackStorage::<1>::new();
        let mut ss = StackStorage::<1>::new();
        let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
        let mut listener = Listener::<1>::listen(&mut tb.server, 6969, 1, &mut pool).unwrap();
        let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
        assert_eq!(sk.peer_addr(&mut tb.client), None);
        sk.connect(&mut tb.client, remote).unwrap();
        let conn = establish(&mut tb, &mut listener, &sk);
        let client_local = sk.local_addr(&mut tb.client).unwrap();
        assert_eq!(client_local.addr, client_addr);
        assert_eq!(sk.peer_addr(&mut tb.client), Some(remote));
        assert_eq!(conn.local_addr(&mut tb.server), Some(remote));
        assert_eq!(conn.peer_addr(&mut tb.server), Some(client_local));
        assert_eq!(listener.local_addr().port, 6969);

        // And data flows on that family.
        sk.sendall(&mut tb.client, b"Hello world").unwrap();
        let mut conn = conn;
        let mut buf = [0u8; 32];
        let mut n = 0;
        tb.run(LIMIT, |_, s| {
            if let Ok(k) = conn.recv(s, &mut buf) {
                n = k;
            }
            n > 0
        })
        .unwrap();
        assert_eq!(&buf[..n], b"Hello world");
    }
}

/// A wire whose queue is full drops the frame and counts it, and TCP still delivers.
#[test]
fn full_wire_drops_and_counts_and_tcp_recovers() {
    let mut pool = [const { TcpBuffers::<16384, 16384>::new() }; 1];
    let mut cbuf = TcpBuffers::<16384, 16384>::new();
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    // Room for only 2 frames each way: a 16 KiB window of segments cannot fit.
    let mut tb: Testbed<1514, 2> = Testbed::with_wire(
        sockless::Wire::new(),
        Host::CLIENT,
        &mut cs,
        Host::SERVER,
        &mut ss,
    );
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, &mut pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, &mut cbuf).unwrap();
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let mut conn = establish(&mut tb, &mut listener, &sk);
    let data: Vec<u8> = (0..16000u32).map(|i| (i * 7) as u8).collect();
    sk.sendall(&mut tb.client, &data).unwrap();
    let mut got = Vec::new();
    tb.run(LIMIT, |_, s| {
        let mut buf = [0u8; 4096];
        if let Ok(n) = conn.recv(s, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    })
    .unwrap();
    assert!(got == data, "data altered");
    let stats = tb.wire.stats(sockless::phy::End::A);
    assert!(stats.dropped_full > 0, "expected drops, got {stats:?}");
    assert_eq!(stats.dropped_oversize, 0);
}

/// More sockets than the storage holds: a clear error, not smoltcp's panic.
#[test]
fn full_stack_storage_is_an_error() {
    let mut a = TcpBuffers::<64, 64>::new();
    let mut b = TcpBuffers::<64, 64>::new();
    let mut pool = [const { TcpBuffers::<64, 64>::new() }; 2];
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    assert!(TcpSocket::new(&mut tb.client, &mut a).is_ok());
    assert_eq!(
        TcpSocket::new(&mut tb.client, &mut b),
        Err(sockless::SocketError::NoSlot)
    );
    assert_eq!(
        Listener::<2>::listen(&mut tb.server, 7, 2, &mut pool).unwrap_err(),
        sockless::socket::ListenError::NoSlot
    );
}

/// One stack talking to itself over the static loopback: client and server sockets on
/// the same host, as with 127.0.0.1 on a desktop.
#[test]
fn single_stack_loopback_echo() {
    use sockless::smoltcp::time::Instant;
    use sockless::{Loopback, Stack};
    let mut lo = Loopback::<1514, 16>::new();
    let mut storage = StackStorage::<2>::new();
    let mut pool = [const { TcpBuffers::<1024, 1024>::new() }; 1];
    let mut cbuf = TcpBuffers::<1024, 1024>::new();
    let mut stack = Stack::new(Host::SERVER, &mut lo.port(), &mut storage, Instant::ZERO);
    let mut listener = Listener::<1>::listen(&mut stack, 7, 1, &mut pool).unwrap();
    let mut sk = TcpSocket::new(&mut stack, &mut cbuf).unwrap();
    sk.connect(&mut stack, server_v4(7)).unwrap();
    let mut conn = None;
    let mut reply = Vec::new();
    let mut sent = false;
    let mut now = Instant::ZERO;
    for _ in 0..1000 {
        while stack.poll(now, &mut lo.port()) {}
        if conn.is_none() {
            conn = listener.accept(&mut stack).ok();
        }
        if !sent && sk.connect_status(&mut stack).is_ok() {
            sk.sendall(&mut stack, b"loop").unwrap();
            sent = true;
        }
        if let Some(conn) = conn.as_mut() {
            let mut buf = [0u8; 16];
            if let Ok(n) = conn.recv(&mut stack, &mut buf) {
                conn.sendall(&mut stack, &buf[..n]).unwrap();
            }
        }
        let mut buf = [0u8; 16];
        if let Ok(n) = sk.recv(&mut stack, &mut buf) {
            reply.extend_from_slice(&buf[..n]);
        }
        if reply.len() == 4 {
            break;
        }
        now = stack.poll_at().map_or(now, |t| t.max(now)) + Duration::from_millis(1);
    }
    assert_eq!(reply, b"loop");
    let peer = conn.unwrap().peer_addr(&mut stack).unwrap();
    assert_eq!(peer.addr, Host::SERVER.ipv4_addr(), "the peer is ourselves");
    assert_eq!(lo.stats().dropped(), 0);
    assert!(lo.stats().delivered >= 4);
}

/// A program that acts at every turn freezes virtual time: `run` says so instead of
/// spinning forever.
#[test]
fn a_program_that_never_waits_is_reported_busy() {
    let mut ubuf = UdpBuffers::<4, 2048>::new();
    let mut cs = StackStorage::<1>::new();
    let mut ss = StackStorage::<1>::new();
    let mut tb: Testbed = Testbed::new(&mut cs, &mut ss);
    let mut sk = UdpSocket::bind(&mut tb.client, 0, &mut ubuf).unwrap();
    tb.set_busy_turns(1000);
    // A datagram at every turn, whatever happens: the queue always drains, so it never
    // has to wait, and neither does the clock get a chance to move.
    let result = tb.run(LIMIT, |c, _| {
        let _ = sk.sendto(c, b"x", server_v4(9));
        false
    });
    assert!(
        matches!(result, Err(sockless::testbed::RunError::Busy { .. })),
        "{result:?}"
    );
    assert_eq!(tb.now().total_millis(), 0);
}
