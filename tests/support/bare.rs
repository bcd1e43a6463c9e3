//! A bare testbed: a client and a server stack on the wire, one listener of a test's own
//! on port 7, and the small moves a test of the connection core makes frame by frame.

use sockless::phy::End;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::{Host, Listener, StackStorage, TcpBuffers, TcpSocket, Testbed};

use super::LIMIT;

pub fn server_v4(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), port)
}

pub fn server_v6(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv6_addr(), port)
}

pub fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

/// A testbed with a listener of `pool` sockets (backlog = pool) on port 7 (room for up to
/// `P` in its pool).
pub fn bare<const P: usize>(pool: usize) -> (&'static mut Testbed<'static>, Listener<P>) {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<40>::new()),
        leak(StackStorage::<16>::new()),
    ));
    let buffers: &'static mut [TcpBuffers<1024, 1024>] =
        Vec::leak((0..pool).map(|_| TcpBuffers::new()).collect());
    let listener = Listener::<P>::listen(&mut tb.server, 7, pool, buffers).unwrap();
    (tb, listener)
}

/// A fresh client socket (its buffers leak: tests are short).
pub fn client(tb: &mut Testbed<'static>) -> TcpSocket {
    TcpSocket::new(&mut tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap()
}

/// Poll one stack once at the testbed's time (frames move one hop).
pub fn poll(tb: &mut Testbed<'static>, end: End) {
    let now = tb.now();
    match end {
        End::A => tb.client.poll(now, &mut tb.wire.port(End::A)),
        End::B => tb.server.poll(now, &mut tb.wire.port(End::B)),
    };
}

/// Connect `sk` (bound or not) to port 7 and accept on the server; the accepted socket.
pub fn connect_and_accept<const P: usize>(
    tb: &mut Testbed<'static>,
    listener: &mut Listener<P>,
    sk: &mut TcpSocket,
) -> TcpSocket {
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    accept_connected(tb, listener, sk)
}

/// Run until `sk`'s connect (already started) succeeded and the server accepted it; the
/// accepted socket.
pub fn accept_connected<const P: usize>(
    tb: &mut Testbed<'static>,
    listener: &mut Listener<P>,
    sk: &mut TcpSocket,
) -> TcpSocket {
    let mut conn = None;
    tb.run(LIMIT, |c, s| {
        conn = conn.take().or_else(|| listener.accept(s).ok());
        conn.is_some() && sk.connect_status(c).is_ok()
    })
    .unwrap();
    conn.unwrap()
}
