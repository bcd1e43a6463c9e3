//! The tutorial's conversations, as data, and a runner that plays them on a [`Testbed`].
//!
//! Each [`Conversation`] is one program pair of the tutorial (`../shared/seed/`): the
//! Python it stands for, what the client sends, and exactly what the server must answer.
//! [`play`] runs one against the [`Services`] on the testbed's server host and returns a
//! [`Verdict`]; the `demo` example prints verdicts with their traces, and the tests assert
//! on the same verdicts, so the demo's claims are tested claims.

use core::task::Poll;

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

use super::chat::{ChatError, ChatSpec, TcpChat, Transcript, UdpChat, UdpChatError};
use crate::services::robot_menu as robot;
use crate::services::{ECHO_PORT, NOTICE, OK_PORT, Services};
use crate::socket::{ConnectError, TcpSocket, UdpSocket};
use crate::stack::Host;
use crate::testbed::{RunError, Testbed};

/// What kind of client a conversation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// A TCP conversation with this spec.
    Tcp(ChatSpec),
    /// The UDP client to this port.
    Udp(u16),
    /// `connect_ex` to this port, where nobody listens.
    ConnectEx(u16),
}

/// One of the tutorial's programs, replayed.
#[derive(Debug, Clone, Copy)]
pub struct Conversation {
    /// Short name (`demo --only NAME`).
    pub name: &'static str,
    /// What it is, in a line.
    pub title: &'static str,
    /// The tutorial's Python, abridged.
    pub python: &'static [&'static str],
    /// The client.
    pub client: Client,
    /// What the client sends (a UDP client stops at `exit`).
    pub lines: &'static [&'static str],
    /// Exactly what the server must answer, reply by reply.
    pub expect: &'static [&'static [u8]],
}

/// Every conversation of the tutorial, in the order the tutorial tells them.
pub const CONVERSATIONS: [Conversation; 8] = [
    Conversation {
        name: "notice",
        title: "the first server: one message in, a notice out, then close (TCP 9999)",
        python: &[
            "sk.bind(('127.0.0.1', 9999)); sk.listen(5)",
            "conn, addr = sk.accept(); conn.recv(1024)",
            "conn.sendall('不要回答,不要回答,不要回答'); conn.close()",
            "client: sk.connect(ip_port); sk.sendall('请求占领地球'); sk.recv(1024)",
        ],
        client: Client::Tcp(ChatSpec::NOTICE),
        lines: &["请求占领地球"],
        expect: &[NOTICE.as_bytes()],
    },
    Conversation {
        name: "hello",
        title: "the 6969 echo server that answers data.upper()",
        python: &[
            "server.bind(('localhost', 6969)); server.listen()",
            "data = conn.recv(1024); conn.send(data.upper())",
            "client: cli.send(b'Hello world'); cli.send('世界,你好'.encode('utf-8'))",
        ],
        client: Client::Tcp(ChatSpec::HELLO),
        lines: &["Hello world", "世界,你好"],
        expect: &[b"HELLO WORLD", "世界,你好".as_bytes()],
    },
    Conversation {
        name: "input",
        title: "the input('>>:') loop client, on the same 6969 server",
        python: &[
            "while True: msg = input('>>:').strip()",
            "cli.send(msg.encode('utf-8')); data = cli.recv(1024)",
        ],
        client: Client::Tcp(ChatSpec::HELLO),
        lines: &["hi there", "sockless 你好 smoltcp", "bye"],
        expect: &[b"HI THERE", "SOCKLESS 你好 SMOLTCP".as_bytes(), b"BYE"],
    },
    Conversation {
        name: "echo",
        title: "RFC 862 echo: any bytes back, byte-exact (TCP 7)",
        python: &["data = conn.recv(1024); conn.sendall(data)"],
        client: Client::Tcp(ChatSpec::ECHO),
        lines: &["ping", "多字节 UTF-8 ✓", "\t tabs and  spaces \t"],
        expect: &[
            b"ping",
            "多字节 UTF-8 ✓".as_bytes(),
            b"\t tabs and  spaces \t",
        ],
    },
    Conversation {
        name: "udp-ok",
        title: "the UDP server that answers ok (UDP 9999); the client stops at exit",
        python: &[
            "sk = socket.socket(AF_INET, SOCK_DGRAM, 0); sk.bind(ip_port)",
            "data, (host, port) = sk.recvfrom(1024); sk.sendto(b'ok', (host, port))",
            "client: inp = input('数据:'); if inp == 'exit': break; sk.sendto(inp, ip_port)",
        ],
        client: Client::Udp(OK_PORT),
        lines: &["你好", "hello", "exit", "never sent"],
        expect: &[b"ok", b"ok"],
    },
    Conversation {
        name: "udp-echo",
        title: "RFC 862 echo over UDP (UDP 7)",
        python: &["data, addr = sk.recvfrom(1024); sk.sendto(data, addr)"],
        client: Client::Udp(ECHO_PORT),
        lines: &["ping", "数据报"],
        expect: &[b"ping", "数据报".as_bytes()],
    },
    Conversation {
        name: "robot",
        title: "the 10086 robot (智能机器人): menu codes, 0 for a human, exit",
        python: &[
            "conn.sendall('欢迎致电 10086,请输入1xxx,0转人工服务.')",
            "data = conn.recv(1024); if data == 'exit': ... elif data == '0': ...",
            "client: sk.settimeout(5); sk.sendall(inp); if inp == 'exit': break",
        ],
        client: Client::Tcp(ChatSpec::ROBOT),
        lines: &["1", "1001", "1002", "1003", "1004", "0", "9", "exit"],
        expect: &[
            robot::WELCOME.as_bytes(),
            robot::MENU_LIST.as_bytes(),
            robot::MENU[0].2.as_bytes(),
            robot::MENU[1].2.as_bytes(),
            robot::MENU[2].2.as_bytes(),
            robot::MENU[3].2.as_bytes(),
            robot::TRANSFER.as_bytes(),
            robot::RETRY.as_bytes(),
            robot::GOODBYE.as_bytes(),
        ],
    },
    Conversation {
        name: "refused",
        title: "connect_ex to a port nobody listens on (the robot client's 8005)",
        python: &["sk.connect_ex(('127.0.0.1', 8005))  # -> 111 (10061 on Windows)"],
        client: Client::ConnectEx(8005),
        lines: &[],
        expect: &[b"111"],
    },
];

/// Find a conversation by name.
pub fn find(name: &str) -> Option<&'static Conversation> {
    CONVERSATIONS.iter().find(|c| c.name == name)
}

/// Why a conversation went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The TCP client failed.
    Tcp(ChatError),
    /// The UDP client failed.
    Udp(UdpChatError),
    /// The testbed stopped (time limit, or nothing left to happen).
    Run(RunError),
    /// Every call succeeded but a reply differs from [`Conversation::expect`].
    WrongReplies,
}

/// The result of [`play`].
#[derive(Debug)]
pub struct Verdict {
    /// What was said.
    pub transcript: Transcript,
    /// `None` if every expected reply came, exactly.
    pub failure: Option<Failure>,
    /// Virtual time when it started and ended.
    pub started: Instant,
    /// Virtual time when it ended.
    pub ended: Instant,
}

impl Verdict {
    /// Whether the conversation went as the tutorial says.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The sockets a client host needs to play every conversation (one of each, reused).
pub struct ClientSockets {
    /// For the TCP conversations.
    pub tcp: Option<TcpSocket>,
    /// For the UDP conversations.
    pub udp: Option<UdpSocket>,
}

/// How long one conversation may take, in virtual time.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Play `conv` from the testbed's client against `services` on its server, over IPv4
/// (or IPv6 with `ipv6`).
pub fn play<'a, const F: usize, const D: usize, const P: usize>(
    conv: &Conversation,
    tb: &mut Testbed<'a, F, D>,
    services: &mut Services<P>,
    sockets: &mut ClientSockets,
    ipv6: bool,
) -> Verdict {
    #[cfg(feature = "ipv6")]
    let server = if ipv6 {
        Host::SERVER.ipv6_addr()
    } else {
        Host::SERVER.ipv4_addr()
    };
    #[cfg(not(feature = "ipv6"))]
    let server = {
        assert!(!ipv6, "sockless was built without the `ipv6` feature");
        Host::SERVER.ipv4_addr()
    };
    let started = tb.now();
    let (transcript, failure) = match conv.client {
        Client::Tcp(spec) => {
            let socket = sockets.tcp.take().expect("a TCP client socket");
            let mut chat: TcpChat<'_, _> =
                TcpChat::new(socket, server, spec, conv.lines.iter().copied());
            let mut outcome = None;
            let run = tb.run(TIME_LIMIT, |c, s| {
                services.poll(s);
                if let Poll::Ready(r) = chat.poll(c) {
                    outcome = Some(r);
                }
                services.poll(s);
                outcome.is_some()
            });
            let transcript = core::mem::take(&mut chat.transcript);
            let mut socket = chat.into_socket();
            // Let both ends finish closing (TIME-WAIT included) so that the trace tells
            // the whole story and the next conversation starts from listening sockets.
            let run = run.and_then(|()| {
                tb.run(TIME_LIMIT, |c, s| {
                    services.poll(s);
                    socket.state(c) == Some(smoltcp::socket::tcp::State::Closed)
                        && services.busy(s) == 0
                })
            });
            if outcome.is_none_or(|r| r.is_err()) {
                socket.abort(&mut tb.client);
            }
            let failure = match (run, outcome) {
                (Err(e), _) => Some(Failure::Run(e)),
                (_, Some(Err(e))) => Some(Failure::Tcp(e)),
                _ => None,
            };
            sockets.tcp = Some(socket);
            (transcript, failure)
        }
        Client::Udp(port) => {
            let socket = sockets.udp.take().expect("a UDP client socket");
            let mut chat = UdpChat::new(
                socket,
                IpEndpoint::new(server, port),
                conv.lines.iter().copied(),
            );
            let mut outcome = None;
            let run = tb.run(TIME_LIMIT, |c, s| {
                services.poll(s);
                if let Poll::Ready(r) = chat.poll(c) {
                    outcome = Some(r);
                }
                outcome.is_some()
            });
            let failure = match (run, outcome) {
                (Err(e), _) => Some(Failure::Run(e)),
                (_, Some(Err(e))) => Some(Failure::Udp(e)),
                _ => None,
            };
            let transcript = core::mem::take(&mut chat.transcript);
            sockets.udp = Some(chat.into_socket());
            (transcript, failure)
        }
        Client::ConnectEx(port) => {
            let socket = sockets.tcp.as_mut().expect("a TCP client socket");
            let mut transcript = Transcript::new();
            let mut status = Err(ConnectError::WouldBlock);
            let run = match socket.connect(&mut tb.client, IpEndpoint::new(server, port)) {
                Err(e) => {
                    status = Err(e);
                    Ok(())
                }
                Ok(()) => tb.run(TIME_LIMIT, |c, s| {
                    services.poll(s);
                    status = socket.connect_status(c);
                    status != Err(ConnectError::WouldBlock)
                }),
            };
            let errno = match status {
                Ok(()) => 0,
                Err(e) => e.errno().code(),
            };
            let mut digits = heapless::String::<12>::new();
            let _ = core::fmt::write(&mut digits, format_args!("{errno}"));
            transcript.push(super::chat::Dir::Received, digits.as_bytes());
            (transcript, run.err().map(Failure::Run))
        }
    };
    let failure = failure.or_else(|| {
        let replies_match = transcript.replies().eq(conv.expect.iter().copied());
        (!replies_match || transcript.cut() > 0 || transcript.forgotten() > 0)
            .then_some(Failure::WrongReplies)
    });
    Verdict {
        transcript,
        failure,
        started,
        ended: tb.now(),
    }
}
