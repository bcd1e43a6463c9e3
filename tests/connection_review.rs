//! The connection core against an adversarial review: each test is a defect the review
//! found (a caller locked out, a pool that stopped listening, a verb that differed from
//! Linux), fixed, or a behaviour worth keeping.

mod support;

use sockless::phy::End;
use sockless::smoltcp::socket::tcp::State;
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{BindError, ConnectError};
use sockless::{Host, Listener, StackStorage, TcpBuffers, TcpSocket, Testbed};
use support::LIMIT;
use support::bare::{accept_connected, client, connect_and_accept, leak, poll, server_v4};

fn bare(pool: usize) -> (&'static mut Testbed<'static>, Listener<16>) {
    support::bare::bare::<16>(pool)
}

/// Run until `sk`'s connect is decided (accepting on the server meanwhile); the outcome
/// and how long it took.
fn await_connect(
    tb: &mut Testbed<'static>,
    listener: &mut Listener<16>,
    sk: &mut TcpSocket,
) -> (Result<(), ConnectError>, Duration) {
    let t0 = tb.now();
    tb.run(LIMIT, |c, s| {
        let _ = listener.accept(s);
        sk.connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    (sk.connect_status(&mut tb.client), tb.now() - t0)
}

/// The client "crashes": its socket is aborted and the RST never reaches the server.
fn crash(tb: &mut Testbed<'static>, sk: &mut TcpSocket) {
    sk.with_socket(&mut tb.client, |s| s.abort());
    poll(tb, End::A);
    while tb.wire.take(End::B).is_some() {}
    assert_eq!(sk.state(&mut tb.client), Some(State::Closed));
}

/// A client that closed first (its TIME-WAIT) and reconnects from the same bound port
/// at once: the client's own TIME-WAIT record (made by `connect`) absorbs the new
/// connection's SYN-ACK, so the connect hangs for the rest of the 10 s (or times out).
#[test]
fn rebound_client_reconnects_promptly_after_its_own_time_wait() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.bind(&mut tb.client, 40000).unwrap();
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    sk.close(&mut tb.client);
    let mut buf = [0u8; 4];
    tb.run(LIMIT, |c, s| {
        if conn.recv(s, &mut buf) == Ok(0) {
            conn.close(s);
        }
        sk.state(c) == Some(State::TimeWait) && listener.listening(s) == 1
    })
    .unwrap();
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(5)));
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let (status, took) = await_connect(tb, &mut listener, &mut sk);
    assert_eq!(
        status,
        Ok(()),
        "after {took}; client records: {:?}",
        tb.client.time_wait_stats()
    );
    assert!(took < Duration::from_secs(3), "took {took}");
}

/// The server closed first and waits (FIN-WAIT-2 record) for a client that crashed; the
/// client reboots and calls again from the same port. Linux answers the SYN (RST or
/// ACK, then the retry gets in within a second or so); the record absorbs it for 60 s.
#[test]
fn a_rebooted_client_on_the_same_port_gets_past_a_fin_wait_2_record() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.bind(&mut tb.client, 40000).unwrap();
    connect_and_accept(tb, &mut listener, &mut sk).close(&mut tb.server);
    let mut buf = [0u8; 4];
    tb.run(LIMIT, |c, s| {
        sk.recv(c, &mut buf) == Ok(0) && listener.listening(s) == 1
    })
    .unwrap();
    assert_eq!(tb.server.time_wait_stats().0.fin_wait, 1);
    crash(tb, &mut sk);
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(10)));
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let (status, took) = await_connect(tb, &mut listener, &mut sk);
    assert_eq!(
        status,
        Ok(()),
        "after {took}: {:?}",
        tb.server.time_wait_stats()
    );
}

/// A half-open connection: the client crashed while connected (the server still
/// ESTABLISHED), rebooted and calls again from the same port. smoltcp (as Linux) would
/// answer the SYN with a challenge ACK, the client resets the stale connection and its
/// retry gets in; the gate drops the SYN ("its 4-tuple has a socket") forever.
#[test]
fn a_rebooted_client_gets_past_its_half_open_connection() {
    let (tb, mut listener) = bare(2);
    let mut sk = client(tb);
    sk.bind(&mut tb.client, 40000).unwrap();
    let _conn = connect_and_accept(tb, &mut listener, &mut sk);
    crash(tb, &mut sk);
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(10)));
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let (status, took) = await_connect(tb, &mut listener, &mut sk);
    assert_eq!(status, Ok(()), "after {took}");
}

/// The same, but the stale connection was never accepted (it waits in the pool,
/// ESTABLISHED): the caller can never get in again, and the pool's socket is held.
#[test]
fn a_rebooted_client_gets_past_its_unaccepted_half_open_connection() {
    let (tb, mut listener) = bare(2);
    let mut sk = client(tb);
    sk.bind(&mut tb.client, 40000).unwrap();
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, _| sk.connect_status(c).is_ok()).unwrap();
    crash(tb, &mut sk);
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(10)));
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let t0 = tb.now();
    tb.run(LIMIT, |c, _| {
        sk.connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    let took = tb.now() - t0;
    assert_eq!(sk.connect_status(&mut tb.client), Ok(()), "after {took}");
    let _ = &mut listener;
}

/// Two client sockets bound to the same port: the second `bind` is EADDRINUSE on Linux
/// (no SO_REUSEADDR). Here it succeeds, and a connect of both to one server makes two
/// connections of one 4-tuple.
#[test]
fn binding_one_port_twice_is_eaddrinuse() {
    let (tb, _listener) = bare(1);
    let mut a = client(tb);
    let mut b = client(tb);
    a.bind(&mut tb.client, 40000).unwrap();
    assert_eq!(b.bind(&mut tb.client, 40000), Err(BindError::AddrInUse));
}

/// A caller whose peer vanishes while the server says goodbye (no ACK ever comes back):
/// the pool's socket retransmits its FIN forever (smoltcp has no retry limit; Linux
/// gives an orphan up after tcp_orphan_retries), so the pool never listens again.
#[test]
fn a_vanished_peer_does_not_hold_a_pool_socket_forever() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    conn.sendall(&mut tb.server, b"bye\n").unwrap();
    conn.close(&mut tb.server);
    // From now on the client is gone: nothing reaches it, nothing comes back.
    let mut now = tb.now();
    for _ in 0..2000 {
        tb.server.poll(now, &mut tb.wire.port(End::B));
        while tb.wire.take(End::A).is_some() {}
        let next = tb.server.poll_at().unwrap_or(now + Duration::from_secs(1));
        now = next.max(now + Duration::from_millis(1));
        if now > tb.now() + Duration::from_secs(30 * 60) {
            break;
        }
    }
    assert_eq!(
        listener.listening(&mut tb.server),
        1,
        "after {} the pool still has no listening socket; conn {:?}",
        now - tb.now(),
        conn.state(&mut tb.server)
    );
}

/// Twenty callers at once on a pool of one: each attempt is queued once. The ring of
/// 16 remembered attempts forgets the first ones, whose retransmissions are counted
/// again.
#[test]
fn queued_counts_each_of_many_callers_once() {
    let (tb, mut listener) = bare(1);
    let mut clients: Vec<TcpSocket> = (0..20).map(|_| client(tb)).collect();
    for sk in clients.iter_mut() {
        sk.set_timeout(&mut tb.client, Some(Duration::from_secs(300)));
        sk.connect(&mut tb.client, server_v4(7)).unwrap();
    }
    let mut served = 0;
    let mut conns: Vec<TcpSocket> = Vec::new();
    tb.run(LIMIT, |c, s| {
        if let Ok(conn) = listener.accept(s) {
            conns.push(conn);
        }
        for conn in conns.iter_mut() {
            conn.close(s);
        }
        conns.clear();
        served = clients
            .iter_mut()
            .filter(|sk| sk.connect_status(c).is_ok() || sk.state(c) != Some(State::SynSent))
            .count();
        for sk in clients.iter_mut() {
            let mut buf = [0u8; 4];
            if sk.recv(c, &mut buf) == Ok(0) {
                sk.close(c);
            }
        }
        served == 20
    })
    .unwrap();
    let counts = listener.syn_counts(&tb.server);
    assert_eq!(counts.accepted, 20, "{counts:?}");
    assert!(counts.queued <= 19, "{counts:?}");
    for sk in clients.iter_mut() {
        assert_ne!(
            sk.connect_status(&mut tb.client),
            Err(ConnectError::TimedOut)
        );
    }
}

/// Python: `sk.bind(addr)` after `connect` is EINVAL; here it is accepted (and silently
/// moves the port of the next connection). And `listen` on a port a client socket is
/// bound to is EADDRINUSE on Linux.
#[test]
fn bind_after_connect_is_einval() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    let _conn = connect_and_accept(tb, &mut listener, &mut sk);
    assert!(
        sk.bind(&mut tb.client, 40001).is_err(),
        "bind after connect"
    );
}

#[test]
fn listen_on_a_port_a_client_socket_is_bound_to_is_eaddrinuse() {
    let (tb, _listener) = bare(1);
    let mut other = client(tb);
    other.bind(&mut tb.client, 40002).unwrap();
    let pool: &'static mut [TcpBuffers<64, 64>] = Vec::leak(vec![TcpBuffers::new()]);
    assert!(
        Listener::<1>::listen(&mut tb.client, 40002, 1, pool).is_err(),
        "listen on a bound port"
    );
}

/// The server closes first; the client reconnects at once from the same port, several
/// times. Whatever the new ISN (smoltcp's is random), each connect should succeed
/// promptly: Linux answers an "old" SYN in TIME-WAIT with an ACK, the client's RST
/// kills the TIME-WAIT (rfc1337=0) and its retry gets in after ~1 s. The record
/// absorbs the SYN and ignores the RST: the caller waits out the 10 s.
#[test]
fn reconnecting_from_the_same_port_after_the_server_closed_first_is_prompt() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.bind(&mut tb.client, 40000).unwrap();
    let mut worst = Duration::ZERO;
    for round in 0..8 {
        let t0 = tb.now();
        let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
        worst = worst.max(tb.now() - t0);
        conn.close(&mut tb.server);
        let mut buf = [0u8; 4];
        tb.run(LIMIT, |c, s| {
            if sk.recv(c, &mut buf) == Ok(0) {
                sk.close(c);
            }
            sk.state(c) == Some(State::Closed) && listener.listening(s) == 1
        })
        .unwrap();
        let _ = round;
    }
    assert!(
        worst < Duration::from_secs(3),
        "worst connect took {worst}; {:?}",
        tb.server.time_wait_stats()
    );
}

/// Zero-sized buffers on both ends: nothing panics, calls get defined answers.
#[test]
fn zero_sized_buffers_do_not_panic() {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<4>::new()),
        leak(StackStorage::<4>::new()),
    ));
    let pool: &'static mut [TcpBuffers<0, 0>] = Vec::leak(vec![TcpBuffers::new()]);
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, leak(TcpBuffers::<0, 0>::new())).unwrap();
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let mut conn = None;
    let _ = tb.run(Duration::from_secs(60), |c, s| {
        conn = conn.take().or_else(|| listener.accept(s).ok());
        conn.is_some() && sk.connect_status(c).is_ok()
    });
    let _ = sk.send(&mut tb.client, b"x");
    let _ = sk.send(&mut tb.client, b"");
    let mut buf = [0u8; 0];
    let _ = sk.recv(&mut tb.client, &mut buf);
    sk.close(&mut tb.client);
    if let Some(mut conn) = conn {
        conn.close(&mut tb.server);
    }
    let _ = tb.run(Duration::from_secs(60), |_, s| listener.listening(s) == 1);
    let mut u =
        sockless::UdpSocket::bind(&mut tb.client, 0, leak(sockless::UdpBuffers::<0, 0>::new()))
            .unwrap();
    let _ = u.sendto(&mut tb.client, b"", server_v4(9));
    let _ = u.sendto(&mut tb.client, b"x", server_v4(9));
    let mut b = [0u8; 0];
    let _ = u.recvfrom(&mut tb.client, &mut b);
}

/// IPv6: the records' ACKs (the server closed first, the client's FIN is ACKed by a
/// record) reach the client, which closes cleanly and promptly.
#[test]
fn ipv6_records_ack_the_peers_fin() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.connect(&mut tb.client, IpEndpoint::new(Host::SERVER.ipv6_addr(), 7))
        .unwrap();
    accept_connected(tb, &mut listener, &mut sk).close(&mut tb.server);
    let mut buf = [0u8; 4];
    let t0 = tb.now();
    tb.run(Duration::from_secs(60), |c, _| {
        if sk.recv(c, &mut buf) == Ok(0) {
            sk.close(c);
        }
        sk.state(c) == Some(State::Closed)
    })
    .unwrap();
    assert!(
        tb.now() - t0 < Duration::from_secs(1),
        "took {}",
        tb.now() - t0
    );
    assert_eq!(sk.error(&mut tb.client), None);
    let (stats, _) = tb.server.time_wait_stats();
    assert_eq!((stats.fin_wait, stats.fin_reacked), (1, 1), "{stats:?}");
}

/// A held SYN whose client gave up (closed its socket during the connect) is replayed
/// when a socket frees (within 3 s of its arrival): it takes the socket until the
/// client's RST comes back, and counts as accepted. A kernel never replays a SYN; here
/// that is the price of serving a held caller the moment a socket frees. The pool
/// recovers at once.
#[test]
fn a_held_syn_of_a_client_that_gave_up_leaves_the_pool_listening() {
    let (tb, mut listener) = bare(1);
    let mut first = client(tb);
    let mut conn = connect_and_accept(tb, &mut listener, &mut first);
    let mut quitter = client(tb);
    quitter.connect(&mut tb.client, server_v4(7)).unwrap();
    // The quitter's SYN reaches the full server and is held.
    tb.settle();
    assert_eq!(listener.syn_counts(&tb.server).queued, 1);
    quitter.close(&mut tb.client);
    tb.settle();
    // A socket frees.
    conn.close(&mut tb.server);
    let mut buf = [0u8; 4];
    tb.run(LIMIT, |c, s| {
        if first.recv(c, &mut buf) == Ok(0) {
            first.close(c);
        }
        listener.listening(s) == 1 && first.state(c) == Some(State::Closed)
    })
    .unwrap();
    tb.sleep(Duration::from_secs(5));
    assert_eq!(
        listener.listening(&mut tb.server),
        1,
        "the pool listens again"
    );
    assert_eq!(tb.client.capacity().1, 2);
    let counts = listener.syn_counts(&tb.server);
    assert_eq!((counts.accepted, counts.queued), (2, 1), "{counts:?}");
}

/// Python: `settimeout(0)` is `setblocking(False)`: `connect` goes on in the background
/// and `recv` says EAGAIN (BlockingIOError), never "timed out". Here a zero timeout
/// aborts the connect at its first poll (and sends an RST).
#[test]
fn a_zero_timeout_is_non_blocking_not_an_instant_timeout() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.set_timeout(&mut tb.client, Some(Duration::ZERO));
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    let (status, _) = await_connect(tb, &mut listener, &mut sk);
    assert_eq!(status, Ok(()));
    let mut buf = [0u8; 4];
    assert_eq!(
        sk.recv(&mut tb.client, &mut buf),
        Err(sockless::socket::RecvError::WouldBlock)
    );
}

/// An accepted connection reset by its peer is CLOSED but still the program's:
/// `connect` on it (Linux: EISCONN) turns the listener's pool socket into a client,
/// from the listening port.
#[test]
fn connect_on_a_reset_accepted_socket_is_refused() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    sk.abort(&mut tb.client);
    tb.run(LIMIT, |_, s| conn.state(s) == Some(State::Closed))
        .unwrap();
    let r = conn.connect(&mut tb.server, IpEndpoint::new(Host::CLIENT.ipv4_addr(), 9));
    assert!(
        r.is_err(),
        "connect on an accepted socket: {r:?}, local {:?}",
        conn.local_addr(&mut tb.server)
    );
}

/// Storage with no TIME-WAIT records (TW = 0): a caller that never hangs up keeps the
/// server's closed socket in FIN-WAIT-2 for ever (smoltcp has no FIN-WAIT-2 timer;
/// Linux gives an orphan up after tcp_fin_timeout, 60 s): the pool stops listening.
#[test]
fn without_records_a_lingering_caller_does_not_hold_a_pool_socket_forever() {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<4>::new()),
        leak(StackStorage::<4, 0>::new()),
    ));
    let pool: &'static mut [TcpBuffers<256, 256>] = Vec::leak(vec![TcpBuffers::new()]);
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, pool).unwrap();
    let mut sk = client(tb);
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    accept_connected(tb, &mut listener, &mut sk).close(&mut tb.server);
    let mut buf = [0u8; 4];
    tb.run(LIMIT, |c, _| sk.recv(c, &mut buf) == Ok(0)).unwrap();
    tb.sleep(Duration::from_secs(600));
    assert_eq!(listener.listening(&mut tb.server), 1, "after 10 min");
}
