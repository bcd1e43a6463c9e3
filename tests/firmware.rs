//! The firmware (examples/firmware, and its async build, examples/firmware_async) booted
//! in QEMU, driven from the host's own sockets: both builds pass the same checks.
//!
//! Each test builds a firmware the way the README says (`cargo firmware-build`, the
//! build-only twin of `cargo firmware`), boots it with the very command of the README
//! (`cargo firmware`: cargo's runner `scripts/qemu-mps2`, QEMU in place of cargo) on a free
//! block of host ports, waits for its `ready:` line, plays the tutorial's conversations,
//! pushes 1 MiB through TCP 7, runs clients at once and one more than a pool holds, reads
//! the counters over the control port, ends the run with `quit` and asserts QEMU's exit
//! status. The console log and a pcap of the board's wire are kept in
//! `target/firmware-test/` when a test fails.
//!
//! Needs `qemu-system-arm` and the thumb targets (rustup), and for the RISC-V `virt` board
//! `qemu-system-riscv32` (Debian's `qemu-system-misc`) and `riscv32imac-unknown-none-elf`,
//! so the tests that boot a board are `#[ignore]`d: run them with
//!
//! ```text
//! cargo test --test firmware -- --include-ignored
//! ```
//!
//! Without QEMU or a target, each of them says so loudly and passes as skipped, unless
//! `SOCKLESS_REQUIRE_QEMU=1` (CI), which makes that a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
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

/// Whether QEMU for `target` is there to boot a build (skips the test, or fails it under
/// `SOCKLESS_REQUIRE_QEMU=1`, if not).
fn have_qemu(target: &str) -> bool {
    let (qemu, package) = if target.starts_with("riscv32") {
        ("qemu-system-riscv32", "qemu-system-misc")
    } else {
        ("qemu-system-arm", "qemu-system-arm")
    };
    let found = Command::new(qemu).arg("--version").output().is_ok();
    if !found {
        skip(&format!("no {qemu} (apt-get install {package})"));
    }
    found
}

/// A firmware build, as a user makes and boots it.
struct Firmware {
    /// `None`: cargo (with an alias of .cargo/config.toml); else a script of the project.
    script: Option<&'static str>,
    /// Its arguments to build the firmware.
    build: &'static [&'static str],
    /// Its arguments to build it (a no-op by then) and boot it in QEMU.
    run: &'static [&'static str],
    target: &'static str,
}

impl Firmware {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.script {
            None => Command::new(env!("CARGO")),
            Some(script) => Command::new(manifest_dir().join(script)),
        };
        command.args(args).current_dir(manifest_dir());
        command
    }

    /// Build it and boot it; `None` (after a loud message) if QEMU or the toolchain is
    /// missing.
    fn boot(&self, machine: &str, build: &str) -> Option<Board> {
        if !have_qemu(self.target) {
            return None;
        }
        // One build and boot at a time: a `cargo run` waiting on another test's build
        // (cargo's lock on the target directory) would count against the wait for
        // `ready:`. Once booted, cargo is QEMU (it `exec`s its runner) and holds no lock.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.command(self.build).output().expect("cargo");
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            if err.contains("target may not be installed") {
                let target = self.target;
                skip(&format!("no {target} (rustup target add {target})"));
                return None;
            }
            if self.script.is_some() && (err.contains("not installed") || err.contains("rust-src"))
            {
                skip(&format!(
                    "the size-tuned build needs its pinned nightly with rust-src (see {}):\n{err}",
                    self.script.unwrap_or_default()
                ));
                return None;
            }
            panic!("{:?} failed:\n{err}", self.build);
        }
        Some(Board::boot(machine, build, self.command(self.run)))
    }
}

/// `cargo firmware`: the README's command, the small build for the AN385 (Cortex-M3).
const SMALL_M3: Firmware = Firmware {
    script: None,
    build: &["firmware-build"],
    run: &["firmware", "--quiet"],
    target: "thumbv7m-none-eabi",
};

/// `cargo firmware-m4`: the same for the AN386 (Cortex-M4F).
const SMALL_M4F: Firmware = Firmware {
    script: None,
    build: &["firmware-build-m4"],
    run: &["firmware-m4", "--quiet"],
    target: "thumbv7em-none-eabihf",
};

/// `cargo firmware-m33`: the same for the AN505 (Cortex-M33, Secure state).
const SMALL_M33: Firmware = Firmware {
    script: None,
    build: &["firmware-build-m33"],
    run: &["firmware-m33", "--quiet"],
    target: "thumbv8m.main-none-eabi",
};

/// `cargo firmware-m55`: the same for the MPS3 AN547 (Cortex-M55, Secure state).
const SMALL_M55: Firmware = Firmware {
    script: None,
    build: &["firmware-build-m55"],
    run: &["firmware-m55", "--quiet"],
    target: "thumbv8m.main-none-eabihf",
};

/// `cargo firmware-logs`: with log lines, panic messages and DHCP, on the AN385.
const LOGS_M3: Firmware = Firmware {
    script: None,
    build: &["firmware-logs-build"],
    run: &["firmware-logs", "--quiet"],
    target: "thumbv7m-none-eabi",
};

/// `cargo firmware-logs-m4`: the same on the AN386.
const LOGS_M4F: Firmware = Firmware {
    script: None,
    build: &["firmware-logs-build-m4"],
    run: &["firmware-logs-m4", "--quiet"],
    target: "thumbv7em-none-eabihf",
};

/// `cargo firmware-logs-m33`: the same on the AN505.
const LOGS_M33: Firmware = Firmware {
    script: None,
    build: &["firmware-logs-build-m33"],
    run: &["firmware-logs-m33", "--quiet"],
    target: "thumbv8m.main-none-eabi",
};

/// `cargo firmware-logs-m55`: the same on the AN547.
const LOGS_M55: Firmware = Firmware {
    script: None,
    build: &["firmware-logs-build-m55"],
    run: &["firmware-logs-m55", "--quiet"],
    target: "thumbv8m.main-none-eabihf",
};

/// `cargo firmware-riscv`: the small build for QEMU's RISC-V `virt` with its virtio-net
/// card (scripts/qemu-riscv-virt).
const SMALL_RISCV: Firmware = Firmware {
    script: None,
    build: &["firmware-build-riscv"],
    run: &["firmware-riscv", "--quiet"],
    target: "riscv32imac-unknown-none-elf",
};

/// `cargo firmware-logs-riscv`: with log lines, panic messages and DHCP, on `virt`.
const LOGS_RISCV: Firmware = Firmware {
    script: None,
    build: &["firmware-logs-build-riscv"],
    run: &["firmware-logs-riscv", "--quiet"],
    target: "riscv32imac-unknown-none-elf",
};

/// `cargo firmware-async`: the services as tasks on embassy's executor
/// (examples/firmware_async), the same small profile, on the AN385.
const ASYNC_M3: Firmware = Firmware {
    script: None,
    build: &["firmware-async-build"],
    run: &["firmware-async", "--quiet"],
    target: "thumbv7m-none-eabi",
};

/// `cargo firmware-async-m4`: the same on the AN386.
const ASYNC_M4F: Firmware = Firmware {
    script: None,
    build: &["firmware-async-build-m4"],
    run: &["firmware-async-m4", "--quiet"],
    target: "thumbv7em-none-eabihf",
};

/// The size-tuned build (scripts/cargo-size-tuned: the pinned nightly, `core` built with
/// the firmware, panics trap) on the AN385.
const SIZE_TUNED_M3: Firmware = Firmware {
    script: Some("scripts/cargo-size-tuned"),
    build: &[
        "build",
        "--example",
        "firmware",
        "--target",
        "thumbv7m-none-eabi",
        "--no-default-features",
        "--features",
        "lan9118",
    ],
    run: &[
        "run",
        "--quiet",
        "--example",
        "firmware",
        "--target",
        "thumbv7m-none-eabi",
        "--no-default-features",
        "--features",
        "lan9118",
    ],
    target: "thumbv7m-none-eabi",
};

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
    /// The console up to the `ready:` line.
    boot_lines: Vec<String>,
    server: Server,
    log: PathBuf,
    pcap: PathBuf,
}

impl Board {
    /// Boot with `command` (which ends up as scripts/qemu-mps2), and wait for `ready:`.
    fn boot(machine: &str, build: &str, mut command: Command) -> Board {
        let name = format!("{machine}-{build}-{}", std::process::id());
        let dir = manifest_dir().join("target/firmware-test");
        std::fs::create_dir_all(&dir).unwrap();
        let (log, pcap) = (
            dir.join(format!("{name}.log")),
            dir.join(format!("{name}.pcap")),
        );
        let base = free_port_base();
        let mut child = command
            .env("SOCKLESS_PORT_BASE", base.to_string())
            .env("SOCKLESS_PCAP", &pcap)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cargo run");
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
        let mut board = Board {
            name,
            child,
            lines,
            boot_lines: Vec::new(),
            server: Server {
                host: "127.0.0.1",
                port_base: base,
            },
            log,
            pcap,
        };
        board.boot_lines = board.wait_for("ready:", Duration::from_secs(60));
        board
    }

    /// Console lines up to one starting with `prefix` (the last one returned).
    fn wait_for(&self, prefix: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with(prefix);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(e) => panic!(
                    "{}: no {prefix:?} line on the console: {e}; so far: {seen:?}",
                    self.name
                ),
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
        // The console to its end: the reader thread may not have read the last lines (the
        // final report) yet when QEMU exits; it hangs up at the end of the pipe.
        let mut rest = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            rest.push(line);
        }
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

/// Everything a user of the firmware would try, from the host; the console lines, from
/// boot to the end of the run.
fn exercise(board: Board) -> Vec<String> {
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

    // The tutorial's robot and notice clients, 50 calls each, back to back: every goodbye
    // has the board close first (TIME-WAIT on its side, kept by a record), and with pools
    // of 2 no caller is turned away or left waiting for a socket.
    board.wait_until_idle();
    let mut slowest = Duration::ZERO;
    for call in 0..50 {
        let start = Instant::now();
        let mut sk = tcp(server, 8888);
        assert_eq!(read_line(&mut sk), sockless::services::robot_menu::WELCOME);
        sk.write_all(b"exit\n").unwrap();
        assert_eq!(read_line(&mut sk), sockless::services::robot_menu::GOODBYE);
        assert!(kernel::read_to_end(&mut sk).is_empty(), "call {call}");
        slowest = slowest.max(start.elapsed());
        let start = Instant::now();
        let mut sk = tcp(server, 9999);
        sk.write_all("请求占领地球".as_bytes()).unwrap();
        assert_eq!(
            kernel::read_to_end(&mut sk),
            sockless::services::NOTICE.as_bytes()
        );
        slowest = slowest.max(start.elapsed());
    }
    eprintln!(
        "{}: 100 calls back to back, the slowest in {slowest:?}",
        board.name
    );
    assert!(
        slowest < Duration::from_millis(500),
        "slowest call {slowest:?}"
    );

    // One caller more than the robot's pool: it waits (its SYN held, as a kernel's
    // backlog would), and is served as soon as one of the others hangs up. (Through
    // QEMU's user network the host's connect succeeds at once either way: QEMU accepts,
    // then connects to the board.)
    board.wait_until_idle();
    let mut callers: Vec<_> = (0..POOL).map(|_| tcp(server, 8888)).collect();
    for sk in callers.iter_mut() {
        assert_eq!(read_line(sk), sockless::services::robot_menu::WELCOME);
    }
    let mut extra = tcp(server, 8888);
    extra
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        extra.read(&mut byte).is_err(),
        "served while the pool is full"
    );
    for sk in callers.iter_mut() {
        sk.write_all(b"1003\n").unwrap();
        assert_eq!(read_line(sk), sockless::services::robot_menu::MENU[2].2);
    }
    let mut first = callers.remove(0);
    first.write_all(b"exit\n").unwrap();
    assert_eq!(
        read_line(&mut first),
        sockless::services::robot_menu::GOODBYE
    );
    drop(first);
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        read_line(&mut extra),
        sockless::services::robot_menu::WELCOME
    );
    drop(callers);
    drop(extra);

    let stats = board.control("stats");
    eprintln!("{}: stats:\n{stats}", board.name);
    let robot = stats.lines().find(|l| l.starts_with("robot")).unwrap();
    assert!(robot.contains("refused 0 queued 1 "), "{robot}");
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

    // `quit` with a caller still on the line: the run ends all the same, with status 0.
    let mut caller = tcp(server, 8888);
    assert_eq!(
        read_line(&mut caller),
        sockless::services::robot_menu::WELCOME
    );
    let name = board.name.clone();
    let mut console = board.boot_lines.clone();
    let (status, rest) = board.quit();
    drop(caller);
    assert!(
        status.success(),
        "{name}: QEMU exited with {status}; the console's last lines: {rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("echo      accepted")),
        "the final report: {rest:?}"
    );
    console.extend(rest);
    console
}

/// Log lines on the console (`INFO  ...`, `WARN  ...`: examples/firmware/firmware.rs).
fn log_lines(console: &[String]) -> Vec<&String> {
    let levels = ["ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"];
    console
        .iter()
        .filter(|l| levels.iter().any(|level| l.starts_with(level)))
        .collect()
}

/// A test that boots a board in QEMU: ignored by a plain `cargo test` (see the module
/// docs).
macro_rules! qemu_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        #[ignore = "needs qemu-system-arm, qemu-system-riscv32 and the thumbv7m/thumbv7em/\
                    thumbv8m.main/riscv32imac targets: cargo test --test firmware -- \
                    --include-ignored (SOCKLESS_REQUIRE_QEMU=1 makes a missing QEMU fail)"]
        fn $name() $body
    };
}

/// Boot `build` on `machine`, run every check, and see no log line on its console.
fn serves_every_service_without_log_lines(build: &Firmware, machine: &str, label: &str) {
    let Some(board) = build.boot(machine, label) else {
        return;
    };
    let console = exercise(board);
    assert_eq!(log_lines(&console), Vec::<&String>::new(), "log-off");
}

qemu_test! {
    fn cargo_firmware_on_mps2_an385_serves_every_service() {
        // The README's command, `cargo firmware`: the small build held to the flash budget.
        serves_every_service_without_log_lines(&SMALL_M3, "mps2-an385", "small");
    }
}

qemu_test! {
    fn cargo_firmware_m4_on_mps2_an386_serves_every_service() {
        serves_every_service_without_log_lines(&SMALL_M4F, "mps2-an386", "small");
    }
}

qemu_test! {
    fn cargo_firmware_m33_on_mps2_an505_serves_every_service() {
        serves_every_service_without_log_lines(&SMALL_M33, "mps2-an505", "small");
    }
}

qemu_test! {
    fn cargo_firmware_m55_on_mps3_an547_serves_every_service() {
        serves_every_service_without_log_lines(&SMALL_M55, "mps3-an547", "small");
    }
}

/// Boot the build with log lines and DHCP (`cargo firmware-logs*`) on `machine`, see the
/// address QEMU's DHCP server leases on its console, run every check, and see its log lines.
fn serves_every_service_by_dhcp_and_logs(build: &Firmware, machine: &str, name: &str) {
    let Some(mut board) = build.boot(machine, "logs") else {
        return;
    };
    // The lease comes after `ready:` (the services listen on ports, not addresses); QEMU's
    // user network leases the first address of its pool, its own address the router.
    let lease = board.wait_for("dhcp: ", Duration::from_secs(30));
    assert_eq!(
        lease.last().map(String::as_str),
        Some("dhcp: leased 10.0.2.15/24 from 10.0.2.2 router 10.0.2.2"),
        "{lease:?}"
    );
    board.boot_lines.extend(lease);
    let console = exercise(board);
    let start = format!("INFO  {name}: 10.0.2.15/24 pool 2");
    assert!(
        log_lines(&console).iter().any(|l| l.starts_with(&start)),
        "the start-up line {start:?}: {console:?}"
    );
}

qemu_test! {
    fn cargo_firmware_logs_on_mps2_an385_gets_its_address_by_dhcp() {
        serves_every_service_by_dhcp_and_logs(&LOGS_M3, "mps2-an385", "mps2-an385 (Cortex-M3)");
    }
}

qemu_test! {
    fn cargo_firmware_logs_m4_on_mps2_an386_gets_its_address_by_dhcp() {
        serves_every_service_by_dhcp_and_logs(&LOGS_M4F, "mps2-an386", "mps2-an386 (Cortex-M4F)");
    }
}

qemu_test! {
    fn cargo_firmware_logs_m33_on_mps2_an505_gets_its_address_by_dhcp() {
        serves_every_service_by_dhcp_and_logs(&LOGS_M33, "mps2-an505", "mps2-an505 (Cortex-M33)");
    }
}

qemu_test! {
    fn cargo_firmware_logs_m55_on_mps3_an547_gets_its_address_by_dhcp() {
        serves_every_service_by_dhcp_and_logs(&LOGS_M55, "mps3-an547", "mps3-an547 (Cortex-M55)");
    }
}

qemu_test! {
    fn cargo_firmware_riscv_on_virt_serves_every_service() {
        // A second architecture and a second kind of card (virtio-net's descriptor rings),
        // the same services and the same checks.
        serves_every_service_without_log_lines(&SMALL_RISCV, "riscv-virt", "small");
    }
}

qemu_test! {
    fn cargo_firmware_logs_riscv_on_virt_gets_its_address_by_dhcp() {
        serves_every_service_by_dhcp_and_logs(
            &LOGS_RISCV,
            "riscv-virt",
            "riscv-virt (RV32IMAC, virtio-net)",
        );
    }
}

qemu_test! {
    fn cargo_firmware_async_on_mps2_an385_serves_every_service() {
        // The async build: every check of the poll-driven one, the same port contract.
        serves_every_service_without_log_lines(&ASYNC_M3, "mps2-an385", "async");
    }
}

qemu_test! {
    fn cargo_firmware_async_m4_on_mps2_an386_serves_every_service() {
        serves_every_service_without_log_lines(&ASYNC_M4F, "mps2-an386", "async");
    }
}

qemu_test! {
    fn size_tuned_build_on_mps2_an385_serves_every_service() {
        // The nightly build (`scripts/cargo-size-tuned`): no log lines, panics trap, and still
        // every service, the control port and the final report.
        serves_every_service_without_log_lines(&SIZE_TUNED_M3, "mps2-an385", "size-tuned");
    }
}

/// What `cargo firmware-size` and the tests build is what `cargo firmware` runs: each
/// `*-build` alias of .cargo/config.toml is its `run` alias with `build` for `run`.
#[test]
fn the_build_aliases_build_what_the_run_aliases_run() {
    let config = std::fs::read_to_string(manifest_dir().join(".cargo/config.toml")).unwrap();
    let alias = |name: &str| {
        let prefix = format!("{name} = \"");
        let line = config
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no alias {name} in .cargo/config.toml"));
        line[prefix.len()..].trim_end_matches('"').to_string()
    };
    for (run, build) in [
        ("firmware", "firmware-build"),
        ("firmware-m4", "firmware-build-m4"),
        ("firmware-logs", "firmware-logs-build"),
        ("firmware-logs-m4", "firmware-logs-build-m4"),
        ("firmware-m33", "firmware-build-m33"),
        ("firmware-logs-m33", "firmware-logs-build-m33"),
        ("firmware-m55", "firmware-build-m55"),
        ("firmware-logs-m55", "firmware-logs-build-m55"),
        ("firmware-riscv", "firmware-build-riscv"),
        ("firmware-logs-riscv", "firmware-logs-build-riscv"),
        ("firmware-async", "firmware-async-build"),
        ("firmware-async-m4", "firmware-async-build-m4"),
    ] {
        let run = alias(run);
        assert!(run.starts_with("run "), "{run}");
        assert_eq!(alias(build), run.replacen("run ", "build ", 1));
    }
    // The small build is IPv4-only, without log lines, in the `firmware` profile.
    for (small, card) in [
        ("firmware", "lan9118"),
        ("firmware-m4", "lan9118"),
        ("firmware-m33", "lan9118"),
        ("firmware-m55", "lan9118"),
        ("firmware-riscv", "virtio-net"),
        ("firmware-async", "lan9118"),
        ("firmware-async-m4", "lan9118"),
    ] {
        let args = alias(small);
        let want = format!("--profile firmware --no-default-features --features {card},log-off");
        assert!(args.contains(&want), "{args}");
    }
}
