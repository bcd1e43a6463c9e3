//! Clients on the host kernel's own sockets (`std::net`), for the tests that drive a
//! sockless server from outside: `serve` on a TAP device (tests/tap.rs) and the firmware
//! in QEMU (tests/firmware.rs). A server is named by its address and a port map (the
//! service's port -> where the host reaches it: the same on TAP, 20000 + port in QEMU).
#![allow(dead_code)] // each test binary uses its own share

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use sockless::tutorial::chat::Framing;
use sockless::tutorial::conversations::{Client, Conversation};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a server's services are, seen from the host.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    /// Its address (`192.168.69.1`, `fdaa::1`, `127.0.0.1`).
    pub host: &'static str,
    /// Added to each service's port (0 on TAP, the forwarding base in QEMU).
    pub port_base: u16,
}

impl Server {
    /// `host:port` for the service on `port`, bracketed for IPv6.
    pub fn addr(&self, port: u16) -> String {
        let port = self.port_base + port;
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

pub fn tcp(server: Server, port: u16) -> TcpStream {
    let sk = TcpStream::connect(server.addr(port)).expect("connect");
    sk.set_read_timeout(Some(TIMEOUT)).unwrap();
    sk.set_write_timeout(Some(TIMEOUT)).unwrap();
    sk
}

pub fn read_line(sk: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = sk.read(&mut byte).expect("read");
        assert!(n == 1, "connection closed inside a line: {line:?}");
        if byte[0] == b'\n' {
            return String::from_utf8(line).expect("UTF-8 reply");
        }
        line.push(byte[0]);
    }
}

pub fn read_to_end(sk: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    sk.read_to_end(&mut all).expect("read to end");
    all
}

/// One datagram to the service on `port`, its answer (retried: UDP may be lost).
pub fn udp_exchange(server: Server, port: u16, msg: &[u8]) -> Vec<u8> {
    let bind = if server.host.contains(':') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let to = server.addr(port);
    let sk = UdpSocket::bind(bind).unwrap();
    sk.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for _ in 0..5 {
        sk.send_to(msg, &to).unwrap();
        let mut buf = [0u8; 2048];
        if let Ok((n, from)) = sk.recv_from(&mut buf) {
            assert_eq!(from.port(), server.port_base + port);
            return buf[..n].to_vec();
        }
    }
    panic!("no UDP reply from {to}");
}

/// A robot session as the tutorial's client has it: greeting, menu, a code, 0, exit.
pub fn robot_session(server: Server) {
    let mut sk = tcp(server, 8888);
    assert_eq!(read_line(&mut sk), sockless::services::robot_menu::WELCOME);
    for (input, reply) in [
        ("1", sockless::services::robot_menu::MENU_LIST),
        ("1001", sockless::services::robot_menu::MENU[0].2),
        ("0", sockless::services::robot_menu::TRANSFER),
        ("hello", sockless::services::robot_menu::RETRY),
        ("exit", sockless::services::robot_menu::GOODBYE),
    ] {
        sk.write_all(format!("{input}\n").as_bytes()).unwrap();
        assert_eq!(read_line(&mut sk), reply, "after {input:?}");
    }
    assert!(read_to_end(&mut sk).is_empty(), "the robot hangs up");
}

/// Client `i`: `rounds` short lines through the TCP echo, each read back before the next.
pub fn echo_rounds(server: Server, i: usize, rounds: u32) {
    let mut sk = tcp(server, 7);
    for round in 0..rounds {
        let msg = format!("client {i} round {round}\n");
        sk.write_all(msg.as_bytes()).unwrap();
        let mut back = vec![0u8; msg.len()];
        sk.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
    }
}

/// 1 MiB of binary data through the TCP echo, byte-exact, ended by a half-close.
pub fn echo_one_mib(server: Server) -> Duration {
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut sk = tcp(server, 7);
    sk.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    sk.set_write_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut writer = sk.try_clone().unwrap();
    let to_send = data.clone();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        writer.write_all(&to_send).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let echoed = read_to_end(&mut sk);
    sender.join().unwrap();
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "echo altered the data");
    start.elapsed()
}

/// Play one of the tutorial's conversations with kernel sockets, asserting every reply.
/// `connect_ex` to a closed port is not played (it needs the server's own address).
pub fn play(server: Server, conv: &Conversation) {
    let mut expect = conv.expect.iter();
    match conv.client {
        Client::Tcp(spec) => {
            let mut sk = tcp(server, spec.port);
            let reply = |sk: &mut TcpStream, want: &[u8]| {
                let got = match spec.framing {
                    Framing::SameLength => {
                        let mut got = vec![0u8; want.len()];
                        sk.read_exact(&mut got).expect("reply");
                        got
                    }
                    Framing::Line => read_line(sk).into_bytes(),
                    Framing::ToEof => read_to_end(sk),
                };
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(want),
                    "{}",
                    conv.name
                );
            };
            if spec.greeting {
                reply(&mut sk, expect.next().expect("a greeting"));
            }
            for line in conv.lines {
                let mut msg = line.as_bytes().to_vec();
                if spec.newline {
                    msg.push(b'\n');
                }
                sk.write_all(&msg).unwrap();
                reply(&mut sk, expect.next().expect("a reply"));
                if spec.stop_word == Some(line.trim()) {
                    assert!(read_to_end(&mut sk).is_empty(), "{}: hangs up", conv.name);
                    break;
                }
            }
        }
        Client::Udp(port) => {
            for line in conv.lines.iter().take_while(|l| **l != "exit") {
                let want = expect.next().expect("a reply");
                assert_eq!(udp_exchange(server, port, line.as_bytes()), *want);
            }
        }
        Client::ConnectEx(_) => return,
    }
    assert!(expect.next().is_none(), "{}: replies left over", conv.name);
}
