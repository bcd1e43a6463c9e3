//! Issue 16's tables of TCP over a lossy, delayed link, in virtual time, printed (not
//! timed, not asserted beyond every byte arriving in order):
//!
//! * `loss_and_rtt_table`: 1 MiB from a client to a server, both with `serve`'s default
//!   64 KiB buffers, over loss rates 0-20% (each way) and RTTs 1-100 ms, with and without
//!   the gate's SACK hints: throughput, segments retransmitted, virtual time.
//! * `smoltcp_netsim_calibration`: the scenario of smoltcp 0.14's own `tests/netsim.rs`
//!   (100 ms RTT, socket buffers of 128 B to 32 KiB, loss 0-30% each way, no bandwidth
//!   limit, one flow) on sockless's testbed, in the layout of its snapshot.
//!
//! `cargo test --release --test loss_table -- --ignored --nocapture --test-threads 1`
//! README, "Reliability", has both next to smoltcp's snapshot, every difference explained.

use sockless::phy::{Chance, End, Link, Wire};
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{ConnectError, RecvError, SendError};
use sockless::{Host, Listener, StackStorage, TcpBuffers, TcpSocket, Testbed};

/// Frames in flight each way: a 64 KiB window of 1460-byte segments, and the ACKs.
const DEPTH: usize = 128;
type Bed = Testbed<'static, 1514, DEPTH>;

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

/// What one transfer measured.
struct Run {
    /// Virtual time from the first byte offered to the last one read.
    time: Duration,
    /// TCP segments retransmitted, both ways (the wire reads sequence numbers).
    retransmitted: u64,
}

impl Run {
    fn throughput(&self, bytes: usize) -> f64 {
        bytes as f64 / (self.time.total_micros().max(1) as f64 / 1e6)
    }
}

/// `bytes` from a client to a server with `BUF`-byte buffers each way on both sides,
/// over `link` both ways (seeded), SACK hints on or off; panics if a byte is wrong.
fn transfer<const BUF: usize>(link: Link, seed: u32, bytes: usize, hints: bool) -> Run {
    // The wire and the buffers are built by value before they are leaked: a debug build
    // needs more than a test thread's 2 MiB of stack for that.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || transfer_here::<BUF>(link, seed, bytes, hints))
        .unwrap()
        .join()
        .unwrap()
}

fn transfer_here<const BUF: usize>(link: Link, seed: u32, bytes: usize, hints: bool) -> Run {
    let mut wire = Box::new(Wire::<1514, DEPTH>::new());
    wire.set_links(link);
    wire.set_seed(seed);
    let tb: &'static mut Bed = leak(Testbed::with_wire(
        *wire,
        Host::CLIENT,
        leak(StackStorage::<4>::new()),
        Host::SERVER,
        leak(StackStorage::<4>::new()),
    ));
    tb.client.set_sack_hints(hints);
    tb.server.set_sack_hints(hints);
    let pool: &'static mut [TcpBuffers<BUF, BUF>] = Vec::leak(vec![TcpBuffers::new()]);
    let mut listener = Listener::<1>::listen(&mut tb.server, 7, 1, pool).unwrap();
    let mut client = TcpSocket::new(&mut tb.client, leak(TcpBuffers::<BUF, BUF>::new())).unwrap();
    // A lossy link can stay silent a long while as TCP backs off: no idle limits.
    client.set_timeout(&mut tb.client, None);
    client
        .connect(&mut tb.client, IpEndpoint::new(Host::SERVER.ipv4_addr(), 7))
        .unwrap();
    let limit = Duration::from_secs(100 * 24 * 3600);
    let mut server = None;
    tb.run(limit, |c, s| {
        server = server.take().or_else(|| listener.accept(s).ok());
        server.is_some() && client.connect_status(c) != Err(ConnectError::WouldBlock)
    })
    .unwrap();
    client.connect_status(&mut tb.client).expect("connected");
    let mut server = server.unwrap();
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let before = tb.wire.stats(End::A).retransmitted + tb.wire.stats(End::B).retransmitted;
    let start = tb.now();
    let (mut sent, mut got) = (0, 0usize);
    tb.run(limit, |c, s| {
        if sent < data.len() {
            match client.send(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => {}
                Err(e) => panic!("send: {e}"),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match server.recv(s, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    assert!(buf[..n] == data[got..got + n], "bytes altered at {got}");
                    got += n;
                }
                Err(RecvError::WouldBlock) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        got >= data.len()
    })
    .expect("the transfer finishes");
    let after = tb.wire.stats(End::A).retransmitted + tb.wire.stats(End::B).retransmitted;
    Run {
        time: tb.now() - start,
        retransmitted: after - before,
    }
}

/// `latency` each way (half the RTT), `loss` frames in a thousand dropped each way.
fn link(rtt_ms: u64, loss_per_mille: u16) -> Link {
    Link::IDEAL
        .latency(Duration::from_micros(rtt_ms * 1000 / 2))
        .drop(Chance::per_mille(loss_per_mille))
}

#[test]
#[ignore = "prints a table (minutes in a debug build): cargo test --release --test loss_table -- --ignored --nocapture"]
fn loss_and_rtt_table() {
    const BYTES: usize = 1 << 20;
    const BUF: usize = 64 * 1024;
    println!(
        "\n1 MiB client -> server, 64 KiB buffers each side, loss each way; KB/s, retransmitted segments, virtual s"
    );
    println!("                         SACK hints (default)            smoltcp alone");
    println!("  rtt   loss       KB/s   retx   virtual       KB/s   retx   virtual");
    for rtt in [1, 10, 100] {
        for loss in [0, 10, 20, 50, 100, 200] {
            let mut cells = String::new();
            for hints in [true, false] {
                let run = transfer::<BUF>(link(rtt, loss), 1, BYTES, hints);
                cells += &format!(
                    "  {:9.1}  {:5}  {:7.2} s",
                    run.throughput(BYTES) / 1000.0,
                    run.retransmitted,
                    run.time.total_millis() as f64 / 1000.0
                );
            }
            println!("{rtt:3} ms  {:4.1}%{cells}", loss as f64 / 10.0);
        }
    }
}

#[test]
#[ignore = "prints a table (minutes in a debug build): cargo test --release --test loss_table -- --ignored --nocapture"]
fn smoltcp_netsim_calibration() {
    // smoltcp sends 10 MiB per cell; 1 MiB here (throughput is a rate; the cells at 20%
    // and 30% loss with small buffers would otherwise take most of an hour).
    const BYTES: usize = 1 << 20;
    let losses: [u16; 8] = [0, 1, 10, 20, 50, 100, 200, 300];
    for hints in [false, true] {
        println!(
            "\nsmoltcp's netsim scenario on sockless's testbed ({}): bytes/s, 100 ms RTT",
            if hints {
                "SACK hints on"
            } else {
                "SACK hints off: smoltcp alone"
            }
        );
        print!("buf\\loss");
        for loss in losses {
            print!("{:9.3} ", f64::from(loss) / 1000.0);
        }
        println!();
        macro_rules! row {
            ($($buf:literal)*) => {$(
                print!("{:7}", $buf);
                for loss in losses {
                    let run = transfer::<$buf>(link(100, loss), 1, BYTES, hints);
                    print!(" {:9.2}", run.throughput(BYTES));
                }
                println!();
            )*};
        }
        row!(128 256 512 1024 2048 4096 8192 16384 32768);
    }
}

/// Not a table: the hints must make a difference where the table says they do (1 MiB,
/// 64 KiB buffers, 10 ms RTT, 5% loss each way, seed 1: 105 segments resent and 2.6 s of
/// virtual time with them, 210 and 5.5 s without). Deterministic: same seed, same run.
#[test]
fn sack_hints_repair_losses_that_smoltcp_alone_leaves_to_its_timer() {
    const BUF: usize = 64 * 1024;
    let with = transfer::<BUF>(link(10, 50), 1, 1 << 20, true);
    let without = transfer::<BUF>(link(10, 50), 1, 1 << 20, false);
    eprintln!(
        "with hints: {} resent, {} ms; without: {} resent, {} ms",
        with.retransmitted,
        with.time.total_millis(),
        without.retransmitted,
        without.time.total_millis()
    );
    assert!(with.retransmitted > 0, "the link lost segments");
    assert!(
        with.time * 3 < without.time * 2,
        "the hints save a third of the time"
    );
    assert!(with.retransmitted < without.retransmitted);
    // A clean link: no hint, nothing resent, the same time either way.
    let clean = transfer::<BUF>(link(10, 0), 1, 1 << 20, true);
    let plain = transfer::<BUF>(link(10, 0), 1, 1 << 20, false);
    assert_eq!((clean.retransmitted, plain.retransmitted), (0, 0));
    assert_eq!(clean.time, plain.time);
}
