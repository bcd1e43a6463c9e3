//! The firmware proper, the same on every board: statics, start-up, the control port, the
//! loop. What it needs of the board is `board.rs`'s [`Board`], and nothing else.

use smoltcp::time::Duration;
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};
use sockless::services::Count;
use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::{Host, Stack, StackStorage, UdpBuffers, UdpSocket};

use crate::board::{Board, NicCounters};
use crate::console::Console;
use crate::statics::Static;

/// Connections per TCP service.
pub const POOL: usize = 2;
/// Bytes of each TCP connection's receive and send buffers (the window).
pub const BUF: usize = 1024;
/// Bytes of each UDP service's receive and send queues (a full 1472-byte datagram fits).
pub const UDP: usize = 2048;
/// The firmware's own UDP port: `stats`, `log LEVEL`, `quit` (the host's 24444).
pub const CONTROL_PORT: u16 = 4444;
/// Longest control reply (the counters).
const REPLY: usize = 1024;
/// Sockets: the services', the control port's and (feature `dhcp`) the DHCP client's.
const SOCKETS: usize =
    ServiceStorage::<POOL, BUF, UDP>::SOCKETS + 1 + cfg!(feature = "dhcp") as usize;
/// How long to wait for a DHCP lease before using the static address.
#[cfg(feature = "dhcp")]
const DHCP_WAIT: Duration = Duration::from_secs(5);

/// QEMU's user network: the guest's address and its gateway (the host).
const ADDRESS: Ipv4Cidr = Ipv4Cidr::new(Ipv4Address::new(10, 0, 2, 15), 24);
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

// Every byte the firmware keeps, fixed here, built in place at start-up (`.bss`); the
// network card's are the board's.
static STACK: Static<StackStorage<'static, SOCKETS>> = Static::new();
static SERVICES: Static<ServiceStorage<POOL, BUF, UDP>> = Static::new();
static CONTROL: Static<UdpBuffers<2, REPLY>> = Static::new();

/// Start the board, then serve until `quit`.
pub fn run<B: Board + 'static>() -> ! {
    Console::<B>::install();
    let (mut board, nic, mac) = B::start();
    let boot = board.now(nic);
    let host = Host {
        name: "board",
        mac,
        ipv4: IpCidr::Ipv4(ADDRESS),
        #[cfg(feature = "ipv6")]
        ipv6: IpCidr::Ipv6(smoltcp::wire::Ipv6Cidr::new(
            // QEMU's user network advertises fec0::/64.
            smoltcp::wire::Ipv6Address::new(0xfec0, 0, 0, 0, 0, 0, 0, 0x15),
            64,
        )),
        // Initial sequence numbers should not repeat from boot to boot (a board with a
        // random number generator would use it here).
        random_seed: 0x5eed_b0a2 ^ boot.total_micros() as u64,
    };
    let mut stack = Stack::new(host, nic, StackStorage::init(STACK.take()), boot);
    let _ = stack
        .interface()
        .routes_mut()
        .add_default_ipv4_route(GATEWAY);
    let storage = ServiceStorage::init(SERVICES.take());
    let mut services = match Services::<POOL>::start(&mut stack, storage, ServiceConfig::default())
    {
        Ok(services) => services,
        Err(e) => {
            log::error!("{e}");
            B::exit(false)
        }
    };
    #[cfg(feature = "dhcp")]
    let mut dhcp =
        match sockless::socket::Dhcp::start(&mut stack, ADDRESS, Some(GATEWAY), DHCP_WAIT) {
            Ok(dhcp) => dhcp,
            Err(e) => {
                log::error!("dhcp: {e}");
                B::exit(false)
            }
        };
    let control_buffers = UdpBuffers::init(CONTROL.take());
    let mut control = Control {
        socket: match UdpSocket::bind(&mut stack, CONTROL_PORT, control_buffers) {
            Ok(socket) => socket,
            Err(e) => {
                log::error!("control port: {e}");
                B::exit(false)
            }
        },
        quit: false,
        nic: B::counters(nic),
    };
    log::info!(
        "{}: {} pool {POOL} x {BUF} B, static {} B services + {} B sockets",
        B::NAME,
        ADDRESS,
        ServiceStorage::<POOL, BUF, UDP>::SIZE,
        StackStorage::<SOCKETS>::SIZE
    );
    B::print("ready: TCP 7 6969 8888 9999, UDP 7 9999, control UDP 4444 (host: 20000 + port)");

    // Until `quit`, then 50 ms more (busy, taking no more commands) so that its reply and
    // any last segments leave. One loop, one call of `poll_until_quiet`: each call with its
    // own closures would be another copy of it.
    let mut until = None;
    loop {
        control.nic = B::counters(nic);
        stack.poll_until_quiet(
            nic,
            |nic| board.now(nic),
            |stack| {
                #[cfg(feature = "dhcp")]
                if let Some(event) = dhcp.poll(stack) {
                    print_dhcp::<B>(event);
                }
                services.poll(stack);
                if !control.quit {
                    control.poll::<B, POOL>(stack, &mut services);
                }
            },
        );
        let now = board.now(nic);
        if control.quit {
            if now >= *until.get_or_insert(now + Duration::from_millis(50)) {
                break;
            }
        } else {
            match stack.poll_delay(now) {
                Some(Duration::ZERO) => {}
                delay => board.sleep(nic, delay.map(|d| now + d)),
            }
        }
    }
    // The run's result, the same text as `stats`: printed in every build (the small ones
    // have no log lines).
    let mut text = heapless::String::<REPLY>::new();
    control.nic = B::counters(nic);
    control.stats::<B, POOL>(&mut text, &mut stack, &mut services);
    B::print(&text);
    B::print("bye");
    B::exit(true)
}

/// The address DHCP gave, or the fallback, on the console (every build: the small ones
/// have no log lines). Written piece by piece, as `stats` is, without `core::fmt`.
#[cfg(feature = "dhcp")]
fn print_dhcp<B: Board>(event: sockless::socket::DhcpEvent) {
    use sockless::socket::DhcpEvent;
    let mut line = heapless::String::<REPLY>::new();
    let router = match event {
        DhcpEvent::Leased {
            address,
            router,
            server,
        } => {
            let _ = line.push_str("dhcp: leased ");
            push_cidr(&mut line, address);
            let _ = line.push_str(" from ");
            push_ipv4(&mut line, server);
            router
        }
        DhcpEvent::Fallback { address } => {
            let _ = line.push_str("dhcp: no lease, static ");
            push_cidr(&mut line, address);
            Some(GATEWAY)
        }
    };
    if let Some(router) = router {
        let _ = line.push_str(" router ");
        push_ipv4(&mut line, router);
    }
    B::print(&line);
}

#[cfg(feature = "dhcp")]
fn push_cidr(out: &mut heapless::String<REPLY>, cidr: Ipv4Cidr) {
    push_ipv4(out, cidr.address());
    field(out, "/", u64::from(cidr.prefix_len()));
}

#[cfg(feature = "dhcp")]
fn push_ipv4(out: &mut heapless::String<REPLY>, address: Ipv4Address) {
    for (i, octet) in address.octets().iter().enumerate() {
        field(out, if i == 0 { "" } else { "." }, u64::from(*octet));
    }
}

/// `label` and `n` at the end of `out`.
#[inline(never)]
fn field(out: &mut heapless::String<REPLY>, label: &str, n: u64) {
    let _ = out.push_str(label);
    let _ = Count(n).write_to(out);
}

/// The control port: a datagram in, a datagram out.
struct Control {
    socket: UdpSocket,
    quit: bool,
    /// The card's counters as of this turn (the card is busy as the stack's device).
    nic: NicCounters,
}

impl Control {
    /// The counters: one line per service, the driver's, connections busy, uptime, and the
    /// call stack's high-water mark.
    fn stats<B: Board, const P: usize>(
        &self,
        out: &mut heapless::String<REPLY>,
        stack: &mut Stack<'_>,
        services: &mut Services<P>,
    ) {
        // Written piece by piece, numbers through `Count` (core's integer formatting would
        // cost flash), and no `write!` at all: the small build then has none of
        // `core::fmt`'s machinery.
        for report in &services.reports() {
            let _ = report.write_to(out);
            let _ = out.push('\n');
        }
        let nic = &self.nic;
        // Unsigned: a signed 64-bit division would link a second routine (`div.rs`).
        let uptime = stack.now().total_micros() as u64 / 1_000_000;
        field(out, "nic       received ", nic.received);
        field(out, " sent ", nic.sent);
        field(out, " rx errors ", nic.rx_errors);
        field(out, " rx oversize ", nic.rx_oversize);
        field(out, " tx full ", nic.tx_full);
        // Connections still open or closing (TIME-WAIT holds a socket 10 s).
        field(out, "\nbusy ", services.busy(stack) as u64);
        field(out, "\nuptime ", uptime);
        field(out, " s\nstack used ", B::stack_used() as u64);
        let _ = out.push_str(" B");
    }

    fn poll<B: Board, const P: usize>(
        &mut self,
        stack: &mut Stack<'_>,
        services: &mut Services<P>,
    ) {
        let mut command = [0u8; 64];
        while let Ok((n, from)) = self.socket.recvfrom(stack, &mut command) {
            let mut reply = heapless::String::<REPLY>::new();
            let text = core::str::from_utf8(&command[..n]).unwrap_or("");
            let mut words = text.split_ascii_whitespace();
            match (words.next(), words.next()) {
                (Some("stats"), None) => self.stats::<B, P>(&mut reply, stack, services),
                (Some("log"), Some(level)) => match level.parse::<log::LevelFilter>() {
                    Ok(level) => {
                        log::set_max_level(level);
                        let _ = reply.push_str("log ");
                        let _ = reply.push_str(level.as_str());
                    }
                    Err(_) => {
                        let _ = reply.push_str("error: log off|error|warn|info|debug|trace");
                    }
                },
                (Some("quit"), None) => {
                    self.quit = true;
                    let _ = reply.push_str("bye");
                }
                _ => {
                    let _ = reply.push_str("error: commands are stats, log LEVEL, quit");
                }
            }
            if let Err(e) = self.socket.sendto(stack, reply.as_bytes(), from) {
                log::warn!("control: reply to {from}: {e}");
            }
        }
    }
}
