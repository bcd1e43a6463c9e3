//! The connection core under the network's tricks and odd call orders: one regression
//! test per finding of the review (issue 13), in virtual time.

mod support;

use sockless::phy::End;
use sockless::services::{NOTICE, ROBOT_PORT, ServiceConfig, robot_menu};
use sockless::smoltcp::socket::tcp::State;
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpEndpoint, IpProtocol, Ipv6Packet, TcpPacket,
};
use sockless::socket::{
    AcceptError, BindError, ConnectError, ListenError, RecvError, SendError, Shutdown,
};
use sockless::{
    EventKind, Host, Listener, Overflow, StackStorage, TcpBuffers, TcpSocket, Testbed, Trace,
    UdpBuffers, UdpSocket,
};
use support::bare::{
    accept_connected, client, connect_and_accept, leak, poll, server_v4, server_v6,
};
use support::{LIMIT, Rig};

fn bare(pool: usize) -> (&'static mut Testbed<'static>, Listener<4>) {
    support::bare::bare::<4>(pool)
}

/// Let neighbour discovery finish, then take the client's SYN off the wire on its way.
fn catch_syn(tb: &mut Testbed<'static>) -> Vec<u8> {
    loop {
        poll(tb, End::A);
        let frame = tb.wire.take(End::B).expect("a frame from the client");
        if tcp_flags(&frame) == Some((true, false, false)) {
            return frame.to_vec();
        }
        tb.wire.inject(End::B, &frame);
        poll(tb, End::B);
    }
}

/// Whether a frame is a TCP segment with these flags (SYN, ACK, FIN).
fn tcp_flags(frame: &[u8]) -> Option<(bool, bool, bool)> {
    let header = sockless::phy::tcp_header(frame)?;
    Some((header.syn, header.ack, header.fin))
}

/// Finding 1: a client whose SYN-ACK was lost retransmits its SYN; the listener had
/// re-armed a lower-numbered socket meanwhile. The duplicate SYN must not take it.
#[test]
fn a_retransmitted_syn_never_takes_a_second_socket() {
    let (tb, mut listener) = bare(2);
    // Client A takes socket 0, then goes: its socket is back in the pool (TIME-WAIT kept
    // by a record) and listens again, below the socket client B is about to take.
    let mut a = client(tb);
    a.connect(&mut tb.client, server_v4(7)).unwrap();
    let mut conn_a = None;
    tb.run(LIMIT, |c, s| {
        conn_a = conn_a.take().or_else(|| listener.accept(s).ok());
        conn_a.is_some() && a.connect_status(c).is_ok()
    })
    .unwrap();
    let mut conn_a = conn_a.unwrap();
    assert_eq!(conn_a.fileno(), 0);

    // Client B: its SYN reaches the server (socket 1, the only LISTEN one), the SYN-ACK
    // is lost.
    let mut b = client(tb);
    b.connect(&mut tb.client, server_v4(7)).unwrap();
    poll(tb, End::A); // B's SYN (ARP is long done)
    poll(tb, End::B); // SYN-ACK queued for the client
    let lost = tb.wire.take(End::A).expect("the SYN-ACK");
    assert_eq!(tcp_flags(&lost), Some((true, true, false)));

    // A's conversation ends with the server closing first: socket 0 listens again.
    conn_a.close(&mut tb.server);
    tb.run(LIMIT, |c, s| {
        let mut buf = [0u8; 8];
        if a.recv(c, &mut buf) == Ok(0) {
            a.close(c);
        }
        listener.listening(s) == 1 && listener.busy(s) == 1
    })
    .unwrap();

    // B retransmits its SYN (1 s later); the handshake completes on socket 1 only.
    let mut conn_b = None;
    tb.run(LIMIT, |c, s| {
        conn_b = conn_b.take().or_else(|| listener.accept(s).ok());
        conn_b.is_some() && b.connect_status(c).is_ok()
    })
    .unwrap();
    assert_eq!(conn_b.unwrap().fileno(), 1, "B kept its first socket");
    assert_eq!(
        listener.busy(&mut tb.server),
        1,
        "one socket for B, not two"
    );
    assert_eq!(listener.listening(&mut tb.server), 1);
    assert_eq!(
        listener.syn_counts(&tb.server).accepted,
        2,
        "A and B, once each"
    );
}

/// Finding 2: an IPv6 SYN with a Hop-by-Hop Options header is a connection request like
/// any other: the gate counts it, and the listener accepts the connection.
#[test]
fn an_ipv6_syn_with_a_hop_by_hop_header_is_accepted() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.connect(&mut tb.client, server_v6(7)).unwrap();
    let syn = catch_syn(tb);
    tb.wire
        .inject(End::B, &with_hop_by_hop(&syn, IpProtocol::HopByHop));
    accept_connected(tb, &mut listener, &mut sk);
    assert_eq!(listener.syn_counts(&tb.server).accepted, 1);
}

/// smoltcp 0.14 answers a Destination Options or a Routing header with an ICMPv6
/// Parameter Problem and never hands the segment to TCP: the gate must not count it either.
#[test]
fn an_ipv6_syn_behind_destination_options_or_routing_is_not_a_connection_request() {
    for kind in [IpProtocol::Ipv6Opts, IpProtocol::Ipv6Route] {
        let (tb, mut listener) = bare(1);
        let mut sk = client(tb);
        sk.connect(&mut tb.client, server_v6(7)).unwrap();
        let syn = catch_syn(tb);
        tb.wire.inject(End::B, &with_hop_by_hop(&syn, kind));
        poll(tb, End::B);
        assert_eq!(listener.syn_counts(&tb.server).accepted, 0, "{kind}");
        assert_eq!(tb.wire.waiting(End::A), 1, "the parameter problem: {kind}");
        assert_eq!(tcp_flags(&tb.wire.take(End::A).unwrap()), None);
        assert_eq!(listener.listening(&mut tb.server), 1, "{kind}");
    }
}

/// `frame` (an IPv6 TCP segment) with an 8-byte extension header of kind `kind` (PadN)
/// between the IPv6 header and TCP. The TCP checksum covers the same pseudo-header.
fn with_hop_by_hop(frame: &[u8], kind: IpProtocol) -> Vec<u8> {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EthernetProtocol::Ipv6);
    let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(ip.next_header(), IpProtocol::Tcp);
    let tcp = ip.payload().to_vec();
    let mut out = frame[..14 + 40].to_vec();
    // Next header TCP, length 0 (8 bytes), PadN of 4 bytes of padding.
    out.extend_from_slice(&[u8::from(IpProtocol::Tcp), 0, 1, 4, 0, 0, 0, 0]);
    out.extend_from_slice(&tcp);
    let mut ip = Ipv6Packet::new_unchecked(&mut out[14..]);
    ip.set_next_header(kind);
    ip.set_payload_len((tcp.len() + 8) as u16);
    // Still a valid TCP segment.
    TcpPacket::new_checked(&out[14 + 40 + 8..]).unwrap();
    out
}

/// Finding 3: `settimeout`, one `recv` that would block, then end of stream and close:
/// the stack's next deadline must not stay in the past (every sleep would be zero).
#[test]
fn a_finished_recv_wait_leaves_no_deadline_behind() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(sockless::services::ECHO_PORT);
    sk.set_timeout(&mut rig.tb.client, Some(Duration::from_secs(5)));
    let mut buf = [0u8; 8];
    assert_eq!(
        sk.recv(&mut rig.tb.client, &mut buf),
        Err(RecvError::WouldBlock)
    );
    sk.shutdown(&mut rig.tb.client, Shutdown::Write);
    assert_eq!(rig.recv_to_eof(&mut sk), Ok(Vec::new()));
    sk.close(&mut rig.tb.client);
    rig.finish(&mut sk);
    let mut turns = 0;
    let services = &mut *rig.services;
    rig.tb
        .run_for(Duration::from_secs(30), |_, s| {
            turns += 1;
            services.poll(s);
        })
        .unwrap();
    assert!(turns < 10, "30 s of idle took {turns} turns");
    let now = rig.tb.now();
    assert_eq!(
        rig.tb.client.poll_delay(now),
        None,
        "nothing left to wait for"
    );
}

/// Finding 4: `Duration::MAX` is "wait forever", never "time out at once" or a panic.
#[test]
fn the_largest_timeouts_wait_and_never_panic() {
    let (tb, listener) = bare(1);
    listener.set_overflow(&mut tb.server, Overflow::Queue);
    // Take the only socket, so that the next connect waits.
    let mut first = client(tb);
    first.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, _| first.connect_status(c).is_ok())
        .unwrap();

    let mut sk = client(tb);
    sk.set_timeout(&mut tb.client, Some(Duration::MAX));
    sk.set_idle_timeout(&mut tb.client, Some(Duration::MAX));
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run_for(Duration::from_secs(60), |_, _| {}).unwrap();
    assert_eq!(
        sk.connect_status(&mut tb.client),
        Err(ConnectError::WouldBlock),
        "still trying after a minute"
    );
    let mut buf = [0u8; 4];
    assert_eq!(
        first.recv(&mut tb.client, &mut buf),
        Err(RecvError::WouldBlock)
    );
    first.set_timeout(&mut tb.client, Some(Duration::MAX));
    first.set_idle_timeout(&mut tb.client, Some(Duration::MAX));
    assert_eq!(
        first.recv(&mut tb.client, &mut buf),
        Err(RecvError::WouldBlock)
    );
    // A run with no time limit at all ends when its step says so.
    let mut turns = 0;
    tb.run(Duration::MAX, |_, _| {
        turns += 1;
        turns == 3
    })
    .unwrap();
}

/// A testbed with nothing to do sleeps through any duration at once, the clock saturating.
#[test]
fn an_idle_testbed_sleeps_through_any_duration() {
    let (tb, _listener) = bare(1);
    tb.sleep(Duration::MAX);
    tb.sleep(Duration::MAX);
    assert!(tb.now().total_micros() > 0);
}

/// Finding 5: a timeout set on one accepted connection does not carry over to the next
/// connection accepted on the same socket.
#[test]
fn an_accepted_connection_starts_without_the_previous_ones_timeout() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    for round in 0..2 {
        let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
        assert_eq!(conn.fileno(), 0, "the same socket each time");
        let mut buf = [0u8; 4];
        if round == 0 {
            conn.set_timeout(&mut tb.server, Some(Duration::from_secs(1)));
            conn.set_idle_timeout(&mut tb.server, Some(Duration::from_secs(2)));
        } else {
            // 5 s of silence: no settimeout(1) and no idle timeout on this one.
            let mut result = Ok(0);
            tb.run_for(Duration::from_secs(5), |_, s| {
                result = conn.recv(s, &mut buf);
            })
            .unwrap();
            assert_eq!(result, Err(RecvError::WouldBlock));
            assert_eq!(conn.state(&mut tb.server), Some(State::Established));
        }
        conn.close(&mut tb.server);
        tb.run(LIMIT, |c, s| {
            if sk.recv(c, &mut buf) == Ok(0) {
                sk.close(c);
            }
            sk.state(c) == Some(State::Closed) && listener.busy(s) == 0
        })
        .unwrap();
    }
}

/// Finding 6: a closed accepted descriptor is dead (EBADF): `connect` on it must not
/// steal the pool's socket.
#[test]
fn a_closed_accepted_descriptor_is_ebadf_for_every_verb() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    conn.close(&mut tb.server);
    conn.close(&mut tb.server); // twice: nothing more
    let server = &mut tb.server;
    assert_eq!(
        conn.connect(server, IpEndpoint::new(Host::CLIENT.ipv4_addr(), 9)),
        Err(ConnectError::Closed)
    );
    assert_eq!(conn.connect_status(server), Err(ConnectError::Closed));
    let mut buf = [0u8; 4];
    assert_eq!(conn.recv(server, &mut buf), Err(RecvError::Closed));
    assert_eq!(conn.send(server, b"x"), Err(SendError::Closed));
    assert_eq!(conn.bind(server, 1234), Err(BindError::Closed));
    assert_eq!(conn.state(server), None);
    assert_eq!(conn.peer_addr(server), None);
    conn.shutdown(server, Shutdown::Both);
    conn.abort(server);
    // The pool is untouched: the client's close ends the connection and the socket
    // listens again.
    tb.run(LIMIT, |c, s| {
        if sk.recv(c, &mut buf) == Ok(0) {
            sk.close(c);
        }
        listener.listening(s) == 1
    })
    .unwrap();
    assert!(tb.server.capacity().1 == 1);
}

/// Finding 7: a port in use is EADDRINUSE (listen twice, bind twice); closing frees it.
#[test]
fn ports_in_use_are_eaddrinuse_until_closed() {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<8>::new()),
        leak(StackStorage::<8>::new()),
    ));
    let s = &mut tb.server;
    let pool = || Vec::leak(vec![TcpBuffers::<256, 256>::new()]);
    let first = Listener::<1>::listen(s, 80, 1, pool()).unwrap();
    let err = Listener::<1>::listen(s, 80, 1, pool()).unwrap_err();
    assert_eq!(err, ListenError::AddrInUse);
    assert_eq!(err.errno().code(), 98);
    assert_eq!(s.capacity().1, 1, "the failed listen took no socket");
    first.close(s);
    assert_eq!(s.capacity().1, 0, "the listener's socket left the stack");
    let again = Listener::<1>::listen(s, 80, 1, pool()).expect("the port is free again");
    assert_eq!(again.port(), 80);

    let mut u1 = UdpSocket::bind(s, 53, leak(UdpBuffers::<2, 256>::new())).unwrap();
    assert_eq!(
        UdpSocket::bind(s, 53, leak(UdpBuffers::<2, 256>::new())),
        Err(BindError::AddrInUse)
    );
    u1.close(s);
    u1.close(s); // twice: nothing more
    assert_eq!(s.capacity().1, 1, "the UDP socket's slot is free again");
    assert!(UdpSocket::bind(s, 53, leak(UdpBuffers::<2, 256>::new())).is_ok());
    // A client's bind to a listener's port is refused too.
    let mut c = TcpSocket::new(s, leak(TcpBuffers::<256, 256>::new())).unwrap();
    assert_eq!(c.bind(s, 80), Err(BindError::AddrInUse));
}

/// Finding 8: the notice server answers a client that half-closes without a word, as
/// the tutorial's server does (`recv` returns `b''`, then `sendall`).
#[test]
fn the_notice_server_answers_a_silent_half_close() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(sockless::services::NOTICE_PORT);
    sk.shutdown(&mut rig.tb.client, Shutdown::Write);
    assert_eq!(rig.recv_to_eof(&mut sk), Ok(NOTICE.as_bytes().to_vec()));
}

/// Finding 9: `accept` is first come, first served: the connection whose handshake
/// finished first, even if it has been busier since.
#[test]
fn accept_takes_connections_in_the_order_their_handshakes_finished() {
    let (tb, mut listener) = bare(2);
    let mut first = client(tb);
    let mut second = client(tb);
    first.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, _| first.connect_status(c).is_ok())
        .unwrap();
    tb.sleep(Duration::from_secs(1));
    second.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, _| second.connect_status(c).is_ok())
        .unwrap();
    // The first caller sends and hangs up before anyone accepted it.
    first.sendall(&mut tb.client, b"early").unwrap();
    first.close(&mut tb.client);
    tb.sleep(Duration::from_secs(1));
    let a = listener.accept(&mut tb.server).unwrap();
    let b = listener.accept(&mut tb.server).unwrap();
    let local = |sk: &TcpSocket, tb: &mut Testbed<'static>| sk.local_addr(&mut tb.client);
    assert_eq!(a.peer_addr(&mut tb.server), local(&first, tb));
    assert_eq!(b.peer_addr(&mut tb.server), local(&second, tb));
    assert_eq!(
        listener.accept(&mut tb.server),
        Err(AcceptError::WouldBlock)
    );
}

/// Finding 10: the counters count connection attempts, not frames: a SYN retransmitted
/// while queued counts once, and junk smoltcp drops (SYN+FIN) counts for nothing.
#[test]
fn syn_counters_count_attempts_not_frames() {
    let (tb, mut listener) = bare(1);
    let mut first = client(tb);
    first.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, _| first.connect_status(c).is_ok())
        .unwrap();
    // The pool is full: the next caller is queued, and retransmits for 7 s (1 + 2 + 4).
    let mut waiting = client(tb);
    waiting.connect(&mut tb.client, server_v4(7)).unwrap();
    let syn = loop {
        poll(tb, End::A);
        let frame = tb.wire.take(End::B).expect("the SYN");
        if tcp_flags(&frame) == Some((true, false, false)) {
            break frame;
        }
    };
    tb.wire.inject(End::B, &syn);
    tb.sleep(Duration::from_secs(7));
    let counts = listener.syn_counts(&tb.server);
    assert_eq!((counts.accepted, counts.queued, counts.refused), (1, 1, 0));
    // SYN+FIN: smoltcp drops it, so must the counters.
    let mut junk = syn.to_vec();
    let tcp_at = 14 + 20;
    junk[tcp_at + 13] |= 0x01; // FIN
    tb.wire.inject(End::B, &junk);
    tb.sleep(Duration::from_millis(10));
    assert_eq!(listener.syn_counts(&tb.server), counts);
    // Once the first caller is accepted and gone, the queued one gets in: still one
    // attempt, now accepted.
    let mut conn = listener.accept(&mut tb.server).unwrap();
    conn.close(&mut tb.server);
    let mut buf = [0u8; 4];
    let mut second = None;
    tb.run(LIMIT, |c, s| {
        if first.recv(c, &mut buf) == Ok(0) {
            first.close(c);
        }
        // Accepting is also what re-arms the listener's sockets.
        second = second.take().or_else(|| listener.accept(s).ok());
        waiting.connect_status(c).is_ok()
    })
    .unwrap();
    let counts = listener.syn_counts(&tb.server);
    assert_eq!((counts.accepted, counts.queued, counts.refused), (2, 1, 0));
}

/// Finding 11: `close` or `shutdown(SHUT_WR)` during a connect is no refusal: nothing is
/// sent, the trace says closed, and `connect_status` says aborted (not errno 111).
#[test]
fn closing_during_a_connect_cancels_it_quietly() {
    for how in [None, Some(Shutdown::Write)] {
        let trace: &'static Trace<64> = leak(Trace::new());
        let (tb, _listener) = bare(1);
        tb.client.set_observer(Some(trace));
        let mut sk = client(tb);
        sk.connect(&mut tb.client, server_v4(7)).unwrap();
        match how {
            None => sk.close(&mut tb.client),
            Some(how) => sk.shutdown(&mut tb.client, how),
        }
        assert_eq!(
            sk.connect_status(&mut tb.client),
            Err(ConnectError::Aborted)
        );
        assert_eq!(ConnectError::Aborted.errno().code(), 103);
        tb.sleep(Duration::from_secs(5));
        let sent = tb.wire.stats(End::A);
        assert_eq!(sent.tcp_segments, 0, "no SYN, no RST");
        let kinds: Vec<_> = trace.events().map(|e| e.kind).collect();
        assert!(!kinds.contains(&EventKind::Refused), "{kinds:?}");
        assert!(kinds.contains(&EventKind::Closed), "{kinds:?}");
        // And the socket connects again.
        sk.connect(&mut tb.client, server_v4(7)).unwrap();
        tb.run(LIMIT, |c, _| sk.connect_status(c).is_ok()).unwrap();
    }
}

/// Finding 13: a descriptor used with the wrong stack is EBADF, never that stack's
/// socket of the same number, never a panic (even when that one is a UDP socket).
#[test]
fn a_descriptor_of_another_stack_is_ebadf() {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<4>::new()),
        leak(StackStorage::<4>::new()),
    ));
    let mut udp = UdpSocket::bind(&mut tb.server, 53, leak(UdpBuffers::<2, 256>::new())).unwrap();
    let mut tcp = client(tb);
    assert_eq!((udp.fileno(), tcp.fileno()), (0, 0));
    let mut buf = [0u8; 8];
    assert_eq!(tcp.recv(&mut tb.server, &mut buf), Err(RecvError::Closed));
    assert_eq!(
        tcp.connect(&mut tb.server, server_v4(7)),
        Err(ConnectError::Closed)
    );
    assert_eq!(tcp.state(&mut tb.server), None);
    tcp.close(&mut tb.server);
    tcp.abort(&mut tb.server);
    assert_eq!(
        udp.sendto(&mut tb.client, b"x", server_v4(53)),
        Err(sockless::socket::SendToError::Closed)
    );
    udp.close(&mut tb.client);
    // Both are still alive on their own stacks.
    assert_eq!(tcp.state(&mut tb.client), Some(State::Closed));
    assert!(udp.can_send(&mut tb.server));
}

/// Finding 14: `pending` counts connections ready for `accept`, not handshakes under
/// way (SYN-RECEIVED).
#[test]
fn pending_counts_only_finished_handshakes() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    // SYN, SYN-ACK, and the client's ACK is lost: the server is in SYN-RECEIVED.
    let ack = loop {
        poll(tb, End::A);
        poll(tb, End::B);
        poll(tb, End::A);
        if let Some(frame) = tb.wire.take(End::B) {
            if tcp_flags(&frame) == Some((false, true, false)) {
                break frame;
            }
            tb.wire.inject(End::B, &frame);
        }
    };
    drop(ack);
    poll(tb, End::B);
    assert_eq!(listener.pending(&mut tb.server), 0);
    assert_eq!(listener.busy(&mut tb.server), 1);
    // The server's SYN-ACK retransmission brings the client's ACK again.
    tb.run(LIMIT, |_, s| listener.pending(s) == 1).unwrap();
}

/// TIME-WAIT in records: 100 000 robot calls that end with `exit` (the server closes
/// first) take about as much virtual time as 100 000 calls the client ends.
#[test]
fn robot_calls_ending_with_exit_are_not_serialised_by_time_wait() {
    let calls = 100_000;
    let mut elapsed = [Duration::ZERO; 2];
    for (case, client_first) in [false, true].into_iter().enumerate() {
        let mut rig = Rig::with_config(ServiceConfig::default());
        let mut sk = rig.socket();
        let start = rig.tb.now();
        for call in 0..calls {
            rig.reconnect(&mut sk, ROBOT_PORT);
            assert_eq!(rig.recv_line(&mut sk), robot_menu::WELCOME, "call {call}");
            if client_first {
                sk.close(&mut rig.tb.client);
            } else {
                rig.send(&mut sk, b"exit\n");
                assert_eq!(rig.recv_line(&mut sk), robot_menu::GOODBYE);
                assert_eq!(rig.recv_to_eof(&mut sk), Ok(Vec::new()));
                sk.close(&mut rig.tb.client);
            }
            let services = &mut *rig.services;
            rig.tb
                .run(LIMIT, |c, s| {
                    services.poll(s);
                    matches!(sk.state(c), Some(State::Closed | State::TimeWait))
                })
                .unwrap();
        }
        elapsed[case] = rig.tb.now() - start;
        let stats = rig.services.robot.stats();
        assert_eq!((stats.accepted, stats.refused), (calls, 0));
        let (time_wait, _) = rig.tb.server.time_wait_stats();
        let (client_time_wait, _) = rig.tb.client.time_wait_stats();
        if client_first {
            assert_eq!(time_wait.entered, 0);
            assert_eq!(client_time_wait.entered, calls - 1, "the client's own");
        } else {
            assert_eq!(time_wait.entered, calls);
            assert!(time_wait.overflow > 0, "16 records for {calls} calls");
        }
    }
    let (exit, client_first) = (elapsed[0], elapsed[1]);
    eprintln!(
        "{calls} robot calls: ending with exit {exit}, the client closing first {client_first}"
    );
    assert!(
        exit.total_millis() <= client_first.total_millis() * 2 + 1000,
        "exit: {exit}, client first: {client_first}"
    );
}

/// The records' duties, each counted: a retransmitted FIN is ACKed again, a late segment
/// absorbed, an RST ignored, a newer SYN on the same 4-tuple admitted.
#[test]
fn time_wait_records_do_every_duty_of_time_wait() {
    let (tb, mut listener) = bare(1);
    let mut sk = client(tb);
    sk.bind(&mut tb.client, 40000).unwrap();
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    // The server closes first; the client answers with its FIN; the server's last ACK
    // is lost, so the client (LAST-ACK) sends its FIN again.
    conn.close(&mut tb.server);
    let mut buf = [0u8; 4];
    tb.run(LIMIT, |c, _| sk.recv(c, &mut buf) == Ok(0)).unwrap();
    sk.close(&mut tb.client);
    poll(tb, End::A); // the client's FIN
    poll(tb, End::B); // the server's last ACK, and the server is in TIME-WAIT
    let last_ack = tb.wire.take(End::A).expect("the last ACK");
    assert_eq!(tcp_flags(&last_ack), Some((false, true, false)));
    assert_eq!(
        listener.listening(&mut tb.server),
        1,
        "the socket listens again"
    );
    let fin = tb.wire.stats(End::A).tcp_segments;
    tb.run(LIMIT, |c, _| sk.state(c) == Some(State::Closed))
        .unwrap();
    assert!(
        tb.wire.stats(End::A).tcp_segments > fin,
        "the FIN came again"
    );
    // The server's socket left for a record already in FIN-WAIT-2 (its FIN ACKed, the
    // client's not yet come); the record ACKed the client's FIN, then its retransmission.
    let (stats, in_use) = tb.server.time_wait_stats();
    assert_eq!(
        (stats.fin_wait, stats.entered, stats.fin_reacked, in_use),
        (1, 1, 2, 1)
    );

    // A late data segment and an RST of the old connection: absorbed, ignored.
    let mut late = last_ack.to_vec();
    swap_direction(&mut late);
    tb.wire.inject(End::B, &late);
    poll(tb, End::B);
    let mut rst = late.clone();
    rst[14 + 20 + 13] = 0x04; // RST only
    fix_tcp_checksum(&mut rst);
    tb.wire.inject(End::B, &rst);
    poll(tb, End::B);
    assert_eq!(tb.wire.waiting(End::A), 0, "no answer to either");
    let (stats, _) = tb.server.time_wait_stats();
    assert_eq!((stats.absorbed, stats.rst_ignored), (1, 1));

    // A new connection from the same port: admitted (its ISN is newer) or, if smoltcp's
    // random ISN happens to be older, absorbed until the record ends; either way it
    // connects, and the record's verdict is counted.
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run(LIMIT, |c, s| {
        let _ = listener.accept(s);
        sk.connect_status(c).is_ok()
    })
    .unwrap();
    let (stats, _) = tb.server.time_wait_stats();
    assert!(
        stats.reused == 1 || stats.absorbed >= 2,
        "the new SYN met the record: {stats:?}"
    );
}

/// A segment taken off the wire from the client, turned into one from the client again
/// (`frame` was the server's: swap addresses and ports, keep it an ACK).
fn swap_direction(frame: &mut [u8]) {
    let (dst, src) = (frame[0..6].to_vec(), frame[6..12].to_vec());
    frame[0..6].copy_from_slice(&src);
    frame[6..12].copy_from_slice(&dst);
    let ip = 14;
    let (s, d) = (
        frame[ip + 12..ip + 16].to_vec(),
        frame[ip + 16..ip + 20].to_vec(),
    );
    frame[ip + 12..ip + 16].copy_from_slice(&d);
    frame[ip + 16..ip + 20].copy_from_slice(&s);
    let tcp = ip + 20;
    let (sp, dp) = (
        frame[tcp..tcp + 2].to_vec(),
        frame[tcp + 2..tcp + 4].to_vec(),
    );
    frame[tcp..tcp + 2].copy_from_slice(&dp);
    frame[tcp + 2..tcp + 4].copy_from_slice(&sp);
    fix_tcp_checksum(frame);
}

fn fix_tcp_checksum(frame: &mut [u8]) {
    use sockless::smoltcp::wire::{IpAddress, Ipv4Packet};
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let header = ip.header_len() as usize;
    let mut tcp = TcpPacket::new_unchecked(&mut frame[14 + header..]);
    tcp.fill_checksum(&src, &dst);
}

/// Odd call orders on a listener: accept on a closed port's listener is impossible by
/// type (close takes it), listen with a zero or oversized backlog is EINVAL, a listener
/// on a full storage takes nothing.
#[test]
fn odd_listener_calls_get_defined_answers() {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<2>::new()),
        leak(StackStorage::<2>::new()),
    ));
    let s = &mut tb.server;
    let pool = |n: usize| Vec::leak((0..n).map(|_| TcpBuffers::<256, 256>::new()).collect());
    let err = |r: Result<Listener<1>, ListenError>| r.unwrap_err();
    assert_eq!(
        err(Listener::listen(s, 0, 1, pool(1))),
        ListenError::Unaddressable
    );
    assert_eq!(
        err(Listener::listen(s, 7, 0, pool(1))),
        ListenError::BadBacklog
    );
    assert_eq!(
        err(Listener::listen(s, 7, 2, pool(1))),
        ListenError::BadBacklog
    );
    assert_eq!(
        err(Listener::listen(s, 7, 1, pool(2))),
        ListenError::PoolTooLarge
    );
    assert_eq!(
        err(Listener::listen(s, 7, 1, pool(0))),
        ListenError::BadBacklog
    );
    let _one = Listener::<1>::listen(s, 7, 1, pool(1)).unwrap();
    let _two = Listener::<1>::listen(s, 8, 1, pool(1)).unwrap();
    assert_eq!(err(Listener::listen(s, 9, 1, pool(1))), ListenError::NoSlot);
    assert_eq!(s.capacity(), (2, 2));
}

/// A caller that hears the goodbye but never hangs up (FIN-WAIT-2 on the server) holds no
/// socket: a record waits for its FIN, and the next caller gets the socket at once. Data
/// it sends later gets an RST (nobody will read it), as Linux answers an orphan.
#[test]
fn a_caller_that_never_hangs_up_holds_no_socket() {
    let (tb, mut listener) = bare(1);
    let mut lingering = client(tb);
    connect_and_accept(tb, &mut listener, &mut lingering).close(&mut tb.server);
    let mut buf = [0u8; 4];
    tb.run(LIMIT, |c, s| {
        lingering.recv(c, &mut buf) == Ok(0) && listener.listening(s) == 1
    })
    .unwrap();
    assert_eq!(lingering.state(&mut tb.client), Some(State::CloseWait));
    let (stats, in_use) = tb.server.time_wait_stats();
    assert_eq!((stats.fin_wait, in_use), (1, 1));

    let mut next = client(tb);
    let _conn = connect_and_accept(tb, &mut listener, &mut next);

    // The lingering caller speaks after all: reset.
    lingering.sendall(&mut tb.client, b"late").unwrap();
    tb.run(LIMIT, |c, _| lingering.state(c) == Some(State::Closed))
        .unwrap();
    assert_eq!(lingering.error(&mut tb.client), Some(RecvError::Reset));
    assert_eq!(tb.server.time_wait_stats().0.reset, 1);
}
