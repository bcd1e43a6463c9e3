//! The fuzz harnesses (`fuzz/harness.rs`) on stable: every input saved under
//! `fuzz/regressions/<target>/` (crashes the fuzzer found, once fixed, and seeds), plus
//! a few hostile inputs written by hand. `cargo +nightly fuzz run <target>` explores;
//! this keeps what it found from coming back.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions directory") {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
            let data = std::fs::read(&path).unwrap();
            eprintln!("{target}: {}", path.display());
            run(&data);
            count += 1;
        }
    }
    count
}

fn hostile() -> Vec<Vec<u8>> {
    vec![
        vec![],
        vec![0],
        vec![0xff; 4096],
        vec![0x00; 4096],
        (0..=255u8).cycle().take(5000).collect(),
        b"\n\n\r\n\r\r\n1001\n\xff\xfe\nexit\n".repeat(50),
    ]
}

#[test]
fn frames() {
    for input in hostile() {
        harness::frames(&input);
    }
    replay("frames", harness::frames);
}

#[test]
fn stream() {
    for input in hostile() {
        harness::stream(&input);
    }
    replay("stream", harness::stream);
}

#[test]
fn verbs() {
    for input in hostile() {
        harness::verbs(&input);
    }
    replay("verbs", harness::verbs);
}
