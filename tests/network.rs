//! More than two hosts (issue 16): stacks on a switch, in virtual time.

use sockless::phy::{Link, Switch};
use sockless::services::{ECHO_PORT, ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{ConnectError, RecvError, SendError};
use sockless::testbed::Network;
use sockless::{Host, Stack, StackStorage, TcpBuffers, TcpSocket};

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

const SERVER: usize = 0;

/// One echo client: what it sent and what came back.
struct Talker {
    sk: TcpSocket,
    port: usize,
    data: Vec<u8>,
    sent: usize,
    back: Vec<u8>,
}

impl Talker {
    fn new(stacks: &mut [Stack<'static>], port: usize, len: usize) -> Talker {
        let stack = &mut stacks[port];
        let mut sk = TcpSocket::new(stack, leak(TcpBuffers::<4096, 4096>::new())).unwrap();
        sk.connect(stack, IpEndpoint::new(Host::SERVER.ipv4_addr(), ECHO_PORT))
            .unwrap();
        Talker {
            sk,
            port,
            data: (0..len).map(|i| (i * 7 % 251) as u8).collect(),
            sent: 0,
            back: Vec::new(),
        }
    }

    /// Send and read what it can; whether all came back.
    fn step(&mut self, stacks: &mut [Stack<'static>]) -> bool {
        let stack = &mut stacks[self.port];
        if self.sk.connect_status(stack) == Err(ConnectError::WouldBlock) {
            return false;
        }
        match self.sk.send(stack, &self.data[self.sent..]) {
            Ok(n) => self.sent += n,
            Err(SendError::WouldBlock) => {}
            Err(_) => return false,
        }
        let mut buf = [0u8; 2048];
        loop {
            match self.sk.recv(stack, &mut buf) {
                Ok(n) if n > 0 => self.back.extend_from_slice(&buf[..n]),
                Ok(_) | Err(RecvError::WouldBlock) | Err(_) => break,
            }
        }
        self.back.len() == self.data.len()
    }
}

#[test]
fn a_partition_cuts_one_client_off_the_other_is_unaffected_and_the_server_reaps_it() {
    // A server and two clients on a switch, 5 ms per port.
    let mut switch = Switch::<3>::new();
    switch.set_links(Link::IDEAL.latency(Duration::from_millis(5)));
    let net: &'static mut Network<'static, 3> = leak(Network::new(switch));
    assert_eq!(
        net.add(
            Host::SERVER,
            leak(StackStorage::<{ ServiceStorage::<4, 2048>::SOCKETS }>::new())
        ),
        Some(SERVER)
    );
    let one = net
        .add(Host::nth(1), leak(StackStorage::<4>::new()))
        .unwrap();
    let two = net
        .add(Host::nth(2), leak(StackStorage::<4>::new()))
        .unwrap();
    assert_eq!(
        net.add(Host::nth(3), leak(StackStorage::<4>::new())),
        None,
        "3 ports"
    );
    let services: &'static mut Services<4> = leak(
        Services::start(
            &mut net.stacks()[SERVER],
            ServiceStorage::<4, 2048>::init(Box::leak(Box::new_uninit())),
            ServiceConfig {
                idle_timeout: Some(Duration::from_secs(30)),
                ..ServiceConfig::default()
            },
        )
        .unwrap(),
    );

    let mut first = Talker::new(net.stacks(), one, 256 * 1024);
    let mut second = Talker::new(net.stacks(), two, 256 * 1024);
    // Both talk until the first is a quarter through...
    net.run(Duration::from_secs(60), |stacks| {
        services.poll(&mut stacks[SERVER]);
        first.step(stacks);
        second.step(stacks);
        first.back.len() >= 64 * 1024
    })
    .unwrap();
    assert!(second.back.len() > 16 * 1024, "both were talking");
    assert_eq!(services.echo.active(), 2);

    // ... then the first client's cable is pulled: no FIN, no RST, nothing either way.
    net.switch.disconnect(one);
    let cut_at = net.now();
    let stalled_at = first.back.len();
    net.run(Duration::from_secs(60), |stacks| {
        services.poll(&mut stacks[SERVER]);
        first.step(stacks);
        second.step(stacks)
    })
    .unwrap();
    assert!(
        second.back == second.data,
        "the second client got all its echo back"
    );
    assert_eq!(first.back.len(), stalled_at, "nothing more for the first");
    assert!(
        net.switch.stats(one).dropped_partition > 0,
        "the first kept trying"
    );
    // The second says goodbye properly.
    second.sk.close(&mut net.stacks()[two]);

    // The server hears nothing from the first for its 30 s idle timeout, and resets it.
    net.run(Duration::from_secs(120), |stacks| {
        services.poll(&mut stacks[SERVER]);
        first.step(stacks);
        services.echo.stats().timed_out == 1
    })
    .unwrap();
    let after = net.now() - cut_at;
    assert!(
        after >= Duration::from_secs(30) && after < Duration::from_secs(32),
        "reaped after the 30 s idle timeout, not {after}"
    );
    assert_eq!(services.echo.stats().timed_out, 1, "only the first");
    assert_eq!(services.echo.active(), 0);
}
