//! The examples' command lines: the shared parser and the TAP options (their unit tests,
//! in `examples/common/`, run here: an example's own `#[test]`s do not run under
//! `cargo test`), and every example's `--help` and usage errors, end to end.

use std::process::{Command, Output};

#[path = "../examples/common/cli.rs"]
mod cli;
#[path = "../examples/common/tap_options.rs"]
mod tap_options;

/// `cargo run --example name -- args` (built already by `cargo test`, which builds every
/// example).
fn run_example(name: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", name, "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo")
}

/// The column where the descriptions of a help text's options and environment variables
/// start, one per such line.
fn description_columns(help: &str) -> Vec<usize> {
    help.lines()
        .filter(|line| {
            let item = line.strip_prefix("    ").unwrap_or("");
            item.starts_with('-') || item.starts_with(|c: char| c.is_ascii_uppercase())
        })
        .filter_map(|line| {
            let gap = line[4..].find("  ")? + 4;
            Some(gap + line[gap..].find(|c| c != ' ')?)
        })
        .collect()
}

#[test]
fn every_example_explains_every_option_in_one_column() {
    let tap = [
        "--tap NAME",
        "--ip CIDR",
        "--mac MAC",
        "--pcap FILE",
        "--drop-chance PCT",
        "--corrupt-chance PCT",
        "--seed N",
    ];
    let examples: [(&str, Vec<&str>); 6] = [
        (
            "serve",
            [
                &tap[..],
                &[
                    "--idle-timeout SECS",
                    "--buffer-size KIB",
                    "--mqtt ADDR",
                    "RUST_LOG",
                ],
            ]
            .concat(),
        ),
        ("http_status", tap.to_vec()),
        (
            "client",
            [&tap[..], &["--service NAME", "--server ADDR", "RUST_LOG"]].concat(),
        ),
        (
            "demo",
            vec![
                "--only NAME",
                "--list",
                "--ipv6",
                "--stdin",
                "--no-trace",
                "--ladder",
                "--pcap FILE",
                "--drop N",
                "RUST_LOG",
            ],
        ),
        (
            "bench",
            vec!["--json", "--reps N", "--quick", "--no-tap", "BENCH_PROFILE"],
        ),
        ("firmware_size", vec!["--check"]),
    ];
    for (name, items) in examples {
        let out = run_example(name, &["--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help: {}", out.status);
        for item in items.iter().chain(&["-h, --help"]) {
            assert!(
                help.contains(&format!("\n    {item} ")),
                "{name}: {item}\n{help}"
            );
        }
        let columns = description_columns(&help);
        assert!(columns.len() > items.len(), "{name}: {columns:?}\n{help}");
        assert!(
            columns.iter().all(|c| *c == columns[0]),
            "{name}: descriptions not aligned ({columns:?})\n{help}"
        );
    }
}

#[test]
fn bad_usage_is_one_clear_line_and_status_2() {
    for (name, args, error) in [
        (
            "serve",
            &["--drop-chance", "101"][..],
            r#"--drop-chance: "101" is not a percentage (0-100)"#,
        ),
        (
            "serve",
            &["--buffer-size", "3"],
            r#"--buffer-size: "3" is not 2, 64 or 256 (KiB)"#,
        ),
        (
            "client",
            &["--service", "ftp"],
            r#"--service: "ftp" is not upper, echo, notice, robot, udp-ok or udp-echo"#,
        ),
        ("client", &["--ip"], "missing argument for option '--ip'"),
        (
            "demo",
            &["--only", "nope"],
            r#"--only: "nope" is not a conversation (see --list)"#,
        ),
        (
            "demo",
            &["--drop", "0"],
            r#"--drop: "0" is not a segment number (1 or more)"#,
        ),
        (
            "demo",
            &["extra"],
            r#"unexpected argument "extra" (see --help)"#,
        ),
        (
            "bench",
            &["--reps", "0"],
            r#"--reps: "0" is not a positive number"#,
        ),
        (
            "firmware_size",
            &["--bogus"],
            "invalid option '--bogus' (see --help)",
        ),
    ] {
        let out = run_example(name, args);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{name}: {error}\n")
        );
        assert!(out.stdout.is_empty(), "{name} {args:?}");
    }
}

/// The tutorial's programs written async (`examples/tutorial_async.rs`) hold the same
/// conversations as `demo`: every reply the tutorial expects, in order.
#[cfg(feature = "async")]
#[test]
fn tutorial_async_plays_every_program() {
    let out = run_example("tutorial_async", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let robot = sockless::services::robot_menu::MENU;
    let expected = [
        "client << \"不要回答,不要回答,不要回答\"".to_string(),
        "client << \"HELLO WORLD\"".into(),
        "client << \"世界,你好\"".into(),
        "client << \"HI THERE\"".into(),
        "client << \"ok\"".into(),
        "client << \"ok\"".into(),
        format!("client << {:?}", sockless::services::robot_menu::WELCOME),
        format!("client << {:?}", sockless::services::robot_menu::MENU_LIST),
        format!("client << {:?}", robot[0].2),
        format!("client << {:?}", sockless::services::robot_menu::TRANSFER),
        format!("client << {:?}", sockless::services::robot_menu::RETRY),
        format!("client << {:?}", sockless::services::robot_menu::GOODBYE),
        "all done".into(),
    ];
    let mut rest = text.as_ref();
    for line in expected {
        let at = rest
            .find(&line)
            .unwrap_or_else(|| panic!("missing {line:?} in:\n{text}"));
        rest = &rest[at + line.len()..];
    }
}

/// `demo --pcap FILE`: one capture of the whole run, whose records are exactly the frames
/// the wire counted (the summary's `wire` line); with `--drop` and `--ladder`, the lost
/// segment and its retransmission are drawn; the run still ends with its summary.
#[test]
fn demo_writes_a_capture_of_every_frame_and_draws_the_retransmission() {
    let pcap = std::env::temp_dir().join(format!("sockless-demo-{}.pcap", std::process::id()));
    let path = pcap.to_str().unwrap();
    let out = run_example(
        "demo",
        &[
            "--only", "hello", "--only", "refused", "--drop", "4", "--ladder", "--pcap", path,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let last = text.lines().last().unwrap_or("");
    assert!(
        last.starts_with("summary: 2 conversations, 2 passed, 0 failed;"),
        "{text}"
    );
    assert!(
        text.contains("len=11 ---X   |  client send(data) / sendall(data)"),
        "{text}"
    );
    assert!(text.contains("(retransmission)"), "{text}");
    assert!(
        text.contains("<-- RST,ACK seq=1 ack=1 win=0 len=0"),
        "{text}"
    );
    // "wire      client->server 8 frames, server->client 7 frames, dropped 1, ..."
    let wire = text
        .lines()
        .find(|l| l.trim_start().starts_with("wire "))
        .unwrap();
    let numbers: Vec<u64> = wire
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (a, b, dropped) = (numbers[0], numbers[1], numbers[2]);
    // The 4th segment of hello is lost; refused has only two.
    assert_eq!(dropped, 1, "{wire}");
    let file = std::fs::read(&pcap).unwrap();
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(file[..4], 0xa1b2_c3d4u32.to_ne_bytes(), "pcap magic");
    let mut records = 0;
    let mut at = 24;
    while at < file.len() {
        let len = u32::from_ne_bytes(file[at + 12..at + 16].try_into().unwrap()) as usize;
        at += 16 + len;
        records += 1;
    }
    assert_eq!(at, file.len(), "the last record is whole");
    assert_eq!(records, a + b + dropped, "{wire}");
    assert!(
        text.contains(&format!("capture   {records} frames in {path}")),
        "{text}"
    );
}
