//! The tutorial's servers, all on one stack at once.
//!
//! | port       | service | the tutorial's program |
//! |------------|---------|------------------------|
//! | TCP 7      | [`Echo`]: RFC 862 echo, byte-exact | (the classic `echo` port) |
//! | UDP 7      | [`UdpEcho`]: RFC 862 echo | (the classic `echo` port) |
//! | TCP 6969   | [`Upper`]: echoes `data.upper()` | the `server.listen()` / `conn.send(data.upper())` loop |
//! | TCP 9999   | [`Notice`]: one message in, `不要回答,不要回答,不要回答` out, close | the first server |
//! | UDP 9999   | [`UdpOk`]: answers every datagram with `ok` | the UDP server |
//! | TCP 8888   | [`Robot`]: the 10086 phone menu, line by line | 智能机器人 |
//!
//! Each TCP service has a pool of `POOL` connections (4 by default) on buffers of `BUF`
//! bytes each way, and resets connections idle for [`ServiceConfig::idle_timeout`]. See
//! [`service`](crate::service) for what happens to client `POOL + 1`.
//!
//! Memory, all in one [`ServiceStorage<POOL, BUF>`]: `4 * POOL * 2 * BUF` bytes of TCP
//! buffers plus two [`UdpBuffers`] (about 17 KiB), i.e. 81 KiB at the defaults (4, 2048);
//! [`ServiceStorage::SIZE`] is the exact figure. The stack needs
//! [`ServiceStorage::SOCKETS`] socket slots.

use core::fmt;

use smoltcp::socket::tcp;
use smoltcp::time::Duration;

use crate::gate::Overflow;
use crate::line::{Framed, LineFramer};
use crate::robot;
use crate::service::{DatagramHandler, Handler, Report, Status, TcpService, UdpService};
use crate::stack::Stack;
use crate::tcp::{ListenError, RecvError, TcpBuffers, TcpSocket};
use crate::udp::{BindError, UdpBuffers};

/// TCP and UDP port of the echo service.
pub const ECHO_PORT: u16 = 7;
/// TCP port of the upper-casing echo (the tutorial's 6969).
pub const UPPER_PORT: u16 = 6969;
/// TCP port of the notice server and UDP port of the `ok` server (the tutorial's 9999).
pub const NOTICE_PORT: u16 = 9999;
/// UDP port of the `ok` server.
pub const OK_PORT: u16 = 9999;
/// TCP port of the robot (the tutorial's 8888).
pub const ROBOT_PORT: u16 = 8888;

/// The notice server's one reply.
pub const NOTICE: &str = "不要回答,不要回答,不要回答";

/// The longest robot input line, in bytes (a trailing `\r` included).
pub const ROBOT_LINE: usize = 256;

/// How many bytes a byte-stream service moves per step (a stack buffer).
const CHUNK: usize = 512;

/// Settings shared by the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Reset a TCP connection after this long with nothing received or sent
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// What a TCP service does with a client beyond its pool: refuse (RST) or queue
    /// (drop the SYN for the client to retry). See [`gate`](crate::gate).
    pub overflow: Overflow,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            idle_timeout: Some(Duration::from_secs(60)),
            overflow: Overflow::Refuse,
        }
    }
}

/// Echo every byte back (RFC 862), then close when the client does.
#[derive(Debug, Default)]
pub struct Echo;

/// Echo every byte back with ASCII letters upper-cased (Python's `bytes.upper()`).
///
/// Bytes of multi-byte UTF-8 characters are all `>= 0x80` and pass unchanged, so a
/// character split across two reads is never corrupted.
#[derive(Debug, Default)]
pub struct Upper;

/// No room to send: a full transmit buffer on a live connection waits for the peer's
/// ACKs; anything else means the connection is gone.
fn wait_for_room(conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
    match conn.state(stack) {
        Some(tcp::State::Established | tcp::State::CloseWait) => Status::Open,
        _ => Status::Lost,
    }
}

/// Move bytes from the receive to the transmit side, transformed, never reading more
/// than can be queued (so nothing is held between polls).
fn relay(conn: &mut TcpSocket, stack: &mut Stack<'_>, transform: fn(&mut [u8])) -> Status {
    let mut chunk = [0u8; CHUNK];
    loop {
        let room = conn.send_space(stack).min(CHUNK);
        if room == 0 {
            return wait_for_room(conn, stack);
        }
        match conn.recv(stack, &mut chunk[..room]) {
            Ok(0) => return Status::Close,
            Ok(n) => {
                transform(&mut chunk[..n]);
                if conn.sendall(stack, &chunk[..n]).is_err() {
                    return Status::Lost;
                }
            }
            Err(RecvError::WouldBlock) => return Status::Open,
            Err(_) => return Status::Lost,
        }
    }
}

impl Handler for Echo {
    type Session = ();
    fn open(&mut self, _: &mut TcpSocket, _: &mut Stack<'_>) {}
    fn serve(&mut self, _: &mut (), conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
        relay(conn, stack, |_| {})
    }
}

impl Handler for Upper {
    type Session = ();
    fn open(&mut self, _: &mut TcpSocket, _: &mut Stack<'_>) {}
    fn serve(&mut self, _: &mut (), conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
        relay(conn, stack, |bytes| bytes.make_ascii_uppercase())
    }
}

/// Read one message, answer [`NOTICE`], close (the tutorial's first server).
#[derive(Debug, Default)]
pub struct Notice;

impl Handler for Notice {
    type Session = ();
    fn open(&mut self, _: &mut TcpSocket, _: &mut Stack<'_>) {}
    fn serve(&mut self, _: &mut (), conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Status {
        let mut message = [0u8; 1024];
        match conn.recv(stack, &mut message) {
            Ok(0) => Status::Close,
            Ok(_) => match conn.sendall(stack, NOTICE.as_bytes()) {
                Ok(()) => Status::Close,
                Err(_) => Status::Lost,
            },
            Err(RecvError::WouldBlock) => Status::Open,
            Err(_) => Status::Lost,
        }
    }
}

/// The 10086 robot on a connection: frames lines, answers each with [`robot::answer`].
#[derive(Debug, Default)]
pub struct Robot;

impl Handler for Robot {
    type Session = LineFramer<ROBOT_LINE>;

    fn open(&mut self, conn: &mut TcpSocket, stack: &mut Stack<'_>) -> Self::Session {
        // A fresh connection's transmit buffer is empty and larger than MAX_REPLY.
        say(conn, stack, robot::WELCOME);
        LineFramer::new()
    }

    fn serve(
        &mut self,
        framer: &mut Self::Session,
        conn: &mut TcpSocket,
        stack: &mut Stack<'_>,
    ) -> Status {
        loop {
            // Read a line only when its answer is sure to fit: no output buffer needed.
            if conn.send_space(stack) < robot::MAX_REPLY {
                return wait_for_room(conn, stack);
            }
            let reply = match conn.recv_with(stack, |data| framer.feed(data)) {
                Ok(Some(None)) => continue,
                Ok(Some(Some(Framed::Line))) => robot::answer(framer.line()),
                Ok(Some(Some(Framed::TooLong))) => robot::too_long(),
                // End of stream: answer a last unterminated line, then hang up.
                Ok(None) => {
                    if framer.finish() == Some(Framed::Line) {
                        say(conn, stack, robot::answer(framer.line()).text);
                    }
                    return Status::Close;
                }
                Err(RecvError::WouldBlock) => return Status::Open,
                Err(_) => return Status::Lost,
            };
            say(conn, stack, reply.text);
            if reply.hang_up {
                return Status::Close;
            }
        }
    }
}

/// Queue one line; the caller made sure it fits.
fn say(conn: &mut TcpSocket, stack: &mut Stack<'_>, text: &str) {
    let _ = conn.send_vectored(stack, &[text.as_bytes(), b"\n"]);
}

/// UDP echo (RFC 862): the datagram back to its sender.
#[derive(Debug, Default)]
pub struct UdpEcho;

impl DatagramHandler for UdpEcho {
    fn reply<'b>(&mut self, buf: &'b mut [u8], len: usize) -> Option<&'b [u8]> {
        Some(&buf[..len])
    }
}

/// The tutorial's UDP server: `ok` to every datagram.
#[derive(Debug, Default)]
pub struct UdpOk;

impl DatagramHandler for UdpOk {
    fn reply<'b>(&mut self, _: &'b mut [u8], _: usize) -> Option<&'b [u8]> {
        Some(b"ok")
    }
}

/// The buffers of every service: `POOL` connections of `BUF` bytes each way per TCP
/// service, and the two UDP sockets' queues of up to 8 datagrams and `UDP` bytes each way.
pub struct ServiceStorage<const POOL: usize = 4, const BUF: usize = 2048, const UDP: usize = 4096> {
    echo: [TcpBuffers<BUF, BUF>; POOL],
    upper: [TcpBuffers<BUF, BUF>; POOL],
    notice: [TcpBuffers<BUF, BUF>; POOL],
    robot: [TcpBuffers<BUF, BUF>; POOL],
    udp_echo: UdpBuffers<8, UDP>,
    udp_ok: UdpBuffers<8, UDP>,
}

impl<const POOL: usize, const BUF: usize, const UDP: usize> Default
    for ServiceStorage<POOL, BUF, UDP>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const POOL: usize, const BUF: usize, const UDP: usize> ServiceStorage<POOL, BUF, UDP> {
    /// Zeroed buffers (a `const fn`: a `static` on a microcontroller, in `.bss`).
    pub const fn new() -> Self {
        assert!(
            BUF >= robot::MAX_REPLY,
            "the robot needs room for its longest reply"
        );
        ServiceStorage {
            echo: [const { TcpBuffers::new() }; POOL],
            upper: [const { TcpBuffers::new() }; POOL],
            notice: [const { TcpBuffers::new() }; POOL],
            robot: [const { TcpBuffers::new() }; POOL],
            udp_echo: UdpBuffers::new(),
            udp_ok: UdpBuffers::new(),
        }
    }

    /// Build the storage where it lies (a `static`, or a heap allocation), without first
    /// building it on the stack as [`new`](Self::new) does: for large `BUF`s.
    pub fn init(slot: &mut core::mem::MaybeUninit<Self>) -> &mut Self {
        let this = slot.as_mut_ptr();
        // SAFETY: every field is written before the reference is made: the TCP buffers
        // are plain byte arrays, for which all-zero is what `TcpBuffers::new()` builds;
        // the UDP queues are built in place by `UdpBuffers::init`.
        unsafe {
            core::ptr::addr_of_mut!((*this).echo).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).upper).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).notice).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).robot).write_bytes(0, 1);
            type Uninit<const U: usize> = core::mem::MaybeUninit<UdpBuffers<8, U>>;
            UdpBuffers::init(&mut *core::ptr::addr_of_mut!((*this).udp_echo).cast::<Uninit<UDP>>());
            UdpBuffers::init(&mut *core::ptr::addr_of_mut!((*this).udp_ok).cast::<Uninit<UDP>>());
            slot.assume_init_mut()
        }
    }

    /// Socket slots the services take in the stack's storage.
    pub const SOCKETS: usize = 4 * POOL + 2;

    /// Bytes of this storage.
    pub const SIZE: usize = core::mem::size_of::<Self>();
}

/// Error returned by [`Services::start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// A TCP service could not listen.
    Listen(&'static str, ListenError),
    /// A UDP service could not bind.
    Bind(&'static str, BindError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Listen(name, e) => write!(f, "{name}: cannot listen: {e}"),
            StartError::Bind(name, e) => write!(f, "{name}: cannot bind: {e}"),
        }
    }
}

impl core::error::Error for StartError {}

/// Every service of the tutorial, running on one stack.
pub struct Services<const POOL: usize = 4> {
    /// TCP 7.
    pub echo: TcpService<Echo, POOL>,
    /// TCP 6969.
    pub upper: TcpService<Upper, POOL>,
    /// TCP 9999.
    pub notice: TcpService<Notice, POOL>,
    /// TCP 8888.
    pub robot: TcpService<Robot, POOL>,
    /// UDP 7.
    pub udp_echo: UdpService<UdpEcho>,
    /// UDP 9999.
    pub udp_ok: UdpService<UdpOk>,
}

impl<const POOL: usize> Services<POOL> {
    /// Start every service on `stack`, with its buffers in `storage`.
    pub fn start<'a, const BUF: usize, const UDP: usize>(
        stack: &mut Stack<'a>,
        storage: &'a mut ServiceStorage<POOL, BUF, UDP>,
        config: ServiceConfig,
    ) -> Result<Self, StartError> {
        let idle = config.idle_timeout;
        let ServiceStorage {
            echo,
            upper,
            notice,
            robot,
            udp_echo,
            udp_ok,
        } = storage;
        Ok(Services {
            echo: TcpService::start("echo", stack, ECHO_PORT, echo, Echo, idle, config.overflow)
                .map_err(|e| StartError::Listen("echo", e))?,
            upper: TcpService::start(
                "upper",
                stack,
                UPPER_PORT,
                upper,
                Upper,
                idle,
                config.overflow,
            )
            .map_err(|e| StartError::Listen("upper", e))?,
            notice: TcpService::start(
                "notice",
                stack,
                NOTICE_PORT,
                notice,
                Notice,
                idle,
                config.overflow,
            )
            .map_err(|e| StartError::Listen("notice", e))?,
            robot: TcpService::start(
                "robot",
                stack,
                ROBOT_PORT,
                robot,
                Robot,
                idle,
                config.overflow,
            )
            .map_err(|e| StartError::Listen("robot", e))?,
            udp_echo: UdpService::start("udp-echo", stack, ECHO_PORT, udp_echo, UdpEcho)
                .map_err(|e| StartError::Bind("udp-echo", e))?,
            udp_ok: UdpService::start("udp-ok", stack, OK_PORT, udp_ok, UdpOk)
                .map_err(|e| StartError::Bind("udp-ok", e))?,
        })
    }

    /// Sockets of the TCP services that carry a connection or are still closing
    /// (0 once every connection has fully ended and every socket is listening again).
    pub fn busy(&mut self, stack: &mut Stack<'_>) -> usize {
        self.echo.listener().busy(stack)
            + self.upper.listener().busy(stack)
            + self.notice.listener().busy(stack)
            + self.robot.listener().busy(stack)
    }

    /// Give every service its turn. Call after every poll of the stack.
    pub fn poll(&mut self, stack: &mut Stack<'_>) {
        self.echo.poll(stack);
        self.upper.poll(stack);
        self.notice.poll(stack);
        self.robot.poll(stack);
        self.udp_echo.poll(stack);
        self.udp_ok.poll(stack);
    }

    /// Each service's counters, as printable lines.
    pub fn reports(&self) -> [Report; 6] {
        [
            self.echo.report(),
            self.upper.report(),
            self.notice.report(),
            self.robot.report(),
            self.udp_echo.report(),
            self.udp_ok.report(),
        ]
    }
}
