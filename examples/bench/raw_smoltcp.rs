//! The limit the facade is measured against: the same four workloads written directly on
//! smoltcp, with no sockless between the program and the stack.
//!
//! Two smoltcp `Interface`s on the same in-memory wire (`sockless::Wire`, checksums off,
//! the same frame size and depth), the same hosts, the same socket set on the server (four
//! TCP services of `POOL` listening sockets with `BUF`-byte buffers each way, two UDP
//! sockets of 8 datagrams and 4 KiB), the same client sockets (`BUF` each way, Nagle off),
//! and the same discipline: poll both stacks until neither has anything to say and the
//! wire is empty, let the programs act, and when nothing happened move the virtual clock to
//! the earliest `poll_at`. What it leaves out is everything sockless adds above smoltcp:
//! the descriptor table and its checks, the SYN gate, TIME-WAIT records, the retransmission
//! counter, the event trace, the services' pools and counters.
//!
//! The server's program is what a careful smoltcp user would write for an echo service:
//! every echo socket that can receive and send copies what it can through one reusable
//! buffer; a socket whose peer closed is closed once its data is out; a socket that is
//! closed listens again. Only the echo services (TCP and UDP 7) do anything; the other
//! listeners are there so that the stack's per-socket work is the same.

use sockless::phy::End;
use sockless::smoltcp::iface::SocketStorage;
use sockless::smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use sockless::smoltcp::phy::Device;
use sockless::smoltcp::socket::{tcp, udp};
use sockless::smoltcp::time::{Duration, Instant};
use sockless::smoltcp::wire::{HardwareAddress, IpEndpoint};
use sockless::{Host, Wire};

use crate::{BUF, DEPTH, FRAME, POOL, per_second};

/// The TCP services' ports (echo first); the server listens on each with `POOL` sockets.
const TCP_PORTS: [u16; 4] = [7, 6969, 9999, 8888];
/// The UDP services' ports (echo first).
const UDP_PORTS: [u16; 2] = [7, 9999];
/// Bytes of each UDP socket's queue, each way (the services' default).
const UDP_BYTES: usize = 4096;
/// Datagrams each UDP queue holds (the services' default).
const UDP_PACKETS: usize = 8;
/// The bytes a relay step moves (a buffer of the rig's, reused).
const CHUNK: usize = 4096;

/// Two smoltcp stacks on the wire, the server running the echo services.
pub struct RawRig {
    wire: Box<Wire<'static, FRAME, DEPTH>>,
    now: Instant,
    client: Interface,
    client_sockets: SocketSet<'static>,
    server: Interface,
    server_sockets: SocketSet<'static>,
    /// The echo service's TCP sockets, and every other service's (idle) listeners.
    echo: Vec<SocketHandle>,
    udp_echo: SocketHandle,
    chunk: Box<[u8; CHUNK]>,
    next_port: u16,
    /// The client's or the server's program acted (or a timer is due): poll that stack.
    client_dirty: bool,
    server_dirty: bool,
}

fn interface(host: Host, device: &mut impl Device, now: Instant) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(host.mac));
    config.random_seed = host.random_seed;
    let mut iface = Interface::new(config, device, now);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(host.ipv4);
        let _ = addrs.push(host.ipv6);
    });
    iface
}

/// `len` copies of `value`, for as long as the program runs (smoltcp is built without
/// `alloc`, so its buffers take slices).
fn leak<T: Clone>(value: T, len: usize) -> &'static mut [T] {
    Vec::leak(vec![value; len])
}

/// A socket set of `len` slots.
fn socket_set(len: usize) -> SocketSet<'static> {
    SocketSet::new(Vec::leak((0..len).map(|_| SocketStorage::EMPTY).collect()))
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(leak(0u8, BUF)),
        tcp::SocketBuffer::new(leak(0u8, BUF)),
    );
    socket.set_nagle_enabled(false);
    socket
}

fn udp_socket() -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(
            leak(udp::PacketMetadata::EMPTY, UDP_PACKETS),
            leak(0u8, UDP_BYTES),
        ),
        udp::PacketBuffer::new(
            leak(udp::PacketMetadata::EMPTY, UDP_PACKETS),
            leak(0u8, UDP_BYTES),
        ),
    )
}

/// The echo service, TCP and UDP, on the server's IPv4 address.
fn echo_service() -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), TCP_PORTS[0])
}

impl RawRig {
    pub fn new() -> RawRig {
        let mut wire = Box::new(Wire::without_checksums());
        let now = Instant::ZERO;
        let client = interface(Host::CLIENT, &mut wire.port(End::A), now);
        let server = interface(Host::SERVER, &mut wire.port(End::B), now);
        let mut server_sockets = socket_set(TCP_PORTS.len() * POOL + UDP_PORTS.len());
        let mut echo = Vec::new();
        for port in TCP_PORTS {
            for _ in 0..POOL {
                let mut socket = tcp_socket();
                socket.listen(port).unwrap();
                let handle = server_sockets.add(socket);
                if port == TCP_PORTS[0] {
                    echo.push(handle);
                }
            }
        }
        let mut udp_echo = None;
        for port in UDP_PORTS {
            let mut socket = udp_socket();
            socket.bind(port).unwrap();
            let handle = server_sockets.add(socket);
            udp_echo.get_or_insert(handle);
        }
        RawRig {
            wire,
            now,
            client,
            client_sockets: socket_set(8),
            server,
            server_sockets,
            echo,
            udp_echo: udp_echo.unwrap(),
            chunk: Box::new([0; CHUNK]),
            next_port: 49152,
            client_dirty: true,
            server_dirty: true,
        }
    }

    /// A client TCP socket, `BUF` each way, Nagle off.
    pub fn socket(&mut self) -> SocketHandle {
        self.client_sockets.add(tcp_socket())
    }

    /// A client UDP socket on a port of its own.
    pub fn udp_socket(&mut self) -> SocketHandle {
        let mut socket = udp_socket();
        socket.bind(self.port()).unwrap();
        self.client_sockets.add(socket)
    }

    fn port(&mut self) -> u16 {
        self.next_port = if self.next_port == u16::MAX {
            49152
        } else {
            self.next_port + 1
        };
        self.next_port
    }

    fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.client_sockets.get_mut::<tcp::Socket>(handle)
    }

    /// Connect to the echo service and wait until established.
    pub fn connect(&mut self, handle: SocketHandle) {
        let port = self.port();
        let cx = self.client.context();
        self.client_sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(cx, echo_service(), port)
            .unwrap();
        self.until(|rig| rig.tcp(handle).state() != tcp::State::SynSent);
        assert_eq!(self.tcp(handle).state(), tcp::State::Established);
    }

    /// Each stack polled while it has work (a frame waiting for it, or its program
    /// acted), the server's program run after each of its polls that moved something,
    /// until nothing more happens at this instant. True if anything did.
    fn settle(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut moved = false;
            if self.client_dirty || self.wire.waiting(End::A) > 0 {
                self.client_dirty = false;
                moved |= self.client.poll(
                    self.now,
                    &mut self.wire.port(End::A),
                    &mut self.client_sockets,
                ) == PollResult::SocketStateChanged;
            }
            if self.server_dirty || self.wire.waiting(End::B) > 0 {
                self.server_dirty = false;
                if self.server.poll(
                    self.now,
                    &mut self.wire.port(End::B),
                    &mut self.server_sockets,
                ) == PollResult::SocketStateChanged
                {
                    moved = true;
                    self.server_dirty = self.serve();
                }
            }
            if !moved && !self.client_dirty && !self.server_dirty && self.wire.is_idle() {
                return any;
            }
            any = true;
        }
    }

    /// The server's program: the echo services. True if it moved a byte or a socket.
    fn serve(&mut self) -> bool {
        let mut moved = false;
        for &handle in &self.echo {
            let socket = self.server_sockets.get_mut::<tcp::Socket>(handle);
            while socket.can_recv() && socket.can_send() {
                let room = socket.send_capacity() - socket.send_queue();
                let n = socket
                    .recv_slice(&mut self.chunk[..room.min(CHUNK)])
                    .unwrap_or(0);
                if n == 0 {
                    break;
                }
                socket.send_slice(&self.chunk[..n]).unwrap();
                moved = true;
            }
            match socket.state() {
                tcp::State::CloseWait if socket.send_queue() == 0 && !socket.can_recv() => {
                    socket.close();
                    moved = true;
                }
                tcp::State::Closed => {
                    socket.listen(TCP_PORTS[0]).unwrap();
                    moved = true;
                }
                _ => {}
            }
        }
        let socket = self.server_sockets.get_mut::<udp::Socket>(self.udp_echo);
        while socket.can_recv() && socket.can_send() {
            let Ok((n, meta)) = socket.recv_slice(&mut self.chunk[..]) else {
                break;
            };
            socket.send_slice(&self.chunk[..n], meta.endpoint).unwrap();
            moved = true;
        }
        moved
    }

    /// Settle, let `done` act, and move the clock when nothing happens, until `done` says
    /// so (or ten virtual minutes pass: a stuck workload is a bug in this file).
    fn until(&mut self, mut done: impl FnMut(&mut Self) -> bool) {
        let limit = self.now + Duration::from_secs(600);
        let mut spins = 0;
        // The caller's program acted before this call: the client's stack has work.
        self.client_dirty = true;
        loop {
            self.settle();
            if done(self) {
                return;
            }
            // The client's program may have queued something: its stack has work.
            self.client_dirty = true;
            if self.settle() {
                continue;
            }
            // Nothing moved: a timer is due (or the server's program waits for one).
            self.client_dirty = true;
            self.server_dirty = true;
            let next = [
                self.client.poll_at(self.now, &self.client_sockets),
                self.server.poll_at(self.now, &self.server_sockets),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at > self.now => self.now = at,
                Some(_) if spins < 1000 => spins += 1,
                _ => panic!("raw smoltcp: stalled at {}", self.now),
            }
            assert!(self.now <= limit, "raw smoltcp: time limit at {}", self.now);
        }
    }
}

/// 64 bytes to the echo service and back, `rounds` times; round trips per second.
pub fn pingpong(rig: &mut RawRig, sk: SocketHandle, rounds: usize) -> f64 {
    let msg = [7u8; 64];
    per_second(rounds, |_| {
        assert_eq!(rig.tcp(sk).send_slice(&msg), Ok(64));
        let mut got = 0;
        rig.until(|rig| {
            let mut buf = [0u8; 64];
            got += rig.tcp(sk).recv_slice(&mut buf[got..]).unwrap_or(0);
            got == 64
        });
    })
}

/// `bytes` through the echo service and back, sending and receiving at once; MB/s each way.
pub fn bulk(rig: &mut RawRig, sk: SocketHandle, bytes: usize) -> f64 {
    rig.connect(sk);
    let chunk = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0;
    let mut got = 0;
    let start = std::time::Instant::now();
    rig.until(|rig| {
        let socket = rig.tcp(sk);
        while sent < bytes {
            match socket.send_slice(&chunk[..(bytes - sent).min(chunk.len())]) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) => panic!("raw bulk send: {e}"),
            }
        }
        if sent == bytes && socket.state() == tcp::State::Established {
            socket.close();
        }
        while let Ok(n) = socket.recv_slice(&mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
        got == bytes && !socket.may_recv()
    });
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, bytes);
    settle_closed(rig, sk);
    bytes as f64 / secs / 1e6
}

/// Wait (in virtual time) until `sk` is closed and every echo socket listens again.
pub fn settle_closed(rig: &mut RawRig, sk: SocketHandle) {
    rig.tcp(sk).close();
    rig.until(|rig| {
        let echo = rig.echo.clone();
        rig.tcp(sk).state() == tcp::State::Closed
            && echo.iter().all(|&h| {
                rig.server_sockets.get_mut::<tcp::Socket>(h).state() == tcp::State::Listen
            })
    });
}

/// Connect, echo 64 bytes, close, `cycles` times, rotating over `sockets`; per second.
pub fn churn(rig: &mut RawRig, sockets: &[SocketHandle], cycles: usize) -> f64 {
    let msg = [1u8; 64];
    per_second(cycles, |i| {
        let sk = sockets[i % sockets.len()];
        rig.until(|rig| rig.tcp(sk).state() == tcp::State::Closed);
        let port = rig.port();
        let cx = rig.client.context();
        rig.client_sockets
            .get_mut::<tcp::Socket>(sk)
            .connect(cx, echo_service(), port)
            .unwrap();
        let mut sent = false;
        let mut got = 0;
        rig.until(|rig| {
            let socket = rig.tcp(sk);
            if !sent && socket.state() == tcp::State::Established {
                assert_eq!(socket.send_slice(&msg), Ok(64));
                sent = true;
            }
            let mut buf = [0u8; 64];
            got += socket.recv_slice(&mut buf).unwrap_or(0);
            got == 64
        });
        rig.tcp(sk).close();
    })
}

/// 64-byte datagrams to the UDP echo service and back; round trips per second.
pub fn udp(rig: &mut RawRig, sk: SocketHandle, rounds: usize) -> f64 {
    let msg = [3u8; 64];
    per_second(rounds, |_| {
        rig.client_sockets
            .get_mut::<udp::Socket>(sk)
            .send_slice(&msg, echo_service())
            .unwrap();
        rig.until(|rig| {
            let socket = rig.client_sockets.get_mut::<udp::Socket>(sk);
            socket.recv_slice(&mut [0u8; 64]).is_ok()
        });
    })
}
