//! edge-nal's UDP traits on the async facade: a server and a client written against
//! edge-nal only, over the in-memory wire, and what Linux does at the edges (checked with
//! Python on 127.0.0.1): bind twice, port 0, a datagram larger than the buffer, connected
//! filtering, datagrams queued before `connect`, split halves at the same time, drops
//! mid-wait.

use std::future::Future;
use std::net::SocketAddr;

use edge_nal::{
    MulticastV4, MulticastV6, Readable, UdpBind, UdpConnect, UdpReceive, UdpSend, UdpSplit,
    UdpSplitMulticast,
};
use embassy_futures::block_on;
use embassy_futures::join::join;
use embassy_futures::select::{Either, select};
use sockless::async_sockets::{EdgeUdp, MAX_EDGE_UDP_SOCKETS, yield_now};
use sockless::smoltcp::time::Duration;
use sockless::socket::{Errno, NetError};
use sockless::testbed::{AsyncTestbed, RunError};
use sockless::{Host, StackStorage, UdpBuffers};

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

fn testbed() -> &'static AsyncTestbed<'static> {
    leak(AsyncTestbed::new(
        leak(StackStorage::<16>::new()),
        leak(StackStorage::<16>::new()),
    ))
}

type Buffers = UdpBuffers<4, 1024>;

fn buffers(n: usize) -> &'static mut [Buffers] {
    Vec::leak((0..n).map(|_| UdpBuffers::new()).collect())
}

type Edge = EdgeUdp<'static, 'static, 4, 1024>;

fn edge(stack: &'static sockless::async_sockets::AsyncStack<'static>, n: usize) -> &'static Edge {
    leak(EdgeUdp::new(stack, buffers(n)))
}

fn any(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

fn server(port: u16) -> SocketAddr {
    SocketAddr::from((Host::SERVER.ipv4_addr(), port))
}

fn client(port: u16) -> SocketAddr {
    SocketAddr::from((Host::CLIENT.ipv4_addr(), port))
}

fn run<T>(tb: &AsyncTestbed<'static>, program: impl Future<Output = T>) -> Result<T, RunError> {
    match block_on(select(program, tb.run())) {
        Either::First(done) => Ok(done),
        Either::Second(stopped) => Err(stopped),
    }
}

/// Wait `by` of the testbed's virtual time.
async fn sleep(tb: &AsyncTestbed<'static>, by: Duration) {
    let until = tb.now() + by;
    tb.client.sleep_until(until).await;
}

// ---- the tutorial's UDP `ok` server and its client, against edge-nal only -------------

/// Python:
/// ```python
/// sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
/// sk.bind(ip_port)
/// while True:
///     data, addr = sk.recvfrom(1024)
///     sk.sendto(b'ok', addr)
/// ```
async fn ok_server<B: UdpBind>(binder: &B, port: u16, answers: usize) -> Vec<Vec<u8>> {
    let mut sk = binder.bind(any(port)).await.unwrap();
    let mut heard = Vec::new();
    for _ in 0..answers {
        let mut data = [0u8; 1024];
        let (n, addr) = sk.receive(&mut data).await.unwrap();
        heard.push(data[..n].to_vec());
        sk.send(addr, b"ok").await.unwrap();
    }
    heard
}

/// Python:
/// ```python
/// sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
/// for inp in lines:
///     sk.sendto(inp, ip_port)
///     data, addr = sk.recvfrom(1024)
/// sk.close()
/// ```
async fn ok_client<C: UdpConnect>(connector: &C, to: SocketAddr, lines: &[&str]) -> Vec<String> {
    let mut sk = connector.connect(any(0), to).await.unwrap();
    let mut answers = Vec::new();
    for line in lines {
        sk.send(to, line.as_bytes()).await.unwrap();
        let mut data = [0u8; 1024];
        let (n, from) = sk.receive(&mut data).await.unwrap();
        assert_eq!(from, to);
        answers.push(String::from_utf8(data[..n].to_vec()).unwrap());
    }
    answers
}

#[test]
fn the_tutorials_udp_ok_conversation_on_edge_nal_traits_only() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    let lines = ["hello", "请求占领地球", "exit"];
    let (heard, answers) = run(
        tb,
        join(ok_server(s, 9999, 3), ok_client(c, server(9999), &lines)),
    )
    .unwrap();
    assert_eq!(answers, ["ok", "ok", "ok"]);
    let heard: Vec<String> = heard
        .into_iter()
        .map(|h| String::from_utf8(h).unwrap())
        .collect();
    assert_eq!(heard, lines);
}

#[test]
fn twenty_clients_one_after_another_reuse_one_sockets_buffers() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    run(tb, async {
        let clients = async {
            for i in 0..20 {
                let text = format!("call {i}");
                assert_eq!(ok_client(c, server(7), &[&text]).await, ["ok"]);
            }
        };
        join(ok_server(s, 7, 20), clients).await;
        assert_eq!(c.unused_buffers(), 0);
    })
    .unwrap();
}

// ---- bind: port 0, twice, after a drop -----------------------------------------------

#[test]
fn bind_port_zero_is_ephemeral_twice_is_eaddrinuse_and_a_drop_frees_the_port() {
    let tb = testbed();
    let s = edge(&tb.server, 3);
    run(tb, async {
        let a = s.bind(any(0)).await.unwrap();
        let b = s.bind(any(0)).await.unwrap();
        assert!(a.local_port() >= 49152 && b.local_port() >= 49152);
        assert_ne!(a.local_port(), b.local_port());
        // Python: OSError: [Errno 98] Address already in use
        let again = s.bind(any(a.local_port())).await.err();
        assert_eq!(again, Some(NetError::Errno(Errno::EADDRINUSE)));
        let port = a.local_port();
        drop(a);
        let a2 = s.bind(any(port)).await.unwrap();
        assert_eq!(a2.local_port(), port);
        // Two sockets open and one buffer left: a third, then none.
        let c = s.bind(any(5)).await.unwrap();
        assert_eq!(
            s.bind(any(6)).await.err(),
            Some(NetError::Errno(Errno::ENOBUFS))
        );
        drop((b, c));
        // Dropped sockets come back for the next binds.
        let _d = s.bind(any(6)).await.unwrap();
        let _e = s.bind(any(0)).await.unwrap();
    })
    .unwrap();
}

#[test]
fn a_socket_dropped_right_after_send_still_sends_and_its_port_is_free_at_once() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    run(tb, async {
        let mut listener = c.bind(any(5000)).await.unwrap();
        {
            let mut sk = s.bind(any(9999)).await.unwrap();
            sk.send(client(5000), b"last words").await.unwrap();
            // Dropped with the datagram still queued.
        }
        // Bound again at once (the same socket: its datagram still goes).
        let mut again = s.bind(any(9999)).await.unwrap();
        let mut buf = [0u8; 32];
        let (n, from) = listener.receive(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"last words"[..], server(9999)));
        // And the new socket works.
        listener.send(server(9999), b"hi").await.unwrap();
        let (n, from) = again.receive(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], client(5000)));
    })
    .unwrap();
}

// ---- receive: larger than the buffer, readable, connected filtering ------------------

#[test]
fn a_datagram_larger_than_the_buffer_is_cut_and_its_full_size_returned() {
    // Python: n, addr = sk.recvfrom_into(bytearray(4), 0, socket.MSG_TRUNC) gives 10.
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    run(tb, async {
        let mut sk = s.bind(any(7)).await.unwrap();
        let mut cl = c.bind(any(0)).await.unwrap();
        cl.send(server(7), b"0123456789").await.unwrap();
        cl.send(server(7), b"next").await.unwrap();
        let mut small = [0u8; 4];
        let (n, _) = sk.receive(&mut small).await.unwrap();
        assert_eq!((n, &small), (10, b"0123"));
        // The rest was dropped: the next receive is the next datagram.
        let (n, _) = sk.receive(&mut small).await.unwrap();
        assert_eq!((n, &small), (4, b"next"));
        // An empty datagram, and an empty buffer.
        cl.send(server(7), b"").await.unwrap();
        cl.send(server(7), b"xy").await.unwrap();
        assert_eq!(sk.receive(&mut small).await.unwrap().0, 0);
        assert_eq!(sk.receive(&mut []).await.unwrap().0, 2);
    })
    .unwrap();
}

#[test]
fn a_connected_socket_hears_only_its_peer_and_sends_only_to_it() {
    // Python on Linux: after u.connect(x), y's datagrams are dropped on arrival, x's
    // received; u.send goes to x.
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 2), edge(&tb.server, 1));
    run(tb, async {
        let mut x = c.bind(any(1001)).await.unwrap();
        let mut y = c.bind(any(1002)).await.unwrap();
        let mut u = s.connect(any(7), client(1001)).await.unwrap();
        assert_eq!(u.local_port(), 7);
        assert_eq!(u.peer().map(SocketAddr::from), Some(client(1001)));
        let mut buf = [0u8; 32];
        // While it waits: y's datagram is dropped, x's wakes it.
        let receiving = async {
            let (n, from) = u.receive(&mut buf).await.unwrap();
            (buf[..n].to_vec(), from)
        };
        let sending = async {
            y.send(server(7), b"y").await.unwrap();
            sleep(tb, Duration::from_millis(5)).await;
            x.send(server(7), b"x").await.unwrap();
        };
        let (got, ()) = join(receiving, sending).await;
        assert_eq!(got, (b"x".to_vec(), client(1001)));
        // Both queued before it looks: readable() and receive() skip y's.
        y.send(server(7), b"y2").await.unwrap();
        x.send(server(7), b"x2").await.unwrap();
        sleep(tb, Duration::from_millis(5)).await;
        u.readable().await.unwrap();
        let (n, from) = u.receive(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"x2"[..], client(1001)));
        // send goes to the peer whatever address it is given (edge-nal's rule).
        u.send(client(1002), b"to-peer").await.unwrap();
        let (n, from) = x.receive(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"to-peer"[..], server(7)));
        let quiet = select(y.receive(&mut buf), sleep(tb, Duration::from_millis(20))).await;
        assert!(matches!(quiet, Either::Second(())));
    })
    .unwrap();
}

// ---- sending where Linux would not, and multicast -------------------------------------

#[test]
fn unspecified_addresses_port_zero_and_multicast_are_errors_never_panics() {
    let tb = testbed();
    let s = edge(&tb.server, 2);
    run(tb, async {
        let mut sk = s.bind(any(0)).await.unwrap();
        let unreachable = Some(NetError::Errno(Errno::ENETUNREACH));
        assert_eq!(sk.send(any(7), b"x").await.err(), unreachable);
        assert_eq!(sk.send(client(0), b"x").await.err(), unreachable);
        assert_eq!(s.connect(any(0), any(7)).await.err(), unreachable);
        assert_eq!(s.connect(any(0), client(0)).await.err(), unreachable);
        // Larger than a frame carries: EMSGSIZE, as Linux past 65507 bytes.
        let big = vec![0u8; 2000];
        assert_eq!(
            sk.send(client(7), &big).await.err(),
            Some(NetError::Errno(Errno::EMSGSIZE))
        );
        let unsupported = Some(NetError::Errno(Errno::EOPNOTSUPP));
        let group = std::net::Ipv4Addr::new(224, 0, 0, 251);
        let here = std::net::Ipv4Addr::new(192, 168, 69, 1);
        assert_eq!(sk.join_v4(group, here).await.err(), unsupported);
        assert_eq!(sk.leave_v4(group, here).await.err(), unsupported);
        let group6 = "ff02::fb".parse().unwrap();
        assert_eq!(sk.join_v6(group6, 0).await.err(), unsupported);
        assert_eq!(sk.leave_v6(group6, 0).await.err(), unsupported);
        let (_, _, mut v4, mut v6) = sk.split_multicast();
        assert_eq!(v4.join_v4(group, here).await.err(), unsupported);
        assert_eq!(v6.join_v6(group6, 1).await.err(), unsupported);
        assert_eq!(
            embedded_io_async::Error::kind(&NetError::Errno(Errno::EOPNOTSUPP)),
            embedded_io_async::ErrorKind::Unsupported
        );
    })
    .unwrap();
}

// ---- split halves, drops mid-wait ----------------------------------------------------

#[test]
fn split_halves_of_a_server_echo_while_its_client_sends() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    run(tb, async {
        let mut sk = s.bind(any(7)).await.unwrap();
        let mut cl = c.connect(any(0), server(7)).await.unwrap();
        let (mut rx, mut tx) = sk.split();
        let (mut crx, mut ctx) = cl.split();
        let echo = async {
            let mut buf = [0u8; 16];
            for _ in 0..10 {
                let (n, from) = rx.receive(&mut buf).await.unwrap();
                tx.send(from, &buf[..n]).await.unwrap();
            }
        };
        let send = async {
            for i in 0..10 {
                ctx.send(server(7), format!("{i}").as_bytes())
                    .await
                    .unwrap();
                if i % 3 == 0 {
                    sleep(tb, Duration::from_millis(1)).await;
                }
            }
        };
        let receive = async {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while got.len() < 10 {
                let (n, _) = crx.receive(&mut buf).await.unwrap();
                got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
            }
            got
        };
        let ((), ((), got)) = join(echo, join(send, receive)).await;
        let want: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
    })
    .unwrap();
}

#[test]
fn a_receive_dropped_mid_wait_loses_no_datagram() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    run(tb, async {
        let mut sk = s.bind(any(7)).await.unwrap();
        let mut cl = c.bind(any(0)).await.unwrap();
        let mut buf = [0u8; 16];
        // A receive that gives up after 20 ms with nothing (its future dropped).
        let waited = select(sk.receive(&mut buf), sleep(tb, Duration::from_millis(20))).await;
        assert!(matches!(waited, Either::Second(())));
        cl.send(server(7), b"kept").await.unwrap();
        // A readable() dropped once the datagram is there: still queued.
        let ready = select(sk.readable(), sleep(tb, Duration::from_secs(1))).await;
        assert!(matches!(ready, Either::First(Ok(()))));
        let (n, _) = sk.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");
    })
    .unwrap();
}

#[test]
fn a_socket_dropped_while_its_receive_waits_elsewhere_frees_the_port_for_the_next_bind() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 1));
    run(tb, async {
        for round in 0..3u8 {
            let mut sk = s.bind(any(7)).await.unwrap();
            {
                let (mut rx, _tx) = sk.split();
                let mut buf = [0u8; 4];
                let waited = select(rx.receive(&mut buf), yield_now()).await;
                assert!(matches!(waited, Either::Second(())));
            }
            drop(sk);
            // A datagram to the closed port finds nobody (Linux: ICMP unreachable).
            let mut cl = c.bind(any(0)).await.unwrap();
            cl.send(server(7), &[round]).await.unwrap();
            sleep(tb, Duration::from_millis(5)).await;
            drop(cl);
            let mut sk = s.bind(any(7)).await.unwrap();
            let mut buf = [0u8; 4];
            let waited = select(sk.receive(&mut buf), sleep(tb, Duration::from_millis(5))).await;
            assert!(
                matches!(waited, Either::Second(())),
                "nothing from the last socket"
            );
        }
    })
    .unwrap();
}

#[test]
fn more_binds_than_sockets_kept_is_enobufs_never_a_panic() {
    let tb = testbed();
    let s: &'static EdgeUdp<'static, 'static, 1, 64> = leak(EdgeUdp::new(
        &tb.server,
        Vec::leak(
            (0..MAX_EDGE_UDP_SOCKETS + 2)
                .map(|_| UdpBuffers::new())
                .collect(),
        ),
    ));
    run(tb, async {
        let mut open = Vec::new();
        let mut last = None;
        for _ in 0..MAX_EDGE_UDP_SOCKETS + 2 {
            match s.bind(any(0)).await {
                Ok(sk) => open.push(sk),
                Err(e) => last = Some(e),
            }
        }
        // The stack's table (16 slots) or the adapter's limit, whichever comes first.
        assert!(open.len() <= MAX_EDGE_UDP_SOCKETS);
        assert!(matches!(
            last,
            Some(NetError::Errno(Errno::ENOBUFS | Errno::EMFILE))
        ));
        drop(open);
        let _again = s.bind(any(0)).await.unwrap();
    })
    .unwrap();
}

#[test]
fn a_socket_dropped_while_the_stack_is_busy_frees_its_port_at_the_next_bind() {
    let tb = testbed();
    let (c, s) = (edge(&tb.client, 1), edge(&tb.server, 2));
    run(tb, async {
        let sk = s.bind(any(7)).await.unwrap();
        // Dropped inside a borrow of its stack (an observer's code): it cannot unbind.
        tb.server.with(|_| drop(sk)).unwrap();
        // The next bind settles it: port 7 again, and it works.
        let mut again = s.bind(any(7)).await.unwrap();
        let mut cl = c.bind(any(0)).await.unwrap();
        cl.send(server(7), b"hi").await.unwrap();
        let mut buf = [0u8; 4];
        let (n, _) = again.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hi");
        // Both buffers are still there for two sockets at once.
        let _other = s.bind(any(8)).await.unwrap();
        assert_eq!(s.unused_buffers(), 0);
    })
    .unwrap();
}
