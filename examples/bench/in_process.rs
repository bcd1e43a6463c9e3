//! The sockless side: the workloads in-process, on two smoltcp stacks joined by the
//! in-memory wire (the testbed), in virtual time, against every service.

use std::time::Instant as WallClock;

use sockless::services::{ECHO_PORT, ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::socket::tcp::State;
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{ConnectError, RecvError, SendError, Shutdown};
use sockless::{
    Host, Stack, StackStorage, TcpBuffers, TcpSocket, Testbed, UdpBuffers, UdpSocket, Wire,
};

use crate::{BUF, DEPTH, FRAME, POOL, per_second};

/// Two stacks and every service, on the in-memory wire without checksums.
pub struct Rig {
    pub tb: &'static mut Testbed<'static, FRAME, DEPTH>,
    services: &'static mut Services<POOL>,
}

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

const SOCKETS: usize = ServiceStorage::<POOL, BUF>::SOCKETS;

impl Rig {
    pub fn new() -> Rig {
        let tb = leak(Testbed::with_wire(
            Wire::without_checksums(),
            Host::CLIENT,
            leak(StackStorage::<8>::new()),
            Host::SERVER,
            leak(StackStorage::<SOCKETS>::new()),
        ));
        let storage = ServiceStorage::<POOL, BUF>::init(Box::leak(Box::new_uninit()));
        let services =
            leak(Services::start(&mut tb.server, storage, ServiceConfig::default()).unwrap());
        Rig { tb, services }
    }

    /// A client TCP socket with buffers of its own, Nagle off.
    pub fn socket(&mut self) -> TcpSocket {
        let buffers = leak_tcp_buffers();
        let mut sk = TcpSocket::new(&mut self.tb.client, buffers).unwrap();
        tune(&mut sk, &mut self.tb.client);
        sk
    }

    /// A client UDP socket with buffers of its own, on an ephemeral port.
    pub fn udp_socket(&mut self) -> UdpSocket {
        let buffers = leak(UdpBuffers::<4, 2048>::new());
        UdpSocket::bind(&mut self.tb.client, 0, buffers).unwrap()
    }

    /// Connect `sk` to the echo service and wait until it is established.
    pub fn connect(&mut self, sk: &mut TcpSocket) {
        sk.connect(&mut self.tb.client, echo_service()).unwrap();
        self.until(Duration::from_secs(10), |c| {
            sk.connect_status(c) != Err(ConnectError::WouldBlock)
        });
        sk.connect_status(&mut self.tb.client).unwrap();
    }

    /// Run the testbed, the services serving, until `done` (given the client's stack)
    /// says so; panics after `limit` of virtual time.
    fn until(&mut self, limit: Duration, mut done: impl FnMut(&mut Stack<'static>) -> bool) {
        let services = &mut *self.services;
        self.tb
            .run(limit, |c, s| {
                services.poll(s);
                done(c)
            })
            .unwrap();
    }
}

/// The echo service, TCP and UDP, on the server's IPv4 address.
fn echo_service() -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), ECHO_PORT)
}

/// TCP buffers straight on the heap (a `Box::new` of a 512 KiB struct would first build
/// it on the stack).
fn leak_tcp_buffers() -> &'static mut TcpBuffers<BUF, BUF> {
    let slot = Box::leak(Box::<TcpBuffers<BUF, BUF>>::new_uninit());
    // SAFETY: `TcpBuffers` is two byte arrays: all-zero is exactly what `new()` builds,
    // and every byte is written before the reference is made.
    unsafe {
        slot.as_mut_ptr().write_bytes(0, 1);
        slot.assume_init_mut()
    }
}

fn tune(sk: &mut TcpSocket, stack: &mut Stack<'_>) {
    sk.with_socket(stack, |s| {
        s.set_nagle_enabled(false);
    });
}

/// 64 bytes to the echo service and back, `rounds` times; round trips per second.
pub fn pingpong(rig: &mut Rig, sk: &mut TcpSocket, rounds: usize) -> f64 {
    let msg = [7u8; 64];
    per_second(rounds, |_| {
        sk.sendall(&mut rig.tb.client, &msg).unwrap();
        let mut got = 0;
        rig.until(Duration::from_secs(10), |c| {
            let mut buf = [0u8; 64];
            if let Ok(n) = sk.recv(c, &mut buf[got..]) {
                got += n;
            }
            got == 64
        });
    })
}

/// `bytes` through the echo service and back, sending and receiving at once; MB/s each way.
pub fn bulk(rig: &mut Rig, sk: &mut TcpSocket, bytes: usize) -> f64 {
    rig.connect(sk);
    let chunk = vec![0x5au8; 64 * 1024];
    let mut sent = 0;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let start = WallClock::now();
    rig.until(Duration::from_secs(3600), |c| {
        while sent < bytes {
            match sk.send(c, &chunk[..(bytes - sent).min(chunk.len())]) {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("bulk send: {e}"),
            }
        }
        if sent == bytes {
            sk.shutdown(c, Shutdown::Write);
        }
        loop {
            match sk.recv(c, &mut buf) {
                Ok(0) => return true,
                Ok(n) => got += n,
                Err(RecvError::WouldBlock) => return false,
                Err(e) => panic!("bulk recv: {e}"),
            }
        }
    });
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, bytes);
    sk.close(&mut rig.tb.client);
    settle_closed(rig, sk);
    bytes as f64 / secs / 1e6
}

/// Wait (in virtual time) until `sk` and the services are back to idle.
pub fn settle_closed(rig: &mut Rig, sk: &mut TcpSocket) {
    let services = &mut *rig.services;
    rig.tb
        .run(Duration::from_secs(60), |c, s| {
            services.poll(s);
            sk.state(c) == Some(State::Closed) && services.busy(s) == 0
        })
        .unwrap();
}

/// Connect, echo 64 bytes, close, `cycles` times; cycles per second. The client rotates
/// over several sockets so that one's TIME-WAIT (virtual time) does not hold up the next.
pub fn churn(rig: &mut Rig, sockets: &mut [TcpSocket], cycles: usize) -> f64 {
    let msg = [1u8; 64];
    let count = sockets.len();
    per_second(cycles, |i| {
        let sk = &mut sockets[i % count];
        // A socket whose TIME-WAIT has not passed yet waits for it, in virtual time.
        rig.until(Duration::from_secs(60), |c| {
            sk.state(c) == Some(State::Closed)
        });
        sk.connect(&mut rig.tb.client, echo_service()).unwrap();
        let mut sent = false;
        let mut got = 0;
        rig.until(Duration::from_secs(60), |c| {
            if !sent && sk.connect_status(c).is_ok() {
                sk.sendall(c, &msg).unwrap();
                sent = true;
            }
            let mut buf = [0u8; 64];
            if let Ok(n) = sk.recv(c, &mut buf) {
                got += n;
            }
            got == 64
        });
        sk.close(&mut rig.tb.client);
    })
}

/// 64-byte datagrams to the UDP echo service and back; round trips per second.
pub fn udp(rig: &mut Rig, sk: &mut UdpSocket, rounds: usize) -> f64 {
    let msg = [3u8; 64];
    let to = echo_service();
    per_second(rounds, |_| {
        sk.sendto(&mut rig.tb.client, &msg, to).unwrap();
        rig.until(Duration::from_secs(10), |c| {
            sk.recvfrom(c, &mut [0u8; 64]).is_ok()
        });
    })
}
