//! Scripted faults (issue 16): frames named by what they are and dropped, delayed,
//! duplicated or held on the wire, with no device wrapper.

mod support;

use sockless::phy::{Action, End, FLAG_ACK, FLAG_FIN, FLAG_SYN, FrameMatch, Nth, Payload, Rule};
use sockless::smoltcp::time::Duration;
use sockless::socket::RecvError;
use support::LIMIT;
use support::bare::{bare, client, connect_and_accept, server_v4};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Connection-core finding 1 (tests/connection_core.rs has it with `take` by hand): a
/// client whose SYN-ACK was lost retransmits its SYN; the listener had re-armed a
/// lower-numbered socket meanwhile. The duplicate SYN must not take it. Here the wire
/// loses "the second SYN-ACK from the server" by itself.
#[test]
fn the_lost_syn_ack_case_as_a_scripted_fault() {
    let (tb, mut listener) = bare::<4>(2);
    let syn_ack = FrameMatch::tcp().from(End::B).flags(FLAG_SYN | FLAG_ACK);
    let lost = tb
        .wire
        .add_rule(Rule::new(syn_ack, Action::Drop).nth(Nth::Only(2)))
        .unwrap();

    // Client A takes socket 0 (its SYN-ACK is the first: it passes).
    let mut a = client(tb);
    let mut conn_a = connect_and_accept(tb, &mut listener, &mut a);
    assert_eq!(conn_a.fileno(), 0);
    assert_eq!(tb.wire.rule_hits(lost), 0);

    // Client B: its SYN reaches the server (socket 1), its SYN-ACK is lost on the wire.
    let mut b = client(tb);
    b.connect(&mut tb.client, server_v4(7)).unwrap();
    // A's conversation ends with the server closing first: socket 0 listens again,
    // while B waits for its retransmission timer.
    conn_a.close(&mut tb.server);
    tb.run(LIMIT, |c, s| {
        let mut buf = [0u8; 8];
        if a.recv(c, &mut buf) == Ok(0) {
            a.close(c);
        }
        listener.listening(s) == 1 && listener.busy(s) == 1
    })
    .unwrap();
    assert_eq!(tb.wire.rule_hits(lost), 1, "B's SYN-ACK was lost");
    assert!(
        b.connect_status(&mut tb.client).is_err(),
        "B still connecting"
    );

    // B retransmits its SYN (1 s later); the handshake completes on socket 1 only.
    let mut conn_b = None;
    tb.run(LIMIT, |c, s| {
        conn_b = conn_b.take().or_else(|| listener.accept(s).ok());
        conn_b.is_some() && b.connect_status(c).is_ok()
    })
    .unwrap();
    assert!(
        tb.now().total_millis() >= 1000,
        "after B's retransmission timer"
    );
    assert_eq!(conn_b.unwrap().fileno(), 1, "B kept its first socket");
    assert_eq!(
        listener.busy(&mut tb.server),
        1,
        "one socket for B, not two"
    );
    assert_eq!(
        listener.syn_counts(&tb.server).accepted,
        2,
        "A and B, once each"
    );
    assert_eq!(tb.wire.stats(End::B).dropped_script, 1);
}

/// The client's data is held on the wire; its FIN, sent after it, arrives first. The
/// server must not see end-of-file before the data, and gets both once the data comes.
#[test]
fn an_out_of_order_fin_waits_for_the_data_before_it() {
    let (tb, mut listener) = bare::<1>(1);
    let mut sk = client(tb);
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    let data = FrameMatch::tcp()
        .from(End::A)
        .dst_port(7)
        .payload(Payload::StartsWith(b"hello"));
    let hold = tb.wire.add_rule(Rule::new(data, Action::Hold)).unwrap();
    let fin = tb
        .wire
        .add_rule(Rule::new(
            FrameMatch::tcp().from(End::A).flags(FLAG_FIN),
            Action::Delay(Duration::ZERO),
        ))
        .unwrap();

    assert_eq!(sk.send(&mut tb.client, b"hello").unwrap(), 5);
    tb.settle();
    assert_eq!(tb.wire.held(hold), 1, "the data is held");
    sk.close(&mut tb.client);
    // 300 ms: the FIN crosses (and is sent again), the data does not.
    let mut early = Vec::new();
    tb.run_for(ms(300), |_, s| {
        let mut buf = [0u8; 16];
        if let Ok(n) = conn.recv(s, &mut buf) {
            early.push(n);
        }
    })
    .unwrap();
    assert!(
        tb.wire.rule_hits(fin) >= 1,
        "the FIN went ahead of the data"
    );
    assert_eq!(tb.wire.rule_hits(hold), 1);
    assert!(
        early.is_empty(),
        "no data and no end-of-file before the data: {early:?}"
    );
    assert_eq!(
        conn.recv(&mut tb.server, &mut [0u8; 16]),
        Err(RecvError::WouldBlock)
    );

    // Release the data: the server reads it, then end-of-file.
    assert_eq!(tb.wire.release(hold), 1);
    let mut got = Vec::new();
    let mut eof = false;
    tb.run(LIMIT, |_, s| {
        let mut buf = [0u8; 16];
        match conn.recv(s, &mut buf) {
            Ok(0) => eof = true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        eof
    })
    .unwrap();
    assert_eq!(got, b"hello");
}

/// "Every third data segment to port 7" is lost: TCP repairs each, the data arrives.
#[test]
fn every_third_data_segment_dropped_is_repaired() {
    let (tb, mut listener) = bare::<1>(1);
    let mut sk = client(tb);
    let mut conn = connect_and_accept(tb, &mut listener, &mut sk);
    let every_third = tb
        .wire
        .add_rule(
            Rule::new(
                FrameMatch::tcp().dst_port(7).payload(Payload::Data),
                Action::Drop,
            )
            .nth(Nth::Every(3)),
        )
        .unwrap();
    let data: Vec<u8> = (0..20_000).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    tb.run(LIMIT, |c, s| {
        if let Ok(n) = sk.send(c, &data[sent..]) {
            sent += n;
        }
        let mut buf = [0u8; 1024];
        while let Ok(n) = conn.recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    })
    .unwrap();
    assert!(got == data);
    let hits = tb.wire.rule_hits(every_third);
    assert!(hits >= 5, "{hits} segments dropped");
    assert!(tb.wire.stats(End::A).retransmitted >= u64::from(hits));
}

/// A held SYN-ACK keeps the client connecting until it is released; a duplicated ACK is
/// harmless; a delayed SYN delays the handshake by exactly that much.
#[test]
fn hold_duplicate_and_delay_a_handshake() {
    let (tb, mut listener) = bare::<1>(1);
    let hold = tb
        .wire
        .add_rule(Rule::new(
            FrameMatch::tcp().from(End::B).flags(FLAG_SYN | FLAG_ACK),
            Action::Hold,
        ))
        .unwrap();
    let twice = tb
        .wire
        .add_rule(Rule::new(
            FrameMatch::tcp()
                .from(End::A)
                .flags(FLAG_ACK)
                .payload(Payload::Empty),
            Action::Duplicate,
        ))
        .unwrap();
    let mut sk = client(tb);
    sk.connect(&mut tb.client, server_v4(7)).unwrap();
    tb.run_for(ms(500), |_, _| {}).unwrap();
    assert_eq!(tb.wire.held(hold), 1);
    assert!(sk.connect_status(&mut tb.client).is_err(), "no SYN-ACK yet");
    assert_eq!(tb.wire.release(hold), 1);
    let mut conn = None;
    tb.run(LIMIT, |c, s| {
        conn = conn.take().or_else(|| listener.accept(s).ok());
        conn.is_some() && sk.connect_status(c).is_ok()
    })
    .unwrap();
    assert!(
        tb.now().total_millis() < 1000,
        "released before the SYN's retransmission"
    );
    assert!(tb.wire.rule_hits(twice) >= 1);
    assert!(tb.wire.stats(End::A).duplicated >= 1);
    let mut conn = conn.unwrap();
    assert_eq!(sk.send(&mut tb.client, b"x").unwrap(), 1);
    let mut got = 0;
    tb.run(LIMIT, |_, s| {
        got += conn.recv(s, &mut [0u8; 4]).unwrap_or(0);
        got == 1
    })
    .unwrap();
}
