//! `cargo run --release --example serve -- --tap tap0 --ip 192.168.69.1/24 --ip fdaa::1/64`
//!
//! Every service of the demo on a Linux TAP device, with the same fixed buffers as on a
//! microcontroller: the host's own tools (`nc`, `socat`, `ping`, Python) talk to it.
//! Create the device first with `sudo scripts/tap.sh up`.

use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant as WallClock;

use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::IpCidr;
use sockless::socket::{Dhcp, DhcpEvent};
#[path = "common/cli.rs"]
mod cli;
#[path = "common/mqtt.rs"]
mod mqtt;
#[path = "common/tap_options.rs"]
mod tap_options;

use sockless::phy::tap::{TapLink, wall_clock};
use sockless::{Host, Overflow, Stack, StackStorage, TcpBuffers};
use tap_options::{TapOptions, poll_until_quiet};

const POOL: usize = 4;
/// Socket buffer sizes `--buffer-size` can choose, in bytes each way per connection.
const SMALL: usize = 2048;
const MEDIUM: usize = 64 * 1024;
const LARGE: usize = 256 * 1024;
/// The services' sockets, the MQTT client's two (`--mqtt`) and the DHCP client's (`--dhcp`).
const SOCKETS: usize = ServiceStorage::<POOL, SMALL>::SOCKETS + 3;

fn help(tap: &TapOptions) -> String {
    format!(
        "\
serve: the socket tutorial's services on a TAP device, on smoltcp.

USAGE:
    cargo run --release --example serve -- [OPTIONS]
    e.g. serve --tap tap0 --ip 192.168.69.1/24 --ip fdaa::1/64

SERVICES:
    TCP 7 and UDP 7 echo, TCP 6969 upper-casing echo, TCP 9999 notice,
    UDP 9999 ok, TCP 8888 the 10086 robot; ICMP echo (ping) v4 and v6.

OPTIONS:
{}
    --idle-timeout SECS   reset TCP connections idle this long, 0: never (default {})
    --overflow POLICY     a caller beyond a service's pool: queue (default: its SYN
                          waits, as with Linux's full backlog) or refuse (RST)
    --buffer-size KIB     each connection's buffers, each way: 2 (default, as on a
                          microcontroller: 81 KiB for every service), 64 or 256
                          (for throughput on a large TAP MTU: 8 MiB in all)
    --dhcp                ask the network's DHCP server for the IPv4 address (the
                          IPv4 --ip is the fallback, used after {} s without a
                          lease); the lease is printed as `dhcp: leased ...`
    --mqtt ADDR           publish each robot call to the MQTT broker at ADDR, port
                          1883, topic sockless/robot (minimq on sockless's
                          embedded-nal stack, beside the services)
    -h, --help            print this text

ENVIRONMENT:
    RUST_LOG              log level (default info; debug shows TCP state changes)

Ends cleanly on SIGINT or SIGTERM with a summary of what was served.",
        tap.help(&Host::SERVER),
        ServiceConfig::default()
            .idle_timeout
            .map_or(0, |t| t.secs()),
        DHCP_WAIT.secs(),
    )
}

/// How long `--dhcp` waits for a lease before using the fallback address.
const DHCP_WAIT: Duration = Duration::from_secs(10);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut config = ServiceConfig::default();
    let mut buffer_kib = 2;
    let mut mqtt: Option<IpAddr> = None;
    let mut dhcp = false;
    let options = TapOptions::parse_env("serve", "tap0", &Host::SERVER, help, |flag, parser| {
        match flag {
            "--idle-timeout" => {
                let secs = cli::value(parser, flag, "a number of seconds")?;
                config.idle_timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "--overflow" => {
                config.overflow = cli::value_with(parser, flag, "queue or refuse", |v| match v {
                    "queue" => Some(Overflow::Queue),
                    "refuse" => Some(Overflow::Refuse),
                    _ => None,
                })?
            }
            "--mqtt" => mqtt = Some(cli::value(parser, flag, "an IP address")?),
            "--dhcp" => dhcp = true,
            "--buffer-size" => {
                buffer_kib = cli::value_with(parser, flag, "2, 64 or 256 (KiB)", |v| {
                    v.parse().ok().filter(|kib| [2, 64, 256].contains(kib))
                })?
            }
            _ => return Ok(false),
        }
        Ok(true)
    });
    let Some(mut link) = options.open("serve") else {
        return ExitCode::FAILURE;
    };
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }

    match buffer_kib {
        2 => serve::<SMALL>(&options, config, mqtt, dhcp, &mut link),
        64 => serve::<MEDIUM>(&options, config, mqtt, dhcp, &mut link),
        _ => serve::<LARGE>(&options, config, mqtt, dhcp, &mut link),
    }
}

/// Run every service with `BUF`-byte buffers until SIGINT or SIGTERM.
fn serve<const BUF: usize>(
    options: &TapOptions,
    config: ServiceConfig,
    mqtt: Option<IpAddr>,
    dhcp: bool,
    link: &mut TapLink,
) -> ExitCode {
    // The MQTT client's two sockets and its packet buffer (used only with --mqtt).
    let mut mqtt_buffers = [TcpBuffers::new(), TcpBuffers::new()];
    let mut packets = [0u8; 1024];
    // Every byte of the stack and the services, fixed here.
    // A host can afford TIME-WAIT records for many callers: 256 x 72 bytes.
    let mut storage = StackStorage::<SOCKETS, 256>::new();
    // Built in place on the heap: a large storage would not fit on the stack first.
    let mut slot = Box::<ServiceStorage<POOL, BUF>>::new_uninit();
    ServiceStorage::init(&mut slot);
    // SAFETY: `init` wrote every field.
    let mut service_storage = unsafe { slot.assume_init() };
    let host = options.host(Host {
        name: "serve",
        ..Host::SERVER
    });
    // In a RefCell: the services and the MQTT client share it (see sockless::ecosystem).
    let stack = RefCell::new(Stack::new(host, link.device(), &mut storage, wall_clock()));
    options.apply_addresses(&mut stack.borrow_mut());
    let started = Services::<POOL>::start(&mut stack.borrow_mut(), &mut service_storage, config);
    let mut services = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The IPv4 address of `--ip` (or the default) is the fallback.
    let fallback = host.ipv4;
    let mut dhcp = match (dhcp, fallback) {
        (false, _) => None,
        (true, IpCidr::Ipv4(fallback)) => {
            match Dhcp::start(&mut stack.borrow_mut(), fallback, None, DHCP_WAIT) {
                Ok(dhcp) => Some(dhcp),
                Err(e) => {
                    eprintln!("serve: dhcp: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (true, _) => {
            eprintln!("serve: --dhcp needs an IPv4 --ip for its fallback");
            return ExitCode::FAILURE;
        }
    };
    let addrs: Vec<String> = options.ips.iter().map(|c| c.to_string()).collect();
    log::info!(
        "serving on {} ({}, {}): TCP 7 6969 8888 9999, UDP 7 9999; drop {}% corrupt {}%",
        options.tap,
        addrs.join(", "),
        options.mac,
        options.drop_chance,
        options.corrupt_chance
    );
    // A line for scripts (and the integration test) to wait for. Output errors (a reader
    // that went away) must never stop a server: they are ignored.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready: {} {}", options.tap, addrs.join(" "));
    let _ = out.flush();

    let mut publisher = mqtt.map(|broker| {
        log::info!(
            "publishing robot calls to mqtt://{broker}:1883/{}",
            mqtt::TOPIC
        );
        mqtt::RobotPublisher::new(broker, &stack, &mut mqtt_buffers, &mut packets)
    });

    let started = WallClock::now();
    while !STOP.load(Ordering::SeqCst) {
        poll_until_quiet(&mut stack.borrow_mut(), link.device(), |stack| {
            if let Some(event) = dhcp.as_mut().and_then(|d| d.poll(stack)) {
                let _ = writeln!(std::io::stdout(), "{}", dhcp_line(event));
                let _ = std::io::stdout().flush();
            }
            services.poll(stack)
        });
        if let Some(publisher) = publisher.as_mut() {
            let robot = services.reports().into_iter().find(|r| r.name == "robot");
            let calls = robot.map_or(0, |r| r.stats.accepted);
            publisher.poll(calls);
            // What it queued leaves now.
            stack.borrow_mut().poll(wall_clock(), link.device());
        }
        // Sleep until a frame comes or the stack's next deadline; wake at least every
        // second to notice a signal that raced with the wait.
        let delay = stack
            .borrow_mut()
            .poll_delay(wall_clock())
            .map_or(Duration::from_secs(1), |d| d.min(Duration::from_secs(1)));
        if let Err(e) = link.wait(Some(delay))
            && e.kind() != std::io::ErrorKind::Interrupted
        {
            eprintln!("serve: waiting on {}: {e}", options.tap);
            return ExitCode::FAILURE;
        }
    }

    let _ = writeln!(
        out,
        "stopped after {:.1} s; served:",
        started.elapsed().as_secs_f64()
    );
    for report in services.reports() {
        let _ = writeln!(out, "  {report}");
    }
    if let Some(publisher) = &publisher {
        let _ = writeln!(
            out,
            "  mqtt      published {} in {} session(s)",
            publisher.published(),
            publisher.sessions()
        );
    }
    ExitCode::SUCCESS
}

/// The console line for a change of address by DHCP (the firmware's words too).
fn dhcp_line(event: DhcpEvent) -> String {
    match event {
        DhcpEvent::Leased {
            address,
            router,
            server,
        } => match router {
            Some(router) => format!("dhcp: leased {address} from {server} router {router}"),
            None => format!("dhcp: leased {address} from {server}"),
        },
        DhcpEvent::Fallback { address } => format!("dhcp: no lease, static {address}"),
    }
}
