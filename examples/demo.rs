//! `cargo run --example demo`: every program of the tutorial, in-process.
//!
//! Two smoltcp stacks, a client host and a server host, on an in-memory Ethernet wire,
//! in virtual time: no privileges, no network. The server runs every service at once;
//! the client plays each of the tutorial's conversations in turn. For each, the demo
//! prints the messages exchanged and the lifecycle trace, each step beside the Python call
//! it stands for, then a verdict. It exits 0 only if every conversation got exactly the
//! expected replies. `--ladder` draws every frame of each conversation as a ladder diagram
//! (the first one is drawn anyway), `--pcap FILE` writes them all to a capture file, and
//! `--drop N` loses one chosen segment of each conversation to show TCP repairing it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant as WallClock;

use sockless::phy::{End, PcapCapture};
use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::phy::PcapSink;
use sockless::tutorial::chat::Dir;
use sockless::tutorial::conversations::{self, ClientSockets, Conversation, Verdict};
use sockless::tutorial::ladder::LadderLog;
use sockless::{Event, StackStorage, TcpBuffers, TcpSocket, Testbed, Trace, UdpBuffers, UdpSocket};

#[path = "common/cli.rs"]
mod cli;

const HELP: &str = "\
sockless demo: the Python socket tutorial's programs on smoltcp, in-process.

USAGE:
    cargo run --example demo -- [OPTIONS]

OPTIONS:
    --only NAME   run this conversation (see --list); repeatable (default: all)
    --list        list the conversations and exit
    --ipv6        talk to the server over IPv6 (default IPv4)
    --stdin       the input('>>:') client reads its lines from stdin (one per line)
                  and the demo runs that conversation only, e.g.
                  printf 'hello\\n世界\\n' | cargo run --example demo -- --stdin
    --no-trace    print the messages only, not the lifecycle trace (nor the first ladder)
    --ladder      draw every conversation's frames as a ladder diagram beside the
                  Python calls (default: the first conversation's only)
    --pcap FILE   write every frame of the run to FILE, for Wireshark or tcpdump -r
    --drop N      lose the Nth TCP segment of each conversation (1 = its SYN) and
                  watch TCP retransmit it, e.g. --only hello --drop 4 --ladder
    -h, --help    print this text

ENVIRONMENT:
    RUST_LOG      log level of the stacks (default warn), e.g. RUST_LOG=debug (state
                  changes), RUST_LOG=smoltcp=trace (every packet)

Exits 0 if every conversation got exactly the expected replies, 1 otherwise.";

#[derive(Default)]
struct Options {
    only: Vec<&'static str>,
    list: bool,
    stdin: bool,
    ipv6: bool,
    no_trace: bool,
    ladder: bool,
    pcap: Option<PathBuf>,
    drop: u64,
}

impl Options {
    /// The hook of [`cli::parse`]: one option of the demo's.
    fn take(&mut self, flag: &str, parser: &mut cli::Parser) -> Result<bool, cli::Error> {
        let switch = match flag {
            "--only" => {
                let name = cli::value_with(parser, flag, "a conversation (see --list)", |v| {
                    conversations::find(v).map(|c| c.name)
                })?;
                self.only.push(name);
                return Ok(true);
            }
            "--list" => &mut self.list,
            "--ipv6" => &mut self.ipv6,
            "--stdin" => &mut self.stdin,
            "--no-trace" => &mut self.no_trace,
            "--ladder" => &mut self.ladder,
            "--pcap" => {
                self.pcap = Some(parser.value()?.into());
                return Ok(true);
            }
            "--drop" => {
                self.drop = cli::value_with(parser, flag, "a segment number (1 or more)", |v| {
                    v.parse().ok().filter(|n| *n > 0)
                })?;
                return Ok(true);
            }
            _ => return Ok(false),
        };
        *switch = true;
        Ok(true)
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let mut options = Options::default();
    cli::parse_env("demo", HELP, |flag, parser| options.take(flag, parser));
    if options.list {
        for c in &conversations::CONVERSATIONS {
            println!("{:<9} {}", c.name, c.title);
        }
        return ExitCode::SUCCESS;
    }
    let wall = WallClock::now();

    // All memory, fixed here: socket tables, service buffers, client buffers, the trace,
    // the ladder's log.
    let trace = Trace::<1024>::new();
    let ladder = LadderLog::<1024>::new();
    let capture = match &options.pcap {
        None => None,
        Some(path) => match File::create(path) {
            Ok(file) => Some(PcapCapture::new(FileSink::new(file))),
            Err(e) => {
                eprintln!("demo: --pcap: cannot create {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let wire_observers = (&ladder, capture.as_ref());
    let stack_observers = (&trace, &ladder);
    let mut service_storage = Box::new(ServiceStorage::<4, 2048>::new());
    let mut tcp_buffers = TcpBuffers::<4096, 4096>::new();
    let mut udp_buffers = UdpBuffers::<4, 2048>::new();
    let mut client_storage = StackStorage::<2>::new();
    let mut server_storage = StackStorage::<{ ServiceStorage::<4, 2048>::SOCKETS }>::new();
    let mut tb: Testbed = Testbed::new(&mut client_storage, &mut server_storage);
    tb.client.set_observer(Some(&stack_observers));
    tb.server.set_observer(Some(&stack_observers));
    tb.wire.set_observer(Some(&wire_observers));

    println!("sockless demo: the socket tutorial's programs on smoltcp, no OS sockets, no heap");
    println!(
        "two hosts on an in-memory Ethernet wire, virtual time; client {} / {}, server {} / {}",
        tb.client.host().ipv4,
        tb.client.host().ipv6,
        tb.server.host().ipv4,
        tb.server.host().ipv6
    );
    let mut services = match Services::start(
        &mut tb.server,
        &mut service_storage,
        ServiceConfig::default(),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut sockets = ClientSockets {
        tcp: Some(TcpSocket::new(&mut tb.client, &mut tcp_buffers).expect("client slot")),
        udp: Some(UdpSocket::bind(&mut tb.client, 0, &mut udp_buffers).expect("client slot")),
    };
    let with_trace = !options.no_trace;
    if with_trace {
        println!("\n-- server start: every service listening at once --");
        print_trace(&trace);
    }

    let chosen: Vec<&Conversation> = if options.stdin {
        vec![stdin_conversation()]
    } else {
        conversations::CONVERSATIONS
            .iter()
            .filter(|c| options.only.is_empty() || options.only.contains(&c.name))
            .collect()
    };
    let mut passed = 0;
    for (i, conv) in chosen.iter().enumerate() {
        trace.clear();
        ladder.clear();
        tb.wire.lose_segment(options.drop);
        let verdict = conversations::play(conv, &mut tb, &mut services, &mut sockets, options.ipv6);
        print_conversation(i + 1, chosen.len(), conv, &verdict, &trace, with_trace);
        if options.ladder || (with_trace && i == 0) {
            println!(
                "  ladder (every frame on the wire, relative numbers as Wireshark shows them):"
            );
            let names = [tb.client.host().name, tb.server.host().name];
            let mut text = String::new();
            let _ = ladder.draw(names, &mut text);
            for line in text.lines() {
                println!("  {line}");
            }
        }
        if verdict.passed() {
            passed += 1;
        }
    }

    println!("\n-- services --");
    for report in services.reports() {
        println!("  {report}");
    }
    let wire = tb.wire.stats(End::A);
    let back = tb.wire.stats(End::B);
    println!(
        "  wire      client->server {} frames, server->client {} frames, dropped {}, corrupted {}, TCP retransmissions {}",
        wire.sent,
        back.sent,
        wire.dropped() + back.dropped(),
        wire.corrupted + back.corrupted,
        wire.retransmitted + back.retransmitted
    );
    println!(
        "  memory    server: socket table {} B + service buffers {} B; client: socket table {} B + buffers {} B; no heap in the stacks",
        StackStorage::<{ ServiceStorage::<4, 2048>::SOCKETS }>::SIZE,
        ServiceStorage::<4, 2048>::SIZE,
        StackStorage::<2>::SIZE,
        std::mem::size_of::<TcpBuffers<4096, 4096>>() + std::mem::size_of::<UdpBuffers<4, 2048>>()
    );
    if let (Some(capture), Some(path)) = (&capture, &options.pcap) {
        let frames = capture.frames();
        match capture.with_sink(FileSink::finish).unwrap_or(Ok(())) {
            Ok(()) => println!("  capture   {frames} frames in {}", path.display()),
            Err(e) => {
                eprintln!("demo: --pcap: writing {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let failed = chosen.len() - passed;
    println!(
        "\nsummary: {} conversations, {passed} passed, {failed} failed; virtual time {:.3} s, wall time {:.1} ms",
        chosen.len(),
        tb.now().total_millis() as f64 / 1000.0,
        wall.elapsed().as_secs_f64() * 1000.0
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The tutorial's `input('>>:')` loop on stdin: each line to the 6969 server, whose
/// reply must be the line upper-cased. (Leaked: it lives as long as the demo.)
fn stdin_conversation() -> &'static Conversation {
    let lines: Vec<&'static str> = std::io::stdin()
        .lines()
        .map_while(Result::ok)
        .map(|l| &*Box::leak(l.trim().to_owned().into_boxed_str()))
        .filter(|l| !l.is_empty())
        .collect();
    let expect: Vec<&'static [u8]> = lines
        .iter()
        .map(|l| &*Box::leak(l.as_bytes().to_ascii_uppercase().into_boxed_slice()))
        .collect();
    Box::leak(Box::new(Conversation {
        name: "stdin",
        title: "the input('>>:') loop, lines from stdin, to the 6969 server",
        lines: Box::leak(lines.into_boxed_slice()),
        expect: Box::leak(expect.into_boxed_slice()),
        ..*conversations::find("input").expect("the input conversation")
    }))
}

fn print_conversation(
    n: usize,
    of: usize,
    conv: &Conversation,
    verdict: &Verdict,
    trace: &Trace<1024>,
    with_trace: bool,
) {
    println!("\n== {n}/{of} {}: {} ==", conv.name, conv.title);
    for line in conv.python {
        println!("  python: {line}");
    }
    for (dir, bytes) in verdict.transcript.messages() {
        let arrow = match dir {
            Dir::Sent => "client >>",
            Dir::Received => "client <<",
        };
        println!("  {arrow} {:?}", String::from_utf8_lossy(bytes));
    }
    if with_trace {
        println!("  trace:");
        print_trace(trace);
    }
    let took = (verdict.ended - verdict.started).total_millis();
    match verdict.failure {
        None => println!("  PASS (virtual {took} ms)"),
        Some(f) => {
            println!("  FAIL: {f:?}");
            let expected: Vec<_> = conv
                .expect
                .iter()
                .map(|e| String::from_utf8_lossy(e))
                .collect();
            println!("  expected replies: {expected:?}");
        }
    }
}

fn print_trace<const N: usize>(trace: &Trace<N>) {
    for event in trace.events() {
        print_event(&event);
    }
}

fn print_event(event: &Event) {
    let line = event.to_string();
    println!("    {line:<60} {}", event.kind.python());
}

/// A pcap file being written: smoltcp's `PcapSink` has no errors, so the first one is
/// kept (and the rest of the capture skipped) until [`finish`](Self::finish) reports it.
struct FileSink {
    file: BufWriter<File>,
    error: Option<std::io::Error>,
}

impl FileSink {
    fn new(file: File) -> Self {
        FileSink {
            file: BufWriter::new(file),
            error: None,
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.file.flush(),
        }
    }
}

impl PcapSink for FileSink {
    fn write(&mut self, data: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.file.write_all(data)
        {
            self.error = Some(e);
        }
    }
}
