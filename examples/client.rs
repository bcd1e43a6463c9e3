//! `cargo run --example client -- --service robot`: the tutorial's `input('>>:')` loop
//! on its own smoltcp stack, on a TAP device, talking to `serve`.
//!
//! Each line typed is sent to the chosen service and the reply printed as the tutorial
//! does (`recv: ...`). Needs two TAP devices on one bridge, `tap0` for serve and `tap1`
//! for this client: `sudo scripts/tap.sh up --client`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::task::Poll;

use sockless::services::{ECHO_PORT, OK_PORT};
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::{IpAddress, IpEndpoint};
use sockless::tutorial::chat::{ChatSpec, Dir, TcpChat, Transcript, UdpChat};
#[path = "common/cli.rs"]
mod cli;
#[path = "common/tap_options.rs"]
mod tap_options;

use sockless::phy::tap::{TapLink, wall_clock};
use sockless::{Host, Stack, StackStorage, TcpBuffers, TcpSocket, UdpBuffers, UdpSocket};
use tap_options::{TapOptions, poll_until_quiet};

fn help(tap: &TapOptions) -> String {
    format!(
        "\
client: the tutorial's input('>>:') loop on a smoltcp stack on a TAP device.

USAGE:
    cargo run --example client -- [OPTIONS]   (after: sudo scripts/tap.sh up --client)

OPTIONS:
    --service NAME        upper (TCP 6969, default), echo (TCP 7), notice (TCP 9999),
                          robot (TCP 8888), udp-ok (UDP 9999), udp-echo (UDP 7)
    --server ADDR         the server's address (default {}; {} for IPv6)
{}
    -h, --help            print this text

ENVIRONMENT:
    RUST_LOG              log level (default warn; debug shows TCP state changes)

Type a line and Enter to send it; end with Ctrl-D (or `exit` for robot and UDP).",
        Host::SERVER.ipv4.address(),
        Host::SERVER.ipv6.address(),
        tap.help(&Host::CLIENT)
    )
}

enum Service {
    Tcp(ChatSpec),
    Udp(u16),
}

fn service(name: &str) -> Option<Service> {
    Some(match name {
        "upper" => Service::Tcp(ChatSpec::HELLO),
        "echo" => Service::Tcp(ChatSpec::ECHO),
        "notice" => Service::Tcp(ChatSpec::NOTICE),
        "robot" => Service::Tcp(ChatSpec::ROBOT),
        "udp-ok" => Service::Udp(OK_PORT),
        "udp-echo" => Service::Udp(ECHO_PORT),
        _ => return None,
    })
}

/// Lines from stdin, each after a `>>:` prompt (blocking, as `input()` is).
fn prompted_lines() -> impl Iterator<Item = &'static str> {
    let stdin = std::io::stdin();
    std::iter::from_fn(move || {
        print!(">>:");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(&*Box::leak(line.trim().to_owned().into_boxed_str())),
        }
    })
}

/// Print the replies recorded since the last call.
fn print_new(transcript: &Transcript, printed: &mut usize) {
    while *printed < transcript.total() {
        if let Some((Dir::Received, reply)) = transcript.get(*printed) {
            println!("recv: {}", String::from_utf8_lossy(reply));
        }
        *printed += 1;
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut chosen = Service::Tcp(ChatSpec::HELLO);
    let mut server: IpAddress = Host::SERVER.ipv4_addr();
    let options = TapOptions::parse_env("client", "tap1", &Host::CLIENT, help, |flag, parser| {
        match flag {
            "--service" => {
                let names = "upper, echo, notice, robot, udp-ok or udp-echo";
                chosen = cli::value_with(parser, flag, names, service)?;
            }
            "--server" => server = cli::value(parser, flag, "an IP address")?,
            _ => return Ok(false),
        }
        Ok(true)
    });
    let Some(mut link) = options.open("client") else {
        return ExitCode::FAILURE;
    };
    let mut storage = StackStorage::<2>::new();
    let mut tcp_buffers = TcpBuffers::<4096, 4096>::new();
    let mut udp_buffers = UdpBuffers::<4, 2048>::new();
    let host = options.host(Host {
        name: "client",
        ..Host::CLIENT
    });
    let mut stack = Stack::new(host, link.device(), &mut storage, wall_clock());
    options.apply_addresses(&mut stack);

    let mut printed = 0;
    let result = match chosen {
        Service::Tcp(spec) => {
            let socket = TcpSocket::new(&mut stack, &mut tcp_buffers).expect("a socket slot");
            let mut chat: TcpChat<'_, _> = TcpChat::new(socket, server, spec, prompted_lines());
            drive(&mut stack, &mut link, |stack| {
                let r = chat.poll(stack);
                print_new(&chat.transcript, &mut printed);
                r.map(|r| r.map_err(|e| e.to_string()))
            })
        }
        Service::Udp(port) => {
            let socket = UdpSocket::bind(&mut stack, 0, &mut udp_buffers).expect("a socket slot");
            let mut chat = UdpChat::new(socket, IpEndpoint::new(server, port), prompted_lines());
            drive(&mut stack, &mut link, |stack| {
                let r = chat.poll(stack);
                print_new(&chat.transcript, &mut printed);
                r.map(|r| r.map_err(|e| e.to_string()))
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Poll the stack and the conversation, sleeping on the TAP fd, until it is over.
fn drive(
    stack: &mut Stack<'_>,
    link: &mut TapLink,
    mut chat: impl FnMut(&mut Stack<'_>) -> Poll<Result<(), String>>,
) -> Result<(), String> {
    loop {
        let mut outcome = Poll::Pending;
        poll_until_quiet(stack, link.device(), |stack| {
            if outcome.is_pending() {
                outcome = chat(stack);
            }
        });
        if let Poll::Ready(r) = outcome {
            // Let the last segments (our FIN, its ACK) go out before leaving.
            for _ in 0..10 {
                poll_until_quiet(stack, link.device(), |_| {});
                let _ = link.wait(Some(Duration::from_millis(20)));
            }
            return r;
        }
        let delay = stack.poll_delay(wall_clock());
        link.wait(delay.map(|d| d.min(Duration::from_secs(1))))
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(e.to_string())
                }
            })?;
    }
}
