//! The fuzz harnesses, shared by the cargo-fuzz targets (`fuzz_targets/`) and by the
//! regression test that replays saved inputs on stable (`tests/fuzz_regressions.rs`).
//!
//! Each takes arbitrary bytes and must never panic:
//!
//! * [`frames`]: Ethernet frames into a stack running every service. Half of the inputs
//!   are raw frames; the other half patch well-formed templates (a SYN, a data segment, a
//!   datagram, a ping, an ARP request) so that the fuzzer reaches deep into TCP quickly.
//!   Checksums are off on this wire, or almost nothing would get past them.
//! * [`stream`]: a byte stream in arbitrary segment splits, into the line framer and the
//!   robot's menu directly, then into a live robot connection.
//! * [`verbs`]: an arbitrary sequence of socket calls (connect, send, recv, shutdown,
//!   close, abort, accept, timeouts, UDP) on two hosts, stale descriptors included, and
//!   the odd ones: each host's descriptors used on the other's stack, connect after close,
//!   listen and bind twice, a listener closed and opened again, the largest timeouts.
#![allow(dead_code)]

use sockless::phy::End;
use sockless::services::line_framer::{Framed, LineFramer};
use sockless::services::robot_menu as robot;
use sockless::services::{ServiceConfig, ServiceStorage, Services};
use sockless::smoltcp::phy::ChecksumCapabilities;
use sockless::smoltcp::time::Duration;
use sockless::smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpEndpoint, IpProtocol, Ipv4Address,
    Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
};
use sockless::socket::Shutdown;
use sockless::{
    Host, Listener, StackStorage, TcpBuffers, TcpSocket, Testbed, UdpBuffers, UdpSocket, Wire,
};

const POOL: usize = 2;
const BUF: usize = 512;
const SERVER_SOCKETS: usize = ServiceStorage::<POOL, BUF>::SOCKETS;

/// Reads the fuzzer's bytes as small numbers; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn server_v4(port: u16) -> IpEndpoint {
    IpEndpoint::new(Host::SERVER.ipv4_addr(), port)
}

// ---- frames ----------------------------------------------------------------------------

/// A well-formed frame from the client host to the server host.
fn template(kind: u8, port: u16, payload: &[u8]) -> Vec<u8> {
    let src = Host::CLIENT.ipv4_addr();
    let dst = Host::SERVER.ipv4_addr();
    let (IpAddress::Ipv4(src4), IpAddress::Ipv4(dst4)) = (src, dst) else {
        unreachable!("the hosts have IPv4 addresses")
    };
    let caps = ChecksumCapabilities::default();
    let eth = |ethertype| EthernetRepr {
        src_addr: Host::CLIENT.mac,
        dst_addr: Host::SERVER.mac,
        ethertype,
    };
    let ipv4 = |next_header, payload_len| Ipv4Repr {
        src_addr: src4,
        dst_addr: dst4,
        next_header,
        payload_len,
        hop_limit: 64,
    };
    match kind % 5 {
        0 | 1 => {
            let tcp = TcpRepr {
                src_port: 40000 + u16::from(kind),
                dst_port: port,
                control: if kind.is_multiple_of(5) {
                    TcpControl::Syn
                } else {
                    TcpControl::None
                },
                seq_number: TcpSeqNumber(1000),
                ack_number: (kind % 5 == 1).then_some(TcpSeqNumber(1)),
                window_len: 4096,
                window_scale: None,
                max_seg_size: Some(1460),
                sack_permitted: false,
                sack_ranges: [None; 3],
                timestamp: None,
                payload,
            };
            let ip = ipv4(IpProtocol::Tcp, tcp.buffer_len());
            let e = eth(EthernetProtocol::Ipv4);
            let mut buf = vec![0u8; e.buffer_len() + ip.buffer_len() + tcp.buffer_len()];
            let mut f = EthernetFrame::new_unchecked(&mut buf);
            e.emit(&mut f);
            let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
            ip.emit(&mut p, &caps);
            tcp.emit(
                &mut TcpPacket::new_unchecked(p.payload_mut()),
                &src,
                &dst,
                &caps,
            );
            buf
        }
        2 => {
            let udp = UdpRepr {
                src_port: 40000,
                dst_port: port,
            };
            let ip = ipv4(IpProtocol::Udp, udp.header_len() + payload.len());
            let e = eth(EthernetProtocol::Ipv4);
            let mut buf =
                vec![0u8; e.buffer_len() + ip.buffer_len() + udp.header_len() + payload.len()];
            let mut f = EthernetFrame::new_unchecked(&mut buf);
            e.emit(&mut f);
            let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
            ip.emit(&mut p, &caps);
            udp.emit(
                &mut UdpPacket::new_unchecked(p.payload_mut()),
                &src,
                &dst,
                payload.len(),
                |b| b.copy_from_slice(payload),
                &caps,
            );
            buf
        }
        3 => {
            let icmp = Icmpv4Repr::EchoRequest {
                ident: 1,
                seq_no: port,
                data: payload,
            };
            let ip = ipv4(IpProtocol::Icmp, icmp.buffer_len());
            let e = eth(EthernetProtocol::Ipv4);
            let mut buf = vec![0u8; e.buffer_len() + ip.buffer_len() + icmp.buffer_len()];
            let mut f = EthernetFrame::new_unchecked(&mut buf);
            e.emit(&mut f);
            let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
            ip.emit(&mut p, &caps);
            icmp.emit(&mut Icmpv4Packet::new_unchecked(p.payload_mut()), &caps);
            buf
        }
        _ => {
            let arp = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_hardware_addr: Host::CLIENT.mac,
                source_protocol_addr: src4,
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: if port.is_multiple_of(2) {
                    dst4
                } else {
                    Ipv4Address::new(192, 168, 69, port as u8)
                },
            };
            let e = EthernetRepr {
                dst_addr: EthernetAddress::BROADCAST,
                ..eth(EthernetProtocol::Arp)
            };
            let mut buf = vec![0u8; e.buffer_len() + arp.buffer_len()];
            let mut f = EthernetFrame::new_unchecked(&mut buf);
            e.emit(&mut f);
            arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
            buf
        }
    }
}

const PORTS: [u16; 6] = [7, 6969, 8888, 9999, 8005, 0];

/// Ethernet frames, raw or patched templates, into a stack running every service.
pub fn frames(data: &[u8]) {
    let mut input = Bytes(data);
    let mut client_storage = StackStorage::<2>::new();
    let mut server_storage = StackStorage::<SERVER_SOCKETS>::new();
    let mut service_storage = Box::new(ServiceStorage::<POOL, BUF>::new());
    let mut tb: Testbed<'_, 1514, 16> = Testbed::with_wire(
        Wire::without_checksums(),
        Host::CLIENT,
        &mut client_storage,
        Host::SERVER,
        &mut server_storage,
    );
    tb.set_busy_turns(10_000);
    let mut services = Services::start(
        &mut tb.server,
        &mut service_storage,
        ServiceConfig::default(),
    )
    .expect("services start");
    let mut frames = 0;
    while !input.is_empty() && frames < 64 {
        frames += 1;
        let op = input.u8();
        let frame = if op & 1 == 0 {
            let len = usize::from(input.u16()) % 1600;
            input.take(len).to_vec()
        } else {
            let port = PORTS[usize::from(input.u8()) % PORTS.len()];
            let payload_len = usize::from(input.u8());
            let payload = input.take(payload_len).to_vec();
            let mut frame = template(op >> 1, port, &payload);
            for _ in 0..(input.u8() % 8) {
                let at = usize::from(input.u16()) % frame.len().max(1);
                let value = input.u8();
                if let Some(b) = frame.get_mut(at) {
                    *b = value;
                }
            }
            frame
        };
        tb.wire.inject(End::B, &frame);
        tb.settle();
        services.poll(&mut tb.server);
        tb.settle();
        if op & 0x80 != 0 {
            let secs = u64::from(input.u8() % 32);
            // Frames that keep the stacks busy forever would be a denial of service.
            tb.run_for(Duration::from_secs(secs), |_, s| services.poll(s))
                .expect("no livelock");
        }
    }
    // Let every timer fire: retransmissions, idle timeouts, TIME-WAIT.
    tb.run_for(Duration::from_secs(200), |_, s| services.poll(s))
        .expect("no livelock");
}

// ---- stream ----------------------------------------------------------------------------

/// A byte stream, split where the input says, into the framer and the robot.
pub fn stream(data: &[u8]) {
    let mut input = Bytes(data);
    let splits: Vec<usize> = input
        .take(8)
        .iter()
        .map(|b| 1 + usize::from(*b) % 40)
        .collect();
    let bytes = input.0;
    let pieces = split(bytes, &splits);

    // 1. Pure: the framer's promises, and the robot's answers.
    let mut framer = LineFramer::<32>::new();
    for piece in &pieces {
        let mut rest = *piece;
        while !rest.is_empty() {
            let (used, framed) = framer.feed(rest);
            assert!(used >= 1 && used <= rest.len(), "feed consumes some bytes");
            rest = &rest[used..];
            match framed {
                Some(Framed::Line) => {
                    let line = framer.line();
                    assert!(line.len() <= 32 && !line.contains(&b'\n'));
                    assert!(robot::answer(line).text.len() < robot::MAX_REPLY);
                }
                Some(Framed::TooLong) => assert_eq!(framer.pending(), 0),
                None => assert!(framer.pending() <= 32),
            }
        }
    }
    let _ = framer.finish();

    // 2. Through a live robot connection: every line it sends is one of its answers.
    if bytes.len() > 4096 {
        return;
    }
    let mut client_storage = StackStorage::<1>::new();
    let mut server_storage = StackStorage::<SERVER_SOCKETS>::new();
    let mut service_storage = Box::new(ServiceStorage::<POOL, BUF>::new());
    let mut client_buffers = TcpBuffers::<1024, 1024>::new();
    let mut tb: Testbed<'_, 1514, 16> = Testbed::new(&mut client_storage, &mut server_storage);
    tb.set_busy_turns(10_000);
    let mut services = Services::start(
        &mut tb.server,
        &mut service_storage,
        ServiceConfig::default(),
    )
    .expect("services start");
    let mut sk = TcpSocket::new(&mut tb.client, &mut client_buffers).expect("a slot");
    sk.connect(&mut tb.client, server_v4(8888))
        .expect("connect");
    let mut replies = Vec::new();
    let mut next = 0;
    let mut offset = 0;
    let _ = tb.run(Duration::from_secs(600), |c, s| {
        services.poll(s);
        if next < pieces.len()
            && sk.connect_status(c).is_ok()
            && let Ok(n) = sk.send(c, &pieces[next][offset..])
        {
            offset += n;
            if offset == pieces[next].len() {
                next += 1;
                offset = 0;
            }
        }
        let mut buf = [0u8; 512];
        match sk.recv(c, &mut buf) {
            Ok(0) => return true,
            Ok(n) => replies.extend_from_slice(&buf[..n]),
            Err(sockless::socket::RecvError::WouldBlock) => {}
            Err(_) => return true,
        }
        next == pieces.len() && sk.send_queue(c) == 0 && replies.ends_with(b"\n")
    });
    let known = [
        robot::WELCOME,
        robot::TRANSFER,
        robot::GOODBYE,
        robot::RETRY,
        robot::BAD_UTF8,
        robot::TOO_LONG,
        robot::MENU_LIST,
    ];
    for line in replies.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let line = std::str::from_utf8(line).expect("the robot speaks UTF-8");
        assert!(
            known.contains(&line) || robot::MENU.iter().any(|(_, _, t)| *t == line),
            "unexpected robot line {line:?}"
        );
    }
}

fn split<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(7);
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        pieces.push(piece);
        rest = tail;
        i += 1;
    }
    pieces
}

// ---- verbs -----------------------------------------------------------------------------

/// An arbitrary sequence of socket calls on both hosts.
pub fn verbs(data: &[u8]) {
    let mut input = Bytes(data);
    let mut client_storage = StackStorage::<4, 2>::new();
    let mut server_storage = StackStorage::<5, 2>::new();
    let mut pool = [const { TcpBuffers::<256, 256>::new() }; 2];
    let mut spare_pools = [const { TcpBuffers::<256, 256>::new() }; 3];
    let mut client_buffers = [const { TcpBuffers::<256, 256>::new() }; 2];
    let mut client_udp = UdpBuffers::<2, 256>::new();
    let mut server_udp = UdpBuffers::<2, 256>::new();
    let mut spare_udp = [const { UdpBuffers::<2, 256>::new() }; 2];
    let mut tb: Testbed<'_, 1514, 8> = Testbed::new(&mut client_storage, &mut server_storage);
    tb.set_busy_turns(10_000);
    let backlog = 1 + usize::from(input.u8() % 2);
    let mut listener = Some(Listener::<2>::listen(&mut tb.server, 7, backlog, &mut pool).unwrap());
    if input.u8() % 2 == 1
        && let Some(listener) = &listener
    {
        listener.set_overflow(&mut tb.server, sockless::Overflow::Refuse);
    }
    // Buffers for the odd calls that take some: each lent once, for the stack's life.
    let mut spare_pools = spare_pools.iter_mut();
    let mut spare_udp = spare_udp.iter_mut();
    let [b0, b1] = &mut client_buffers;
    let mut clients = [
        TcpSocket::new(&mut tb.client, b0).unwrap(),
        TcpSocket::new(&mut tb.client, b1).unwrap(),
    ];
    let mut udp_client = UdpSocket::bind(&mut tb.client, 0, &mut client_udp).unwrap();
    let mut udp_server = UdpSocket::bind(&mut tb.server, 9999, &mut server_udp).unwrap();
    let mut accepted: Vec<TcpSocket> = Vec::new();
    let mut buf = [0u8; 512];
    let payload = [0x5au8; 512];
    let mut ops = 0;
    while !input.is_empty() && ops < 256 {
        ops += 1;
        let op = input.u8();
        let arg = input.u8();
        let i = usize::from(arg) % 2;
        let c = &mut tb.client;
        let s = &mut tb.server;
        match op % 24 {
            0 => {
                let port = [7, 7, 8005, 0][usize::from(arg >> 1) % 4];
                let _ = clients[i].connect(c, server_v4(port));
            }
            1 => {
                let _ = clients[i].send(c, &payload[..usize::from(arg) * 2]);
            }
            2 => {
                let _ = clients[i].recv(c, &mut buf[..usize::from(arg) % 512]);
            }
            3 => clients[i].close(c),
            4 => clients[i].abort(c),
            5 => clients[i].shutdown(
                c,
                [Shutdown::Read, Shutdown::Write, Shutdown::Both][usize::from(arg) % 3],
            ),
            6 => {
                if let Some(Ok(conn)) = listener.as_mut().map(|l| l.accept(s)) {
                    accepted.push(conn);
                }
            }
            7..=10 if !accepted.is_empty() => {
                let j = usize::from(arg) % accepted.len();
                match op % 24 {
                    7 => {
                        let _ = accepted[j].sendall(s, &payload[..usize::from(arg)]);
                    }
                    8 => {
                        let _ = accepted[j].recv(s, &mut buf);
                    }
                    9 => accepted[j].close(s),
                    _ => accepted[j].abort(s),
                }
            }
            11 => {
                let timeout = (arg % 4 != 0).then(|| Duration::from_millis(u64::from(arg) * 50));
                clients[i].set_timeout(c, timeout);
            }
            12 => {
                tb.settle();
            }
            13 => tb.sleep(Duration::from_millis(u64::from(arg) * 100)),
            14 => {
                let _ = udp_client.sendto(c, &payload[..usize::from(arg)], server_v4(9999));
            }
            15 => {
                if let Ok((n, from)) = udp_server.recvfrom(s, &mut buf[..usize::from(arg)]) {
                    let _ = udp_server.sendto(s, &buf[..n], from);
                }
                let _ = udp_client.recvfrom(c, &mut buf);
            }
            16 => {
                let _ = clients[i].connect_status(c);
                let _ = clients[i].peer_addr(c);
                let _ = clients[i].local_addr(c);
                let _ = clients[i].error(c);
                if let Some(listener) = listener.as_mut() {
                    let _ = listener.pending(s);
                    let _ = listener.busy(s);
                    let _ = listener.syn_counts(s);
                }
            }
            17 => {
                let _ = clients[i].recv_with(c, |d| (usize::from(arg).min(d.len()), ()));
            }
            // Each host's descriptors on the other host's stack: EBADF, never a panic.
            18 => {
                let _ = clients[i].recv(s, &mut buf);
                let _ = clients[i].connect(s, server_v4(7));
                let _ = clients[i].send(s, &payload[..4]);
                let _ = udp_client.sendto(s, &payload[..4], server_v4(9999));
                if let Some(conn) = accepted.last_mut() {
                    let _ = conn.recv(c, &mut buf);
                    let _ = conn.connect(c, server_v4(7));
                    conn.close(c);
                }
                udp_server.close(c);
            }
            // connect on an accepted descriptor (closed or not), bind a client.
            19 => {
                if let Some(conn) = accepted.first_mut() {
                    let _ = conn.connect(s, IpEndpoint::new(Host::CLIENT.ipv4_addr(), 9));
                    let _ = conn.bind(s, u16::from(arg));
                }
                let _ = clients[i].bind(c, [0, 7, 40000, u16::MAX][usize::from(arg) % 4]);
            }
            // The largest timeouts.
            20 => {
                let huge =
                    [Duration::MAX, Duration::from_micros(u64::MAX / 2)][usize::from(arg) % 2];
                clients[i].set_timeout(c, Some(huge));
                clients[i].set_idle_timeout(c, Some(huge));
                if let Some(conn) = accepted.last_mut() {
                    conn.set_timeout(s, Some(huge));
                    conn.set_idle_timeout(s, Some(huge));
                }
            }
            // Listen again on the same port (EADDRINUSE while open), or close the
            // listener; bind the UDP port twice, or close and bind it again.
            21 => {
                if arg % 2 == 0 {
                    if let Some(old) = listener.take() {
                        old.close(s);
                    }
                } else if let Some(buffers) = spare_pools.next()
                    && let Ok(new) = Listener::<2>::listen(s, 7, 1, core::slice::from_mut(buffers))
                    && let Some(old) = listener.replace(new)
                {
                    old.close(s);
                }
            }
            22 => {
                if arg % 2 == 0 {
                    udp_server.close(s);
                } else if let Some(buffers) = spare_udp.next()
                    && let Ok(new) = UdpSocket::bind(s, 9999, buffers)
                {
                    udp_server = new;
                }
            }
            _ => {
                // Close twice, and a closed accepted descriptor used again.
                if let Some(mut conn) = accepted.pop() {
                    conn.close(s);
                    conn.close(s);
                    let _ = conn.recv(s, &mut buf);
                    conn.abort(s);
                    accepted.push(conn);
                }
            }
        }
        if op & 0x40 != 0 {
            tb.settle();
        }
    }
    // Past every timer: a connect timeout (20 s), TIME-WAIT (10 s), retransmissions.
    tb.sleep(Duration::from_secs(30));
}
