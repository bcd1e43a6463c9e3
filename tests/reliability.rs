//! Faults on the wire, overload, churn, silent and slow peers: nothing lost, nobody stuck.
//!
//! Everything runs in virtual time with fixed seeds, so each case gives the same result on
//! every run. `cargo test --release --test reliability -- --nocapture` prints the figures.

mod support;

use std::task::Poll;

use sockless::phy::End;
use sockless::services::robot_menu as robot;
use sockless::services::{ECHO_PORT, OK_PORT, ServiceConfig};
use sockless::smoltcp::time::Duration;
use sockless::socket::{RecvError, SendError};
use sockless::tutorial::chat::{ChatSpec, TcpChat};
use sockless::{Faults, Host, Overflow, TcpSocket};
use support::Rig;

/// Long enough for 1 MiB at 20% loss, where retransmission timeouts back off to 60 s.
const VIRTUAL_LIMIT: Duration = Duration::from_secs(24 * 3600);

fn lossy_rig(faults: Faults, seed: u32) -> Rig {
    // Idle connections are reset after 60 s by default; a lossy link can stay silent
    // that long while TCP backs off, so these cases give the echo more patience.
    let rig = Rig::with_config(ServiceConfig {
        idle_timeout: Some(Duration::from_secs(3600)),
        ..ServiceConfig::default()
    });
    rig.tb.wire.set_faults(faults, seed);
    rig
}

/// Connect through a lossy link (the SYN may need several tries).
fn connect_patiently(rig: &mut Rig, port: u16) -> TcpSocket {
    let mut sk = rig.socket();
    sk.set_timeout(&mut rig.tb.client, Some(Duration::from_secs(3600)));
    sk.connect(&mut rig.tb.client, Rig::server_v4(port))
        .unwrap();
    rig.run_until(|c| sk.connect_status(c) != Err(sockless::socket::ConnectError::WouldBlock));
    sk.connect_status(&mut rig.tb.client).expect("connected");
    sk
}

/// Push `data` through the echo and read it back at the same time; returns it.
fn echo_through(rig: &mut Rig, data: &[u8]) -> Vec<u8> {
    let mut sk = connect_patiently(rig, ECHO_PORT);
    let mut sent = 0;
    let mut got = Vec::with_capacity(data.len());
    let mut closed = false;
    let services = &mut *rig.services;
    rig.tb
        .run(VIRTUAL_LIMIT, |c, s| {
            services.poll(s);
            if sent < data.len() {
                match sk.send(c, &data[sent..]) {
                    Ok(n) => sent += n,
                    Err(SendError::WouldBlock) => {}
                    Err(e) => panic!("send after {sent} bytes: {e}"),
                }
            } else if !closed {
                sk.shutdown(c, sockless::socket::Shutdown::Write);
                closed = true;
            }
            let mut buf = [0u8; 4096];
            match sk.recv(c, &mut buf) {
                Ok(0) => return true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(RecvError::WouldBlock) => {}
                Err(e) => panic!("recv after {} bytes: {e}", got.len()),
            }
            false
        })
        .expect("the transfer finishes");
    got
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

#[test]
fn one_mib_through_the_echo_arrives_byte_exact_at_every_loss_rate() {
    let data = pattern(1 << 20);
    let cases = [(0, 0), (1, 0), (5, 0), (10, 0), (20, 0), (0, 1), (5, 1)];
    eprintln!("\n  loss  corrupt   virtual time   segments   retransmitted   dropped  corrupted");
    for (seed, (drop, corrupt)) in cases.into_iter().enumerate() {
        let mut rig = lossy_rig(
            Faults {
                drop_percent: drop,
                corrupt_percent: corrupt,
            },
            seed as u32 + 1,
        );
        let start = rig.tb.now();
        let got = echo_through(&mut rig, &data);
        assert_eq!(got.len(), data.len(), "{drop}% loss, {corrupt}% corruption");
        assert!(
            got == data,
            "{drop}% loss, {corrupt}% corruption: bytes altered"
        );
        let (a, b) = (rig.tb.wire.stats(End::A), rig.tb.wire.stats(End::B));
        eprintln!(
            "  {drop:>3}%  {corrupt:>6}%   {:>10.1} s   {:>8}   {:>13}   {:>7}  {:>9}",
            (rig.tb.now() - start).total_millis() as f64 / 1000.0,
            a.tcp_segments + b.tcp_segments,
            a.retransmitted + b.retransmitted,
            a.dropped_fault + b.dropped_fault,
            a.corrupted + b.corrupted,
        );
        if drop > 0 {
            assert!(a.dropped_fault + b.dropped_fault > 0);
            assert!(
                a.retransmitted + b.retransmitted > 0,
                "losses were recovered"
            );
        } else if corrupt == 0 {
            assert_eq!(
                a.retransmitted + b.retransmitted,
                0,
                "a clean link retransmits nothing"
            );
        }
        if corrupt > 0 {
            assert!(a.corrupted + b.corrupted > 0);
        }
        assert_eq!(rig.services.echo.stats().lost(), 0);
    }
}

#[test]
fn the_robot_session_completes_at_10_percent_loss() {
    for seed in 1..=5 {
        let mut rig = lossy_rig(
            Faults {
                drop_percent: 10,
                corrupt_percent: 0,
            },
            seed,
        );
        let sk = rig.socket();
        let lines = [
            "1", "1001", "1002", "1003", "1004", "1005", "0", "9", "exit",
        ];
        // The seed's client has settimeout(5); on a lossy link a retransmission may take
        // longer than that, so this one is more patient.
        let spec = ChatSpec {
            timeout: Some(Duration::from_secs(600)),
            ..ChatSpec::ROBOT
        };
        let mut chat: TcpChat<'_, _> =
            TcpChat::new(sk, Host::SERVER.ipv4_addr(), spec, lines.into_iter());
        let mut outcome = None;
        let services = &mut *rig.services;
        rig.tb
            .run(VIRTUAL_LIMIT, |c, s| {
                services.poll(s);
                if let Poll::Ready(r) = chat.poll(c) {
                    outcome = Some(r);
                }
                outcome.is_some()
            })
            .unwrap();
        assert_eq!(outcome, Some(Ok(())), "seed {seed}");
        let replies: Vec<&[u8]> = chat.transcript.replies().collect();
        let mut expected: Vec<&[u8]> = vec![robot::WELCOME.as_bytes(), robot::MENU_LIST.as_bytes()];
        expected.extend(robot::MENU.iter().map(|(_, _, t)| t.as_bytes()));
        expected.extend([
            robot::TRANSFER.as_bytes(),
            robot::RETRY.as_bytes(),
            robot::GOODBYE.as_bytes(),
        ]);
        assert_eq!(replies, expected, "seed {seed}");
        let stats = rig.tb.wire.stats(End::A);
        eprintln!(
            "robot at 10% loss, seed {seed}: {} ms virtual, {} frames dropped, {} retransmitted",
            rig.tb.now().total_millis(),
            stats.dropped_fault + rig.tb.wire.stats(End::B).dropped_fault,
            stats.retransmitted + rig.tb.wire.stats(End::B).retransmitted
        );
    }
}

#[test]
fn udp_ok_replies_are_counted_not_assumed() {
    let mut rig = lossy_rig(Faults::default(), 1);
    let mut sk = rig.udp_socket();
    // Resolve the neighbours first, on a clean link, so that every loss below is a datagram.
    sk.sendto(&mut rig.tb.client, b"warm-up", Rig::server_v4(OK_PORT))
        .unwrap();
    rig.run_until(|c| sk.recvfrom(c, &mut [0u8; 8]).is_ok());
    let (a0, b0) = (rig.tb.wire.stats(End::A), rig.tb.wire.stats(End::B));
    let answered0 = rig.services.udp_ok.stats().answered;
    rig.tb.wire.set_faults(
        Faults {
            drop_percent: 10,
            corrupt_percent: 0,
        },
        99,
    );
    let sent = 1000;
    let mut replies = 0;
    for i in 0..sent {
        sk.sendto(
            &mut rig.tb.client,
            format!("datagram {i}").as_bytes(),
            Rig::server_v4(OK_PORT),
        )
        .unwrap();
        rig.step();
        let mut buf = [0u8; 8];
        while let Ok((n, _)) = sk.recvfrom(&mut rig.tb.client, &mut buf) {
            assert_eq!(&buf[..n], b"ok");
            replies += 1;
        }
    }
    let (a, b) = (rig.tb.wire.stats(End::A), rig.tb.wire.stats(End::B));
    let lost_going = a.dropped_fault - a0.dropped_fault;
    let lost_coming = b.dropped_fault - b0.dropped_fault;
    let answered = rig.services.udp_ok.stats().answered - answered0;
    eprintln!(
        "udp ok at 10% loss: {sent} sent, {lost_going} lost on the way, {answered} answered, \
         {lost_coming} answers lost, {replies} replies received"
    );
    assert_eq!(
        answered,
        sent - lost_going,
        "the server answered every datagram it got"
    );
    assert_eq!(
        replies,
        answered - lost_coming,
        "every answer not lost arrived"
    );
    assert!(
        replies > 700 && replies < 900,
        "about 81% expected, got {replies}"
    );
}

/// A connection that keeps exchanging numbered chunks with the echo and checks every byte.
struct Talker {
    sk: TcpSocket,
    sent: Vec<u8>,
    got: Vec<u8>,
}

impl Talker {
    fn new(sk: TcpSocket) -> Self {
        Talker {
            sk,
            sent: Vec::new(),
            got: Vec::new(),
        }
    }

    /// Send a chunk if not too far ahead, read what came back.
    fn step(&mut self, c: &mut sockless::Stack<'static>) {
        if self.sent.len() - self.got.len() < 2000 {
            let chunk = format!("[{} bytes so far]", self.sent.len());
            if let Ok(n) = self.sk.send(c, chunk.as_bytes()) {
                self.sent.extend_from_slice(&chunk.as_bytes()[..n]);
            }
        }
        let mut buf = [0u8; 1024];
        match self.sk.recv(c, &mut buf) {
            Ok(n) => self.got.extend_from_slice(&buf[..n]),
            Err(RecvError::WouldBlock) => {}
            Err(e) => panic!("an existing session was disturbed: {e}"),
        }
    }

    fn check(&self) {
        assert!(
            self.got.len() > 10_000,
            "it kept talking: {} bytes",
            self.got.len()
        );
        assert!(self.sent.starts_with(&self.got), "the echo is byte-exact");
    }
}

#[test]
fn a_flood_of_10x_the_pool_is_refused_without_disturbing_existing_sessions() {
    // Refusing is a choice now (the default queues, as Linux does).
    let mut rig = Rig::with_config(ServiceConfig {
        overflow: Overflow::Refuse,
        ..ServiceConfig::default()
    });
    let mut talkers = vec![
        Talker::new(rig.connect(ECHO_PORT)),
        Talker::new(rig.connect(ECHO_PORT)),
    ];
    let mut flood: Vec<TcpSocket> = (0..40)
        .map(|_| {
            let mut sk = rig.socket();
            sk.connect(&mut rig.tb.client, Rig::server_v4(ECHO_PORT))
                .unwrap();
            sk
        })
        .collect();
    rig.run_until(|c| {
        for t in talkers.iter_mut() {
            t.step(c);
        }
        talkers.iter().all(|t| t.got.len() > 20_000)
            && flood
                .iter()
                .all(|sk| sk.connect_status(c) != Err(sockless::socket::ConnectError::WouldBlock))
    });
    let outcomes: Vec<_> = flood
        .iter()
        .map(|sk| sk.connect_status(&mut rig.tb.client))
        .collect();
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| **o == Err(sockless::socket::ConnectError::Refused))
        .count();
    assert_eq!((accepted, refused), (2, 38), "2 free sockets, 38 refused");
    assert_eq!(rig.services.echo.stats().refused, 38);
    for t in &talkers {
        t.check();
    }
    // The two that got in leave; new clients are served as soon as their sockets free.
    for sk in flood.iter_mut() {
        sk.close(&mut rig.tb.client);
    }
    rig.wait(Duration::from_secs(1));
    for _ in 0..2 {
        let mut sk = rig.connect(ECHO_PORT);
        rig.send(&mut sk, b"next");
        assert_eq!(rig.recv_exact(&mut sk, 4), b"next");
    }
    rig.run_until(|c| {
        for t in talkers.iter_mut() {
            t.step(c);
        }
        talkers.iter().all(|t| t.got.len() > 40_000)
    });
    for t in &talkers {
        t.check();
    }
}

#[test]
fn queue_mode_makes_extra_clients_wait_and_then_serves_them() {
    let mut rig = Rig::with_config(ServiceConfig {
        overflow: sockless::Overflow::Queue,
        ..ServiceConfig::default()
    });
    let mut callers: Vec<TcpSocket> = (0..4)
        .map(|_| rig.connect(sockless::services::ROBOT_PORT))
        .collect();
    for sk in callers.iter_mut() {
        assert_eq!(rig.recv_line(sk), robot::WELCOME);
    }
    let mut waiting: Vec<TcpSocket> = (0..2)
        .map(|_| {
            let mut sk = rig.socket();
            sk.set_timeout(&mut rig.tb.client, Some(Duration::from_secs(120)));
            sk.connect(
                &mut rig.tb.client,
                Rig::server_v4(sockless::services::ROBOT_PORT),
            )
            .unwrap();
            sk
        })
        .collect();
    rig.wait(Duration::from_secs(5));
    for sk in &waiting {
        assert_eq!(
            sk.connect_status(&mut rig.tb.client),
            Err(sockless::socket::ConnectError::WouldBlock),
            "still waiting, not refused"
        );
    }
    let (refused, queued) = (
        rig.services.robot.stats().refused,
        rig.services.robot.stats().queued,
    );
    assert_eq!(refused, 0);
    assert!(queued >= 2, "their SYNs were held back: {queued}");
    // Two callers hang up; after their sockets' TIME-WAIT the waiting two get in.
    for sk in callers.iter_mut().take(2) {
        rig.send(sk, b"exit\n");
        assert_eq!(rig.recv_line(sk), robot::GOODBYE);
        sk.close(&mut rig.tb.client);
    }
    let hung_up = rig.tb.now();
    rig.run_until(|c| waiting.iter().all(|sk| sk.connect_status(c).is_ok()));
    eprintln!(
        "queued clients got in {} ms after the hang-ups (TIME-WAIT, then their SYN retry)",
        (rig.tb.now() - hung_up).total_millis()
    );
    for sk in waiting.iter_mut() {
        assert_eq!(rig.recv_line(sk), robot::WELCOME);
    }
    assert_eq!(rig.services.robot.stats().refused, 0);
}

#[test]
fn a_hundred_thousand_echo_cycles_leave_every_pool_as_it_was() {
    let mut rig = Rig::new();
    let used_before = rig.tb.server.capacity().1;
    let mut sk = rig.socket();
    let cycles = 100_000u32;
    for i in 0..cycles {
        sk.connect(&mut rig.tb.client, Rig::server_v4(ECHO_PORT))
            .unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        let msg = i.to_le_bytes();
        let mut sent = false;
        let mut got = 0;
        let mut buf = [0u8; 4];
        rig.run_until(|c| {
            if !sent && sk.connect_status(c).is_ok() {
                sk.sendall(c, &msg).unwrap();
                sk.shutdown(c, sockless::socket::Shutdown::Write);
                sent = true;
            }
            match sk.recv(c, &mut buf[got..]) {
                Ok(0) => return true,
                Ok(n) => got += n,
                Err(RecvError::WouldBlock) => {}
                Err(e) => panic!("cycle {i}: {e}"),
            }
            false
        });
        assert_eq!(buf, msg, "cycle {i}");
        sk.close(&mut rig.tb.client);
        // This side closed first: its TIME-WAIT must pass before the socket is reused.
        rig.finish(&mut sk);
    }
    assert_pools_pristine(&mut rig, used_before);
    let stats = rig.services.echo.stats();
    assert_eq!(
        (stats.accepted, stats.closed, stats.lost()),
        (cycles as u64, cycles as u64, 0)
    );
    assert_eq!(stats.bytes_in, 4 * cycles as u64);
    eprintln!(
        "{cycles} echo cycles in {} s of virtual time",
        rig.tb.now().secs()
    );
}

#[test]
fn a_hundred_thousand_robot_calls_ending_with_exit_leave_the_pool_as_it_was() {
    let mut rig = Rig::new();
    let used_before = rig.tb.server.capacity().1;
    let cycles = 100_000u64;
    let mut sk = rig.socket();
    for i in 0..cycles {
        rig.reconnect(&mut sk, sockless::services::ROBOT_PORT);
        assert_eq!(rig.recv_line(&mut sk), robot::WELCOME, "call {i}");
        rig.send(&mut sk, b"1001\nexit\n");
        assert_eq!(rig.recv_line(&mut sk), robot::MENU[0].2);
        assert_eq!(rig.recv_line(&mut sk), robot::GOODBYE);
        assert_eq!(rig.recv_to_eof(&mut sk), Ok(vec![]));
        sk.close(&mut rig.tb.client);
        // The robot hangs up first, so its socket spends TIME-WAIT before it listens again.
        rig.finish(&mut sk);
    }
    assert_pools_pristine(&mut rig, used_before);
    let stats = rig.services.robot.stats();
    assert_eq!(
        (stats.accepted, stats.closed, stats.lost()),
        (cycles, cycles, 0)
    );
}

/// Every service socket back in LISTEN, nothing left in TIME-WAIT, no slot leaked.
fn assert_pools_pristine(rig: &mut Rig, used_before: usize) {
    rig.wait(Duration::from_secs(11));
    let server = &mut rig.tb.server;
    assert_eq!(server.capacity().1, used_before, "no socket slot leaked");
    assert_eq!(rig.services.busy(server), 0, "nothing connected or closing");
    for listener in [
        rig.services.echo.listener(),
        rig.services.upper.listener(),
        rig.services.notice.listener(),
    ] {
        assert_eq!(listener.listening(server), listener.pool_size());
    }
    let robot = rig.services.robot.listener();
    assert_eq!(robot.listening(server), robot.pool_size());
}

#[test]
fn a_client_that_vanishes_is_reaped_by_the_idle_timeout() {
    let mut rig = Rig::new();
    let mut gone = rig.connect(sockless::services::ROBOT_PORT);
    assert_eq!(rig.recv_line(&mut gone), robot::WELCOME);
    rig.send(&mut gone, b"10");
    rig.step();
    // The client's cable is cut: no FIN, no RST, nothing more in either direction.
    rig.tb.wire.set_faults(
        Faults {
            drop_percent: 100,
            corrupt_percent: 0,
        },
        1,
    );
    let cut = rig.tb.now();
    let services = &mut *rig.services;
    rig.tb
        .run(Duration::from_secs(600), |_, s| {
            services.poll(s);
            services.robot.stats().timed_out == 1
        })
        .unwrap();
    let after = rig.tb.now() - cut;
    assert!(
        after >= Duration::from_secs(60) && after < Duration::from_secs(61),
        "reaped after the 60 s idle timeout, not {after}"
    );
    assert_eq!(rig.services.robot.active(), 0);
    // The cable is back: the socket was freed and serves a new caller.
    rig.tb.wire.set_faults(Faults::default(), 1);
    gone.abort(&mut rig.tb.client);
    let mut next = rig.connect(sockless::services::ROBOT_PORT);
    assert_eq!(rig.recv_line(&mut next), robot::WELCOME);
}

#[test]
fn a_peer_that_stops_reading_stalls_nobody_else_and_is_reaped() {
    let mut rig = Rig::new();
    let mut stuck = rig.connect(ECHO_PORT);
    // It sends and never reads: its echo fills the server's buffers, then its window.
    let junk = vec![b'x'; 64 * 1024];
    let mut pushed = 0;
    let mut talker = Talker::new(rig.connect(ECHO_PORT));
    rig.run_until(|c| {
        if let Ok(n) = stuck.send(c, &junk[pushed..]) {
            pushed += n;
        }
        talker.step(c);
        talker.got.len() > 20_000
    });
    talker.check();
    assert!(
        pushed < junk.len(),
        "the stuck peer was flow-controlled, pushed {pushed}"
    );
    // Nothing moves on the stuck connection any more: after the idle timeout it is reset,
    // while the talker, still talking, is not.
    // (A program that acts at every turn would keep virtual time from moving; the talker
    // says something once a second instead.)
    let start = rig.tb.now();
    while rig.services.echo.stats().timed_out == 0 {
        assert!(
            rig.tb.now() - start < Duration::from_secs(300),
            "never reaped"
        );
        rig.wait(Duration::from_secs(1));
        talker.step(&mut rig.tb.client);
        rig.step();
    }
    assert_eq!(rig.services.echo.active(), 1, "the talker is still served");
    talker.check();
    let mut buf = vec![0u8; 64 * 1024];
    let mut result = Ok(1);
    while let Ok(n @ 1..) = result {
        result = stuck.recv(&mut rig.tb.client, &mut buf);
        let _ = n;
    }
    assert_eq!(
        result,
        Err(RecvError::Reset),
        "the stuck peer learns it was reset"
    );
}

#[test]
fn a_peer_trickling_one_byte_a_second_cannot_grow_the_robots_line() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(sockless::services::ROBOT_PORT);
    assert_eq!(rig.recv_line(&mut sk), robot::WELCOME);
    let line_limit = sockless::services::ROBOT_LINE;
    for _ in 0..line_limit * 3 {
        rig.send(&mut sk, b"9");
        rig.wait(Duration::from_secs(1));
    }
    // One answer when the line outgrew the buffer, and nothing more for the rest of it.
    assert_eq!(rig.recv_line(&mut sk), robot::TOO_LONG);
    let mut extra = [0u8; 64];
    assert_eq!(
        sk.recv(&mut rig.tb.client, &mut extra),
        Err(RecvError::WouldBlock)
    );
    // It was talking all along, so the idle timeout did not apply; the session goes on.
    rig.send(&mut sk, b"\n1\n");
    assert_eq!(rig.recv_line(&mut sk), robot::MENU_LIST);
    assert_eq!(rig.services.robot.stats().lost(), 0);
}
