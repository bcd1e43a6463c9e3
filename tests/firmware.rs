//! The firmware (examples/firmware) booted in QEMU, driven from the host's own sockets.
//!
//! Each test builds the firmware for a board, boots it with `scripts/qemu-mps2` (the same
//! runner `cargo run` uses) on a free block of host ports, waits for its `ready:` line,
//! plays the tutorial's conversations, pushes 1 MiB through TCP 7, runs clients at once
//! and one more than a pool holds, reads the counters over the control port, ends the run
//! with `quit` and asserts QEMU's exit status. The console log and a pcap of the board's
//! wire are kept in `target/firmware-test/` when a test fails.
//!
//! Needs `qemu-system-arm` and the thumb targets (rustup). Without them each test says so
//! and passes as skipped, unless `SOCKLESS_REQUIRE_QEMU=1` (set by `.ci/run`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod kernel;
use kernel::{Server, echo_one_mib, read_line, robot_session, tcp};

/// The firmware's control port (examples/firmware).
const CONTROL: u16 = 4444;
/// Every port the runner forwards, as offsets from the base.
const FORWARDED: [u16; 5] = [7, 6969, 8888, 9999, CONTROL];
/// TCP connections per service in the firmware as shipped.
const POOL: usize = 2;

fn skip(why: &str) -> bool {
    if std::env::var("SOCKLESS_REQUIRE_QEMU").as_deref() == Ok("1") {
        panic!("firmware test cannot run: {why}, and SOCKLESS_REQUIRE_QEMU=1");
    }
    eprintln!("\n*** SKIPPED: firmware test: {why} ***\n");
    true
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether QEMU is there to boot a build (skips the test, or fails it under
/// `SOCKLESS_REQUIRE_QEMU=1`, if not).
fn have_qemu() -> bool {
    let found = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        skip("no qemu-system-arm (apt-get install qemu-system-arm)");
    }
    found
}

/// Build the firmware for `target` with cargo `profile`; its ELF.
fn build(target: &str, profile: &str) -> Option<PathBuf> {
    if !have_qemu() {
        return None;
    }
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--example",
            "firmware",
            "--target",
            target,
            "--profile",
            profile,
        ])
        .current_dir(manifest_dir())
        .output()
        .expect("cargo");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("target may not be installed") {
            skip(&format!("no {target} (rustup target add {target})"));
            return None;
        }
        panic!("building the firmware for {target} failed:\n{err}");
    }
    let dir = if profile == "dev" { "debug" } else { profile };
    Some(manifest_dir().join(format!("target/{target}/{dir}/examples/firmware")))
}

/// Build the size-tuned firmware for `target` (scripts/cargo-size-tuned: the pinned nightly,
/// `core` built with the firmware, no panic messages, no log lines); its ELF.
fn build_size_tuned(target: &str) -> Option<PathBuf> {
    if !have_qemu() {
        return None;
    }
    let script = manifest_dir().join("scripts/cargo-size-tuned");
    let out = Command::new(&script)
        .args(["build", "--example", "firmware", "--target", target])
        .args(["--no-default-features", "--features", "lan9118"])
        .current_dir(manifest_dir())
        .output()
        .expect("scripts/cargo-size-tuned");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("not installed") || err.contains("rust-src") {
            skip(&format!(
                "the size-tuned build needs its pinned nightly with rust-src (see {}):\n{err}",
                script.display()
            ));
            return None;
        }
        panic!("building the size-tuned firmware for {target} failed:\n{err}");
    }
    Some(manifest_dir().join(format!(
        "target/size-tuned/{target}/firmware/examples/firmware"
    )))
}

/// A base for the forwarded ports where every one of them is free on 127.0.0.1.
/// Tests of one run start from different blocks (two QEMUs boot at once).
fn free_port_base() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let first = (std::process::id() % 20) as u16 + NEXT.fetch_add(7, Ordering::SeqCst);
    // Blocks 30000, 31000, ... 54000: the highest forwarded port (+9999) stays below 65536.
    (0..25)
        .map(|i| 30_000 + (first + i) % 25 * 1000)
        .find(|&base| {
            FORWARDED.iter().all(|p| {
                TcpListener::bind(("127.0.0.1", base + p)).is_ok()
                    && UdpSocket::bind(("127.0.0.1", base + p)).is_ok()
            })
        })
        .expect("a free block of ports")
}

/// The firmware running in QEMU.
struct Board {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    server: Server,
    log: PathBuf,
    pcap: PathBuf,
}

impl Board {
    fn boot(machine: &str, build: &str, elf: &Path) -> Board {
        let name = format!("{machine}-{build}-{}", std::process::id());
        let dir = manifest_dir().join("target/firmware-test");
        std::fs::create_dir_all(&dir).unwrap();
        let (log, pcap) = (
            dir.join(format!("{name}.log")),
            dir.join(format!("{name}.pcap")),
        );
        let base = free_port_base();
        let mut child = Command::new(manifest_dir().join("scripts/qemu-mps2"))
            .arg(machine)
            .arg(elf)
            .env("SOCKLESS_PORT_BASE", base.to_string())
            .env("SOCKLESS_PCAP", &pcap)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/qemu-mps2");
        // The console, line by line, into the log file and to the test.
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let mut file = std::fs::File::create(&log).unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        let board = Board {
            name,
            child,
            lines,
            server: Server {
                host: "127.0.0.1",
                port_base: base,
            },
            log,
            pcap,
        };
        board.wait_for("ready:", Duration::from_secs(60));
        board
    }

    /// Console lines until one starting with `prefix` (which is returned).
    fn wait_for(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("{}: no {prefix:?} line on the console: {e}", self.name),
            }
        }
    }

    /// A command to the control port; its reply.
    fn control(&self, command: &str) -> String {
        let sk = UdpSocket::bind("127.0.0.1:0").unwrap();
        sk.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        for _ in 0..5 {
            sk.send_to(command.as_bytes(), self.server.addr(CONTROL))
                .unwrap();
            let mut buf = [0u8; 2048];
            if let Ok(n) = sk.recv(&mut buf) {
                return String::from_utf8(buf[..n].to_vec()).expect("UTF-8 reply");
            }
        }
        panic!("{}: no reply to {command:?}", self.name);
    }

    /// Wait until every TCP socket of the board is listening again (`busy 0`).
    fn wait_until_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stats = self.control("stats");
            if stats.lines().any(|l| l == "busy 0") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still busy:\n{stats}",
                self.name
            );
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// `quit`, then QEMU's exit status and the console's last lines.
    fn quit(mut self) -> (ExitStatus, Vec<String>) {
        assert_eq!(self.control("quit"), "bye");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: QEMU did not exit",
                self.name
            );
            thread::sleep(Duration::from_millis(50));
        };
        let rest = self.lines.try_iter().collect();
        (status, rest)
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "{}: kept the console log {} and the capture {}",
                self.name,
                self.log.display(),
                self.pcap.display()
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_file(&self.pcap);
        }
    }
}

/// Everything a user of the firmware would try, from the host.
fn exercise(board: Board) {
    let server = board.server;
    // The tutorial's conversations (connect_ex needs a port QEMU does not forward).
    for conv in &sockless::tutorial::conversations::CONVERSATIONS {
        kernel::play(server, conv);
    }
    robot_session(server);

    let took = echo_one_mib(server);
    eprintln!("{}: 1 MiB through TCP 7: {took:?}", board.name);

    // A full pool of callers on each TCP service at once, once the earlier connections
    // have fully ended (the robot hangs up first, so its socket waits out TIME-WAIT).
    board.wait_until_idle();
    let workers: Vec<_> = (0..POOL)
        .flat_map(|i| {
            [
                thread::spawn(move || robot_session(server)),
                thread::spawn(move || kernel::echo_rounds(server, i, 50)),
            ]
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    // One caller more than the robot's pool: refused. Through QEMU's user network the
    // host's connect succeeds (QEMU accepts it, then connects to the board), and the
    // board's RST ends it without a word; the callers already in are still served.
    board.wait_until_idle();
    let mut callers: Vec<_> = (0..POOL).map(|_| tcp(server, 8888)).collect();
    for sk in callers.iter_mut() {
        assert_eq!(read_line(sk), sockless::services::robot_menu::WELCOME);
    }
    let mut extra = tcp(server, 8888);
    let mut byte = [0u8; 1];
    match extra.read(&mut byte) {
        Ok(0) | Err(_) => {}
        Ok(_) => panic!("a caller beyond the pool was served"),
    }
    for sk in callers.iter_mut() {
        sk.write_all(b"1003\n").unwrap();
        assert_eq!(read_line(sk), sockless::services::robot_menu::MENU[2].2);
    }
    drop(callers);
    drop(extra);

    let stats = board.control("stats");
    eprintln!("{}: stats:\n{stats}", board.name);
    let robot = stats.lines().find(|l| l.starts_with("robot")).unwrap();
    assert!(robot.contains("refused 1 "), "{robot}");
    assert!(
        stats.contains("udp-ok    datagrams 2 answered 2"),
        "{stats}"
    );
    assert!(stats.contains("rx errors 0"), "{stats}");
    assert_eq!(
        board.control("log nonsense").split(':').next(),
        Some("error")
    );
    assert_eq!(board.control("log info"), "log INFO");

    let name = board.name.clone();
    let (status, rest) = board.quit();
    assert!(status.success(), "{name}: QEMU exited with {status}");
    assert!(
        rest.iter().any(|l| l.contains("echo      accepted")),
        "the final report: {rest:?}"
    );
}

#[test]
fn mps2_an385_cortex_m3_serves_every_service() {
    // The README's command: `cargo run --release --example firmware --target thumbv7m-...`.
    let Some(elf) = build("thumbv7m-none-eabi", "release") else {
        return;
    };
    exercise(Board::boot("mps2-an385", "release", &elf));
}

#[test]
fn mps2_an386_cortex_m4f_serves_every_service_as_shipped() {
    // The shipped size-optimized profile (opt-level "s", LTO).
    let Some(elf) = build("thumbv7em-none-eabihf", "firmware") else {
        return;
    };
    exercise(Board::boot("mps2-an386", "firmware", &elf));
}

#[test]
fn mps2_an385_size_tuned_build_serves_every_service() {
    // The build that meets the flash budget (`cargo firmware-size`): no log lines, panics
    // trap, and still every service, the control port and the final report.
    let Some(elf) = build_size_tuned("thumbv7m-none-eabi") else {
        return;
    };
    exercise(Board::boot("mps2-an385", "size-tuned", &elf));
}
