//! The ladder diagram and the pcap capture of real conversations on the testbed: the
//! tutorial's first conversation drawn line by line, the teaching failures (a refused
//! connect, a lost segment and its retransmission, TIME-WAIT), and a capture whose every
//! record is a frame the wire counted.

use sockless::phy::{End, Faults, PcapCapture, WireStats};
use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::phy::PcapSink;
use sockless::tutorial::conversations::{self, ClientSockets};
use sockless::tutorial::ladder::{LadderLog, WIDTH, display_width};
use sockless::{Observer, StackStorage, TcpBuffers, TcpSocket, Testbed, UdpBuffers, UdpSocket};

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

/// A capture in memory.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl PcapSink for Bytes {
    fn write(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
    }
}

struct Rig {
    tb: &'static mut Testbed<'static>,
    services: &'static mut Services<4>,
    sockets: ClientSockets,
    ladder: &'static LadderLog<1024>,
    capture: &'static PcapCapture<Bytes>,
}

impl Rig {
    fn new() -> Self {
        let ladder: &'static LadderLog<1024> = leak(LadderLog::new());
        let capture: &'static PcapCapture<Bytes> = leak(PcapCapture::new(Bytes::default()));
        let tb: &'static mut Testbed<'static> = leak(Testbed::new(
            leak(StackStorage::<4>::new()),
            leak(StackStorage::<{ ServiceStorage::<4, 2048>::SOCKETS }>::new()),
        ));
        tb.client.set_observer(Some(ladder as &dyn Observer));
        tb.server.set_observer(Some(ladder as &dyn Observer));
        tb.wire.set_observer(Some(leak((ladder, capture))));
        let services = leak(
            Services::start(
                &mut tb.server,
                leak(ServiceStorage::<4, 2048>::new()),
                ServiceConfig::default(),
            )
            .expect("services start"),
        );
        let sockets = ClientSockets {
            tcp: Some(
                TcpSocket::new(&mut tb.client, leak(TcpBuffers::<4096, 4096>::new())).unwrap(),
            ),
            udp: Some(
                UdpSocket::bind(&mut tb.client, 0, leak(UdpBuffers::<4, 2048>::new())).unwrap(),
            ),
        };
        Rig {
            tb,
            services,
            sockets,
            ladder,
            capture,
        }
    }

    /// Play conversation `name` and return its ladder, lines without the trailing newline.
    fn play(&mut self, name: &str) -> Vec<String> {
        self.ladder.clear();
        let conv = conversations::find(name).expect("a conversation");
        let verdict = conversations::play(conv, self.tb, self.services, &mut self.sockets, false);
        assert!(verdict.passed(), "{name}: {:?}", verdict.failure);
        let mut text = String::new();
        self.ladder.draw(["client", "server"], &mut text).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for line in &lines {
            assert!(
                display_width(line) <= WIDTH,
                "wider than {WIDTH}: {line}\n{text}"
            );
        }
        lines
    }
}

fn assert_lines(got: &[String], want: &[&str]) {
    let text = got.join("\n");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "line {i} of:\n{text}");
    }
    assert_eq!(got.len(), want.len(), "{text}");
}

#[test]
fn the_first_conversation_is_drawn_line_by_line() {
    let mut rig = Rig::new();
    let ladder = rig.play("notice");
    assert_lines(
        &ladder,
        &[
            "    time client                                    server  python call / TCP state",
            "   0.000 |<-- ARP: who has? / is at ------------------->|  (address resolution)",
            "   0.000 |-- SYN seq=0 win=4096 len=0 ----------------->|  client SYN-SENT sk.connect(ip_port)",
            "   0.000 |<-- SYN,ACK seq=0 ack=1 win=2048 len=0 -------|  server SYN-RECEIVED",
            "   0.000 |-- ACK seq=1 ack=1 win=4096 len=0 ----------->|  client ESTABLISHED",
            "         |                                              |  server ESTABLISHED",
            "         |                                              |  server conn, addr = sk.accept()",
            "   0.000 |-- PSH,ACK seq=1 ack=1 win=4096 len=18 ------>|  client send(data) / sendall(data)",
            "         |   \"请求占领地球\"                             |  server data = recv(1024)",
            "   0.000 |<-- FIN,ACK seq=1 ack=19 win=2048 len=38 -----|  server send(data) / sendall(data)",
            "         |   \"不要回答,不要回答,不要回答\"               |  server FIN-WAIT-1 close() /",
            "         |                                              |         shutdown(SHUT_WR)",
            "         |                                              |  client CLOSE-WAIT recv() will return",
            "         |                                              |         b''",
            "         |                                              |  client data = recv(1024)",
            "   0.000 |-- FIN,ACK seq=19 ack=40 win=4096 len=0 ----->|  client LAST-ACK close() /",
            "         |                                              |         shutdown(SHUT_WR)",
            "   0.000 |<-- ACK seq=40 ack=20 win=2048 len=0 ---------|  server TIME-WAIT recv() will return b''",
            "         |                                              |  server CLOSED",
            "         |                                              |  client CLOSED",
        ],
    );
}

#[test]
fn a_refused_connect_is_a_syn_and_an_rst() {
    let mut rig = Rig::new();
    let ladder = rig.play("refused");
    // ARP first (a fresh testbed), then the two segments.
    assert_lines(
        &ladder[2..],
        &[
            "   0.000 |-- SYN seq=0 win=4096 len=0 ----------------->|  client SYN-SENT sk.connect(ip_port)",
            "   0.000 |<-- RST,ACK seq=1 ack=1 win=0 len=0 ----------|  client CLOSED ConnectionRefusedError /",
            "         |                                              |         connect_ex() == 111",
        ],
    );
}

#[test]
fn a_lost_segment_is_drawn_with_its_retransmission_and_time_wait_lasts_ten_seconds() {
    let mut rig = Rig::new();
    rig.play("notice"); // ARP done
    // The fourth TCP segment of the conversation: its first data.
    rig.tb.wire.lose_segment(4);
    let ladder = rig.play("hello");
    let t = rig.tb.now().total_millis();
    assert_eq!(t, 11_000, "1 s of RTO, 10 s of TIME-WAIT");
    assert_lines(
        &ladder,
        &[
            "    time client                                    server  python call / TCP state",
            "   0.000 |-- SYN seq=0 win=4096 len=0 ----------------->|  client SYN-SENT sk.connect(ip_port)",
            "   0.000 |<-- SYN,ACK seq=0 ack=1 win=2048 len=0 -------|  server SYN-RECEIVED",
            "   0.000 |-- ACK seq=1 ack=1 win=4096 len=0 ----------->|  client ESTABLISHED",
            "         |                                              |  server ESTABLISHED",
            "         |                                              |  server conn, addr = sk.accept()",
            "   0.000 |-- PSH,ACK seq=1 ack=1 win=4096 len=11 ---X   |  client send(data) / sendall(data)",
            "         |   \"Hello world\"                              |  (lost on the wire)",
            "   1.000 |-- PSH,ACK seq=1 ack=1 win=4096 len=11 ------>|  (retransmission)",
            "         |   \"Hello world\"                              |  server data = recv(1024)",
            "   1.000 |<-- PSH,ACK seq=1 ack=12 win=2048 len=11 -----|  server send(data) / sendall(data)",
            "         |   \"HELLO WORLD\"                              |  client data = recv(1024)",
            "   1.000 |-- PSH,ACK seq=12 ack=12 win=4096 len=13 ---->|  client send(data) / sendall(data)",
            "         |   \"世界,你好\"                                |  server data = recv(1024)",
            "   1.000 |<-- PSH,ACK seq=12 ack=25 win=2048 len=13 ----|  server send(data) / sendall(data)",
            "         |   \"世界,你好\"                                |  client data = recv(1024)",
            "   1.000 |-- FIN,ACK seq=25 ack=25 win=4096 len=0 ----->|  client FIN-WAIT-1 close() /",
            "         |                                              |         shutdown(SHUT_WR)",
            "   1.000 |<-- ACK seq=25 ack=26 win=2048 len=0 ---------|  client FIN-WAIT-2",
            "         |                                              |  server CLOSE-WAIT recv() will return",
            "         |                                              |         b''",
            "   1.000 |<-- FIN,ACK seq=25 ack=26 win=2048 len=0 -----|  server LAST-ACK close() /",
            "         |                                              |         shutdown(SHUT_WR)",
            "   1.000 |-- ACK seq=26 ack=26 win=4096 len=0 --------->|  client TIME-WAIT recv() will return b''",
            "         |                                              |  server CLOSED",
            "  11.000 |                                              |  client CLOSED",
        ],
    );
}

/// The records of a pcap file (header checked): (timestamp in µs, frame).
fn pcap_records(file: &[u8]) -> Vec<(u64, &[u8])> {
    let u32_at = |at: usize| u32::from_ne_bytes(file[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "pcap magic (native order)");
    assert_eq!(
        file[4..8],
        [2u16.to_ne_bytes(), 4u16.to_ne_bytes()].concat(),
        "version 2.4"
    );
    assert_eq!(u32_at(20), 1, "link type Ethernet");
    let mut records = Vec::new();
    let mut at = 24;
    while at < file.len() {
        let micros = u64::from(u32_at(at)) * 1_000_000 + u64::from(u32_at(at + 4));
        let (caught, len) = (u32_at(at + 8) as usize, u32_at(at + 12) as usize);
        assert_eq!(caught, len, "a record cut short");
        assert!(at + 16 + len <= file.len(), "a record past the end");
        records.push((micros, &file[at + 16..at + 16 + len]));
        at += 16 + len;
    }
    records
}

fn counted(s: WireStats) -> u64 {
    s.sent + s.dropped()
}

#[test]
fn the_capture_holds_every_frame_the_wire_counted_even_on_a_lossy_wire() {
    let mut rig = Rig::new();
    rig.tb.wire.set_faults(
        Faults {
            drop_percent: 10,
            corrupt_percent: 5,
        },
        18,
    );
    let mut drawn = String::new();
    for conv in &conversations::CONVERSATIONS {
        let conv = conversations::find(conv.name).unwrap();
        rig.ladder.clear();
        let _ = conversations::play(conv, rig.tb, rig.services, &mut rig.sockets, false);
        // Whatever the wire did, the ladder draws it, in its width.
        rig.ladder.draw(["client", "server"], &mut drawn).unwrap();
    }
    for line in drawn.lines() {
        assert!(display_width(line) <= WIDTH, "{line}");
    }
    assert!(drawn.contains("(lost on the wire)"), "{drawn}");
    assert!(drawn.contains("(corrupted on the wire)"), "{drawn}");
    assert!(drawn.contains("(retransmission)"), "{drawn}");
    let (a, b) = (rig.tb.wire.stats(End::A), rig.tb.wire.stats(End::B));
    assert!(
        a.dropped_fault + b.dropped_fault > 0,
        "the wire lost nothing: {a:?} {b:?}"
    );
    let frames = rig.capture.frames();
    let file = rig.capture.with_sink(|s| s.0.clone()).unwrap();
    let records = pcap_records(&file);
    assert_eq!(records.len() as u64, frames);
    assert_eq!(frames, counted(a) + counted(b), "{a:?} {b:?}");
    // In virtual time, in order, every one an Ethernet frame of ours.
    assert!(records.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(records.last().unwrap().0 <= rig.tb.now().total_micros() as u64);
    for (_, frame) in &records {
        assert!(frame.len() >= 14 && frame.len() <= 1514, "{}", frame.len());
        assert!([[0x08, 0x00], [0x08, 0x06]].contains(&[frame[12], frame[13]]));
    }
}

/// On a link with latency each arrow leaves when it is sent: the handshake's three
/// segments 50 ms apart; a link cut from the server loses its answers, and the ladder says
/// why.
#[test]
fn a_slow_link_spaces_the_arrows_and_a_cut_link_loses_them() {
    use sockless::phy::Link;
    use sockless::smoltcp::time::Duration;
    let mut rig = Rig::new();
    rig.play("notice"); // ARP done
    rig.tb
        .wire
        .set_links(Link::IDEAL.latency(Duration::from_millis(50)));
    let start = rig.tb.now().total_millis();
    assert_eq!(start, 0);
    let ladder = rig.play("hello");
    for (i, line) in [
        "   0.000 |-- SYN seq=0 ",
        "   0.050 |<-- SYN,ACK seq=0 ack=1 ",
        "   0.100 |-- ACK seq=1 ack=1 ",
    ]
    .into_iter()
    .enumerate()
    {
        assert!(
            ladder[1 + i].starts_with(line),
            "{line}\n{}",
            ladder.join("\n")
        );
    }

    rig.tb.wire.set_links(Link::IDEAL);
    rig.tb.wire.cut_from(End::B);
    rig.ladder.clear();
    let conv = conversations::find("refused").unwrap();
    let verdict = conversations::play(conv, rig.tb, rig.services, &mut rig.sockets, false);
    assert!(!verdict.passed(), "a refusal through a cut link");
    let mut text = String::new();
    rig.ladder.draw(["client", "server"], &mut text).unwrap();
    let lost = text.lines().find(|l| l.contains("RST,ACK")).expect(&text);
    assert!(
        lost.contains("|   X-- RST,ACK seq=1 ack=1 win=0 len=0 ---"),
        "{text}"
    );
    assert!(lost.ends_with("|  (lost: the link is cut)"), "{text}");
    assert!(text.contains("(retransmission)"), "the SYN again:\n{text}");
}
