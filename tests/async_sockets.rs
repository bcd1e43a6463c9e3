//! The async facade: the tutorial's conversations as straight-line code, the backlog,
//! timeouts, cancellation, and waking by smoltcp's wakers (not by busy polling).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use embassy_futures::block_on;
use embassy_futures::join::join;
use embassy_futures::select::{Either, select};
use sockless::async_sockets::{AsyncListener, AsyncTcpStream, AsyncUdpSocket};
use sockless::smoltcp::time::{Duration, Instant};
use sockless::smoltcp::wire::{IpAddress, IpEndpoint};
use sockless::socket::{AcceptError, ConnectError, RecvError, Shutdown};
use sockless::testbed::{AsyncTestbed, RunError};
use sockless::{Host, StackStorage, TcpBuffers, UdpBuffers};

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

fn testbed() -> &'static AsyncTestbed<'static> {
    leak(AsyncTestbed::new(
        leak(StackStorage::<16>::new()),
        leak(StackStorage::<16>::new()),
    ))
}

fn pool(n: usize) -> &'static mut [TcpBuffers<1024, 1024>] {
    Vec::leak((0..n).map(|_| TcpBuffers::new()).collect())
}

fn at_server(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), port)
}

/// Run `program` beside the testbed's runner; the program's result, or why the network
/// stopped first.
fn run<T>(tb: &AsyncTestbed<'static>, program: impl Future<Output = T>) -> Result<T, RunError> {
    match block_on(select(program, tb.run())) {
        Either::First(done) => Ok(done),
        Either::Second(stopped) => Err(stopped),
    }
}

#[test]
fn the_tutorials_first_conversation_line_for_line() {
    let tb = testbed();
    let answer = run(tb, async {
        // sk = socket.socket(); sk.bind(ip_port); sk.listen(5)
        let mut sk = AsyncListener::<2>::listen(&tb.server, 9999, 2, pool(2)).unwrap();
        let server = async {
            // conn, addr = sk.accept()
            let (mut conn, addr) = sk.accept().await.unwrap();
            assert_eq!(addr.addr, Host::CLIENT.ipv4_addr());
            // client_data = conn.recv(1024)
            let mut data = [0u8; 1024];
            let n = conn.recv(&mut data).await.unwrap();
            assert_eq!(&data[..n], "请求占领地球".as_bytes());
            // conn.sendall('不要回答,不要回答,不要回答')
            conn.send_all("不要回答,不要回答,不要回答".as_bytes())
                .await
                .unwrap();
            // conn.close()
            conn.close().await
        };
        let client = async {
            // sk = socket.socket(); sk.connect(ip_port)
            let mut sk =
                AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
            sk.connect(at_server(9999)).await.unwrap();
            // sk.sendall('请求占领地球')
            sk.send_all("请求占领地球".as_bytes()).await.unwrap();
            // server_reply = sk.recv(1024)
            let mut reply = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                let n = sk.recv(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                reply.extend_from_slice(&buf[..n]);
            }
            String::from_utf8(reply).unwrap()
        };
        let (acked, reply) = join(server, client).await;
        assert!(acked, "close() returns once the FIN is acknowledged");
        reply
    })
    .unwrap();
    assert_eq!(answer, "不要回答,不要回答,不要回答");
}

#[test]
fn udp_ok_server_and_its_client() {
    let tb = testbed();
    run(tb, async {
        let mut sk =
            AsyncUdpSocket::bind(&tb.server, 9999, leak(UdpBuffers::<4, 1024>::new())).unwrap();
        let server = async {
            for _ in 0..3 {
                let mut buf = [0u8; 1024];
                let (_, addr) = sk.recv_from(&mut buf).await.unwrap();
                sk.send_to(b"ok", addr).await.unwrap();
            }
        };
        let client = async {
            let mut sk =
                AsyncUdpSocket::bind(&tb.client, 0, leak(UdpBuffers::<4, 1024>::new())).unwrap();
            for line in ["one", "two", "three"] {
                sk.send_to(line.as_bytes(), at_server(9999)).await.unwrap();
                let mut buf = [0u8; 16];
                let (n, from) = sk.recv_from(&mut buf).await.unwrap();
                assert_eq!((&buf[..n], from), (&b"ok"[..], at_server(9999)));
            }
        };
        join(server, client).await;
    })
    .unwrap();
}

#[test]
fn a_full_pool_queues_the_next_caller_and_accept_is_first_come_first_served() {
    let tb = testbed();
    run(tb, async {
        let mut listener = AsyncListener::<2>::listen(&tb.server, 7, 2, pool(2)).unwrap();
        let mut clients: Vec<_> = (0..3)
            .map(|_| {
                AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap()
            })
            .collect();
        let [a, b, c] = &mut clients[..] else {
            unreachable!()
        };
        // Three callers, one after another; the pool has room for two.
        let callers = async {
            a.connect(at_server(7)).await.unwrap();
            b.connect(at_server(7)).await.unwrap();
            // The third waits (its SYN is held, then retransmitted): it gets in once
            // the server closes one.
            c.connect(at_server(7)).await.unwrap();
            [a.local_addr(), b.local_addr(), c.local_addr()].map(|e| e.unwrap().port)
        };
        let accepter = async {
            let (first, p1) = listener.accept().await.unwrap();
            let (second, p2) = listener.accept().await.unwrap();
            drop(first); // close: its socket goes back to the pool
            let (_third, p3) = listener.accept().await.unwrap();
            drop(second);
            [p1.port, p2.port, p3.port]
        };
        let (ports, accepted) = join(callers, accepter).await;
        assert_eq!(
            ports, accepted,
            "accepted in the order the handshakes finished"
        );
        let counts = tb
            .server
            .with(|s| listener.listener().unwrap().syn_counts(s))
            .unwrap();
        assert_eq!((counts.accepted, counts.refused), (3, 0));
        assert!(counts.queued >= 1);
    })
    .unwrap();
}

#[test]
fn settimeout_on_accept_recv_and_connect() {
    let tb = testbed();
    run(tb, async {
        // accept: nobody comes.
        let mut listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
        listener.set_timeout(Some(Duration::from_secs(2)));
        let start = tb.now();
        assert_eq!(listener.accept().await.err(), Some(AcceptError::TimedOut));
        assert_eq!(tb.now() - start, Duration::from_secs(2));

        // recv: connected, nothing sent.
        listener.set_timeout(None);
        let mut sk =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        let (connected, accepted) = join(sk.connect(at_server(7)), listener.accept()).await;
        connected.unwrap();
        let (_conn, _) = accepted.unwrap();
        sk.set_timeout(Some(Duration::from_secs(3)));
        let start = tb.now();
        let mut buf = [0u8; 8];
        assert_eq!(sk.recv(&mut buf).await, Err(RecvError::TimedOut));
        let waited = tb.now() - start;
        assert!(
            waited >= Duration::from_secs(3) && waited < Duration::from_millis(3100),
            "{waited}"
        );

        // connect: to an address nobody has (no ARP answer).
        let mut lost =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        lost.set_timeout(Some(Duration::from_secs(4)));
        let start = tb.now();
        let nobody = IpEndpoint::new(IpAddress::v4(192, 168, 69, 77), 7);
        assert_eq!(lost.connect(nobody).await, Err(ConnectError::TimedOut));
        assert!(tb.now() - start >= Duration::from_secs(4));
    })
    .unwrap();
}

#[test]
fn a_dropped_recv_loses_no_data_and_a_dropped_stream_leaks_no_socket() {
    let tb = testbed();
    let used_before = tb.client.with(|s| s.capacity().1).unwrap();
    run(tb, async {
        let mut listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
        let mut sk =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        let (connected, accepted) = join(sk.connect(at_server(7)), listener.accept()).await;
        connected.unwrap();
        let (mut conn, _) = accepted.unwrap();
        // A recv raced with a 1-second timer; the timer wins and the recv is dropped.
        let mut buf = [0u8; 64];
        let timer = sleep(tb, Duration::from_secs(1));
        match select(sk.recv(&mut buf), timer).await {
            Either::First(r) => panic!("nothing was sent, yet recv gave {r:?}"),
            Either::Second(()) => {}
        }
        // The data sent meanwhile is all there for the next recv.
        conn.send_all(b"every byte").await.unwrap();
        let n = sk.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"every byte");
        // Dropped streams close: the accepted socket returns to the pool (the
        // listener accepts again), the client's leaves the stack once CLOSED.
        drop(conn);
        sk.shutdown(Shutdown::Write);
        drop(sk);
        let mut again =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        let (connected, accepted) = join(again.connect(at_server(7)), listener.accept()).await;
        connected.unwrap();
        accepted.unwrap();
        drop(again);
        sleep(tb, Duration::from_secs(120)).await;
    })
    .unwrap();
    let used_after = tb.client.with(|s| s.capacity().1).unwrap();
    assert_eq!(
        used_after, used_before,
        "both client sockets left the stack"
    );
}

/// Wait `by` in virtual time (a timer on the client stack's clock).
async fn sleep(tb: &AsyncTestbed<'static>, by: Duration) {
    let until: Instant = tb.now() + by;
    tb.client.sleep_until(until).await
}

/// A waker that counts its wakes and says whether it was woken since last asked.
struct Flag {
    woken: AtomicBool,
    wakes: AtomicUsize,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn tasks_are_woken_by_the_stack_not_polled_blindly() {
    // An executor that polls the program only when its waker was woken (as embassy's
    // does), and the testbed's runner every time: if a wake were missing, the program
    // would never finish and the runner would report the network stalled.
    let tb = testbed();
    let mut listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
    let program = async {
        let mut sk =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        let (connected, accepted) = join(sk.connect(at_server(7)), listener.accept()).await;
        connected.unwrap();
        let (mut conn, _) = accepted.unwrap();
        sk.set_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 8];
        // Woken by the timer list, not by data.
        assert_eq!(sk.recv(&mut buf).await, Err(RecvError::TimedOut));
        sk.set_timeout(None);
        let (sent, got) = join(conn.send_all(b"ping"), sk.recv(&mut buf)).await;
        sent.unwrap();
        assert_eq!(&buf[..got.unwrap()], b"ping");
    };
    let flag = Arc::new(Flag {
        woken: AtomicBool::new(true),
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(flag.clone());
    let mut program = pin!(program);
    let mut runner = pin!(tb.run());
    let noop = Waker::noop();
    let mut polls = 0;
    loop {
        if flag.woken.swap(false, Ordering::SeqCst) {
            polls += 1;
            if program
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                break;
            }
        }
        if let Poll::Ready(stopped) = runner.as_mut().poll(&mut Context::from_waker(noop)) {
            panic!("the program was never woken: {stopped:?} after {polls} polls");
        }
    }
    assert!(polls < 50, "{polls} polls: woken far too often");
    assert!(flag.wakes.load(Ordering::SeqCst) >= 3);
}

#[test]
fn a_udp_socket_closed_right_after_sendto_still_sends_the_datagram() {
    // Python: sk.sendto(b'ok', addr); sk.close(): the datagram goes (found by the
    // tutorial's UDP server written async: its socket dropped after its last answer).
    let tb = testbed();
    run(tb, async {
        let mut client =
            AsyncUdpSocket::bind(&tb.client, 5000, leak(UdpBuffers::<4, 1024>::new())).unwrap();
        let used_before = tb.server.with(|s| s.capacity().1).unwrap();
        {
            let mut sk =
                AsyncUdpSocket::bind(&tb.server, 9999, leak(UdpBuffers::<4, 1024>::new())).unwrap();
            sk.send_to(
                b"last words",
                IpEndpoint::new(Host::CLIENT.ipv4_addr(), 5000),
            )
            .await
            .unwrap();
            // Dropped here: closed with the datagram still queued.
        }
        let mut buf = [0u8; 32];
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"last words"[..], at_server(9999)));
        // The slot left the stack once the datagram was out, and the port is free.
        assert_eq!(tb.server.with(|s| s.capacity().1).unwrap(), used_before);
        AsyncUdpSocket::bind(&tb.server, 9999, leak(UdpBuffers::<4, 1024>::new())).unwrap();
    })
    .unwrap();
}

/// A protocol written against embedded-io-async only: send a line, read the answer.
#[cfg(feature = "embedded-io-async")]
async fn ask<S: embedded_io_async::Read + embedded_io_async::Write>(
    stream: &mut S,
    line: &[u8],
) -> Result<Vec<u8>, S::Error> {
    stream.write_all(line).await?;
    stream.flush().await?;
    let mut answer = vec![0u8; line.len()];
    stream.read_exact(&mut answer).await.map_err(|e| match e {
        embedded_io_async::ReadExactError::Other(e) => e,
        embedded_io_async::ReadExactError::UnexpectedEof => panic!("EOF"),
    })?;
    Ok(answer)
}

#[cfg(feature = "embedded-io-async")]
#[test]
fn embedded_io_async_read_and_write_on_a_stream() {
    use embedded_io_async::Read as _;
    use sockless::socket::{Errno, NetError};
    let tb = testbed();
    run(tb, async {
        let mut listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
        let mut sk =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        let (connected, accepted) = join(sk.connect(at_server(7)), listener.accept()).await;
        connected.unwrap();
        let (mut conn, _) = accepted.unwrap();
        let echo = async {
            let mut buf = [0u8; 64];
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                buf[..n].make_ascii_uppercase();
                embedded_io_async::Write::write_all(&mut conn, &buf[..n])
                    .await
                    .unwrap();
            }
        };
        let client = async {
            assert!(embedded_io_async::WriteReady::write_ready(&mut sk).unwrap());
            assert!(!embedded_io_async::ReadReady::read_ready(&mut sk).unwrap());
            assert_eq!(ask(&mut sk, b"hello").await.unwrap(), b"HELLO");
            assert_eq!(
                ask(&mut sk, "世界".as_bytes()).await.unwrap(),
                "世界".as_bytes()
            );
            sk.shutdown(Shutdown::Write);
            // After our FIN, a write is a broken pipe (Python: BrokenPipeError).
            let err = embedded_io_async::Write::write(&mut sk, b"x")
                .await
                .unwrap_err();
            assert_eq!(err, NetError::Errno(Errno::EPIPE));
        };
        join(echo, client).await;
    })
    .unwrap();
}

// ---- edge-nal ------------------------------------------------------------------------

/// A server written against edge-nal only: bind, then answer each connection's bytes
/// upper-cased until it closes, `calls` times.
#[cfg(feature = "edge-nal")]
async fn edge_upper_server<B: edge_nal::TcpBind>(binder: &B, port: u16, calls: usize) {
    use edge_nal::TcpAccept as _;
    use embedded_io_async::{Read as _, Write as _};
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], port));
    let acceptor = binder.bind(addr).await.unwrap();
    for _ in 0..calls {
        let (_peer, mut conn) = acceptor.accept().await.unwrap();
        let mut buf = [0u8; 64];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            buf[..n].make_ascii_uppercase();
            conn.write_all(&buf[..n]).await.unwrap();
        }
    }
}

/// A client written against edge-nal only.
#[cfg(feature = "edge-nal")]
async fn edge_call<C: edge_nal::TcpConnect>(connector: &C, port: u16, text: &str) -> String {
    use edge_nal::TcpShutdown as _;
    use embedded_io_async::{Read as _, Write as _};
    let addr = std::net::SocketAddr::from((Host::SERVER.ipv4_addr(), port));
    let mut sk = connector.connect(addr).await.unwrap();
    sk.write_all(text.as_bytes()).await.unwrap();
    sk.close(edge_nal::Close::Write).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = sk.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(answer).unwrap()
}

#[cfg(feature = "edge-nal")]
#[test]
fn edge_nal_connect_and_bind_run_protocol_code_written_for_edge_nal() {
    use sockless::async_sockets::EdgeTcp;
    let tb = testbed();
    // One client socket's buffers for twenty calls: each dropped stream's socket is
    // kept for the next connect (once its connection is over).
    let client: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.client, pool(1));
    let server: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.server, pool(2));
    run(tb, async {
        let calls = async {
            for i in 0..20 {
                let text = format!("call {i}");
                assert_eq!(edge_call(&client, 6969, &text).await, text.to_uppercase());
            }
        };
        join(edge_upper_server(&server, 6969, 20), calls).await;
    })
    .unwrap();
}

#[cfg(feature = "edge-nal")]
#[test]
fn two_tasks_accepting_on_one_edge_acceptor_are_both_served() {
    use edge_nal::{TcpAccept as _, TcpBind as _};
    use embedded_io_async::{Read as _, Write as _};
    use sockless::async_sockets::EdgeTcp;
    let tb = testbed();
    let client: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.client, pool(2));
    let server: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.server, pool(2));
    run(tb, async {
        let acceptor = server
            .bind(std::net::SocketAddr::from(([0, 0, 0, 0], 7)))
            .await
            .unwrap();
        let task = |name: &'static [u8]| {
            let acceptor = &acceptor;
            async move {
                let (_, mut conn) = acceptor.accept().await.unwrap();
                conn.write_all(name).await.unwrap();
                let mut buf = [0u8; 1];
                // Wait for the caller to hang up.
                let _ = conn.read(&mut buf).await;
            }
        };
        let callers = async {
            let a = edge_call(&client, 7, "");
            let b = edge_call(&client, 7, "");
            let (a, b) = join(a, b).await;
            let mut got = [a, b];
            got.sort();
            assert_eq!(got, ["first".to_string(), "second".to_string()]);
        };
        join(join(task(b"first"), task(b"second")), callers).await;
    })
    .unwrap();
}

#[test]
fn a_dropped_listener_frees_its_port() {
    let tb = testbed();
    let listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
    assert_eq!(
        AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).err(),
        Some(sockless::socket::ListenError::AddrInUse)
    );
    drop(listener);
    let _again = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
}

#[cfg(feature = "edge-nal")]
#[test]
fn an_edge_client_socket_whose_peer_never_closes_comes_back_after_the_fin_timeout() {
    use edge_nal::{TcpAccept as _, TcpBind as _, TcpConnect as _};
    use sockless::async_sockets::EdgeTcp;
    use sockless::socket::{Errno, NetError};
    let tb = testbed();
    let client: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.client, pool(1));
    let server: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.server, pool(2));
    let addr = std::net::SocketAddr::from((Host::SERVER.ipv4_addr(), 7));
    run(tb, async {
        let acceptor = server
            .bind(std::net::SocketAddr::from(([0, 0, 0, 0], 7)))
            .await
            .unwrap();
        let (sk, accepted) = join(client.connect(addr), acceptor.accept()).await;
        // The server keeps its end open and never closes it.
        let (_peer, _kept) = accepted.unwrap();
        drop(sk.unwrap()); // FIN: the client's socket waits in FIN-WAIT-2
        sleep(tb, Duration::from_secs(1)).await;
        assert_eq!(
            client.connect(addr).await.err(),
            Some(NetError::Errno(Errno::ENOBUFS)),
            "the only socket is still closing"
        );
        // Linux lets an orphan go after tcp_fin_timeout (60 s); so does the stack.
        sleep(tb, Duration::from_secs(61)).await;
        let again = client.connect(addr).await;
        assert!(again.is_ok(), "{:?}", again.err());
    })
    .unwrap();
}

#[test]
fn settimeout_zero_is_non_blocking_as_in_python() {
    // Python: sk.settimeout(0) is sk.setblocking(False): accept, recv, recvfrom raise
    // BlockingIOError (EAGAIN) at once; gettimeout() is 0.0.
    use sockless::socket::{RecvFromError, SendError};
    let tb = testbed();
    run(tb, async {
        let mut listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
        listener.set_timeout(Some(Duration::ZERO));
        let start = tb.now();
        assert_eq!(listener.accept().await.err(), Some(AcceptError::WouldBlock));
        assert_eq!(tb.now(), start);

        let mut udp =
            AsyncUdpSocket::bind(&tb.server, 9, leak(UdpBuffers::<4, 1024>::new())).unwrap();
        udp.set_timeout(Some(Duration::ZERO));
        let mut buf = [0u8; 8];
        assert_eq!(
            udp.recv_from(&mut buf).await.err(),
            Some(RecvFromError::WouldBlock)
        );

        listener.set_timeout(None);
        let mut sk =
            AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
        let (connected, accepted) = join(sk.connect(at_server(7)), listener.accept()).await;
        connected.unwrap();
        let (mut conn, _) = accepted.unwrap();
        sk.set_timeout(Some(Duration::ZERO));
        assert_eq!(
            sk.with(|s, stack| s.timeout(stack)).unwrap(),
            Some(Duration::ZERO),
            "gettimeout() is 0.0"
        );
        let start = tb.now();
        assert_eq!(sk.recv(&mut buf).await, Err(RecvError::WouldBlock));
        assert_eq!(tb.now(), start);
        // Non-blocking send: what fits is queued, then BlockingIOError.
        let big = [7u8; 4096];
        assert_eq!(sk.send(&big).await, Ok(1024));
        assert_eq!(sk.send(&big).await, Err(SendError::WouldBlock));
        // Data there: returned at once, as Python's non-blocking recv.
        conn.send_all(b"hi").await.unwrap();
        sleep(tb, Duration::from_millis(5)).await;
        assert_eq!(sk.recv(&mut buf).await, Ok(2));
    })
    .unwrap();
}

#[cfg(feature = "edge-nal")]
#[test]
fn an_edge_stream_dropped_while_the_stack_is_busy_is_closed_at_the_next_chance() {
    use edge_nal::{TcpAccept as _, TcpBind as _, TcpConnect as _};
    use embedded_io_async::Read as _;
    use sockless::async_sockets::EdgeTcp;
    let tb = testbed();
    let client: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.client, pool(1));
    let server: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.server, pool(2));
    let addr = std::net::SocketAddr::from((Host::SERVER.ipv4_addr(), 7));
    run(tb, async {
        let acceptor = server
            .bind(std::net::SocketAddr::from(([0, 0, 0, 0], 7)))
            .await
            .unwrap();
        for _ in 0..3 {
            let (sk, accepted) = join(client.connect(addr), acceptor.accept()).await;
            let (sk, (_, mut conn)) = (sk.unwrap(), accepted.unwrap());
            // Both dropped from inside a borrow of their stacks (an observer's code,
            // say): neither can close then.
            tb.client.with(|_| drop(sk)).unwrap();
            let mut buf = [0u8; 4];
            // The next chance: the client's next call. Its FIN then reaches the server.
            let again = select(client.connect(addr), sleep(tb, Duration::from_millis(1))).await;
            drop(again);
            assert_eq!(conn.read(&mut buf).await.unwrap(), 0, "the FIN came");
            tb.server.with(|_| drop(conn)).unwrap();
            // The server's next call closes its end: the client's socket comes back.
            let waited = select(acceptor.accept(), sleep(tb, Duration::from_secs(1))).await;
            assert!(matches!(waited, Either::Second(())));
            drop(waited);
        }
    })
    .unwrap();
}

/// Python on 127.0.0.1 (Linux), through edge-nal's traits: the errno after a refused
/// connect, a reset, and a peer that closed, and the embedded-io kinds they map to.
#[cfg(feature = "edge-nal")]
#[test]
fn edge_streams_report_refused_reset_and_broken_pipe_as_linux() {
    use edge_nal::{TcpAccept as _, TcpBind as _, TcpConnect as _, TcpShutdown as _};
    use embedded_io_async::{Error as _, ErrorKind, Read as _, Write as _};
    use sockless::async_sockets::EdgeTcp;
    use sockless::socket::{Errno, NetError};
    let tb = testbed();
    let client: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.client, pool(2));
    let server: EdgeTcp<'_, 'static, 1024, 1024, 2> = EdgeTcp::new(&tb.server, pool(2));
    let addr = |port| std::net::SocketAddr::from((Host::SERVER.ipv4_addr(), port));
    let mut seen = Vec::new();
    run(tb, async {
        // connect to a closed port: ConnectionRefusedError.
        let err = client.connect(addr(9)).await.err().unwrap();
        seen.push(("connect to a closed port", err, err.kind()));
        let acceptor = server
            .bind(std::net::SocketAddr::from(([0, 0, 0, 0], 7)))
            .await
            .unwrap();
        // The peer resets: recv is ConnectionResetError, then b'', then send EPIPE.
        let (sk, accepted) = join(client.connect(addr(7)), acceptor.accept()).await;
        let (mut sk, (_, mut conn)) = (sk.unwrap(), accepted.unwrap());
        conn.abort().await.unwrap();
        let mut buf = [0u8; 8];
        let err = sk.read(&mut buf).await.err().unwrap();
        seen.push(("recv after RST", err, err.kind()));
        assert_eq!(sk.read(&mut buf).await.ok(), Some(0), "then b''");
        let err = sk.write(b"x").await.err().unwrap();
        seen.push(("send after RST", err, err.kind()));
        drop((sk, conn));
        // The peer closed: recv b'', the first send goes, the next is EPIPE.
        let (sk, accepted) = join(client.connect(addr(7)), acceptor.accept()).await;
        let (mut sk, (_, conn)) = (sk.unwrap(), accepted.unwrap());
        drop(conn);
        assert_eq!(sk.read(&mut buf).await.ok(), Some(0));
        assert_eq!(sk.write(b"x").await.ok(), Some(1));
        sleep(tb, Duration::from_millis(10)).await;
        let err = sk.write(b"x").await.err().unwrap();
        seen.push(("send after the peer closed", err, err.kind()));
        assert_eq!(sk.read(&mut buf).await.ok(), Some(0), "recv still b''");
    })
    .unwrap();
    let want = [
        (
            "connect to a closed port",
            NetError::Errno(Errno::ECONNREFUSED),
            ErrorKind::ConnectionRefused,
        ),
        (
            "recv after RST",
            NetError::Errno(Errno::ECONNRESET),
            ErrorKind::ConnectionReset,
        ),
        (
            "send after RST",
            NetError::Errno(Errno::EPIPE),
            ErrorKind::BrokenPipe,
        ),
        (
            "send after the peer closed",
            NetError::Errno(Errno::EPIPE),
            ErrorKind::BrokenPipe,
        ),
    ];
    assert_eq!(seen, want);
}

#[cfg(feature = "edge-nal")]
#[test]
fn more_accepted_edge_streams_than_max_is_emfile_and_the_caller_waits_queued() {
    use edge_nal::{TcpAccept as _, TcpBind as _, TcpConnect as _};
    use sockless::async_sockets::{EdgeTcp, MAX_EDGE_ACCEPTED};
    use sockless::socket::{Errno, NetError};
    let tb: &'static AsyncTestbed<'static> = leak(AsyncTestbed::new(
        leak(StackStorage::<40>::new()),
        leak(StackStorage::<40>::new()),
    ));
    let clients: [EdgeTcp<'_, 'static, 256, 256, 2>; 2] = [
        EdgeTcp::new(
            &tb.client,
            Vec::leak((0..9).map(|_| TcpBuffers::new()).collect()),
        ),
        EdgeTcp::new(
            &tb.client,
            Vec::leak((0..9).map(|_| TcpBuffers::new()).collect()),
        ),
    ];
    let server: EdgeTcp<'_, 'static, 256, 256, 20> = EdgeTcp::new(
        &tb.server,
        Vec::leak((0..20).map(|_| TcpBuffers::new()).collect()),
    );
    let addr = std::net::SocketAddr::from((Host::SERVER.ipv4_addr(), 7));
    run(tb, async {
        let acceptor = server
            .bind(std::net::SocketAddr::from(([0, 0, 0, 0], 7)))
            .await
            .unwrap();
        let mut sks = Vec::new();
        for i in 0..=MAX_EDGE_ACCEPTED {
            sks.push(clients[i % 2].connect(addr).await.unwrap());
        }
        let mut conns = Vec::new();
        for _ in 0..MAX_EDGE_ACCEPTED {
            conns.push(acceptor.accept().await.unwrap().1);
        }
        assert_eq!(
            acceptor.accept().await.err(),
            Some(NetError::Errno(Errno::EMFILE))
        );
        drop(conns.pop());
        assert!(
            acceptor.accept().await.is_ok(),
            "the queued caller, once one closed"
        );
    })
    .unwrap();
}

/// The async runner over a delayed link (issue 16): it jumps to the frames' arrivals.
#[test]
fn a_conversation_over_a_50_ms_link_takes_its_crossings_in_virtual_time() {
    use sockless::phy::{Link, Wire};
    let mut wire = Wire::new();
    wire.set_links(Link::IDEAL.latency(Duration::from_millis(50)));
    let tb: &'static AsyncTestbed<'static> = leak(AsyncTestbed::with_wire(
        wire,
        leak(StackStorage::<16>::new()),
        leak(StackStorage::<16>::new()),
    ));
    let reply = run(tb, async {
        let mut sk = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
        let server = async {
            let (mut conn, _) = sk.accept().await.unwrap();
            let mut data = [0u8; 16];
            let n = conn.recv(&mut data).await.unwrap();
            conn.send_all(&data[..n]).await.unwrap();
        };
        let client = async {
            let mut sk =
                AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
            sk.connect(at_server(7)).await.unwrap();
            sk.send_all(b"ping").await.unwrap();
            let mut buf = [0u8; 16];
            let n = sk.recv(&mut buf).await.unwrap();
            buf[..n].to_vec()
        };
        join(server, client).await.1
    })
    .unwrap();
    assert_eq!(reply, b"ping");
    // ARP request and reply, SYN, SYN-ACK, the data (with the ACK), the echo: six
    // crossings of 50 ms.
    assert!(tb.now() >= Instant::from_millis(300), "{}", tb.now());
    assert!(tb.now() < Instant::from_millis(400), "{}", tb.now());
}

/// A task per connection (embassy's usual pattern): an acceptor task hands each
/// connection to a serving task and waits in `accept` for the next caller, each task woken
/// by its own waker (a wake-only executor, as embassy's). smoltcp keeps one receive waker
/// per socket, so an `accept` that registered its waker on the accepted socket too took the
/// serving task's wake-up away, and the echo never came (found by the async firmware's
/// review). And the socket that comes back to the pool when its connection closes wakes
/// the waiting `accept` for the next caller.
#[test]
fn a_task_per_connection_keeps_its_wake_ups_while_another_waits_in_accept() {
    use std::cell::RefCell;
    use std::future::poll_fn;
    let tb = testbed();
    let mut listener = AsyncListener::<1>::listen(&tb.server, 7, 1, pool(1)).unwrap();
    let handed: RefCell<Option<AsyncTcpStream<'static, 'static>>> = RefCell::new(None);
    let server_waker: RefCell<Option<Waker>> = RefCell::new(None);
    let acceptor = async {
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            // The serving task takes it (one at a time: the pool has one socket).
            *handed.borrow_mut() = Some(conn);
            if let Some(w) = server_waker.borrow_mut().take() {
                w.wake();
            }
        }
    };
    let serving = async {
        for _ in 0..2 {
            let mut conn = poll_fn(|cx| match handed.borrow_mut().take() {
                Some(conn) => Poll::Ready(conn),
                None => {
                    *server_waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            let mut data = [0u8; 16];
            let n = conn.recv(&mut data).await.unwrap();
            conn.send_all(&data[..n]).await.unwrap();
            assert_eq!(conn.recv(&mut data).await.unwrap(), 0);
            assert!(conn.close().await);
        }
    };
    let clients = async {
        let mut replies = Vec::new();
        for word in [&b"one"[..], b"two"] {
            let mut sk =
                AsyncTcpStream::new(&tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
            sk.connect(at_server(7)).await.unwrap();
            sk.send_all(word).await.unwrap();
            let mut buf = [0u8; 16];
            let n = sk.recv(&mut buf).await.unwrap();
            replies.push(buf[..n].to_vec());
            assert!(sk.close().await);
        }
        replies
    };
    let flags: Vec<Arc<Flag>> = (0..3)
        .map(|_| {
            Arc::new(Flag {
                woken: AtomicBool::new(true),
                wakes: AtomicUsize::new(0),
            })
        })
        .collect();
    let wakers: Vec<Waker> = flags.iter().map(|f| Waker::from(f.clone())).collect();
    let mut acceptor = pin!(acceptor);
    let mut serving = pin!(serving);
    let mut clients = pin!(clients);
    let mut runner = pin!(tb.run());
    let mut served = false;
    let replies = loop {
        if flags[0].woken.swap(false, Ordering::SeqCst) {
            let _ = acceptor.as_mut().poll(&mut Context::from_waker(&wakers[0]));
        }
        if !served && flags[1].woken.swap(false, Ordering::SeqCst) {
            served = serving
                .as_mut()
                .poll(&mut Context::from_waker(&wakers[1]))
                .is_ready();
        }
        if flags[2].woken.swap(false, Ordering::SeqCst)
            && let Poll::Ready(replies) =
                clients.as_mut().poll(&mut Context::from_waker(&wakers[2]))
        {
            break replies;
        }
        if let Poll::Ready(stopped) = runner
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            panic!("a task was never woken: {stopped:?}");
        }
    };
    assert_eq!(replies, [b"one".to_vec(), b"two".to_vec()]);
}
