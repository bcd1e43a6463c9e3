//! The TAP part: `serve` on a TAP device in a network namespace of the bench's own, pushed
//! by a kernel client from inside the namespace; beside it, the same client against a
//! kernel echo server in that namespace. Root only.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::thread;

use crate::report::TapFigure;
use crate::{kernel, repeat};

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
    let out = Command::new("ip")
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

/// The services on a TAP device, pushed by a kernel client; and the same client against a
/// kernel echo server in the same namespace.
pub fn figures(reps: usize, bytes: usize) -> Result<TapFigure, String> {
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
    let mut child = Command::new("ip")
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
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("serve: {e}"))?;
    let mut ready = String::new();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    output.read_line(&mut ready).map_err(|e| e.to_string())?;
    if !ready.starts_with("ready:") {
        let _ = child.kill();
        return Err(format!("serve did not start: {ready:?}"));
    }
    let sockless = ns.enter(move || {
        repeat(reps, || {
            kernel::client_push("192.168.69.1:7".parse().unwrap(), bytes)
        })
    });
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut summary = String::new();
    let _ = output.read_to_string(&mut summary);
    let _ = child.wait();
    let kernel = ns.enter(move || {
        let port = kernel::echo_server();
        repeat(reps, || {
            kernel::client_push(format!("127.0.0.1:{port}").parse().unwrap(), bytes)
        })
    });
    Ok(TapFigure {
        sockless,
        kernel,
        mtu: TAP_MTU,
    })
}
