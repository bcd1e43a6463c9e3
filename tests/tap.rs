//! `serve` on a real TAP device, driven by the host's own sockets and tools.
//!
//! Each test makes its own network namespace (`ip netns add`) with a TAP device inside,
//! starts `serve` in it, and talks to it from inside the namespace only: with std::net
//! (on a thread that has entered the namespace), `nc`, `socat`, `ping`, and the tutorial's
//! Python clients. Nothing outside the namespace is touched; the namespace is deleted at
//! the end.
//!
//! Needs root (CAP_NET_ADMIN), `/dev/net/tun` and the tools `ip`, `ping`, `nc`, `socat`
//! and `python3`, so every test is `#[ignore]`d: a plain `cargo test` lists them as
//! ignored. Run them with
//!
//! ```text
//! sudo -E cargo test --test tap -- --include-ignored
//! ```
//!
//! Run that way without root or a tool, each test says so loudly and returns, unless
//! `SOCKLESS_REQUIRE_TAP=1` (set by `.ci/run`), which makes a missing one fail.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

mod kernel;
use kernel::{Server, echo_one_mib, read_line, read_to_end, robot_session, tcp, udp_exchange};

const SERVER4: &str = "192.168.69.1";
const SERVER6: &str = "fdaa::1";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The first tool these tests run that this machine lacks, if any.
fn missing_tool() -> Option<&'static str> {
    let tools: [(&str, &[&str], &'static str); 5] = [
        ("ip", &["-V"], "no `ip` command (Debian: iproute2)"),
        ("ping", &["-V"], "no `ping` command (Debian: iputils-ping)"),
        ("nc", &["-h"], "no `nc` command (Debian: netcat-openbsd)"),
        ("socat", &["-V"], "no `socat` command (Debian: socat)"),
        ("python3", &["-V"], "no `python3`"),
    ];
    tools
        .into_iter()
        .find(|(tool, args, _)| Command::new(tool).args(*args).output().is_err())
        .map(|(_, _, why)| why)
}

/// A test that needs root and the tools: ignored by a plain `cargo test` (see the
/// module docs).
macro_rules! tap_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        #[ignore = "needs root, /dev/net/tun, ip, ping, nc, socat, python3: \
                    sudo -E cargo test --test tap -- --include-ignored"]
        fn $name() $body
    };
}

/// A network namespace of this test's own, with `tap0` inside.
struct Netns {
    name: String,
}

impl Netns {
    /// A fresh namespace, or `None` (after saying why) where this machine cannot make one.
    fn create() -> Option<Netns> {
        let why = if unsafe { libc::geteuid() } != 0 {
            Some("not root (CAP_NET_ADMIN is needed for a namespace and a TAP device)")
        } else if !std::path::Path::new("/dev/net/tun").exists() {
            Some("no /dev/net/tun")
        } else {
            missing_tool()
        };
        if let Some(why) = why {
            if std::env::var("SOCKLESS_REQUIRE_TAP").as_deref() == Ok("1") {
                panic!("TAP test cannot run: {why}, and SOCKLESS_REQUIRE_TAP=1");
            }
            eprintln!("\n*** SKIPPED: TAP test: {why} ***\n");
            return None;
        }
        let name = format!(
            "sockless-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        for cmd in [
            "ip link set lo up",
            "ip tuntap add dev tap0 mode tap",
            "ip link set tap0 up",
            "ip addr add 192.168.69.100/24 dev tap0",
            "ip addr add fdaa::100/64 dev tap0 nodad",
        ] {
            run(&mut ns.cmd(&cmd.split(' ').collect::<Vec<_>>()));
        }
        Some(ns)
    }

    /// A command that runs inside the namespace.
    fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Run `f` on a thread inside the namespace (its sockets are the namespace's).
    fn thread<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace file");
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Whatever still runs in the namespace goes with it.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn example(name: &str) -> PathBuf {
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples");
    let path = dir.join(name);
    if !path.exists() {
        run(Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR")));
    }
    path
}

/// `serve` running in a namespace.
struct Serve {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Serve {
    fn start(ns: &Netns, extra: &[&str]) -> Serve {
        Serve::start_example(ns, "serve", extra)
    }

    /// Another TAP host example (same options, same `ready:` line).
    fn start_example(ns: &Netns, name: &str, extra: &[&str]) -> Serve {
        let serve = example(name);
        let mut argv = vec![
            serve.to_str().unwrap(),
            "--tap",
            "tap0",
            "--ip",
            "192.168.69.1/24",
            "--ip",
            "fdaa::1/64",
        ];
        argv.extend_from_slice(extra);
        let mut child = ns
            .cmd(&argv)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("ready: tap0"), "serve said {line:?}");
        Serve { child, stdout }
    }

    /// SIGTERM; returns the summary it printed; asserts a clean exit.
    fn stop(mut self) -> String {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve exited with {status}: {rest}");
        rest
    }
}

/// A server address as the shared kernel clients take it (no port mapping on TAP).
fn at(host: &'static str) -> Server {
    Server { host, port_base: 0 }
}

tap_test! {
    fn every_service_answers_kernel_sockets_over_ipv4_and_ipv6() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &[]);
        ns.thread(|| {
            for host in [SERVER4, SERVER6] {
                let mut sk = tcp(at(host), 7);
                sk.write_all(b"echo \x00\xff bytes").unwrap();
                sk.shutdown(Shutdown::Write).unwrap();
                assert_eq!(read_to_end(&mut sk), b"echo \x00\xff bytes");

                let mut sk = tcp(at(host), 6969);
                sk.write_all("Hello world 世界,你好".as_bytes()).unwrap();
                sk.shutdown(Shutdown::Write).unwrap();
                assert_eq!(read_to_end(&mut sk), "HELLO WORLD 世界,你好".as_bytes());

                let mut sk = tcp(at(host), 9999);
                sk.write_all("请求占领地球".as_bytes()).unwrap();
                assert_eq!(read_to_end(&mut sk), sockless::services::NOTICE.as_bytes());

                assert_eq!(udp_exchange(at(host), 9999, "数据".as_bytes()), b"ok");
                assert_eq!(
                    udp_exchange(at(host), 7, b"datagram \x01\x02"),
                    b"datagram \x01\x02"
                );

                robot_session(at(host));
                // And every conversation of the tutorial, as the demo plays it in-process.
                for conv in &sockless::tutorial::conversations::CONVERSATIONS {
                    kernel::play(at(host), conv);
                }
            }
        });
        // Per address: one robot session, one seed robot call; one `ok` and the seed's two.
        let summary = serve.stop();
        assert!(
            summary.contains("robot     accepted 4 refused 0"),
            "{summary}"
        );
        assert!(
            summary.contains("udp-ok    datagrams 6 answered 6"),
            "{summary}"
        );
    }
}

tap_test! {
    fn one_mib_through_echo_with_half_close_and_concurrent_clients() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &[]);
        ns.thread(|| {
            let took = echo_one_mib(at(SERVER4));
            eprintln!("1 MiB through TCP 7 on TAP: {took:?}");
            // Four clients at once (the pool size), on different services.
            let workers: Vec<_> = (0..4)
                .map(|i| {
                    thread::spawn(move || match i % 2 {
                        0 => robot_session(at(if i == 0 { SERVER4 } else { SERVER6 })),
                        _ => kernel::echo_rounds(at(SERVER4), i, 50),
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
        });
        serve.stop();
    }
}

tap_test! {
    fn more_clients_than_the_pool_and_a_closed_port_are_refused_at_once() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &["--overflow", "refuse"]);
        ns.thread(|| {
            let mut callers: Vec<TcpStream> = (0..4).map(|_| tcp(at(SERVER4), 8888)).collect();
            for sk in callers.iter_mut() {
                assert_eq!(read_line(sk), sockless::services::robot_menu::WELCOME);
            }
            let start = Instant::now();
            let fifth = TcpStream::connect((SERVER4, 8888));
            assert_eq!(
                fifth.map(|_| ()).map_err(|e| e.kind()),
                Err(std::io::ErrorKind::ConnectionRefused)
            );
            assert!(start.elapsed() < Duration::from_secs(1));
            // The four are still served.
            for sk in callers.iter_mut() {
                sk.write_all(b"1003\n").unwrap();
                assert_eq!(read_line(sk), sockless::services::robot_menu::MENU[2].2);
            }
            let start = Instant::now();
            let closed = TcpStream::connect((SERVER4, 8005));
            assert_eq!(
                closed.map(|_| ()).map_err(|e| e.kind()),
                Err(std::io::ErrorKind::ConnectionRefused)
            );
            assert!(start.elapsed() < Duration::from_secs(1), "refused at once");
        });
        serve.stop();
    }
}

tap_test! {
    fn ping_nc_socat_and_a_capture() {
        let Some(ns) = Netns::create() else { return };
        let pcap = std::env::temp_dir().join(format!("{}.pcap", ns.name));
        let serve = Serve::start(&ns, &["--pcap", pcap.to_str().unwrap()]);
        for host in [SERVER4, SERVER6] {
            let out = run(&mut ns.cmd(&["ping", "-c", "2", "-W", "2", host]));
            assert!(String::from_utf8_lossy(&out.stdout).contains("2 received"));
        }
        let nc = |args: &[&str], input: &[u8]| -> Vec<u8> {
            let mut argv = vec!["timeout", "10", "nc"];
            argv.extend_from_slice(args);
            let mut child = ns
                .cmd(&argv)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("nc");
            child.stdin.take().unwrap().write_all(input).unwrap();
            let out = child.wait_with_output().unwrap();
            out.stdout
        };
        assert_eq!(nc(&["-N", SERVER4, "7"], b"through nc\n"), b"through nc\n");
        assert_eq!(
            nc(&[SERVER6, "9999"], "请求占领地球".as_bytes()),
            sockless::services::NOTICE.as_bytes()
        );
        assert_eq!(nc(&["-u", "-w", "1", SERVER4, "9999"], b"hi\n"), b"ok");
        let robot = nc(&["-N", SERVER4, "8888"], b"1002\r\nexit\r\n");
        let robot = String::from_utf8(robot).unwrap();
        assert_eq!(
            robot.lines().collect::<Vec<_>>(),
            vec![
                sockless::services::robot_menu::WELCOME,
                sockless::services::robot_menu::MENU[1].2,
                sockless::services::robot_menu::GOODBYE
            ]
        );
        let socat = |addr: &str, input: &[u8]| -> Vec<u8> {
            let mut child = ns
                .cmd(&["timeout", "10", "socat", "-t", "2", "-", addr])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("socat");
            child.stdin.take().unwrap().write_all(input).unwrap();
            child.wait_with_output().unwrap().stdout
        };
        assert_eq!(
            socat("TCP:192.168.69.1:6969", "socat 你好".as_bytes()),
            "SOCAT 你好".as_bytes()
        );
        assert_eq!(socat("UDP6:[fdaa::1]:7", b"udp over v6"), b"udp over v6");
        serve.stop();
        // The capture is a pcap file with our traffic in it.
        let bytes = std::fs::read(&pcap).unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
        assert!(bytes.len() > 1000);
        let _ = std::fs::remove_file(pcap);
    }
}

tap_test! {
    fn the_tutorials_python_clients() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &[]);
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/seed_clients");
        let python = |script: &str, host: &str, input: &str| -> String {
            let path = dir.join(script);
            let mut child = ns
                .cmd(&["timeout", "20", "python3", path.to_str().unwrap(), host])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(
            python("notice_client.py", SERVER4, ""),
            "不要回答,不要回答,不要回答\n"
        );
        assert_eq!(
            python("hello_client.py", SERVER6, ""),
            "recv: HELLO WORLD\nrecv: 世界,你好\n"
        );
        assert_eq!(
            python("input_client.py", SERVER4, "hi\nsockless\n"),
            ">>:recv: HI\n>>:recv: SOCKLESS\n>>:"
        );
        assert_eq!(
            python("udp_client.py", SERVER4, "你好\nhello\nexit\nnot sent\n"),
            "数据:ok\n数据:ok\n数据:"
        );
        let robot = python("robot_client.py", SERVER4, "1\n1001\n0\n9\nexit\n");
        let expected = [
            sockless::services::robot_menu::WELCOME,
            sockless::services::robot_menu::MENU_LIST,
            sockless::services::robot_menu::MENU[0].2,
            sockless::services::robot_menu::TRANSFER,
            sockless::services::robot_menu::RETRY,
            sockless::services::robot_menu::GOODBYE,
        ]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i == 0 {
                format!("receive: {r}\n")
            } else {
                format!("please input:receive: {r}\n")
            }
        })
        .collect::<String>();
        assert_eq!(robot, expected);
        serve.stop();
    }
}

tap_test! {
    fn with_5_percent_drop_and_1_percent_corruption() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(
            &ns,
            &["--drop-chance", "5", "--corrupt-chance", "1", "--seed", "7"],
        );
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/seed_clients");
        ns.thread(move || {
            robot_session(at(SERVER4));
            robot_session(at(SERVER6));
            let took = echo_one_mib(at(SERVER4));
            eprintln!("1 MiB through TCP 7 on TAP with 5% drop, 1% corruption: {took:?}");
            assert_eq!(udp_exchange(at(SERVER4), 9999, b"lossy"), b"ok");
            // And the tutorial's own robot client, which has no retry of its own.
            let out = Command::new("python3")
                .arg(dir.join("robot_client.py"))
                .arg(SERVER4)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    c.stdin.take().unwrap().write_all(b"1\n0\nexit\n")?;
                    c.wait_with_output()
                })
                .unwrap();
            assert!(out.status.success());
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(sockless::services::robot_menu::GOODBYE)
            );
        });
        serve.stop();
    }
}

tap_test! {
    /// The default policy: a caller beyond the pool waits (its SYN held, as a kernel's
    /// backlog would) and is served as soon as one of the four hangs up.
    fn a_caller_beyond_the_pool_waits_and_is_served_when_one_hangs_up() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &[]);
        ns.thread(|| {
            let mut callers: Vec<TcpStream> = (0..4).map(|_| tcp(at(SERVER4), 8888)).collect();
            for sk in callers.iter_mut() {
                assert_eq!(read_line(sk), sockless::services::robot_menu::WELCOME);
            }
            let fifth = thread::spawn(|| {
                let start = Instant::now();
                let mut sk = tcp(at(SERVER4), 8888);
                let welcome = read_line(&mut sk);
                (welcome, start.elapsed())
            });
            thread::sleep(Duration::from_millis(300));
            let mut first = callers.remove(0);
            first.write_all(b"exit\n").unwrap();
            assert_eq!(read_line(&mut first), sockless::services::robot_menu::GOODBYE);
            let hung_up = Instant::now();
            let (welcome, waited) = fifth.join().unwrap();
            let after = hung_up.elapsed();
            assert_eq!(welcome, sockless::services::robot_menu::WELCOME);
            assert!(waited >= Duration::from_millis(300), "it waited: {waited:?}");
            // The first caller has not even closed its socket: the server's side waits
            // for its FIN in a record, not in the pool's socket.
            eprintln!("the fifth caller was served {after:?} after the hang-up");
            assert!(after < Duration::from_millis(500), "{after:?} after the hang-up");
            drop(first);
        });
        let summary = serve.stop();
        assert!(summary.contains("robot     accepted 5 refused 0 queued 1"), "{summary}");
    }
}

tap_test! {
    /// The tutorial's robot and notice clients, 50 calls each, back to back: every goodbye
    /// has the server close first (TIME-WAIT on the server side), yet no caller is turned
    /// away or kept waiting: each call is answered in well under 100 ms.
    fn fifty_robot_and_notice_calls_in_a_row_are_all_answered_at_once() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &[]);
        ns.thread(|| {
            let mut slowest = Duration::ZERO;
            for call in 0..50 {
                let start = Instant::now();
                let mut sk = tcp(at(SERVER4), 8888);
                assert_eq!(read_line(&mut sk), sockless::services::robot_menu::WELCOME);
                sk.write_all(b"exit\n").unwrap();
                assert_eq!(read_line(&mut sk), sockless::services::robot_menu::GOODBYE);
                assert!(read_to_end(&mut sk).is_empty(), "call {call}");
                slowest = slowest.max(start.elapsed());

                let start = Instant::now();
                let mut sk = tcp(at(SERVER4), 9999);
                sk.write_all("请求占领地球".as_bytes()).unwrap();
                assert_eq!(read_to_end(&mut sk), sockless::services::NOTICE.as_bytes());
                slowest = slowest.max(start.elapsed());
            }
            eprintln!("100 calls, the slowest answered in {slowest:?}");
            assert!(slowest < Duration::from_millis(100), "slowest call {slowest:?}");
        });
        // The tutorial's own Python robot client, ten times in a row (it was refused
        // from the fifth call on when TIME-WAIT held the pool's sockets).
        let robot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/seed_clients/robot_client.py");
        for call in 0..10 {
            let mut child = ns
                .cmd(&["timeout", "10", "python3", robot.to_str().unwrap(), SERVER4])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3");
            child.stdin.take().unwrap().write_all(b"0\nexit\n").unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "call {call}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let summary = serve.stop();
        assert!(summary.contains("robot     accepted 60 refused 0 queued 0"), "{summary}");
        assert!(summary.contains("notice    accepted 50 refused 0 queued 0"), "{summary}");
    }
}

tap_test! {
    /// At 5% frame loss, 500 connect-echo-close cycles one after another: none refused,
    /// every echo exact (lost final ACKs leave server sockets in LAST-ACK for a while;
    /// the pool's other sockets and the SYN queue carry on).
    fn five_hundred_echo_cycles_at_five_percent_loss_are_never_refused() {
        let Some(ns) = Netns::create() else { return };
        let serve = Serve::start(&ns, &["--drop-chance", "5", "--seed", "7"]);
        ns.thread(|| {
            let start = Instant::now();
            for cycle in 0..500u32 {
                let mut sk = TcpStream::connect((SERVER4, 7))
                    .unwrap_or_else(|e| panic!("cycle {cycle}: connect: {e}"));
                sk.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let msg = cycle.to_be_bytes();
                sk.write_all(&msg).unwrap();
                let mut echo = [0u8; 4];
                sk.read_exact(&mut echo)
                    .unwrap_or_else(|e| panic!("cycle {cycle}: echo: {e}"));
                assert_eq!(echo, msg, "cycle {cycle}");
            }
            eprintln!("500 echo cycles at 5% loss: {:?}", start.elapsed());
        });
        let summary = serve.stop();
        assert!(summary.contains("echo      accepted 500 refused 0"), "{summary}");
    }
}

tap_test! {
    /// A third-party protocol crate on sockless: `serve --mqtt` runs minimq (an MQTT 5
    /// client written for embedded-nal, unmodified) on sockless's `NalTcpStack`, beside
    /// the services; each of 10 calls of the tutorial's robot client is published to
    /// Debian's mosquitto in the namespace, and a subscriber receives every one.
    fn every_robot_call_reaches_mosquitto_through_minimq_on_sockless() {
        let Some(ns) = Netns::create() else { return };
        if Command::new("mosquitto").arg("-h").output().is_err()
            || Command::new("mosquitto_sub").arg("--help").output().is_err()
        {
            let why = "no mosquitto or mosquitto_sub (Debian: mosquitto, mosquitto-clients)";
            assert!(
                std::env::var("SOCKLESS_REQUIRE_TAP").as_deref() != Ok("1"),
                "{why}, and SOCKLESS_REQUIRE_TAP=1"
            );
            eprintln!("\n*** SKIPPED: MQTT test: {why} ***\n");
            return;
        }
        // The broker on the namespace's side of tap0 (anonymous, as root: no user switch).
        let dir = std::env::temp_dir().join(format!("sockless-mqtt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            "listener 1883 192.168.69.100\nallow_anonymous true\nuser root\n",
        )
        .unwrap();
        let mut broker = ns
            .cmd(&["mosquitto", "-c", conf.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto");
        // Wait for the broker's port.
        let up = ns.thread(|| {
            (0..100).any(|_| {
                thread::sleep(Duration::from_millis(50));
                std::net::TcpStream::connect("192.168.69.100:1883").is_ok()
            })
        });
        assert!(up, "mosquitto did not start");
        let subscriber = ns
            .cmd(&[
                "mosquitto_sub", "-h", "192.168.69.100", "-t", "sockless/robot", "-C", "10",
                "-W", "60", "-v",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub");
        thread::sleep(Duration::from_millis(300));
        let serve = Serve::start(&ns, &["--mqtt", "192.168.69.100"]);
        let robot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/seed_clients/robot_client.py");
        for call in 0..10 {
            let out = ns
                .cmd(&["timeout", "10", "python3", robot.to_str().unwrap(), SERVER4])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    child.stdin.take().unwrap().write_all(b"1\nexit\n")?;
                    child.wait_with_output()
                })
                .unwrap();
            assert!(out.status.success(), "call {call}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let got = subscriber.wait_with_output().unwrap();
        let _ = broker.kill();
        let broker_log = {
            let _ = broker.wait();
            let mut s = String::new();
            let _ = broker.stderr.take().unwrap().read_to_string(&mut s);
            s
        };
        let summary = serve.stop();
        let _ = std::fs::remove_dir_all(&dir);
        let lines = String::from_utf8_lossy(&got.stdout);
        let expected: Vec<String> = (1..=10).map(|n| format!("sockless/robot robot call {n}")).collect();
        assert_eq!(
            lines.lines().collect::<Vec<_>>(),
            expected,
            "subscriber: {}\nserve: {summary}\nbroker: {broker_log}",
            String::from_utf8_lossy(&got.stderr)
        );
        // One session carried every message: the connection lived through all the calls.
        assert!(summary.contains("mqtt      published 10 in 1 session(s)"), "{summary}");
        assert!(summary.contains("robot     accepted 10 refused 0"), "{summary}");
    }
}

tap_test! {
    /// A third-party async HTTP server on sockless: `http_status` runs picoserve
    /// (unmodified) on the async facade beside the tutorial's services; `curl` and
    /// Python's urllib, from the test's namespace, read the services' counters on port 80,
    /// which count a robot call made just before.
    fn an_http_server_crate_serves_the_counters_to_curl_and_python() {
        let Some(ns) = Netns::create() else { return };
        if Command::new("curl").arg("--version").output().is_err() {
            let why = "no curl (Debian: curl)";
            assert!(
                std::env::var("SOCKLESS_REQUIRE_TAP").as_deref() != Ok("1"),
                "{why}, and SOCKLESS_REQUIRE_TAP=1"
            );
            eprintln!("\n*** SKIPPED: HTTP test: {why} ***\n");
            return;
        }
        let server = Serve::start_example(&ns, "http_status", &[]);
        ns.thread(|| {
            let mut sk = tcp(at(SERVER4), 8888);
            assert_eq!(read_line(&mut sk), sockless::services::robot_menu::WELCOME);
            sk.write_all(b"exit\n").unwrap();
            assert_eq!(read_line(&mut sk), sockless::services::robot_menu::GOODBYE);
            assert!(read_to_end(&mut sk).is_empty());
        });
        for attempt in 0..3 {
            let out = ns
                .cmd(&["curl", "-sS", "--max-time", "10", "http://192.168.69.1/"])
                .output()
                .unwrap();
            let page = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "curl {attempt}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(page.starts_with("sockless: the socket tutorial's services"), "{page}");
            assert!(page.contains("robot     accepted 1 refused 0"), "{page}");
            assert!(page.contains("udp-ok"), "{page}");
        }
        let out = ns
            .cmd(&[
                "python3",
                "-c",
                "import urllib.request as u; r = u.urlopen('http://192.168.69.1/', timeout=10); \
                 print(r.status); print(r.read().decode())",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.starts_with("200\n"), "{text}");
        assert!(text.contains("robot     accepted 1"), "{text}");
        let summary = server.stop();
        assert!(summary.contains("robot     accepted 1"), "{summary}");
    }
}

tap_test! {
    fn serve_dhcp_takes_its_address_from_dnsmasq_and_serves_on_it() {
        let Some(ns) = Netns::create() else { return };
        if Command::new("dnsmasq").arg("--version").output().is_err() {
            let why = "no dnsmasq (Debian: dnsmasq-base)";
            assert!(
                std::env::var("SOCKLESS_REQUIRE_TAP").as_deref() != Ok("1"),
                "{why}, and SOCKLESS_REQUIRE_TAP=1"
            );
            eprintln!("\n*** SKIPPED: DHCP test: {why} ***\n");
            return;
        }
        // A DHCP server on the namespace's side of tap0 (no DNS, no config file, a lease
        // file of its own), with one address to lease, .50; it names itself as the router.
        let dir = std::env::temp_dir().join(format!(
            "sockless-dhcp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let leases = dir.join("leases");
        let mut dnsmasq = ns
            .cmd(&[
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--port=0",
                "--user=root",
                "--interface=tap0",
                "--bind-interfaces",
                "--dhcp-range=192.168.69.50,192.168.69.50,255.255.255.0,1h",
                &format!("--dhcp-leasefile={}", leases.display()),
                &format!("--pid-file={}", dir.join("pid").display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dnsmasq");
        thread::sleep(Duration::from_millis(300));
        let mut serve = Serve::start(&ns, &["--dhcp"]);
        // The lease (or, after 10 s without one, the fallback) is serve's next line.
        let mut line = String::new();
        serve.stdout.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim_end(),
            "dhcp: leased 192.168.69.50/24 from 192.168.69.100 router 192.168.69.100"
        );
        ns.thread(|| {
            let mut sk = tcp(at("192.168.69.50"), 7);
            sk.write_all(b"by lease").unwrap();
            sk.shutdown(Shutdown::Write).unwrap();
            assert_eq!(read_to_end(&mut sk), b"by lease");
            assert_eq!(udp_exchange(at("192.168.69.50"), 9999, b"x"), b"ok");
            robot_session(at("192.168.69.50"));
            // IPv6 is untouched by DHCPv4.
            assert_eq!(udp_exchange(at(SERVER6), 9999, b"y"), b"ok");
        });
        let summary = serve.stop();
        assert!(summary.contains("udp-ok    datagrams 2 answered 2"), "{summary}");
        // The server's side of it: one lease, to serve's MAC.
        let leased = std::fs::read_to_string(&leases).unwrap_or_default();
        assert!(leased.contains("192.168.69.50"), "lease file: {leased:?}");
        let _ = dnsmasq.kill();
        let _ = dnsmasq.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
