//! The link model of the in-memory wire (issue 16): latency, jitter, duplication,
//! bandwidth and partitions, each checked against what a stack sees, in virtual time.

use sockless::phy::{Chance, End, Link, Partition, Wire};
use sockless::smoltcp::phy::{Device, RxToken, TxToken};
use sockless::smoltcp::time::{Duration, Instant};
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{ConnectError, RecvError, SendError};
use sockless::{Host, Listener, StackStorage, TcpBuffers, TcpSocket, Testbed};

/// Frames in flight each way: room for a 32 KiB window, a queue and the ACKs.
const DEPTH: usize = 128;
type Bed = Testbed<'static, 1514, DEPTH>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

/// A testbed whose wire has these links (client to server, server to client), a
/// listener on port 7 with 32 KiB buffers, and a connected pair of sockets.
struct Pair {
    tb: &'static mut Bed,
    client: TcpSocket,
    server: TcpSocket,
    /// How many bytes of its data the last transfer's client socket took.
    taken: usize,
}

fn testbed(a_to_b: Link, b_to_a: Link, seed: u32) -> &'static mut Bed {
    let mut wire = Box::new(Wire::<1514, DEPTH>::new());
    wire.set_link(End::A, a_to_b);
    wire.set_link(End::B, b_to_a);
    wire.set_seed(seed);
    leak(Testbed::with_wire(
        *wire,
        Host::CLIENT,
        leak(StackStorage::<4>::new()),
        Host::SERVER,
        leak(StackStorage::<4>::new()),
    ))
}

fn connect(tb: &'static mut Bed) -> Pair {
    let pool: &'static mut [TcpBuffers<32768, 32768>] = Vec::leak(vec![TcpBuffers::new()]);
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, pool).unwrap();
    let mut client =
        TcpSocket::new(&mut tb.client, leak(TcpBuffers::<32768, 32768>::new())).unwrap();
    client
        .connect(&mut tb.client, IpEndpoint::new(Host::SERVER.ipv4_addr(), 7))
        .unwrap();
    let mut server = None;
    tb.run(Duration::from_secs(60), |c, s| {
        server = server.take().or_else(|| listener.accept(s).ok());
        server.is_some() && client.connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    client.connect_status(&mut tb.client).expect("connected");
    Pair {
        tb,
        client,
        server: server.unwrap(),
        taken: 0,
    }
}

/// The bytes of a transfer: a pattern that shows a lost, doubled or misplaced byte.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

impl Pair {
    /// Send `data` from the client and read it on the server until all came or `limit`
    /// of virtual time passed; what came, and the virtual time it took.
    fn transfer(&mut self, data: &[u8], limit: Duration) -> (Vec<u8>, Duration) {
        self.transfer_rest(data, 0, limit)
    }

    /// [`transfer`](Self::transfer) of `data` whose first `sent` bytes the client's
    /// socket has taken already.
    fn transfer_rest(&mut self, data: &[u8], sent: usize, limit: Duration) -> (Vec<u8>, Duration) {
        let start = self.tb.now();
        let (mut sent, mut got) = (sent, Vec::new());
        let (client, server) = (&mut self.client, &mut self.server);
        let _ = self.tb.run(limit, |c, s| {
            match client.send(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => {}
                Err(e) => panic!("send: {e}"),
            }
            let mut buf = [0u8; 4096];
            loop {
                match server.recv(s, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(RecvError::WouldBlock) => break,
                    Err(e) => panic!("recv: {e}"),
                }
            }
            got.len() >= data.len()
        });
        self.taken = sent;
        (got, self.tb.now() - start)
    }
}

/// Send one frame from `from` at `at` straight through a wire's port.
fn send_frame(wire: &mut Wire<1514, DEPTH>, from: End, at: Instant, byte: u8) {
    let mut port = wire.port(from);
    let token = port.transmit(at).expect("a wire always takes a frame");
    token.consume(60, |buf| buf.fill(byte));
}

/// The first byte of the frame the host at `to` receives at `at`, if one is due.
fn receive_frame(wire: &mut Wire<1514, DEPTH>, to: End, at: Instant) -> Option<u8> {
    let mut port = wire.port(to);
    let (rx, _tx) = port.receive(at)?;
    Some(rx.consume(|buf| buf[0]))
}

#[test]
fn a_100_ms_link_delivers_at_100_ms() {
    let mut wire = Box::new(Wire::<1514, DEPTH>::new());
    wire.set_links(Link::IDEAL.latency(ms(100)));
    send_frame(&mut wire, End::A, Instant::from_millis(5), 1);
    assert_eq!(wire.next_due(), Some(Instant::from_millis(105)));
    assert_eq!(
        receive_frame(&mut wire, End::B, Instant::from_micros(104_999)),
        None
    );
    assert_eq!(
        receive_frame(&mut wire, End::B, Instant::from_millis(105)),
        Some(1)
    );
    assert!(wire.is_idle());

    // Through the testbed: ARP request and reply, SYN, SYN-ACK, ACK (the server accepts
    // then): five crossings, 500 ms of virtual time, none of it waited for.
    let wall = std::time::Instant::now();
    let mut pair = connect(testbed(
        Link::IDEAL.latency(ms(100)),
        Link::IDEAL.latency(ms(100)),
        1,
    ));
    assert_eq!(pair.tb.now(), Instant::from_millis(500));
    // A request and its answer: 200 ms more (one crossing each way).
    let (got, took) = pair.transfer(b"ping", Duration::from_secs(5));
    assert_eq!(got, b"ping");
    assert_eq!(took, ms(100), "data crosses once");
    assert!(wall.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn jitter_reorders_frames_and_tcp_puts_them_back_in_order() {
    // Frames 1 ms apart on a link of 10 ms plus up to 20 ms of jitter (uniform).
    let mut wire = Box::new(Wire::<1514, DEPTH>::new());
    wire.set_link(End::A, Link::IDEAL.latency(ms(10)).jitter(ms(20)));
    wire.set_seed(3);
    for i in 0..50u8 {
        send_frame(&mut wire, End::A, Instant::from_millis(i64::from(i)), i);
    }
    let mut order = Vec::new();
    let mut now = Instant::ZERO;
    while let Some(due) = wire.next_due() {
        assert!(due >= now, "due instants never go back");
        now = due;
        while let Some(i) = receive_frame(&mut wire, End::B, now) {
            // Sent at i ms: due between 10 and 30 ms later.
            let sent = Instant::from_millis(i64::from(i));
            assert!(
                now >= sent + ms(10) && now <= sent + ms(30),
                "frame {i} at {now}"
            );
            order.push(i);
        }
    }
    assert_eq!(order.len(), 50, "jitter alone loses nothing");
    let inversions = order.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 5, "jitter reorders: {order:?}");

    // TCP over such a link in both directions: every byte, in order.
    let link = Link::IDEAL.latency(ms(10)).jitter(ms(20));
    let mut pair = connect(testbed(link, link, 4));
    let data = pattern(200_000);
    let (got, _) = pair.transfer(&data, Duration::from_secs(120));
    assert!(
        got == data,
        "{} bytes of {} came in order",
        got.len(),
        data.len()
    );
    assert!(pair.tb.wire.stats(End::A).sent > 100);
}

#[test]
fn duplication_is_seen_by_tcp_as_a_duplicate() {
    let data = pattern(64 * 1024);
    // The same transfer without and with every client frame delivered twice.
    let mut plain = connect(testbed(Link::IDEAL, Link::IDEAL, 5));
    let (got, _) = plain.transfer(&data, Duration::from_secs(60));
    assert!(got == data);
    let plain_acks = plain.tb.wire.stats(End::B).sent;

    let twice = Link::IDEAL.duplicate(Chance::ALWAYS);
    let mut doubled = connect(testbed(twice, Link::IDEAL, 5));
    let (got, _) = doubled.transfer(&data, Duration::from_secs(60));
    // The receiver keeps one copy of every byte...
    assert_eq!(got.len(), data.len(), "no byte taken twice");
    assert!(got == data);
    let stats = doubled.tb.wire.stats(End::A);
    assert_eq!(stats.duplicated, stats.sent / 2, "every frame twice");
    // ... and answers the second copy of a segment it already has with an ACK of its own
    // (RFC 9293 3.10.7.4: a segment wholly before the window is acknowledged).
    let doubled_acks = doubled.tb.wire.stats(End::B).sent;
    assert!(
        doubled_acks > plain_acks + 10,
        "{doubled_acks} frames from the receiver against {plain_acks} without duplicates"
    );
    // Nobody retransmitted anything: the copies were the link's, not the sender's.
    assert_eq!(stats.retransmitted, 0);
}

#[test]
fn bandwidth_caps_throughput_at_the_set_rate() {
    // 2 Mbit/s, 5 ms each way, a drop-tail queue larger than the 32 KiB window (smoltcp
    // without a congestion control sends a whole window at once: a smaller queue drops,
    // see below).
    const RATE: u64 = 2_000_000;
    let link = Link::IDEAL.latency(ms(5)).bandwidth(RATE, 64 * 1024);
    let mut pair = connect(testbed(link, link, 6));
    let data = pattern(1024 * 1024);
    let (got, took) = pair.transfer(&data, Duration::from_secs(120));
    assert!(got == data);
    // The rate counts whole frames (Ethernet, IP and TCP headers included): compare
    // frame bytes sent in the time taken.
    let stats = pair.tb.wire.stats(End::A);
    let wire_bits = (stats.tcp_segments * 54 + data.len() as u64) * 8;
    let rate = wire_bits as f64 / took.total_micros() as f64 * 1e6;
    let goodput = data.len() as f64 * 8.0 / took.total_micros() as f64 * 1e6;
    println!(
        "1 MiB at {RATE} bit/s: {took} virtual, {rate:.0} bit/s on the wire, goodput {goodput:.0} bit/s, {} queue drops, {} retransmitted",
        stats.dropped_queue, stats.retransmitted
    );
    assert!(rate <= RATE as f64 * 1.001, "never above the rate: {rate}");
    assert!(rate >= RATE as f64 * 0.95, "within 5% of the rate: {rate}");
    assert!(goodput <= RATE as f64);
}

#[test]
fn a_partition_stalls_and_healing_resumes_without_data_loss() {
    let link = Link::IDEAL.latency(ms(1));
    let mut pair = connect(testbed(link, link, 7));
    let data = pattern(96 * 1024);
    // A third of the way in, cut both ways for 10 s.
    let (got, _) = pair.transfer(&data[..32 * 1024], Duration::from_secs(10));
    assert_eq!(got.len(), 32 * 1024);
    let cut_at = pair.tb.now();
    pair.tb.wire.cut();
    let (stalled, took) = pair.transfer(&data[32 * 1024..], ms(10_000));
    assert!(stalled.is_empty(), "nothing crosses a cut link");
    assert!(took >= ms(10_000));
    assert!(
        pair.tb.wire.stats(End::A).dropped_partition > 0,
        "the sender kept trying"
    );
    assert!(pair.tb.wire.stats(End::A).retransmitted > 0);
    // Heal: the sender's next retransmission gets through and the rest follows.
    pair.tb.wire.heal();
    // What the cut stalled is in the client's send buffer still: send the rest again
    // from where the socket took it.
    let rest = &data[32 * 1024..];
    let taken = pair.taken;
    assert!(taken > 0, "data waits in the sender");
    let (got, _) = pair.transfer_rest(rest, taken, Duration::from_secs(120));
    assert_eq!(got.len(), rest.len(), "every byte after healing");
    assert!(got == rest, "and in order");
    assert!(pair.tb.now() > cut_at + ms(10_000));
}

#[test]
fn a_one_way_cut_at_a_chosen_time_heals_at_a_chosen_time() {
    let mut pair = connect(testbed(Link::IDEAL, Link::IDEAL, 8));
    let t0 = pair.tb.now();
    // From 1 s to 4 s, the server's frames (the ACKs) are lost; the client's data
    // arrives, but the client hears nothing and retransmits.
    assert!(pair.tb.wire.partition_at(t0 + ms(4000), Partition::Heal));
    assert!(
        pair.tb
            .wire
            .partition_at(t0 + ms(1000), Partition::CutFrom(End::B))
    );
    pair.tb.sleep(ms(1000));
    // Whole segments (1460 bytes): Nagle's algorithm would hold a last short one until
    // an ACK came, and none comes.
    let data = pattern(5 * 1460);
    let (got, took) = pair.transfer(&data, Duration::from_secs(60));
    assert!(got == data, "one way works during the cut");
    assert!(took < ms(100), "{took}");
    assert!(pair.tb.wire.is_cut(End::B) && !pair.tb.wire.is_cut(End::A));
    pair.tb.sleep(ms(2000));
    assert!(
        pair.tb.wire.stats(End::B).dropped_partition > 0,
        "the ACKs were lost"
    );
    assert!(
        pair.tb.wire.stats(End::A).retransmitted > 0,
        "so the client sent again"
    );
    let client_state = pair.client.send_queue(&mut pair.tb.client);
    assert!(client_state > 0, "unacknowledged data waits in the client");
    pair.tb.sleep(ms(5000));
    assert!(!pair.tb.wire.is_cut(End::B), "healed at 4 s");
    assert_eq!(
        pair.client.send_queue(&mut pair.tb.client),
        0,
        "all acknowledged"
    );
}

#[test]
fn loss_and_a_full_queue_are_repaired_by_tcp() {
    // 5% loss each way, jitter, 1 Mbit/s: TCP repairs every loss.
    let link = Link::IDEAL
        .latency(ms(20))
        .jitter(ms(2))
        .drop(Chance::percent(5))
        .bandwidth(1_000_000, 64 * 1024);
    let mut pair = connect(testbed(link, link, 9));
    let data = pattern(128 * 1024);
    let (got, took) = pair.transfer(&data, Duration::from_secs(600));
    assert!(
        got == data,
        "{} of {} bytes in {took}",
        got.len(),
        data.len()
    );
    let stats = pair.tb.wire.stats(End::A);
    assert!(
        stats.dropped_fault > 0 && stats.retransmitted > 0,
        "{stats:?} {:?} {:?}",
        pair.tb.wire.link(End::A),
        pair.tb.wire.stats(End::B)
    );

    // A queue smaller than the window: smoltcp (built here without a congestion
    // control) sends the whole window at once, the queue drops its tail, and the
    // retransmission sends the whole window again. It gets through, slowly.
    let link = Link::IDEAL.latency(ms(20)).bandwidth(1_000_000, 8192);
    let mut pair = connect(testbed(link, link, 10));
    let data = pattern(16 * 1024);
    let (got, took) = pair.transfer(&data, Duration::from_secs(600));
    let stats = pair.tb.wire.stats(End::A);
    assert!(
        got == data,
        "{} of {} bytes in {took}: {stats:?}",
        got.len(),
        data.len()
    );
    assert!(stats.dropped_queue > 0, "{stats:?}");
}
