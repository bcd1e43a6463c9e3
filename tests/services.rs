//! Every service and client of the tutorial, through the two-host testbed.

mod support;

use std::task::Poll;

use sockless::services::robot_menu as robot;
use sockless::services::{
    ECHO_PORT, NOTICE, NOTICE_PORT, OK_PORT, ROBOT_LINE, ROBOT_PORT, ServiceConfig, UPPER_PORT,
};
use sockless::smoltcp::socket::tcp::State;
use sockless::smoltcp::time::Duration;
use sockless::socket::RecvFromError;
use sockless::socket::{ConnectError, RecvError, Shutdown};
use sockless::tutorial::chat::{ChatError, ChatSpec, TcpChat};
use sockless::tutorial::conversations::{self, ClientSockets};
use sockless::{EventKind, Host, Overflow};
use support::Rig;

#[test]
fn echo_is_byte_exact_for_every_byte_value() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(ECHO_PORT);
    let data: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
    // Send and read concurrently: the echo never reads more than it can queue back.
    let mut sent = 0;
    let mut got = Vec::new();
    rig.run_until(|c| {
        if sent < data.len()
            && let Ok(n) = sk.send(c, &data[sent..])
        {
            sent += n;
        }
        let mut buf = [0u8; 4096];
        if let Ok(n) = sk.recv(c, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    assert!(got == data, "echo altered the bytes");
    sk.shutdown(&mut rig.tb.client, Shutdown::Write);
    assert_eq!(
        rig.recv_to_eof(&mut sk),
        Ok(vec![]),
        "echo closes after the client"
    );
}

#[test]
fn upper_transforms_a_stream_many_times_its_buffers() {
    // The relay moves bytes straight from the receive ring into the transmit ring, piece
    // by contiguous piece: both rings wrap many times here, at unrelated offsets (odd
    // send sizes), and every byte must come back transformed exactly once.
    let mut rig = Rig::new();
    let mut sk = rig.connect(UPPER_PORT);
    let data: Vec<u8> = (0..50_000u32)
        .map(|i| b"abcxyz{}AZ@`\xff"[(i % 13) as usize])
        .collect();
    let want = data.to_ascii_uppercase();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut step = 0;
    rig.run_until(|c| {
        step += 1;
        let end = (sent + 1 + step % 777).min(data.len());
        if sent < data.len()
            && let Ok(n) = sk.send(c, &data[sent..end])
        {
            sent += n;
        }
        let mut buf = [0u8; 333];
        if let Ok(n) = sk.recv(c, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == want.len()
    });
    assert!(got == want, "upper lost, repeated or mis-transformed bytes");
}

#[test]
fn upper_keeps_utf8_intact_when_split_across_segments() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(UPPER_PORT);
    let text = "héllo 世界, abc ✓ xyz";
    let pieces: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
    rig.send_pieces(&mut sk, &pieces);
    let reply = rig.recv_exact(&mut sk, text.len());
    assert_eq!(String::from_utf8(reply).unwrap(), "HéLLO 世界, ABC ✓ XYZ");
    // Odd splits through the middle of 3-byte characters, several per segment.
    let text2 = "世界,你好 python3";
    let bytes = text2.as_bytes();
    rig.send_pieces(&mut sk, &[&bytes[..2], &bytes[2..7], &bytes[7..]]);
    let reply = rig.recv_exact(&mut sk, bytes.len());
    assert_eq!(String::from_utf8(reply).unwrap(), "世界,你好 PYTHON3");
}

#[test]
fn notice_server_answers_once_and_closes() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(NOTICE_PORT);
    rig.send(&mut sk, "请求占领地球".as_bytes());
    let reply = rig.recv_to_eof(&mut sk).expect("clean close");
    assert_eq!(String::from_utf8(reply).unwrap(), NOTICE);
    // The server closed first: its socket passes TIME-WAIT, then listens again.
    sk.close(&mut rig.tb.client);
    rig.finish(&mut sk);
    let story: Vec<_> = rig
        .trace
        .events()
        .filter(|e| e.host == "server" && e.socket >= 8 && e.socket < 12)
        .map(|e| e.kind)
        .collect();
    let fin_sent = story.iter().position(|k| *k == EventKind::FinSent).unwrap();
    let fin_received = story
        .iter()
        .position(|k| *k == EventKind::FinReceived)
        .unwrap();
    assert!(fin_sent < fin_received, "the server hangs up first");
    assert_eq!(story.last(), Some(&EventKind::Closed));
}

#[test]
fn udp_ok_answers_several_senders_each_at_its_own_address() {
    let mut rig = Rig::new();
    let mut clients: Vec<_> = (0..3).map(|_| rig.udp_socket()).collect();
    for (i, sk) in clients.iter_mut().enumerate() {
        let msg = format!("数据 {i}");
        sk.sendto(&mut rig.tb.client, msg.as_bytes(), Rig::server_v4(OK_PORT))
            .unwrap();
    }
    let mut replies = vec![None; clients.len()];
    rig.run_until(|c| {
        for (sk, reply) in clients.iter_mut().zip(replies.iter_mut()) {
            let mut buf = [0u8; 64];
            if let Ok((n, from)) = sk.recvfrom(c, &mut buf) {
                *reply = Some((buf[..n].to_vec(), from));
            }
        }
        replies.iter().all(Option::is_some)
    });
    for reply in replies {
        let (bytes, from) = reply.unwrap();
        assert_eq!(bytes, b"ok");
        assert_eq!(from, Rig::server_v4(OK_PORT));
    }
    assert_eq!(rig.services.udp_ok.stats().answered, 3);
}

#[test]
fn udp_echo_returns_the_datagram_and_drops_none() {
    let mut rig = Rig::new();
    let mut sk = rig.udp_socket();
    let payload: Vec<u8> = (0..1400u32).map(|i| (i * 31) as u8).collect();
    sk.sendto(&mut rig.tb.client, &payload, Rig::server_v6(ECHO_PORT))
        .unwrap();
    let mut got = None;
    rig.run_until(|c| {
        let mut buf = [0u8; 2048];
        match sk.recvfrom(c, &mut buf) {
            Ok((n, from)) => got = Some((buf[..n].to_vec(), from)),
            Err(RecvFromError::WouldBlock) => {}
            Err(e) => panic!("{e}"),
        }
        got.is_some()
    });
    let (bytes, from) = got.unwrap();
    assert!(bytes == payload);
    assert_eq!(from, Rig::server_v6(ECHO_PORT));
}

#[test]
fn robot_whole_menu_through_the_seed_client() {
    let mut rig = Rig::new();
    let sk = rig.socket();
    let mut lines = vec!["1", "0", "", "2", "10010"];
    lines.extend(robot::MENU.iter().map(|(code, _, _)| *code));
    lines.push("exit");
    let mut chat: TcpChat<'_, _> = TcpChat::new(
        sk,
        Host::SERVER.ipv4_addr(),
        ChatSpec::ROBOT,
        lines.iter().copied(),
    );
    let mut outcome = None;
    rig.run_until(|c| {
        if let Poll::Ready(r) = chat.poll(c) {
            outcome = Some(r);
        }
        outcome.is_some()
    });
    assert_eq!(outcome, Some(Ok(())));
    let replies: Vec<String> = chat
        .transcript
        .replies()
        .map(|r| String::from_utf8(r.to_vec()).unwrap())
        .collect();
    let mut expected = vec![
        robot::WELCOME,
        robot::MENU_LIST,
        robot::TRANSFER,
        robot::RETRY,
        robot::RETRY,
        robot::RETRY,
    ];
    expected.extend(robot::MENU.iter().map(|(_, _, text)| *text));
    expected.push(robot::GOODBYE);
    assert_eq!(replies, expected);
    assert!(replies[2].starts_with("通话可能会被录音"));
}

#[test]
fn robot_accepts_crlf_byte_by_byte_and_several_lines_per_segment() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(ROBOT_PORT);
    assert_eq!(rig.recv_line(&mut sk), robot::WELCOME);
    let input = b"1001\r\n0\r\n";
    let pieces: Vec<&[u8]> = input.chunks(1).collect();
    rig.send_pieces(&mut sk, &pieces);
    assert_eq!(rig.recv_line(&mut sk), robot::MENU[0].2);
    assert_eq!(rig.recv_line(&mut sk), robot::TRANSFER);
    // Three lines in one segment.
    rig.send(&mut sk, b"1002\n9\nexit\n");
    assert_eq!(rig.recv_line(&mut sk), robot::MENU[1].2);
    assert_eq!(rig.recv_line(&mut sk), robot::RETRY);
    assert_eq!(rig.recv_line(&mut sk), robot::GOODBYE);
    assert_eq!(rig.recv_to_eof(&mut sk), Ok(vec![]), "the robot hangs up");
}

#[test]
fn robot_answers_invalid_utf8_and_goes_on() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(ROBOT_PORT);
    rig.recv_line(&mut sk);
    rig.send(&mut sk, b"\xe4\xbd\n\xff\xfe1001\n1001\n");
    assert_eq!(rig.recv_line(&mut sk), robot::BAD_UTF8);
    assert_eq!(rig.recv_line(&mut sk), robot::BAD_UTF8);
    assert_eq!(rig.recv_line(&mut sk), robot::MENU[0].2);
}

#[test]
fn robot_answers_an_overlong_line_once_discards_it_and_goes_on() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(ROBOT_PORT);
    rig.recv_line(&mut sk);
    let long = vec![b'7'; ROBOT_LINE * 20];
    rig.send(&mut sk, &long);
    assert_eq!(rig.recv_line(&mut sk), robot::TOO_LONG);
    // The rest of that line (and its end) produces nothing more; the next line works.
    rig.send(&mut sk, &long[..100]);
    rig.send(&mut sk, b"\n1003\n");
    assert_eq!(rig.recv_line(&mut sk), robot::MENU[2].2);
    // A line of exactly the buffer size still fits.
    let mut exact = vec![b' '; ROBOT_LINE - 1];
    exact.extend_from_slice(b"1");
    exact.push(b'\n');
    rig.send(&mut sk, &exact);
    assert_eq!(rig.recv_line(&mut sk), robot::MENU_LIST);
}

#[test]
fn reset_mid_line_then_a_fresh_session_works() {
    let mut rig = Rig::new();
    let mut sk = rig.connect(ROBOT_PORT);
    rig.recv_line(&mut sk);
    rig.send(&mut sk, b"100");
    rig.step();
    sk.abort(&mut rig.tb.client);
    rig.step();
    assert_eq!(
        rig.services.robot.stats().reset,
        1,
        "the robot saw the reset"
    );
    assert_eq!(
        rig.services.robot.stats().bytes_in,
        3,
        "it had read the 3 bytes"
    );
    assert_eq!(rig.services.robot.active(), 0);
    // A new caller starts from scratch: no leftover "100" in its line.
    let mut sk2 = rig.connect(ROBOT_PORT);
    assert_eq!(rig.recv_line(&mut sk2), robot::WELCOME);
    rig.send(&mut sk2, b"1\n");
    assert_eq!(rig.recv_line(&mut sk2), robot::MENU_LIST);
}

#[test]
fn pool_exhaustion_refuses_the_extra_client_and_recovers() {
    // Refusing is a choice now (the default queues, as Linux does).
    let mut rig = Rig::with_config(ServiceConfig {
        overflow: Overflow::Refuse,
        ..ServiceConfig::default()
    });
    let mut callers: Vec<_> = (0..4).map(|_| rig.connect(ROBOT_PORT)).collect();
    for sk in callers.iter_mut() {
        assert_eq!(rig.recv_line(sk), robot::WELCOME);
    }
    assert_eq!(rig.services.robot.active(), 4);
    // Caller 5: every socket is busy, so the SYN is answered with RST.
    let (_, status) = rig.try_connect(Rig::server_v4(ROBOT_PORT));
    assert_eq!(status, Err(ConnectError::Refused));
    // The four are still served.
    for sk in callers.iter_mut() {
        rig.send(sk, b"1001\n");
        assert_eq!(rig.recv_line(sk), robot::MENU[0].2);
    }
    // One hangs up; its socket is free at once (its TIME-WAIT is kept by a record), so
    // a new caller gets in without waiting 10 s, even when its SYN arrives together with
    // the hang-up's last segment.
    let mut first = callers.remove(0);
    rig.send(&mut first, b"exit\n");
    assert_eq!(rig.recv_line(&mut first), robot::GOODBYE);
    assert_eq!(rig.recv_to_eof(&mut first), Ok(vec![]));
    first.close(&mut rig.tb.client);
    let hung_up = rig.tb.now();
    let mut fifth = rig.connect(ROBOT_PORT);
    assert!(rig.tb.now() - hung_up < Duration::from_secs(1));
    assert_eq!(rig.recv_line(&mut fifth), robot::WELCOME);
    assert_eq!(rig.services.robot.active(), 4);
}

#[test]
fn idle_timeout_resets_a_silent_client_and_frees_its_socket() {
    let mut rig = Rig::with_config(ServiceConfig {
        idle_timeout: Some(Duration::from_secs(30)),
        ..ServiceConfig::default()
    });
    let mut silent = rig.connect(UPPER_PORT);
    let start = rig.tb.now();
    assert_eq!(rig.services.upper.active(), 1);
    let result = rig.recv_to_eof(&mut silent);
    assert_eq!(
        result,
        Err(RecvError::Reset),
        "the server reset the idle connection"
    );
    let waited = rig.tb.now() - start;
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "reset after {waited}"
    );
    assert_eq!(rig.services.upper.active(), 0);
    assert_eq!(rig.services.upper.stats().timed_out, 1);
    assert_eq!(rig.services.upper.stats().reset, 0);
    assert!(
        rig.trace
            .events()
            .any(|e| e.host == "server" && e.kind == EventKind::TimedOut)
    );
    // Its socket listens again: a new client is served.
    let mut next = rig.connect(UPPER_PORT);
    rig.send(&mut next, b"abc");
    assert_eq!(rig.recv_exact(&mut next, 3), b"ABC");
}

#[test]
fn a_talking_client_is_not_idle() {
    let mut rig = Rig::with_config(ServiceConfig {
        idle_timeout: Some(Duration::from_secs(30)),
        ..ServiceConfig::default()
    });
    let mut sk = rig.connect(ECHO_PORT);
    for _ in 0..5 {
        rig.wait(Duration::from_secs(20));
        rig.send(&mut sk, b"still here");
        assert_eq!(rig.recv_exact(&mut sk, 10), b"still here");
    }
    assert_eq!(sk.state(&mut rig.tb.client), Some(State::Established));
}

#[test]
fn robot_client_times_out_like_settimeout_5() {
    // A listener that accepts and never speaks: the greeting never comes.
    let mut rig = Rig::new();
    let mut pool = [const { sockless::TcpBuffers::<256, 256>::new() }];
    let pool: &'static mut _ = Box::leak(Box::new(std::mem::take(&mut pool)));
    let _mute = sockless::Listener::<1>::listen(&mut rig.tb.server, 8005, 1, pool).unwrap();
    let sk = rig.socket();
    let spec = ChatSpec {
        port: 8005,
        ..ChatSpec::ROBOT
    };
    let mut chat: TcpChat<'_, _> =
        TcpChat::new(sk, Host::SERVER.ipv4_addr(), spec, ["1"].into_iter());
    let start = rig.tb.now();
    let mut outcome = None;
    rig.run_until(|c| {
        if let Poll::Ready(r) = chat.poll(c) {
            outcome = Some(r);
        }
        outcome.is_some()
    });
    assert_eq!(outcome, Some(Err(ChatError::Recv(RecvError::TimedOut))));
    assert_eq!((rig.tb.now() - start).secs(), 5);
}

/// The demo's conversations, as the demo runs them, over IPv4 and IPv6.
#[test]
fn every_seed_conversation_gets_its_expected_replies() {
    for ipv6 in [false, true] {
        let mut rig = Rig::new();
        let mut sockets = ClientSockets {
            tcp: Some(rig.socket()),
            udp: Some(rig.udp_socket()),
        };
        for conv in &conversations::CONVERSATIONS {
            let verdict = conversations::play(conv, rig.tb, rig.services, &mut sockets, ipv6);
            assert!(
                verdict.passed(),
                "{} (ipv6 {ipv6}): {:?}\n{:?}",
                conv.name,
                verdict.failure,
                verdict
                    .transcript
                    .messages()
                    .map(|(d, m)| (d, String::from_utf8_lossy(m).into_owned()))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// A wrong reply is caught: the verdict is not a rubber stamp.
#[test]
fn a_conversation_with_a_wrong_expectation_fails() {
    let mut rig = Rig::new();
    let mut sockets = ClientSockets {
        tcp: Some(rig.socket()),
        udp: Some(rig.udp_socket()),
    };
    let mut conv = *conversations::find("hello").unwrap();
    conv.expect = &[b"HELLO WORLD", b"not what the server says"];
    let verdict = conversations::play(&conv, rig.tb, rig.services, &mut sockets, false);
    assert_eq!(verdict.failure, Some(conversations::Failure::WrongReplies));
}

/// `cargo run --example demo` itself: exit status 0 and the summary line.
#[test]
fn demo_runs_end_to_end() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("summary: 8 conversations, 8 passed, 0 failed"));
    assert!(stdout.contains("client << \"不要回答,不要回答,不要回答\""));
    assert!(stdout.contains("listen port 8888 backlog 4"));
    assert!(!stdout.contains("FAIL"));

    let one = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--example",
            "demo",
            "--",
            "--only",
            "robot",
            "--ipv6",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&one.stdout);
    assert!(one.status.success());
    assert!(stdout.contains("summary: 1 conversations, 1 passed, 0 failed"));
    assert!(stdout.contains("connect [fdaa::1]:8888"), "{stdout}");

    // The input('>>:') loop fed from stdin.
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "demo", "--", "--stdin"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run cargo");
    child
        .stdin
        .take()
        .unwrap()
        .write_all("hello sockless\n世界,你好 ok\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("client << \"HELLO SOCKLESS\""), "{stdout}");
    assert!(stdout.contains("client << \"世界,你好 OK\""), "{stdout}");
}
