//! The kernel's side: the same workloads through `std::net` on 127.0.0.1, against echo
//! server threads, measured at the kernel's best (see [`best`]).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant as WallClock};

use crate::{per_second, repeat};

/// Whether the kernel side runs with every thread on CPU 0 (see [`best`]).
static PINNED: AtomicBool = AtomicBool::new(false);

/// Put the calling thread on CPU 0 while `PINNED` is set, on every CPU otherwise.
fn pin_thread() {
    // SAFETY: plain libc calls on a zeroed cpu_set_t, for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if PINNED.load(Ordering::SeqCst) {
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
pub fn best(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut best: f64 = 0.0;
    for pinned in [false, true] {
        PINNED.store(pinned, Ordering::SeqCst);
        pin_thread();
        best = best.max(repeat(reps, &mut f));
    }
    PINNED.store(false, Ordering::SeqCst);
    pin_thread();
    best
}

/// A kernel TCP echo server on 127.0.0.1, one thread per connection.
pub fn echo_server() -> u16 {
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

/// A kernel UDP echo server on 127.0.0.1, on one thread.
pub fn udp_echo_server() -> u16 {
    let sk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sk.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut pinned = None;
        while let Ok((n, from)) = sk.recv_from(&mut buf) {
            let now = PINNED.load(Ordering::SeqCst);
            if pinned != Some(now) {
                pin_thread();
                pinned = Some(now);
            }
            let _ = sk.send_to(&buf[..n], from);
        }
    });
    port
}

/// A kernel TCP connection to the echo server on `port`, Nagle off.
fn connect(port: u16) -> TcpStream {
    let sk = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sk.set_nodelay(true).unwrap();
    sk
}

/// `msg` to the echo server on `sk` and back into `back`.
fn echo(sk: &mut TcpStream, msg: &[u8; 64], back: &mut [u8; 64]) {
    sk.write_all(msg).unwrap();
    sk.read_exact(back).unwrap();
}

/// 64 bytes to the echo server on `port` and back, `rounds` times; round trips per second.
pub fn pingpong(port: u16, rounds: usize) -> f64 {
    let mut sk = connect(port);
    let mut back = [0u8; 64];
    per_second(rounds, |_| echo(&mut sk, &[7; 64], &mut back))
}

/// Connect, echo 64 bytes, close, `cycles` times; connections per second.
pub fn churn(port: u16, cycles: usize) -> f64 {
    let mut back = [0u8; 64];
    per_second(cycles, |_| echo(&mut connect(port), &[1; 64], &mut back))
}

/// 64-byte datagrams to the UDP echo server on `port` and back; round trips per second.
pub fn udp(port: u16, rounds: usize) -> f64 {
    let sk = UdpSocket::bind("127.0.0.1:0").unwrap();
    sk.connect(("127.0.0.1", port)).unwrap();
    sk.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut back = [0u8; 64];
    per_second(rounds, |_| {
        sk.send(&[3; 64]).unwrap();
        sk.recv(&mut back).unwrap();
    })
}

/// Push `bytes` through an echo server at `addr` with a kernel TCP client, sending and
/// receiving at once (the kernel's bulk figure, and the TAP client). MB/s of the slower
/// direction.
pub fn client_push(addr: SocketAddr, bytes: usize) -> f64 {
    let sk = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
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
