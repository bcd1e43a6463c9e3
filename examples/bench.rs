//! `cargo run --release --example bench`: sockless against the kernel's own loopback, in
//! the same run, on the same machine.
//!
//! Four in-process workloads (ping-pong, bulk echo, connection churn, UDP round trips)
//! each run on two smoltcp stacks joined by the in-memory wire, and the same workload runs
//! through `std::net` on 127.0.0.1 against a kernel echo server thread. Every figure is the
//! median of several repetitions; the ratios (sockless / kernel, higher is better) are what
//! to compare across machines. With root, a fifth part runs the services on a TAP device
//! in a network namespace of its own and pushes 256 MiB through them with a kernel client.
//!
//! For profiling: `BENCH_PROFILE=pingpong`, `bulk` or `udp` runs only that sockless
//! workload and exits (`BENCH_ROUNDS=N` sets the ping-pong round trips), e.g. under
//! `valgrind --tool=callgrind` or `perf record`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket as KernelUdp};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration as WallDuration, Instant as WallClock};

use sockless::services::{ECHO_PORT, ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::IpEndpoint;
use sockless::socket::{ConnectError, RecvError, SendError, Shutdown as SlShutdown};
use sockless::{Host, StackStorage, TcpBuffers, TcpSocket, Testbed, UdpBuffers, UdpSocket, Wire};

/// Frame size on the in-memory wire: a 64 KiB jumbo frame (see `--help`).
const FRAME: usize = 65535;
/// Frames each direction of the wire holds.
const DEPTH: usize = 64;
/// Buffer size of each service connection, each way.
const BUF: usize = 256 * 1024;
/// Connections per service.
const POOL: usize = 4;

const HELP: &str = "\
bench: sockless in-process (and on TAP) against the kernel's loopback, same run.

USAGE:
    cargo run --release --example bench -- [--json] [--reps N] [--quick] [--no-tap]

    --json      print one JSON object instead of the table
    --reps N    repetitions per figure, the median is reported (default 5)
    --quick     smaller workloads (for a smoke test)
    --no-tap    skip the TAP part (it needs root; it says so and skips otherwise)";

struct Options {
    json: bool,
    reps: usize,
    quick: bool,
    tap: bool,
}

/// One workload's figures: sockless and the kernel, in the same unit.
struct Figure {
    name: &'static str,
    unit: &'static str,
    sockless: f64,
    kernel: f64,
}

impl Figure {
    fn ratio(&self) -> f64 {
        self.sockless / self.kernel
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

/// The median of `reps` runs, after one discarded warm-up run (first-touch page faults,
/// cold caches, lazy thread start-up).
fn repeat(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    f();
    median((0..reps).map(|_| f()).collect())
}

// ---- the kernel's side -------------------------------------------------------------------

/// Whether the kernel side runs with every thread on CPU 0 (see `kernel_best`).
static PINNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Put the calling thread on CPU 0 while `PINNED` is set, on every CPU otherwise.
fn pin_thread() {
    // SAFETY: plain libc calls on a zeroed cpu_set_t, for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if PINNED.load(std::sync::atomic::Ordering::SeqCst) {
            libc::CPU_SET(0, &mut set);
        } else {
            for cpu in 0..libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
            }
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The kernel at its best: each workload measured with threads free to run anywhere and
/// with every thread (client and server) on one core, and the better median kept. On an
/// idle 2-core VM a round trip between threads on different cores waits for the other
/// core to wake up, which makes the unpinned kernel ten times slower at ping-pong; on one
/// core it is a plain context switch.
fn kernel_best(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut best: f64 = 0.0;
    for pinned in [false, true] {
        PINNED.store(pinned, std::sync::atomic::Ordering::SeqCst);
        pin_thread();
        best = best.max(repeat(reps, &mut f));
    }
    PINNED.store(false, std::sync::atomic::Ordering::SeqCst);
    pin_thread();
    best
}

/// A kernel TCP echo server on 127.0.0.1, one thread per connection.
fn kernel_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            thread::spawn(move || {
                pin_thread();
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn kernel_udp_echo_server() -> u16 {
    let sk = KernelUdp::bind("127.0.0.1:0").unwrap();
    let port = sk.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut pinned = None;
        while let Ok((n, from)) = sk.recv_from(&mut buf) {
            let now = PINNED.load(std::sync::atomic::Ordering::SeqCst);
            if pinned != Some(now) {
                pin_thread();
                pinned = Some(now);
            }
            let _ = sk.send_to(&buf[..n], from);
        }
    });
    port
}

fn kernel_pingpong(port: u16, rounds: usize) -> f64 {
    let mut sk = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sk.set_nodelay(true).unwrap();
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    let start = WallClock::now();
    for _ in 0..rounds {
        sk.write_all(&msg).unwrap();
        sk.read_exact(&mut back).unwrap();
    }
    rounds as f64 / start.elapsed().as_secs_f64()
}

fn kernel_churn(port: u16, cycles: usize) -> f64 {
    let msg = [1u8; 64];
    let mut back = [0u8; 64];
    let start = WallClock::now();
    for _ in 0..cycles {
        let mut sk = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sk.set_nodelay(true).unwrap();
        sk.write_all(&msg).unwrap();
        sk.read_exact(&mut back).unwrap();
    }
    cycles as f64 / start.elapsed().as_secs_f64()
}

fn kernel_udp(port: u16, rounds: usize) -> f64 {
    let sk = KernelUdp::bind("127.0.0.1:0").unwrap();
    sk.connect(("127.0.0.1", port)).unwrap();
    sk.set_read_timeout(Some(WallDuration::from_secs(1)))
        .unwrap();
    let msg = [3u8; 64];
    let mut back = [0u8; 64];
    let start = WallClock::now();
    for _ in 0..rounds {
        sk.send(&msg).unwrap();
        sk.recv(&mut back).unwrap();
    }
    rounds as f64 / start.elapsed().as_secs_f64()
}

// ---- sockless's side ---------------------------------------------------------------------

/// Two stacks and every service, on the in-memory wire without checksums.
struct Rig {
    tb: &'static mut Testbed<'static, FRAME, DEPTH>,
    services: &'static mut Services<POOL>,
}

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

const SOCKETS: usize = ServiceStorage::<POOL, BUF>::SOCKETS;

impl Rig {
    fn new() -> Rig {
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

    fn socket(&mut self) -> TcpSocket {
        let buffers = leak_tcp_buffers();
        let mut sk = TcpSocket::new(&mut self.tb.client, buffers).unwrap();
        tune(&mut sk, &mut self.tb.client);
        sk
    }

    fn connect(&mut self, sk: &mut TcpSocket) {
        sk.connect(
            &mut self.tb.client,
            IpEndpoint::new(Host::SERVER.ipv4_addr(), ECHO_PORT),
        )
        .unwrap();
        let services = &mut *self.services;
        self.tb
            .run(Duration::from_secs(10), |c, s| {
                services.poll(s);
                sk.connect_status(c) != Err(ConnectError::WouldBlock)
            })
            .unwrap();
        sk.connect_status(&mut self.tb.client).unwrap();
    }
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

fn tune(sk: &mut TcpSocket, stack: &mut sockless::Stack<'_>) {
    sk.with_socket(stack, |s| {
        s.set_nagle_enabled(false);
    });
}

fn sockless_pingpong(rig: &mut Rig, sk: &mut TcpSocket, rounds: usize) -> f64 {
    let msg = [7u8; 64];
    let start = WallClock::now();
    for _ in 0..rounds {
        sk.sendall(&mut rig.tb.client, &msg).unwrap();
        let mut got = 0;
        let services = &mut *rig.services;
        rig.tb
            .run(Duration::from_secs(10), |c, s| {
                services.poll(s);
                let mut buf = [0u8; 64];
                if let Ok(n) = sk.recv(c, &mut buf[got..]) {
                    got += n;
                }
                got == 64
            })
            .unwrap();
    }
    rounds as f64 / start.elapsed().as_secs_f64()
}

/// `bytes` through the echo service and back, sending and receiving at once; MB/s each way.
fn sockless_bulk(rig: &mut Rig, sk: &mut TcpSocket, bytes: usize) -> f64 {
    rig.connect(sk);
    let chunk = vec![0x5au8; 64 * 1024];
    let mut sent = 0;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let start = WallClock::now();
    let services = &mut *rig.services;
    rig.tb
        .run(Duration::from_secs(3600), |c, s| {
            services.poll(s);
            while sent < bytes {
                match sk.send(c, &chunk[..(bytes - sent).min(chunk.len())]) {
                    Ok(n) => sent += n,
                    Err(SendError::WouldBlock) => break,
                    Err(e) => panic!("bulk send: {e}"),
                }
            }
            if sent == bytes {
                sk.shutdown(c, SlShutdown::Write);
            }
            loop {
                match sk.recv(c, &mut buf) {
                    Ok(0) => return true,
                    Ok(n) => got += n,
                    Err(RecvError::WouldBlock) => return false,
                    Err(e) => panic!("bulk recv: {e}"),
                }
            }
        })
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, bytes);
    sk.close(&mut rig.tb.client);
    settle_closed(rig, sk);
    bytes as f64 / secs / 1e6
}

/// Wait (in virtual time) until `sk` and the services are back to idle.
fn settle_closed(rig: &mut Rig, sk: &mut TcpSocket) {
    let services = &mut *rig.services;
    rig.tb
        .run(Duration::from_secs(60), |c, s| {
            services.poll(s);
            sk.state(c) == Some(sockless::smoltcp::socket::tcp::State::Closed)
                && services.busy(s) == 0
        })
        .unwrap();
}

/// Connect, echo 64 bytes, close, `cycles` times; cycles per second. The client rotates
/// over several sockets so that one's TIME-WAIT (virtual time) does not hold up the next.
fn sockless_churn(rig: &mut Rig, sockets: &mut [TcpSocket], cycles: usize) -> f64 {
    let msg = [1u8; 64];
    let start = WallClock::now();
    for i in 0..cycles {
        let sk = &mut sockets[i % sockets.len()];
        let services = &mut *rig.services;
        // A socket whose TIME-WAIT has not passed yet waits for it, in virtual time.
        rig.tb
            .run(Duration::from_secs(60), |c, s| {
                services.poll(s);
                sk.state(c) == Some(sockless::smoltcp::socket::tcp::State::Closed)
            })
            .unwrap();
        sk.connect(
            &mut rig.tb.client,
            IpEndpoint::new(Host::SERVER.ipv4_addr(), ECHO_PORT),
        )
        .unwrap();
        let mut sent = false;
        let mut got = 0;
        rig.tb
            .run(Duration::from_secs(60), |c, s| {
                services.poll(s);
                if !sent && sk.connect_status(c).is_ok() {
                    sk.sendall(c, &msg).unwrap();
                    sent = true;
                }
                let mut buf = [0u8; 64];
                if let Ok(n) = sk.recv(c, &mut buf) {
                    got += n;
                }
                got == 64
            })
            .unwrap();
        sk.close(&mut rig.tb.client);
    }
    cycles as f64 / start.elapsed().as_secs_f64()
}

fn sockless_udp(rig: &mut Rig, sk: &mut UdpSocket, rounds: usize) -> f64 {
    let msg = [3u8; 64];
    let to = IpEndpoint::new(Host::SERVER.ipv4_addr(), ECHO_PORT);
    let start = WallClock::now();
    for _ in 0..rounds {
        sk.sendto(&mut rig.tb.client, &msg, to).unwrap();
        let services = &mut *rig.services;
        rig.tb
            .run(Duration::from_secs(10), |c, s| {
                services.poll(s);
                sk.recvfrom(c, &mut [0u8; 64]).is_ok()
            })
            .unwrap();
    }
    rounds as f64 / start.elapsed().as_secs_f64()
}

// ---- on a TAP device ---------------------------------------------------------------------

/// A namespace of the bench's own with `tap0` in it, removed on drop.
struct Namespace(String);

impl Namespace {
    fn create(mtu: usize) -> Result<Namespace, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (a namespace and a TAP device need CAP_NET_ADMIN)".into());
        }
        let ns = Namespace(format!("sockless-bench-{}", std::process::id()));
        ip(&["netns", "add", &ns.0])?;
        let mtu = mtu.to_string();
        for cmd in [
            vec!["link", "set", "lo", "up"],
            vec!["tuntap", "add", "dev", "tap0", "mode", "tap"],
            vec!["link", "set", "tap0", "mtu", &mtu],
            vec!["link", "set", "tap0", "up"],
            vec!["addr", "add", "192.168.69.100/24", "dev", "tap0"],
        ] {
            let mut argv = vec!["netns", "exec", &ns.0, "ip"];
            argv.extend(cmd);
            ip(&argv)?;
        }
        Ok(ns)
    }

    /// Run `f` on a thread inside the namespace.
    fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.0);
        thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace");
            // SAFETY: setns on a valid namespace fd, for this thread only.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns");
            f()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Push `bytes` through an echo server at `addr` with a kernel TCP client, sending and
/// receiving at once (the kernel's bulk figure, and the TAP client). MB/s of the slower
/// direction.
fn kernel_client_push(addr: std::net::SocketAddr, bytes: usize) -> f64 {
    let sk = TcpStream::connect_timeout(&addr, WallDuration::from_secs(5)).expect("connect");
    let mut writer = sk.try_clone().unwrap();
    let mut reader = sk;
    let start = WallClock::now();
    let sender = thread::spawn(move || {
        pin_thread();
        let chunk = vec![0x5au8; 256 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        writer.shutdown(Shutdown::Write).unwrap();
        start.elapsed()
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        got += n;
    }
    let received = start.elapsed();
    let sent = sender.join().unwrap();
    assert_eq!(got, bytes, "the echo returned every byte");
    bytes as f64 / sent.max(received).as_secs_f64() / 1e6
}

/// The services on a TAP device, pushed by a kernel client; and the same client against a
/// kernel echo server in the same namespace. MB/s each.
fn tap_figures(reps: usize, bytes: usize) -> Result<(f64, f64, usize), String> {
    const TAP_MTU: usize = 65521;
    let ns = Namespace::create(TAP_MTU)?;
    let serve = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("serve");
    if !serve.exists() {
        return Err(format!(
            "{} not built: cargo build --release --example serve",
            serve.display()
        ));
    }
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(&serve)
        .args([
            "--tap",
            "tap0",
            "--buffer-size",
            "256",
            "--idle-timeout",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("serve: {e}"))?;
    let mut ready = String::new();
    let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut output, &mut ready).map_err(|e| e.to_string())?;
    if !ready.starts_with("ready:") {
        let _ = child.kill();
        return Err(format!("serve did not start: {ready:?}"));
    }
    let sockless = ns.enter(move || {
        repeat(reps, || {
            kernel_client_push("192.168.69.1:7".parse().unwrap(), bytes)
        })
    });
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut summary = String::new();
    let _ = output.read_to_string(&mut summary);
    let _ = child.wait();
    let kernel = ns.enter(move || {
        let port = kernel_echo_server();
        repeat(reps, || {
            kernel_client_push(format!("127.0.0.1:{port}").parse().unwrap(), bytes)
        })
    });
    Ok((sockless, kernel, TAP_MTU))
}

fn parse() -> Result<Option<Options>, String> {
    let mut options = Options {
        json: false,
        reps: 5,
        quick: false,
        tap: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(None);
            }
            "--json" => options.json = true,
            "--quick" => options.quick = true,
            "--no-tap" => options.tap = false,
            "--reps" => {
                options.reps = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--reps needs a positive number")?
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(Some(o)) => o,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    // The jumbo-frame wire (2 x DEPTH x 64 KiB) is built by value before it is boxed.
    thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || run(options))
        .unwrap()
        .join()
        .unwrap()
}

fn run(options: Options) -> ExitCode {
    let scale = if options.quick { 10 } else { 1 };
    let kernel_tcp = kernel_echo_server();
    let kernel_udp_port = kernel_udp_echo_server();
    let mut rig = Rig::new();
    let mut sk = rig.socket();
    rig.connect(&mut sk);

    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000 / scale);
    if std::env::var("BENCH_PROFILE").is_ok_and(|v| v == "udp") {
        let buffers = leak(UdpBuffers::<4, 2048>::new());
        let mut udp = UdpSocket::bind(&mut rig.tb.client, 0, buffers).unwrap();
        sockless_udp(&mut rig, &mut udp, rounds);
        return ExitCode::SUCCESS;
    }
    if std::env::var("BENCH_PROFILE").is_ok_and(|v| v == "pingpong") {
        sockless_pingpong(&mut rig, &mut sk, rounds);
        return ExitCode::SUCCESS;
    }
    let pingpong = Figure {
        name: "ping-pong 64 B",
        unit: "round trips/s",
        sockless: repeat(options.reps, || {
            sockless_pingpong(&mut rig, &mut sk, rounds)
        }),
        kernel: kernel_best(options.reps, || kernel_pingpong(kernel_tcp, rounds / 2)),
    };
    sk.close(&mut rig.tb.client);
    settle_closed(&mut rig, &mut sk);

    let bytes = (64 << 20) / scale;
    if std::env::var("BENCH_PROFILE").is_ok_and(|v| v == "bulk") {
        for _ in 0..options.reps {
            eprintln!("bulk: {:.0} MB/s", sockless_bulk(&mut rig, &mut sk, bytes));
        }
        return ExitCode::SUCCESS;
    }
    let bulk = Figure {
        name: "bulk echo 64 MiB",
        unit: "MB/s each way",
        sockless: repeat(options.reps, || sockless_bulk(&mut rig, &mut sk, bytes)),
        kernel: kernel_best(options.reps, || {
            kernel_client_push(([127, 0, 0, 1], kernel_tcp).into(), bytes)
        }),
    };

    let cycles = 20_000 / scale;
    let mut churners = vec![sk];
    churners.extend((0..3).map(|_| rig.socket()));
    let churn = Figure {
        name: "churn",
        unit: "connections/s",
        sockless: repeat(options.reps, || {
            sockless_churn(&mut rig, &mut churners, cycles)
        }),
        kernel: kernel_best(options.reps, || kernel_churn(kernel_tcp, cycles / 4)),
    };

    let udp_buffers = leak(UdpBuffers::<4, 2048>::new());
    let mut udp = UdpSocket::bind(&mut rig.tb.client, 0, udp_buffers).unwrap();
    let udp = Figure {
        name: "UDP 64 B",
        unit: "round trips/s",
        sockless: repeat(options.reps, || sockless_udp(&mut rig, &mut udp, rounds)),
        kernel: kernel_best(options.reps, || kernel_udp(kernel_udp_port, rounds / 2)),
    };

    let tap = if options.tap {
        match tap_figures(options.reps.min(3), (256 << 20) / scale) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("bench: TAP part skipped: {e}");
                None
            }
        }
    } else {
        None
    };

    let figures = [pingpong, bulk, churn, udp];
    if options.json {
        let mut json = String::from("{");
        for (key, f) in ["pingpong", "bulk", "churn", "udp"].iter().zip(&figures) {
            json += &format!(
                "\"{key}_ratio\": {:.3}, \"{key}_sockless\": {:.1}, \"{key}_kernel\": {:.1}, ",
                f.ratio(),
                f.sockless,
                f.kernel
            );
        }
        if let Some((sockless, kernel, mtu)) = tap {
            json += &format!(
                "\"tap_gbit_s\": {:.3}, \"tap_mb_s\": {sockless:.1}, \"tap_kernel_mb_s\": {kernel:.1}, \"tap_mtu\": {mtu}, ",
                sockless * 8.0 / 1000.0
            );
        }
        json += &format!(
            "\"frame\": {FRAME}, \"wire_depth\": {DEPTH}, \"socket_buffer\": {BUF}, \"pool\": {POOL}, \"reps\": {}}}",
            options.reps
        );
        println!("{json}");
        return ExitCode::SUCCESS;
    }
    println!(
        "in-process: two smoltcp stacks on the in-memory wire, one thread, virtual time; frames \
         up to {FRAME} B, {DEPTH} frames each way, checksums off, {} KiB socket buffers, \
         {POOL} connections per service",
        BUF / 1024
    );
    println!(
        "kernel: std::net on 127.0.0.1 against an echo server thread, the better of unpinned \
         and all threads on one core"
    );
    println!(
        "each figure: median of {} runs after a warm-up run; ratio = sockless / kernel\n",
        options.reps
    );
    println!(
        "{:<18} {:>12} {:>12}  {:<14} {:>6}",
        "", "sockless", "kernel", "unit", "ratio"
    );
    for f in &figures {
        println!(
            "{:<18} {:>12.0} {:>12.0}  {:<14} {:>6.2}",
            f.name,
            f.sockless,
            f.kernel,
            f.unit,
            f.ratio()
        );
    }
    if let Some((sockless, kernel, mtu)) = tap {
        println!(
            "{:<18} {:>12.0} {:>12.0}  {:<14} {:>6.2}   = {:.2} Gbit/s each way (TAP MTU {mtu}, \
             serve --buffer-size 256; kernel: its own echo server in the same namespace)",
            "TAP echo 256 MiB",
            sockless,
            kernel,
            "MB/s each way",
            sockless / kernel,
            sockless * 8.0 / 1000.0
        );
    }
    ExitCode::SUCCESS
}
