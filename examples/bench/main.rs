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
//! For profiling: `BENCH_PROFILE=pingpong`, `udp`, `bulk` or `churn` runs only that
//! sockless workload and exits (`BENCH_ROUNDS=N` sets the ping-pong and UDP round trips;
//! bulk and churn run `--reps` times), e.g. under `valgrind --tool=callgrind` or
//! `perf record`.
//!
//! The parts: `kernel.rs` (the workloads through `std::net`), `in_process.rs` (the same on
//! the testbed), `tap.rs` (the namespace and `serve` on TAP), `report.rs` (table and JSON).

use std::process::ExitCode;
use std::thread;
use std::time::Instant as WallClock;

#[path = "../common/cli.rs"]
mod cli;
mod in_process;
mod kernel;
mod raw_smoltcp;
mod report;
mod tap;

use in_process::Rig;
use raw_smoltcp::RawRig;
use report::Figure;

/// Frame size on the in-memory wire: a 64 KiB jumbo frame.
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
    cargo run --release --example bench -- [OPTIONS]

OPTIONS:
    --json          print one JSON object instead of the table
    --reps N        repetitions per figure, the median is reported (default 5)
    --quick         workloads a tenth of the size (for a smoke test)
    --no-tap        skip the TAP part (it needs root and the serve example built
                    beside this one; without them it says so and skips)
    -h, --help      print this text

ENVIRONMENT:
    BENCH_PROFILE   pingpong, udp, bulk or churn: run only that sockless workload
                    and exit, for profiling (callgrind, perf record); raw-pingpong,
                    raw-udp, raw-bulk, raw-churn: the same on raw smoltcp
    BENCH_ROUNDS    round trips of sockless's ping-pong and UDP workloads, half as
                    many for the kernel's (default 50000, 5000 with --quick)";

struct Options {
    json: bool,
    reps: usize,
    quick: bool,
    tap: bool,
}

impl Options {
    /// The hook of [`cli::parse`]: one option of the bench's.
    fn take(&mut self, flag: &str, parser: &mut cli::Parser) -> Result<bool, cli::Error> {
        match flag {
            "--reps" => {
                self.reps = cli::value_with(parser, flag, "a positive number", |v| {
                    v.parse().ok().filter(|n| *n > 0)
                })?
            }
            "--json" => self.json = true,
            "--quick" => self.quick = true,
            "--no-tap" => self.tap = false,
            _ => return Ok(false),
        }
        Ok(true)
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

/// Two workloads' medians of `reps` runs each, run in turn (one warm-up run each first).
fn alternate(reps: usize, mut f: impl FnMut() -> f64, mut g: impl FnMut() -> f64) -> (f64, f64) {
    f();
    g();
    let (mut fs, mut gs) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        fs.push(f());
        gs.push(g());
    }
    (median(fs), median(gs))
}

/// `count` calls of `once` (given the call's number), per second of wall time.
fn per_second(count: usize, mut once: impl FnMut(usize)) -> f64 {
    let start = WallClock::now();
    for i in 0..count {
        once(i);
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() -> ExitCode {
    let mut options = Options {
        json: false,
        reps: 5,
        quick: false,
        tap: true,
    };
    cli::parse_env("bench", HELP, |flag, parser| options.take(flag, parser));
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
    let reps = options.reps;
    let kernel_tcp = kernel::echo_server();
    let kernel_udp_port = kernel::udp_echo_server();
    let mut rig = Rig::new();
    let mut sk = rig.socket();
    rig.connect(&mut sk);
    let mut raw = RawRig::new();
    let raw_sk = raw.socket();
    raw.connect(raw_sk);

    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000 / scale);
    let bytes = (64 << 20) / scale;
    let cycles = 20_000 / scale;
    if let Ok(profile) = std::env::var("BENCH_PROFILE") {
        if let Some(profile) = profile.strip_prefix("raw-") {
            profile_raw(profile, &mut raw, raw_sk, reps, rounds, bytes, cycles);
        } else {
            profile_one(&profile, &mut rig, sk, reps, rounds, bytes, cycles);
        }
        return ExitCode::SUCCESS;
    }
    // sockless and raw smoltcp run in turn, rep by rep (`alternate`), so that a machine
    // that slows down for a while slows both alike.
    let (sockless, raw_figure) = alternate(
        reps,
        || in_process::pingpong(&mut rig, &mut sk, rounds),
        || raw_smoltcp::pingpong(&mut raw, raw_sk, rounds),
    );
    let pingpong = Figure {
        sockless,
        raw: raw_figure,
        kernel: kernel::best(reps, || kernel::pingpong(kernel_tcp, rounds / 2)),
    };
    sk.close(&mut rig.tb.client);
    in_process::settle_closed(&mut rig, &mut sk);
    raw_smoltcp::settle_closed(&mut raw, raw_sk);

    let (sockless, raw_figure) = alternate(
        reps,
        || in_process::bulk(&mut rig, &mut sk, bytes),
        || raw_smoltcp::bulk(&mut raw, raw_sk, bytes),
    );
    let bulk = Figure {
        sockless,
        raw: raw_figure,
        kernel: kernel::best(reps, || {
            kernel::client_push(([127, 0, 0, 1], kernel_tcp).into(), bytes)
        }),
    };

    let mut churners = vec![sk];
    churners.extend((0..3).map(|_| rig.socket()));
    let mut raw_churners = vec![raw_sk];
    raw_churners.extend((0..3).map(|_| raw.socket()));
    let (sockless, raw_figure) = alternate(
        reps,
        || in_process::churn(&mut rig, &mut churners, cycles),
        || raw_smoltcp::churn(&mut raw, &raw_churners, cycles),
    );
    let churn = Figure {
        sockless,
        raw: raw_figure,
        kernel: kernel::best(reps, || kernel::churn(kernel_tcp, cycles / 4)),
    };

    let mut udp = rig.udp_socket();
    let raw_udp = raw.udp_socket();
    let (sockless, raw_figure) = alternate(
        reps,
        || in_process::udp(&mut rig, &mut udp, rounds),
        || raw_smoltcp::udp(&mut raw, raw_udp, rounds),
    );
    let udp = Figure {
        sockless,
        raw: raw_figure,
        kernel: kernel::best(reps, || kernel::udp(kernel_udp_port, rounds / 2)),
    };

    let tap = if options.tap {
        match tap::figures(reps.min(3), (256 << 20) / scale) {
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
        println!("{}", report::json(&figures, tap.as_ref(), reps));
    } else {
        report::print_table(&figures, tap.as_ref(), reps);
    }
    ExitCode::SUCCESS
}

/// `BENCH_PROFILE`: only that sockless workload, for a profiler (bulk echo and churn
/// `reps` times, on the sockets a full run gives them). `sk` is connected to the echo
/// service.
fn profile_one(
    profile: &str,
    rig: &mut Rig,
    mut sk: sockless::TcpSocket,
    reps: usize,
    rounds: usize,
    bytes: usize,
    cycles: usize,
) {
    match profile {
        "pingpong" => {
            in_process::pingpong(rig, &mut sk, rounds);
        }
        "udp" => {
            let mut udp = rig.udp_socket();
            in_process::udp(rig, &mut udp, rounds);
        }
        "bulk" | "churn" => {
            sk.close(&mut rig.tb.client);
            in_process::settle_closed(rig, &mut sk);
            let mut churners = vec![sk];
            churners.extend((0..3).map(|_| rig.socket()));
            for _ in 0..reps {
                if profile == "bulk" {
                    let mb = in_process::bulk(rig, &mut churners[0], bytes);
                    eprintln!("bulk: {mb:.0} MB/s");
                } else {
                    let per_second = in_process::churn(rig, &mut churners, cycles);
                    eprintln!("churn: {per_second:.0} connections/s");
                }
            }
        }
        _ => eprintln!("bench: BENCH_PROFILE={profile:?}: pingpong, udp, bulk or churn"),
    }
}

/// `BENCH_PROFILE=raw-...`: the same workload on raw smoltcp (`raw_smoltcp.rs`), to set
/// its instruction count beside sockless's.
fn profile_raw(
    profile: &str,
    raw: &mut RawRig,
    sk: sockless::smoltcp::iface::SocketHandle,
    reps: usize,
    rounds: usize,
    bytes: usize,
    cycles: usize,
) {
    match profile {
        "pingpong" => {
            raw_smoltcp::pingpong(raw, sk, rounds);
        }
        "udp" => {
            let udp = raw.udp_socket();
            raw_smoltcp::udp(raw, udp, rounds);
        }
        "bulk" | "churn" => {
            raw_smoltcp::settle_closed(raw, sk);
            let mut churners = vec![sk];
            churners.extend((0..3).map(|_| raw.socket()));
            for _ in 0..reps {
                if profile == "bulk" {
                    let mb = raw_smoltcp::bulk(raw, churners[0], bytes);
                    eprintln!("raw bulk: {mb:.0} MB/s");
                } else {
                    let per_second = raw_smoltcp::churn(raw, &churners, cycles);
                    eprintln!("raw churn: {per_second:.0} connections/s");
                }
            }
        }
        _ => eprintln!(
            "bench: BENCH_PROFILE=raw-{profile:?}: raw-pingpong, raw-udp, raw-bulk or raw-churn"
        ),
    }
}
