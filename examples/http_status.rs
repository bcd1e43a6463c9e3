//! `sudo cargo run --release --example http_status -- --tap tap0 --ip 192.168.69.1/24`
//!
//! The tutorial's services on a TAP device and, beside them on the same stack, a
//! third-party async HTTP server: picoserve, unmodified, on TCP 80, serving the services'
//! counters (`curl http://192.168.69.1/`). The async way: one `AsyncStack`; a runner task
//! that polls it on the TAP device and runs the poll-driven services; an HTTP task that
//! `accept().await`s on sockless's listener and hands each connection to picoserve as
//! embedded-io-async halves.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use embassy_futures::block_on;
use embassy_futures::select::{Either, select};
use sockless::async_sockets::{
    AsyncListener, AsyncReadHalf, AsyncStack, AsyncTcpStream, AsyncWriteHalf, yield_now,
};
use sockless::phy::tap::wall_clock;
use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::time::Duration;
use sockless::socket::NetError;
use sockless::{Host, Stack, StackStorage, TcpBuffers};

#[path = "common/cli.rs"]
mod cli;
#[path = "common/tap_options.rs"]
mod tap_options;

use tap_options::TapOptions;

const POOL: usize = 4;
/// The HTTP server's sockets: a pool of 2 on port 80.
const HTTP_POOL: usize = 2;
const SOCKETS: usize = ServiceStorage::<POOL, 2048>::SOCKETS + HTTP_POOL;

fn help(tap: &TapOptions) -> String {
    format!(
        "\
http_status: the socket tutorial's services on a TAP device, and an HTTP server
(picoserve, async) on port 80 with their counters, all on one smoltcp stack.

USAGE:
    cargo run --release --example http_status -- [OPTIONS]
    e.g. http_status --tap tap0 --ip 192.168.69.1/24

OPTIONS:
{}
    -h, --help            print this text

Ends cleanly on SIGINT or SIGTERM.",
        tap.help(&Host::SERVER)
    )
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// picoserve's runtime marker for sockless.
struct Sockless;

/// picoserve's timer on the stack's clock.
struct StackTimer<'s>(&'s AsyncStack<'static>);

impl picoserve::Timer<Sockless> for StackTimer<'_> {
    async fn delay(&self, duration: picoserve::time::Duration) {
        let at = self.0.now() + Duration::from_millis(duration.as_millis());
        self.0.sleep_until(at).await
    }

    async fn run_with_timeout<F: Future>(
        &self,
        duration: picoserve::time::Duration,
        future: F,
    ) -> Result<F::Output, picoserve::time::TimeoutError> {
        match select(future, self.delay(duration)).await {
            Either::First(done) => Ok(done),
            Either::Second(()) => Err(picoserve::time::TimeoutError),
        }
    }
}

/// An accepted connection as picoserve's socket: split into sockless's async halves.
struct HttpConnection<'s>(AsyncTcpStream<'s, 'static>);

impl picoserve::io::Socket<Sockless> for HttpConnection<'_> {
    type Error = NetError;
    type ReadHalf<'a>
        = AsyncReadHalf<'a, 'static>
    where
        Self: 'a;
    type WriteHalf<'a>
        = AsyncWriteHalf<'a, 'static>
    where
        Self: 'a;

    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        self.0.split()
    }

    async fn abort<T: picoserve::Timer<Sockless>>(
        mut self,
        _: &picoserve::Timeouts,
        _: &mut T,
    ) -> Result<(), picoserve::Error<NetError>> {
        self.0.with(|socket, stack| socket.abort(stack));
        Ok(())
    }

    async fn shutdown<T: picoserve::Timer<Sockless>>(
        self,
        _: &picoserve::Timeouts,
        _: &mut T,
    ) -> Result<(), picoserve::Error<NetError>> {
        self.0.close().await;
        Ok(())
    }
}

/// The page: one line per service, as `serve` prints them.
fn status_page(services: &RefCell<Services<POOL>>) -> String {
    let mut page = String::from("sockless: the socket tutorial's services on smoltcp\n");
    for report in services.borrow().reports() {
        page.push_str(&format!("{report}\n"));
    }
    page
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let options =
        TapOptions::parse_env("http_status", "tap0", &Host::SERVER, help, |_, _| Ok(false));
    let Some(mut link) = options.open("http_status") else {
        return ExitCode::FAILURE;
    };
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }

    // Every byte fixed here (on the heap only because it is large for a thread's stack).
    let storage: &'static mut StackStorage<SOCKETS, 256> = Box::leak(Box::new(StackStorage::new()));
    let mut slot = Box::<ServiceStorage<POOL, 2048>>::new_uninit();
    ServiceStorage::init(&mut slot);
    // SAFETY: `init` wrote every field.
    let service_storage: &'static mut ServiceStorage<POOL, 2048> =
        Box::leak(unsafe { slot.assume_init() });
    let http_pool: &'static mut [TcpBuffers<2048, 2048>; HTTP_POOL] =
        Box::leak(Box::new([TcpBuffers::new(), TcpBuffers::new()]));

    let host = options.host(Host {
        name: "http_status",
        ..Host::SERVER
    });
    let mut stack = Stack::new(host, link.device(), storage, wall_clock());
    options.apply_addresses(&mut stack);
    let stack: &'static AsyncStack<'static> = Box::leak(Box::new(AsyncStack::new(stack)));
    let started =
        stack.with(|s| Services::<POOL>::start(s, service_storage, ServiceConfig::default()));
    let services = match started {
        Some(Ok(services)) => RefCell::new(services),
        Some(Err(e)) => {
            eprintln!("http_status: {e}");
            return ExitCode::FAILURE;
        }
        None => return ExitCode::FAILURE,
    };
    let mut listener = match AsyncListener::<HTTP_POOL>::listen(stack, 80, HTTP_POOL, http_pool) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("http_status: port 80: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = picoserve::Router::new().route(
        "/",
        picoserve::routing::get(|| async { status_page(&services) }),
    );
    let config = picoserve::Config::new(picoserve::Timeouts {
        start_read_request: picoserve::time::Duration::from_secs(5),
        persistent_start_read_request: picoserve::time::Duration::from_secs(1),
        read_request: picoserve::time::Duration::from_secs(1),
        write: picoserve::time::Duration::from_secs(1),
    });

    let addrs: Vec<String> = options.ips.iter().map(|c| c.to_string()).collect();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready: {} {}", options.tap, addrs.join(" "));
    let _ = out.flush();

    // The runner: poll the stack on the TAP device, run the services, then sleep until a
    // frame or the next deadline unless a task acted meanwhile.
    let runner = async {
        while !STOP.load(Ordering::SeqCst) {
            for _ in 0..64 {
                let changed = stack.poll(wall_clock(), link.device());
                let before = stack.activity();
                stack.with(|s| services.borrow_mut().poll(s));
                if !changed && stack.activity() == before {
                    break;
                }
            }
            yield_now().await;
            if !stack.take_runner_due() {
                let now = wall_clock();
                let delay = stack
                    .poll_at()
                    .map_or(Duration::from_millis(100), |at| {
                        if at > now { at - now } else { Duration::ZERO }
                    })
                    .min(Duration::from_millis(100));
                let _ = link.wait(Some(delay));
            }
        }
    };
    let http = async {
        loop {
            let Ok((conn, _peer)) = listener.accept().await else {
                continue;
            };
            let mut buffer = [0u8; 2048];
            let served = picoserve::Server::custom(&app, StackTimer(stack), &config, &mut buffer)
                .serve(HttpConnection(conn))
                .await;
            if let Err(e) = served {
                log::info!("http: {e:?}");
            }
        }
    };
    block_on(select(runner, http));

    let _ = writeln!(out, "stopped; served:");
    for report in services.borrow().reports() {
        let _ = writeln!(out, "  {report}");
    }
    ExitCode::SUCCESS
}
