//! A test rig: the two-host testbed with every service on the server, and helpers that
//! drive a raw client socket the way a test wants (exact bytes, pieces, lines).
#![allow(dead_code)]

pub mod bare;

use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::socket::tcp::State;
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::{IpAddress, IpEndpoint};
use sockless::socket::{ConnectError, RecvError, SendError};
use sockless::{Host, StackStorage, TcpBuffers, TcpSocket, Testbed, Trace, UdpBuffers, UdpSocket};

pub const LIMIT: Duration = Duration::from_secs(600);
/// The services' sockets, and room for a few more listeners of a test's own.
pub const SERVER_SOCKETS: usize = ServiceStorage::<4, 2048>::SOCKETS + 4;

pub struct Rig {
    /// Behind a reference: the testbed (its wire holds 2 x 64 frames) is too large to move
    /// around a debug-build test thread's stack.
    pub tb: &'static mut Testbed<'static>,
    pub services: &'static mut Services<4>,
    pub trace: &'static Trace<4096>,
}

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

impl Rig {
    pub fn new() -> Self {
        Self::with_config(ServiceConfig::default())
    }

    pub fn with_config(config: ServiceConfig) -> Self {
        let trace: &'static Trace<4096> = leak(Trace::new());
        let tb: &'static mut Testbed<'static> = leak(Testbed::new(
            leak(StackStorage::<64>::new()),
            leak(StackStorage::<SERVER_SOCKETS>::new()),
        ));
        tb.client.set_observer(Some(trace));
        tb.server.set_observer(Some(trace));
        let services = leak(
            Services::start(
                &mut tb.server,
                // Built in place, as a large or static storage would be.
                ServiceStorage::<4, 2048>::init(Box::leak(Box::new_uninit())),
                config,
            )
            .expect("services start"),
        );
        Rig {
            tb,
            services,
            trace,
        }
    }

    pub fn server_v4(port: u16) -> IpEndpoint {
        IpEndpoint::new(Host::SERVER.ipv4_addr(), port)
    }

    pub fn server_v6(port: u16) -> IpEndpoint {
        IpEndpoint::new(Host::SERVER.ipv6_addr(), port)
    }

    /// A fresh client socket (its buffers leak: tests are short).
    pub fn socket(&mut self) -> TcpSocket {
        TcpSocket::new(&mut self.tb.client, leak(TcpBuffers::<8192, 8192>::new()))
            .expect("client socket slot")
    }

    pub fn udp_socket(&mut self) -> UdpSocket {
        UdpSocket::bind(&mut self.tb.client, 0, leak(UdpBuffers::<4, 2048>::new()))
            .expect("client socket slot")
    }

    /// Run the network and the services until `done` (on the client stack) holds.
    pub fn run_until(&mut self, mut done: impl FnMut(&mut sockless::Stack<'static>) -> bool) {
        let services = &mut *self.services;
        self.tb
            .run(LIMIT, |c, s| {
                services.poll(s);
                done(c)
            })
            .expect("run");
    }

    /// Let virtual time pass with the services running.
    pub fn wait(&mut self, by: Duration) {
        let services = &mut *self.services;
        self.tb.run_for(by, |_, s| services.poll(s)).expect("wait");
    }

    /// Connect and wait for the outcome.
    pub fn try_connect(&mut self, to: IpEndpoint) -> (TcpSocket, Result<(), ConnectError>) {
        let mut sk = self.socket();
        sk.connect(&mut self.tb.client, to).expect("connect");
        self.run_until(|c| sk.connect_status(c) != Err(ConnectError::WouldBlock));
        let status = sk.connect_status(&mut self.tb.client);
        (sk, status)
    }

    /// Connect an existing (CLOSED) client socket again.
    pub fn reconnect(&mut self, sk: &mut TcpSocket, port: u16) {
        sk.connect(&mut self.tb.client, Self::server_v4(port))
            .expect("connect");
        self.run_until(|c| sk.connect_status(c) != Err(ConnectError::WouldBlock));
        sk.connect_status(&mut self.tb.client).expect("connected");
    }

    pub fn connect(&mut self, port: u16) -> TcpSocket {
        let (sk, status) = self.try_connect(Self::server_v4(port));
        status.expect("connected");
        sk
    }

    /// Queue all of `bytes`, letting the network run while the buffer is full.
    pub fn send(&mut self, sk: &mut TcpSocket, bytes: &[u8]) {
        let mut sent = 0;
        while sent < bytes.len() {
            match sk.send(&mut self.tb.client, &bytes[sent..]) {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => self.step(),
                Err(e) => panic!("send: {e}"),
            }
        }
    }

    /// Send each piece separately, letting the network carry each before the next.
    pub fn send_pieces(&mut self, sk: &mut TcpSocket, pieces: &[&[u8]]) {
        for piece in pieces {
            self.send(sk, piece);
            self.step();
        }
    }

    /// One round at the current instant: settle the network, give the services a turn,
    /// settle again.
    pub fn step(&mut self) {
        self.tb.settle();
        self.services.poll(&mut self.tb.server);
        self.tb.settle();
    }

    /// Read until `n` bytes came.
    pub fn recv_exact(&mut self, sk: &mut TcpSocket, n: usize) -> Vec<u8> {
        let mut got = Vec::new();
        self.run_until(|c| {
            let mut buf = [0u8; 4096];
            let want = (n - got.len()).min(buf.len());
            match sk.recv(c, &mut buf[..want]) {
                Ok(0) => panic!("end of stream after {} of {n} bytes", got.len()),
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(RecvError::WouldBlock) => {}
                Err(e) => panic!("recv: {e}"),
            }
            got.len() == n
        });
        got
    }

    /// Read one line (without its `\n`).
    pub fn recv_line(&mut self, sk: &mut TcpSocket) -> String {
        let mut got = Vec::new();
        self.run_until(|c| {
            let mut byte = [0u8; 1];
            match sk.recv(c, &mut byte) {
                Ok(0) => panic!(
                    "end of stream inside a line: {:?}",
                    String::from_utf8_lossy(&got)
                ),
                Ok(_) if byte[0] == b'\n' => return true,
                Ok(_) => got.push(byte[0]),
                Err(RecvError::WouldBlock) => {}
                Err(e) => panic!("recv: {e}"),
            }
            false
        });
        String::from_utf8(got).expect("reply is UTF-8")
    }

    /// Read everything until the server closes; `Err` if the connection was reset.
    pub fn recv_to_eof(&mut self, sk: &mut TcpSocket) -> Result<Vec<u8>, RecvError> {
        let mut got = Vec::new();
        let mut result = None;
        self.run_until(|c| {
            let mut buf = [0u8; 4096];
            match sk.recv(c, &mut buf) {
                Ok(0) => result = Some(Ok(())),
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(RecvError::WouldBlock) => {}
                Err(e) => result = Some(Err(e)),
            }
            result.is_some()
        });
        result.unwrap().map(|()| got)
    }

    /// Wait until `sk` is fully closed and every service socket listens again.
    pub fn finish(&mut self, sk: &mut TcpSocket) {
        let services = &mut *self.services;
        self.tb
            .run(LIMIT, |c, s| {
                services.poll(s);
                matches!(sk.state(c), Some(State::Closed) | None) && services.busy(s) == 0
            })
            .expect("finish");
    }
}

pub fn any_v4() -> IpAddress {
    Host::SERVER.ipv4_addr()
}
