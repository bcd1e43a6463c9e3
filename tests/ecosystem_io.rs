//! embedded-io's byte stream on a sockless TCP socket: blocking `read`/`write`/`flush` on
//! the testbed's client side (the server's program runs while the client waits), timing
//! out exactly like `settimeout`, and the readiness checks without blocking.

use embedded_io::{Error as _, ErrorKind, Read, ReadReady, Write, WriteReady};
use sockless::ecosystem::{ByteStream, NetError};
use sockless::phy::Faults;
use sockless::smoltcp::time::{Duration, Instant};
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{Blocking, StackAccess};
use sockless::socket::{Errno, RecvError};
use sockless::testbed::RunError;
use sockless::{Host, Listener, Stack, StackStorage, TcpBuffers, TcpSocket, Testbed};

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

const LIMIT: Duration = Duration::from_secs(600);

/// A testbed with a listener on port 7 and a connected client socket, and the server's
/// accepted socket.
fn connected() -> (
    &'static mut Testbed<'static>,
    Listener<2>,
    TcpSocket,
    TcpSocket,
) {
    let tb: &'static mut Testbed<'static> = leak(Testbed::new(
        leak(StackStorage::<8>::new()),
        leak(StackStorage::<8>::new()),
    ));
    let pool: &'static mut [TcpBuffers<1024, 1024>] =
        Vec::leak((0..2).map(|_| TcpBuffers::new()).collect());
    let mut listener = Listener::<2>::listen(&mut tb.server, 7, 2, pool).unwrap();
    let mut sk = TcpSocket::new(&mut tb.client, leak(TcpBuffers::<1024, 1024>::new())).unwrap();
    sk.connect(&mut tb.client, IpEndpoint::new(Host::SERVER.ipv4_addr(), 7))
        .unwrap();
    let mut conn = None;
    tb.run(LIMIT, |_, server| {
        conn = listener.accept(server).ok();
        conn.is_some()
    })
    .unwrap();
    (tb, listener, sk, conn.unwrap())
}

/// The server's program: echo what arrives, upper-cased.
fn upper_echo(conn: &mut TcpSocket) -> impl FnMut(&mut Stack<'static>) + '_ {
    move |server| {
        let mut buf = [0u8; 256];
        if let Ok(n @ 1..) = conn.recv(server, &mut buf) {
            buf[..n].make_ascii_uppercase();
            conn.sendall(server, &buf[..n]).unwrap();
        }
    }
}

#[test]
fn blocking_write_read_and_flush_against_a_server_program() {
    let (tb, _listener, mut sk, mut conn) = connected();
    let mut side = tb.client_side(LIMIT, upper_echo(&mut conn));
    let mut stream = ByteStream::new(&mut sk, &mut side);
    assert!(stream.write_ready().unwrap());
    assert!(!stream.read_ready().unwrap(), "nothing sent yet");
    stream.write_all(b"hello, sockless").unwrap();
    stream.flush().unwrap();
    let (sk_ref, stack) = stream.parts();
    assert_eq!(
        sk_ref.send_queue(stack),
        0,
        "flush returns once all is ACKed"
    );
    let mut got = [0u8; 15];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HELLO, SOCKLESS");
    // core::fmt::Write for text.
    core::fmt::Write::write_fmt(&mut stream, format_args!("{} + {} = {}", 1, 2, 1 + 2)).unwrap();
    let mut got = [0u8; 9];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"1 + 2 = 3");
    // An empty read or write does not block.
    assert_eq!(stream.read(&mut []).unwrap(), 0);
    assert_eq!(stream.write(&[]).unwrap(), 0);
}

#[test]
fn read_times_out_exactly_like_settimeout() {
    let (tb, _listener, mut sk, mut conn) = connected();
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(3)));
    let start = tb.now();
    // A server that reads and never answers.
    let mut side = tb.client_side(LIMIT, |server| {
        let mut buf = [0u8; 64];
        let _ = conn.recv(server, &mut buf);
    });
    let mut stream = ByteStream::new(&mut sk, &mut side);
    stream.write_all(b"anyone?").unwrap();
    let mut buf = [0u8; 8];
    let err = stream.read(&mut buf).unwrap_err();
    assert_eq!(err, NetError::Errno(Errno::ETIMEDOUT));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    let waited = side.now() - start;
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_millis(3100),
        "{waited}"
    );
}

#[test]
fn without_a_timeout_a_network_with_nothing_left_to_happen_is_stalled() {
    let (tb, _listener, mut sk, _conn) = connected();
    let mut side = tb.client_side(LIMIT, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 8];
    assert_eq!(stream.read(&mut buf).unwrap_err(), NetError::Stalled);
}

#[test]
fn read_returns_zero_at_end_of_stream_and_write_after_reset_fails() {
    let (tb, _listener, mut sk, mut conn) = connected();
    conn.sendall(&mut tb.server, b"bye").unwrap();
    conn.close(&mut tb.server);
    let mut side = tb.client_side(LIMIT, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 8];
    assert_eq!(stream.read(&mut buf).unwrap(), 3);
    assert_eq!(stream.read(&mut buf).unwrap(), 0);
    assert!(stream.read_ready().unwrap(), "a read at EOF does not block");

    // A fresh connection that the server resets: write fails with ECONNRESET.
    let (tb, _listener, mut sk, mut conn) = connected();
    conn.abort(&mut tb.server);
    let mut side = tb.client_side(LIMIT, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 8];
    let err = stream.read(&mut buf).unwrap_err();
    assert_eq!(err, NetError::Errno(Errno::ECONNRESET));
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(stream.write_ready().unwrap(), "a write would fail at once");
    // Python on Linux: the reset is reported once (SO_ERROR cleared), then recv is b''
    // and send BrokenPipeError.
    let err = stream.write(b"x").unwrap_err();
    assert_eq!(err, NetError::Errno(Errno::EPIPE));
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(stream.read(&mut buf).unwrap(), 0);
}

#[test]
fn write_blocks_while_the_peer_reads_nothing_and_times_out() {
    let (tb, _listener, mut sk, _conn) = connected();
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(2)));
    let start = tb.now();
    let mut side = tb.client_side(LIMIT, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    // 1 KiB of send buffer and 1 KiB of the server's receive window: 4 KiB cannot go.
    let err = stream.write_all(&[b'x'; 4096]).unwrap_err();
    assert_eq!(err, NetError::Errno(Errno::ETIMEDOUT));
    assert!(!stream.write_ready().unwrap(), "the send buffer is full");
    assert!(side.now() - start >= Duration::from_secs(2));
}

#[test]
fn the_view_on_the_stack_itself_only_answers_readiness() {
    let (tb, _listener, mut sk, mut conn) = connected();
    conn.sendall(&mut tb.server, b"x").unwrap();
    let before = ByteStream::new(&mut sk, &mut tb.client)
        .read_ready()
        .unwrap();
    assert!(!before);
    tb.run(LIMIT, |client, _| {
        ByteStream::new(&mut sk, client).read_ready().unwrap()
    })
    .unwrap();
    let _: Instant = tb.now();
}

#[test]
fn a_stale_descriptor_is_ebadf_not_another_sockets_state() {
    let (tb, _listener, _sk, mut conn) = connected();
    conn.close(&mut tb.server);
    let err = ByteStream::new(&mut conn, &mut tb.server)
        .read_ready()
        .unwrap_err();
    assert_eq!(err, NetError::Errno(Errno::EBADF));
}

#[test]
fn write_and_flush_time_out_on_time_though_the_stack_sleeps_longer() {
    for secs in [2, 5, 10] {
        let timeout = Duration::from_secs(secs);
        // Every frame lost: the retransmissions back off (1 s, 2 s, 4 s...), so the
        // stack's own deadlines fall past the socket's timeout.
        let (tb, _listener, mut sk, _conn) = connected();
        tb.wire.set_faults(
            Faults {
                drop_percent: 100,
                corrupt_percent: 0,
            },
            1,
        );
        sk.set_timeout(&mut tb.client, Some(timeout));
        let start = tb.now();
        let mut side = tb.client_side(LIMIT, |_| {});
        let mut stream = ByteStream::new(&mut sk, &mut side);
        stream.write_all(b"hello").unwrap();
        let err = stream.flush().unwrap_err();
        assert_eq!(err, NetError::Errno(Errno::ETIMEDOUT));
        assert_eq!(side.now() - start, timeout, "flush");

        // write: 1 KiB fills the send buffer, the next byte waits for room.
        let (tb, _listener, mut sk, _conn) = connected();
        tb.wire.set_faults(
            Faults {
                drop_percent: 100,
                corrupt_percent: 0,
            },
            1,
        );
        sk.set_timeout(&mut tb.client, Some(timeout));
        let start = tb.now();
        let mut side = tb.client_side(LIMIT, |_| {});
        let mut stream = ByteStream::new(&mut sk, &mut side);
        let err = stream.write_all(&[b'x'; 1025]).unwrap_err();
        assert_eq!(err, NetError::Errno(Errno::ETIMEDOUT));
        assert_eq!(side.now() - start, timeout, "write");
    }
}

#[test]
fn a_timeout_of_duration_max_never_fires_and_the_clock_stops_at_the_limit() {
    let (tb, _listener, mut sk, mut conn) = connected();
    sk.set_timeout(&mut tb.client, Some(Duration::MAX));
    let start = tb.now();
    let limit = Duration::from_secs(60);
    let mut side = tb.client_side(limit, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 4];
    // Nobody sends: the read waits "forever", i.e. until the client side's limit.
    assert_eq!(stream.read(&mut buf).unwrap_err(), NetError::Stalled);
    assert!(side.now() - start <= limit, "{}", side.now());
    // The testbed goes on from there: blocking calls and plain runs alike.
    let mut side = tb.client_side(LIMIT, upper_echo(&mut conn));
    let mut stream = ByteStream::new(&mut sk, &mut side);
    stream.write_all(b"still").unwrap();
    stream.flush().unwrap();
    let mut got = [0u8; 5];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"STILL");
    tb.sleep(Duration::from_secs(1));
}

#[test]
fn read_waits_its_whole_timeout_from_the_call_on() {
    let (tb, _listener, mut sk, _conn) = connected();
    sk.set_timeout(&mut tb.client, Some(Duration::from_secs(3)));
    // The socket's own non-blocking recv found nothing, 5 s ago.
    let mut buf = [0u8; 4];
    assert_eq!(
        sk.recv(&mut tb.client, &mut buf),
        Err(RecvError::WouldBlock)
    );
    tb.sleep(Duration::from_secs(5));
    // Python's settimeout(3): a blocking recv now waits 3 s.
    let start = tb.now();
    let mut side = tb.client_side(LIMIT, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let err = stream.read(&mut buf).unwrap_err();
    assert_eq!(err, NetError::Errno(Errno::ETIMEDOUT));
    assert_eq!(side.now() - start, Duration::from_secs(3));
}

/// A network that counts the waits of the calls made on it.
struct Counting<N> {
    inner: N,
    waits: usize,
}

impl<'a, N: StackAccess<'a>> StackAccess<'a> for Counting<N> {
    fn stack(&mut self) -> &mut Stack<'a> {
        self.inner.stack()
    }
}

impl<'a, N: Blocking<'a>> Blocking<'a> for Counting<N> {
    fn wait(&mut self, until: Option<Instant>) -> bool {
        self.waits += 1;
        self.inner.wait(until)
    }
}

#[test]
fn ready_means_the_next_call_does_not_wait() {
    // Data waiting; then the peer's FIN; then a reset; then a socket never connected.
    let (tb, _listener, mut sk, mut conn) = connected();
    conn.sendall(&mut tb.server, b"data").unwrap();
    tb.sleep(Duration::from_millis(100));
    let mut side = Counting {
        inner: tb.client_side(LIMIT, |_| {}),
        waits: 0,
    };
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 8];
    assert!(stream.read_ready().unwrap());
    assert!(stream.write_ready().unwrap());
    assert_eq!(stream.read(&mut buf).unwrap(), 4);
    assert_eq!(stream.write(b"x").unwrap(), 1);
    assert_eq!(side.waits, 0);
    conn.close(&mut tb.server);
    tb.sleep(Duration::from_millis(100));
    let mut side = Counting {
        inner: tb.client_side(LIMIT, |_| {}),
        waits: 0,
    };
    let mut stream = ByteStream::new(&mut sk, &mut side);
    assert!(stream.read_ready().unwrap());
    assert_eq!(stream.read(&mut buf).unwrap(), 0);
    // A write after the peer's FIN still goes (Python: the peer may be half-closed).
    assert!(stream.write_ready().unwrap());
    assert_eq!(stream.write(b"y").unwrap(), 1);
    assert_eq!(side.waits, 0);

    let (tb, _listener, mut sk, mut conn) = connected();
    conn.abort(&mut tb.server);
    tb.sleep(Duration::from_millis(100));
    let mut side = Counting {
        inner: tb.client_side(LIMIT, |_| {}),
        waits: 0,
    };
    let mut stream = ByteStream::new(&mut sk, &mut side);
    assert!(stream.read_ready().unwrap());
    assert!(stream.write_ready().unwrap());
    assert!(stream.read(&mut buf).is_err());
    assert!(stream.write(b"x").is_err());
    // Nothing was written: nothing to wait for.
    stream.flush().unwrap();
    assert_eq!(side.waits, 0);

    let mut fresh = TcpSocket::new(&mut tb.client, leak(TcpBuffers::<64, 64>::new())).unwrap();
    let mut side = Counting {
        inner: tb.client_side(LIMIT, |_| {}),
        waits: 0,
    };
    let mut stream = ByteStream::new(&mut fresh, &mut side);
    assert!(stream.read_ready().unwrap());
    assert!(stream.write_ready().unwrap());
    assert_eq!(
        stream.read(&mut buf).unwrap_err(),
        NetError::Errno(Errno::ENOTCONN)
    );
    assert_eq!(
        stream.write(b"x").unwrap_err(),
        NetError::Errno(Errno::ENOTCONN)
    );
    stream.flush().unwrap();
    assert_eq!(side.waits, 0);
}

#[test]
fn a_timeout_of_duration_max_moves_no_clock_to_the_end_of_time() {
    let (tb, _listener, mut sk, mut conn) = connected();
    sk.set_timeout(&mut tb.client, Some(Duration::MAX));
    let start = tb.now();
    // Without a limit of its own either: nothing can happen, so the read is stalled at
    // once; a deadline of Duration::MAX is "never", not an instant to jump to.
    let mut side = tb.client_side(Duration::MAX, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 4];
    assert_eq!(stream.read(&mut buf).unwrap_err(), NetError::Stalled);
    stream.write_all(b"x").unwrap();
    stream.flush().unwrap();
    assert!(
        side.now() - start < Duration::from_secs(60),
        "{}",
        side.now()
    );
    // So is a plain run, and the testbed goes on.
    let err = tb
        .run(LIMIT, |client, _| sk.recv(client, &mut buf).is_ok())
        .unwrap_err();
    assert!(matches!(err, RunError::Stalled { .. }), "{err}");
    tb.sleep(Duration::from_secs(1));
    let mut side = tb.client_side(Duration::MAX, upper_echo(&mut conn));
    let mut stream = ByteStream::new(&mut sk, &mut side);
    stream.write_all(b"on").unwrap();
    let mut got = [0u8; 3];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"XON");
}

#[test]
fn settimeout_zero_makes_read_and_write_non_blocking_as_in_python() {
    // Python: sk.settimeout(0); sk.recv(8) raises BlockingIOError (EAGAIN) at once.
    let (tb, _listener, mut sk, _conn) = connected();
    sk.set_timeout(&mut tb.client, Some(Duration::ZERO));
    assert_eq!(sk.timeout(&mut tb.client), Some(Duration::ZERO));
    let start = tb.now();
    let mut side = tb.client_side(LIMIT, |_| {});
    let mut stream = ByteStream::new(&mut sk, &mut side);
    let mut buf = [0u8; 8];
    assert_eq!(
        stream.read(&mut buf).unwrap_err(),
        NetError::Errno(Errno::EAGAIN)
    );
    // A write queues what fits, then EAGAIN; flush does not wait either.
    let big = [1u8; 4096];
    let n = stream.write(&big).unwrap();
    assert!(n > 0 && n < big.len());
    assert_eq!(
        stream.write(&big).unwrap_err(),
        NetError::Errno(Errno::EAGAIN)
    );
    assert_eq!(stream.flush().unwrap_err(), NetError::Errno(Errno::EAGAIN));
    assert_eq!(side.now(), start);
}
