//! The tutorial's clients, as poll-driven conversations.
//!
//! Every client in the tutorial is the same loop: connect, then for each message
//! `sendall` it and `recv` the reply, then `close`. They differ only in details: whether
//! the server speaks first (the robot's greeting), whether a message is a line, how the
//! client knows a reply is complete, and which word ends the loop (`exit`). [`TcpChat`]
//! is that loop as a state machine, its differences a [`ChatSpec`]; the tutorial's
//! clients are the presets [`ChatSpec::HELLO`], [`ChatSpec::NOTICE`], [`ChatSpec::ECHO`]
//! and [`ChatSpec::ROBOT`]. [`UdpChat`] is the UDP client. Messages come from any
//! iterator of `&str`: an example feeds stdin (Python's `input('>>:')`), a test a script.
//!
//! TCP is a byte stream, so "the reply" needs a rule ([`Framing`]): the upper-casing echo
//! answers with as many bytes as it got, the robot answers with one line, the notice
//! server answers and closes. The tutorial's clients just `recv(1024)` once and hope; these
//! wait for the whole reply.
//!
//! Each conversation keeps a [`Transcript`] of what was sent and received.

use core::fmt;
use core::task::Poll;

use heapless::Vec;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

use crate::socket::{
    ConnectError, RecvError, RecvFromError, SendError, SendToError, TcpSocket, UdpSocket,
};
use crate::stack::Stack;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the client to the server.
    Sent,
    /// From the server to the client.
    Received,
}

/// A fixed-size record of a conversation: the last `M` messages of up to `L` bytes each.
/// Nothing is lost silently: older messages pushed out are counted in
/// [`forgotten`](Self::forgotten), longer ones cut short in [`cut`](Self::cut).
#[derive(Debug, Default)]
pub struct Transcript<const M: usize = 32, const L: usize = 512> {
    messages: heapless::Deque<(Dir, Vec<u8, L>), M>,
    forgotten: usize,
    cut: usize,
}

impl<const M: usize, const L: usize> Transcript<M, L> {
    /// An empty transcript.
    pub const fn new() -> Self {
        Transcript {
            messages: heapless::Deque::new(),
            forgotten: 0,
            cut: 0,
        }
    }

    pub(crate) fn push(&mut self, dir: Dir, bytes: &[u8]) {
        let keep = bytes.len().min(L);
        let mut message = Vec::new();
        let _ = message.extend_from_slice(&bytes[..keep]);
        if keep < bytes.len() {
            self.cut += 1;
        }
        if self.messages.is_full() {
            self.messages.pop_front();
            self.forgotten += 1;
        }
        let _ = self.messages.push_back((dir, message));
    }

    /// The messages held, oldest first.
    pub fn messages(&self) -> impl Iterator<Item = (Dir, &[u8])> {
        self.messages.iter().map(|(d, m)| (*d, m.as_slice()))
    }

    /// The replies held, in order.
    pub fn replies(&self) -> impl Iterator<Item = &[u8]> {
        self.messages()
            .filter(|(d, _)| *d == Dir::Received)
            .map(|(_, m)| m)
    }

    /// How many messages were ever recorded.
    pub fn total(&self) -> usize {
        self.forgotten + self.messages.len()
    }

    /// Message number `n` (counting from 0 since the start), if still held.
    pub fn get(&self, n: usize) -> Option<(Dir, &[u8])> {
        let i = n.checked_sub(self.forgotten)?;
        self.messages.iter().nth(i).map(|(d, m)| (*d, m.as_slice()))
    }

    /// Messages pushed out by newer ones.
    pub fn forgotten(&self) -> usize {
        self.forgotten
    }

    /// Messages cut to `L` bytes.
    pub fn cut(&self) -> usize {
        self.cut
    }
}

/// How a client knows the server's reply is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// As many bytes as were sent (echo, upper-casing echo).
    SameLength,
    /// One line ending in `\n` (the robot).
    Line,
    /// Everything until the server closes (the notice server).
    ToEof,
}

/// What makes one tutorial client different from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatSpec {
    /// The server's port.
    pub port: u16,
    /// The server speaks first (one reply before the first message).
    pub greeting: bool,
    /// Append `\n` to each message.
    pub newline: bool,
    /// How a reply ends.
    pub framing: Framing,
    /// After sending this word (trimmed), expect the server to hang up.
    pub stop_word: Option<&'static str>,
    /// Python's `settimeout`: give up on `connect` or a reply after this long.
    pub timeout: Option<Duration>,
}

impl ChatSpec {
    /// The tutorial's 6969 client: `Hello world`, `世界,你好`, replies upper-cased.
    pub const HELLO: ChatSpec = ChatSpec {
        port: crate::services::UPPER_PORT,
        greeting: false,
        newline: false,
        framing: Framing::SameLength,
        stop_word: None,
        timeout: None,
    };

    /// The tutorial's first client: one message to 9999, one reply, the server closes.
    pub const NOTICE: ChatSpec = ChatSpec {
        port: crate::services::NOTICE_PORT,
        greeting: false,
        newline: false,
        framing: Framing::ToEof,
        stop_word: None,
        timeout: None,
    };

    /// An RFC 862 echo client (TCP 7).
    pub const ECHO: ChatSpec = ChatSpec {
        port: crate::services::ECHO_PORT,
        greeting: false,
        newline: false,
        framing: Framing::SameLength,
        stop_word: None,
        timeout: None,
    };

    /// The robot's client: greeting first, lines, `exit` hangs up, `settimeout(5)`.
    pub const ROBOT: ChatSpec = ChatSpec {
        port: crate::services::ROBOT_PORT,
        greeting: true,
        newline: true,
        framing: Framing::Line,
        stop_word: Some("exit"),
        timeout: Some(Duration::from_secs(5)),
    };
}

/// Why a conversation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatError {
    /// `connect` failed.
    Connect(ConnectError),
    /// `recv` failed (reset, timed out...).
    Recv(RecvError),
    /// `send` failed.
    Send(SendError),
    /// The server closed before the whole reply came.
    UnexpectedEof,
    /// A reply was larger than the client's reply buffer.
    ReplyTooLong,
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::Connect(e) => write!(f, "connect: {e}"),
            ChatError::Recv(e) => write!(f, "recv: {e}"),
            ChatError::Send(e) => write!(f, "send: {e}"),
            ChatError::UnexpectedEof => write!(f, "the server closed before replying"),
            ChatError::ReplyTooLong => write!(f, "reply larger than the reply buffer"),
        }
    }
}

impl core::error::Error for ChatError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChatState<'s> {
    Start,
    Connecting,
    Greeting,
    Next,
    Sending {
        line: &'s str,
        sent: usize,
        stopping: bool,
    },
    Awaiting {
        expect: usize,
        stopping: bool,
    },
    Draining,
    Done,
}

/// One client conversation over TCP (see the module docs). `R` bounds one reply.
pub struct TcpChat<'s, I: Iterator<Item = &'s str>, const R: usize = 1024> {
    socket: TcpSocket,
    remote: IpEndpoint,
    spec: ChatSpec,
    lines: I,
    state: ChatState<'s>,
    reply: Vec<u8, R>,
    /// What was said.
    pub transcript: Transcript,
}

impl<'s, I: Iterator<Item = &'s str>, const R: usize> TcpChat<'s, I, R> {
    /// A conversation on `socket` with the server at `server` (its port comes from
    /// `spec`), sending `lines`.
    pub fn new(
        socket: TcpSocket,
        server: smoltcp::wire::IpAddress,
        spec: ChatSpec,
        lines: I,
    ) -> Self {
        TcpChat {
            socket,
            remote: IpEndpoint::new(server, spec.port),
            spec,
            lines,
            state: ChatState::Start,
            reply: Vec::new(),
            transcript: Transcript::new(),
        }
    }

    /// The socket back, to connect it again.
    pub fn into_socket(self) -> TcpSocket {
        self.socket
    }

    /// Make progress; `Ready` when the conversation is over.
    ///
    /// It returns `Pending` right after recording a reply, before asking `lines` for the
    /// next message, so that an interactive caller can show the reply first.
    pub fn poll(&mut self, stack: &mut Stack<'_>) -> Poll<Result<(), ChatError>> {
        loop {
            let heard = self.transcript.total();
            match self.step(stack) {
                Ok(true) if self.transcript.total() != heard => return Poll::Pending,
                Ok(true) => continue,
                Ok(false) if self.state == ChatState::Done => return Poll::Ready(Ok(())),
                Ok(false) => return Poll::Pending,
                Err(e) => {
                    self.state = ChatState::Done;
                    self.socket.abort(stack);
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// One transition; `Ok(true)` if another may follow at once.
    fn step(&mut self, stack: &mut Stack<'_>) -> Result<bool, ChatError> {
        match self.state {
            ChatState::Start => {
                self.socket.set_timeout(stack, self.spec.timeout);
                self.socket
                    .connect(stack, self.remote)
                    .map_err(ChatError::Connect)?;
                self.state = ChatState::Connecting;
                Ok(true)
            }
            ChatState::Connecting => match self.socket.connect_status(stack) {
                Ok(()) => {
                    self.state = if self.spec.greeting {
                        ChatState::Greeting
                    } else {
                        ChatState::Next
                    };
                    Ok(true)
                }
                Err(ConnectError::WouldBlock) => Ok(false),
                Err(e) => Err(ChatError::Connect(e)),
            },
            ChatState::Greeting => {
                if self.receive(stack, 0)? {
                    self.state = ChatState::Next;
                    return Ok(true);
                }
                Ok(false)
            }
            ChatState::Next => {
                match self.lines.next() {
                    Some(line) => {
                        let stopping = self.spec.stop_word == Some(line.trim());
                        self.state = ChatState::Sending {
                            line,
                            sent: 0,
                            stopping,
                        };
                    }
                    None => {
                        self.socket.close(stack);
                        self.state = ChatState::Draining;
                    }
                }
                Ok(true)
            }
            ChatState::Sending {
                line,
                sent,
                stopping,
            } => {
                let bytes = line.as_bytes();
                let newline: &[u8] = if self.spec.newline { b"\n" } else { b"" };
                let total = bytes.len() + newline.len();
                let mut sent = sent;
                while sent < total {
                    let parts: [&[u8]; 2] = if sent < bytes.len() {
                        [&bytes[sent..], newline]
                    } else {
                        [&newline[sent - bytes.len()..], b""]
                    };
                    match self.socket.send_vectored(stack, &parts) {
                        Ok(n) => sent += n,
                        Err(SendError::WouldBlock) => {
                            self.state = ChatState::Sending {
                                line,
                                sent,
                                stopping,
                            };
                            return Ok(false);
                        }
                        Err(e) => return Err(ChatError::Send(e)),
                    }
                }
                self.transcript.push(Dir::Sent, bytes);
                self.state = ChatState::Awaiting {
                    expect: total,
                    stopping,
                };
                Ok(true)
            }
            ChatState::Awaiting { expect, stopping } => {
                if !self.receive(stack, expect)? {
                    return Ok(false);
                }
                if stopping {
                    self.socket.close(stack);
                    self.state = ChatState::Draining;
                } else if self.spec.framing == Framing::ToEof {
                    self.socket.close(stack);
                    self.state = ChatState::Done;
                } else {
                    self.state = ChatState::Next;
                }
                Ok(true)
            }
            ChatState::Draining => {
                let mut buf = [0u8; 256];
                match self.socket.recv(stack, &mut buf) {
                    Ok(0) => {
                        if !self.reply.is_empty() {
                            self.transcript.push(Dir::Received, &self.reply);
                            self.reply.clear();
                        }
                        self.state = ChatState::Done;
                        Ok(false)
                    }
                    Ok(n) => {
                        // Bytes after the last reply (an echo of what we had not
                        // waited for): keep them in the transcript.
                        let _ = self.reply.extend_from_slice(&buf[..n]);
                        Ok(true)
                    }
                    Err(RecvError::WouldBlock) => Ok(false),
                    Err(e) => Err(ChatError::Recv(e)),
                }
            }
            ChatState::Done => Ok(false),
        }
    }

    /// Read until the reply is complete (per the framing; `expect` bytes for
    /// `SameLength`). `Ok(true)` when it is, and it is in the transcript.
    fn receive(&mut self, stack: &mut Stack<'_>, expect: usize) -> Result<bool, ChatError> {
        loop {
            if let Some(end) = self.reply_end(expect) {
                let reply = &self.reply[..end];
                let reply = if self.spec.framing == Framing::Line {
                    strip_eol(reply)
                } else {
                    reply
                };
                self.transcript.push(Dir::Received, reply);
                let rest = self.reply.len() - end;
                self.reply.copy_within(end.., 0);
                self.reply.truncate(rest);
                return Ok(true);
            }
            let mut buf = [0u8; 256];
            let room = (R - self.reply.len()).min(buf.len());
            if room == 0 {
                return Err(ChatError::ReplyTooLong);
            }
            match self.socket.recv(stack, &mut buf[..room]) {
                Ok(0) if self.spec.framing == Framing::ToEof => {
                    let end = self.reply.len();
                    self.transcript.push(Dir::Received, &self.reply[..end]);
                    self.reply.clear();
                    return Ok(true);
                }
                Ok(0) => return Err(ChatError::UnexpectedEof),
                Ok(n) => {
                    let _ = self.reply.extend_from_slice(&buf[..n]);
                }
                Err(RecvError::WouldBlock) => return Ok(false),
                Err(e) => return Err(ChatError::Recv(e)),
            }
        }
    }

    /// Where the reply in the buffer ends, if it is complete.
    fn reply_end(&self, expect: usize) -> Option<usize> {
        match self.spec.framing {
            Framing::SameLength => (self.reply.len() >= expect).then_some(expect),
            Framing::Line => self.reply.iter().position(|&b| b == b'\n').map(|i| i + 1),
            Framing::ToEof => None,
        }
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Why a UDP conversation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpChatError {
    /// `sendto` failed.
    Send(SendToError),
    /// `recvfrom` failed.
    Recv(RecvFromError),
}

impl fmt::Display for UdpChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpChatError::Send(e) => write!(f, "sendto: {e}"),
            UdpChatError::Recv(e) => write!(f, "recvfrom: {e}"),
        }
    }
}

impl core::error::Error for UdpChatError {}

/// The tutorial's UDP client: `sendto` each line, `recvfrom` the answer, stop at `exit`
/// (which, as in the tutorial, is not sent). The socket stays open: take it back with
/// [`into_socket`](Self::into_socket) to reuse or close it.
pub struct UdpChat<'s, I: Iterator<Item = &'s str>> {
    socket: UdpSocket,
    server: IpEndpoint,
    lines: I,
    awaiting: bool,
    done: bool,
    /// What was said.
    pub transcript: Transcript,
}

impl<'s, I: Iterator<Item = &'s str>> UdpChat<'s, I> {
    /// A conversation from `socket` to `server`.
    pub fn new(socket: UdpSocket, server: IpEndpoint, lines: I) -> Self {
        UdpChat {
            socket,
            server,
            lines,
            awaiting: false,
            done: false,
            transcript: Transcript::new(),
        }
    }

    /// The socket back.
    pub fn into_socket(self) -> UdpSocket {
        self.socket
    }

    /// Make progress; `Ready` when `exit` was reached or the lines ran out. Like
    /// [`TcpChat::poll`] it returns `Pending` right after recording a reply.
    pub fn poll(&mut self, stack: &mut Stack<'_>) -> Poll<Result<(), UdpChatError>> {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.awaiting {
                let mut buf = [0u8; 1024];
                match self.socket.recvfrom(stack, &mut buf) {
                    Ok((n, _)) => {
                        self.transcript.push(Dir::Received, &buf[..n]);
                        self.awaiting = false;
                        // Let the caller see the reply before the next line is asked for.
                        return Poll::Pending;
                    }
                    Err(RecvFromError::WouldBlock) => return Poll::Pending,
                    Err(e) => return Poll::Ready(Err(UdpChatError::Recv(e))),
                }
            }
            match self.lines.next().map(str::trim) {
                None | Some("exit") => self.done = true,
                Some(line) => {
                    if let Err(e) = self.socket.sendto(stack, line.as_bytes(), self.server) {
                        return Poll::Ready(Err(UdpChatError::Send(e)));
                    }
                    self.transcript.push(Dir::Sent, line.as_bytes());
                    self.awaiting = true;
                }
            }
        }
    }
}
