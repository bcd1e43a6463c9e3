//! Drawing the ladder: entries in, 100-column text out.
//!
//! Pure formatting: a stream of [`Entry`]s (frames and lifecycle events, in the order they
//! happened) becomes lines written to any [`fmt::Write`]. Each frame is an arrow between
//! the two host columns, labelled as Wireshark's flow graph labels it (flags, relative
//! sequence and acknowledgement numbers, window, payload length), with the payload's first
//! bytes on the line below. Beside it, the events that go with it: a call (`connect`,
//! `send`, `close`) on the next frame its host sends, a state change (`ESTABLISHED`,
//! `TIME-WAIT`) on the frame that caused it. Address resolution is drawn once, as one line.

use core::fmt::{self, Write};

use heapless::{String, Vec};
use smoltcp::time::Instant;

use super::display_width::{display_width, fit, pad};
use super::entry::{Entry, FrameEntry};
use super::frame_summary::{ACK, FIN, PSH, Payload, RST, Resolution, SYN, Segment, Summary};
use crate::phy::{DropCause, End, Fate};
use crate::stack::{Event, EventKind};

/// The width of the whole ladder, in terminal columns: 100 with the demo's indent of 2.
pub const WIDTH: usize = 98;
/// Between the two host columns.
const ARROW: usize = 46;
/// Time, a space, the bars and the arrow, two spaces: where the notes start.
const NOTES_AT: usize = 8 + 1 + 1 + ARROW + 1 + 2;
/// The notes' column.
const NOTES: usize = WIDTH - NOTES_AT;
/// The longest note kept (a call or a state change, with its host).
type Note = String<96>;
/// At most this many notes beside one frame (more go on lines of their own).
const NOTES_PER_ROW: usize = 6;

/// Draw the ladder of `entries` into `out`; `names` are the hosts on ends A and B of the
/// wire (the names their stacks give their events: `client`, `server`).
pub fn render(
    names: [&str; 2],
    entries: impl IntoIterator<Item = Entry>,
    out: &mut dyn Write,
) -> fmt::Result {
    let mut ladder = Ladder::new(names, out);
    ladder.header()?;
    for entry in entries {
        match entry {
            Entry::Frame(frame) => ladder.frame(&frame)?,
            Entry::Event(event) => ladder.event(&event)?,
        }
    }
    ladder.finish()
}

/// One TCP connection's numbering, per direction (index: the sending end).
#[derive(Clone, Copy, Default)]
struct Flow {
    /// (port on A, port on B).
    ports: (u16, u16),
    /// The sequence number that shows as 0.
    base: [Option<u32>; 2],
    /// Window scale offered in each SYN.
    scale: [Option<u8>; 2],
    /// The sequence number after the highest one sent.
    high: [Option<u32>; 2],
    /// The sequence number after each side's FIN.
    fin_end: [Option<u32>; 2],
}

/// What the ladder knows of a host's connection, from its events.
#[derive(Clone, Copy, Default)]
struct Side {
    fin_sent: bool,
    fin_received: bool,
    fin_acked: bool,
    state: &'static str,
}

/// A frame drawn, still taking notes.
struct Row {
    at: Instant,
    arrow: String<160>,
    excerpt: Option<Payload>,
    notes: Vec<Note, NOTES_PER_ROW>,
}

struct Ladder<'n, 'o> {
    names: [&'n str; 2],
    out: &'o mut dyn Write,
    flows: Vec<Flow, 8>,
    sides: [Side; 2],
    /// A neighbor question waiting for its answer (to draw both as one line).
    asked: Option<FrameEntry>,
    neighbors_drawn: bool,
    neighbors_hidden: u32,
    row: Option<Row>,
    /// Calls waiting for the frame they cause: (time, host index, note).
    calls: Vec<(Instant, usize, Note), 4>,
}

fn index(end: End) -> usize {
    match end {
        End::A => 0,
        End::B => 1,
    }
}

fn write_time(out: &mut dyn Write, at: Instant) -> fmt::Result {
    let ms = at.total_millis().max(0);
    write!(out, "{:>4}.{:03}", ms / 1000, ms % 1000)
}

impl<'n, 'o> Ladder<'n, 'o> {
    fn new(names: [&'n str; 2], out: &'o mut dyn Write) -> Self {
        Ladder {
            names,
            out,
            flows: Vec::new(),
            sides: [Side::default(); 2],
            asked: None,
            neighbors_drawn: false,
            neighbors_hidden: 0,
            row: None,
            calls: Vec::new(),
        }
    }

    fn header(&mut self) -> fmt::Result {
        let out = &mut *self.out;
        out.write_str("    time ")?;
        let (a, _) = fit(self.names[0], ARROW / 2);
        let (b, wb) = fit(self.names[1], ARROW / 2);
        pad(out, a, ARROW + 2 - wb)?;
        out.write_str(b)?;
        out.write_str("  python call / TCP state\n")
    }

    fn host(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name)
    }

    // ---- frames ----

    fn frame(&mut self, frame: &FrameEntry) -> fmt::Result {
        if !frame.fate.is_transmission() {
            return Ok(());
        }
        if let Summary::Neighbor { what, .. } = frame.summary {
            return self.neighbor(frame, what);
        }
        self.flush_asked()?;
        self.flush_row()?;
        let from = index(frame.from);
        // Calls of the other host came first: they stand on their own.
        if self.calls.iter().any(|(_, h, _)| *h != from) {
            self.flush_calls()?;
        }
        let mut row = Row {
            at: frame.at,
            arrow: String::new(),
            excerpt: None,
            notes: Vec::new(),
        };
        for (_, _, note) in core::mem::take(&mut self.calls) {
            let _ = row.notes.push(note);
        }
        let mut label = String::<96>::new();
        let mut wire_notes = Vec::<&'static str, 2>::new();
        match frame.summary {
            Summary::Tcp(segment) => {
                self.tcp_label(frame.from, &segment, &mut label, &mut wire_notes, &mut row)?;
                if segment.payload.len > 0 {
                    row.excerpt = Some(segment.payload);
                }
            }
            Summary::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                write!(label, "UDP {src_port} > {dst_port} len={}", payload.len)?;
                if payload.len > 0 {
                    row.excerpt = Some(payload);
                }
            }
            Summary::Icmp { ipv6, kind } => {
                write!(label, "ICMP{} type {kind}", if ipv6 { "v6" } else { "" })?;
            }
            Summary::Other { ethertype } => write!(label, "ethertype {ethertype:#06x}")?,
            Summary::Neighbor { .. } => {}
        }
        let wire_note = match frame.fate {
            Fate::Dropped(DropCause::Fault) => Some("(lost on the wire)"),
            Fate::Dropped(DropCause::QueueFull) => Some("(lost: queue full)"),
            Fate::Dropped(DropCause::Oversize) => Some("(lost: too large)"),
            Fate::Dropped(DropCause::Bottleneck) => Some("(lost: bottleneck full)"),
            Fate::Dropped(DropCause::Partition) => Some("(lost: the link is cut)"),
            Fate::Dropped(DropCause::Script) => Some("(lost: a scripted rule)"),
            Fate::Corrupted => Some("(corrupted on the wire)"),
            _ => None,
        };
        if let Some(note) = wire_note {
            let _ = wire_notes.push(note);
        }
        for note in wire_notes {
            let _ = row.notes.push(Note::try_from(note).unwrap_or_default());
        }
        let lost = matches!(frame.fate, Fate::Dropped(_));
        arrow(&mut row.arrow, frame.from, &label, lost, false);
        self.row = Some(row);
        Ok(())
    }

    fn tcp_label(
        &mut self,
        from: End,
        s: &Segment,
        label: &mut String<96>,
        wire_notes: &mut Vec<&'static str, 2>,
        row: &mut Row,
    ) -> fmt::Result {
        let d = index(from);
        let ports = match from {
            End::A => (s.src_port, s.dst_port),
            End::B => (s.dst_port, s.src_port),
        };
        // A new connection (a SYN without ACK) starts its numbering afresh.
        let fresh = s.has(SYN) && !s.has(ACK);
        let at = match self.flows.iter().position(|f| f.ports == ports) {
            Some(at) => {
                if fresh && self.flows[at].base[d] != Some(s.seq) {
                    self.flows[at] = Flow {
                        ports,
                        ..Flow::default()
                    };
                }
                at
            }
            None => {
                if self.flows.is_full() {
                    self.flows.remove(0);
                }
                let _ = self.flows.push(Flow {
                    ports,
                    ..Flow::default()
                });
                self.flows.len() - 1
            }
        };
        let flow = &mut self.flows[at];
        // As Wireshark: a SYN's number is 0; a direction first seen without one starts at 1.
        let base = *flow.base[d].get_or_insert(if s.has(SYN) {
            s.seq
        } else {
            s.seq.wrapping_sub(1)
        });
        if s.has(SYN) {
            flow.scale[d] = s.window_scale;
        }
        let end = s.seq.wrapping_add(s.seq_len());
        let retransmission = s.seq_len() > 0
            && flow.high[d].is_some_and(|high| (high.wrapping_sub(end) as i32) >= 0);
        if flow.high[d].is_none_or(|high| (end.wrapping_sub(high) as i32) > 0) {
            flow.high[d] = Some(end);
        }
        if s.has(FIN) {
            flow.fin_end[d] = Some(end);
        }
        let names = [
            (FIN, "FIN"),
            (SYN, "SYN"),
            (RST, "RST"),
            (PSH, "PSH"),
            (ACK, "ACK"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if s.has(flag) {
                if !first {
                    label.push(',').map_err(|_| fmt::Error)?;
                }
                label.push_str(name).map_err(|_| fmt::Error)?;
                first = false;
            }
        }
        if first {
            label.push_str("none").map_err(|_| fmt::Error)?;
        }
        write!(label, " seq={}", s.seq.wrapping_sub(base))?;
        let other = 1 - d;
        if s.has(ACK) {
            let ack = match flow.base[other] {
                Some(b) => s.ack.wrapping_sub(b),
                None => s.ack,
            };
            write!(label, " ack={ack}")?;
        }
        // Scaling applies once both SYNs offered it, and never to a SYN.
        let shift = match flow.scale {
            [Some(a), Some(b)] if !s.has(SYN) => [a, b][d].min(14),
            _ => 0,
        };
        let window = u32::from(s.window) << shift;
        write!(label, " win={window} len={}", s.payload.len)?;
        if retransmission {
            let _ = wire_notes.push("(retransmission)");
        }
        // The peer's FIN acknowledged: FIN-WAIT-1 => FIN-WAIT-2, CLOSING => TIME-WAIT.
        let fin_end = flow.fin_end[other];
        if s.has(ACK) && fin_end == Some(s.ack) && !self.sides[other].fin_acked {
            let side = &mut self.sides[other];
            side.fin_acked = true;
            let next = match side.state {
                "FIN-WAIT-1" => Some("FIN-WAIT-2"),
                "CLOSING" => Some("TIME-WAIT"),
                _ => None,
            };
            if let Some(state) = next {
                // FIN-WAIT-2 is news only if this segment is not the peer's FIN too
                // (then TIME-WAIT follows at once, from the FIN-received event).
                if !(state == "FIN-WAIT-2" && s.has(FIN)) {
                    side.state = state;
                    let mut note = Note::new();
                    let _ = write!(note, "{} {state}", self.names[other]);
                    let _ = row.notes.push(note);
                }
            }
        }
        Ok(())
    }

    fn neighbor(&mut self, frame: &FrameEntry, what: Resolution) -> fmt::Result {
        if self.neighbors_drawn {
            self.neighbors_hidden = self.neighbors_hidden.saturating_add(1);
            return Ok(());
        }
        let Summary::Neighbor { ipv6, .. } = frame.summary else {
            return Ok(());
        };
        match (what, &self.asked) {
            (Resolution::Ask, None) => {
                self.asked = Some(*frame);
                return Ok(());
            }
            (Resolution::Answer, Some(ask)) if ask.from != frame.from => {
                self.asked = None;
                self.flush_row()?;
                let label = if ipv6 {
                    "NDP: who has? / is at"
                } else {
                    "ARP: who has? / is at"
                };
                let mut row = Row {
                    at: frame.at,
                    arrow: String::new(),
                    excerpt: None,
                    notes: Vec::new(),
                };
                arrow(&mut row.arrow, frame.from, label, false, true);
                let _ = row
                    .notes
                    .push(Note::try_from("(address resolution)").unwrap_or_default());
                self.neighbors_drawn = true;
                self.row = Some(row);
                return Ok(());
            }
            _ => {}
        }
        // An answer without its question, a question unanswered: each alone.
        self.flush_asked()?;
        self.draw_neighbor(frame, ipv6, what)
    }

    fn flush_asked(&mut self) -> fmt::Result {
        if let Some(ask) = self.asked.take() {
            let ipv6 = matches!(ask.summary, Summary::Neighbor { ipv6: true, .. });
            self.draw_neighbor(&ask, ipv6, Resolution::Ask)?;
        }
        Ok(())
    }

    fn draw_neighbor(&mut self, frame: &FrameEntry, ipv6: bool, what: Resolution) -> fmt::Result {
        self.flush_row()?;
        let label = match (ipv6, what) {
            (false, Resolution::Ask) => "ARP: who has?",
            (false, Resolution::Answer) => "ARP: is at",
            (true, Resolution::Ask) => "NDP: who has?",
            (true, Resolution::Answer) => "NDP: is at",
        };
        let mut row = Row {
            at: frame.at,
            arrow: String::new(),
            excerpt: None,
            notes: Vec::new(),
        };
        let lost = matches!(frame.fate, Fate::Dropped(_));
        arrow(&mut row.arrow, frame.from, label, lost, false);
        self.row = Some(row);
        Ok(())
    }

    // ---- events ----

    fn event(&mut self, event: &Event) -> fmt::Result {
        let host = self.host(event.host);
        let state = host.and_then(|h| self.state_after(h, event.kind));
        let mut note = Note::new();
        let _ = write!(note, "{}", event.host);
        if let Some(state) = state {
            let _ = write!(note, " {state}");
        }
        let python = event.kind.python();
        // A kernel step is told by its state; a call by its Python.
        if state.is_none() || !python.starts_with("(kernel)") {
            let _ = write!(note, " {python}");
        }
        let causes_a_frame = matches!(
            event.kind,
            EventKind::Connect { .. }
                | EventKind::Send { .. }
                | EventKind::SendTo { .. }
                | EventKind::FinSent
                | EventKind::Aborted
        );
        if causes_a_frame && let Some(h) = host {
            if self.calls.is_full() {
                self.flush_calls()?;
            }
            let _ = self.calls.push((event.at, h, note));
            return Ok(());
        }
        self.flush_asked()?;
        if self.calls.is_empty()
            && let Some(row) = &mut self.row
            && row.at == event.at
            && !row.notes.is_full()
        {
            let _ = row.notes.push(note);
            return Ok(());
        }
        self.flush_row()?;
        self.flush_calls()?;
        self.own_line(event.at, &note)
    }

    /// The RFC 793 state host `h` enters with `kind`, if it moves.
    fn state_after(&mut self, h: usize, kind: EventKind) -> Option<&'static str> {
        let side = &mut self.sides[h];
        let state = match kind {
            EventKind::Connect { .. } => {
                *side = Side::default();
                "SYN-SENT"
            }
            EventKind::SynReceived => {
                *side = Side::default();
                "SYN-RECEIVED"
            }
            EventKind::Established => "ESTABLISHED",
            EventKind::FinSent => {
                side.fin_sent = true;
                if side.fin_received {
                    "LAST-ACK"
                } else {
                    "FIN-WAIT-1"
                }
            }
            EventKind::FinReceived => {
                side.fin_received = true;
                match (side.fin_sent, side.fin_acked) {
                    (false, _) => "CLOSE-WAIT",
                    (true, true) => "TIME-WAIT",
                    (true, false) => "CLOSING",
                }
            }
            EventKind::Closed
            | EventKind::Reset
            | EventKind::Refused
            | EventKind::TimedOut
            | EventKind::Aborted => "CLOSED",
            _ => return None,
        };
        side.state = state;
        Some(state)
    }

    // ---- output ----

    fn flush_row(&mut self) -> fmt::Result {
        let Some(row) = self.row.take() else {
            return Ok(());
        };
        let mut notes = NoteLines::new(&row.notes);
        write_time(self.out, row.at)?;
        write!(self.out, " |{}|", row.arrow)?;
        notes.write_next(self.out)?;
        if let Some(payload) = row.excerpt {
            self.out.write_str("         |   ")?;
            let mut text = String::<160>::new();
            excerpt(&mut text, &payload, ARROW - 6);
            pad(self.out, &text, ARROW - 3)?;
            self.out.write_char('|')?;
            notes.write_next(self.out)?;
        }
        while notes.more() {
            write!(self.out, "         |{:ARROW$}|", "")?;
            notes.write_next(self.out)?;
        }
        Ok(())
    }

    fn flush_calls(&mut self) -> fmt::Result {
        for (at, _, note) in core::mem::take(&mut self.calls) {
            self.flush_row()?;
            self.own_line(at, &note)?;
        }
        Ok(())
    }

    fn own_line(&mut self, at: Instant, note: &str) -> fmt::Result {
        write_time(self.out, at)?;
        write!(self.out, " |{:ARROW$}|", "")?;
        let mut notes = NoteLines::one(note);
        notes.write_next(self.out)?;
        while notes.more() {
            write!(self.out, "         |{:ARROW$}|", "")?;
            notes.write_next(self.out)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> fmt::Result {
        self.flush_asked()?;
        self.flush_row()?;
        self.flush_calls()?;
        if self.neighbors_hidden > 0 {
            writeln!(
                self.out,
                "         ({} more ARP/NDP frames, not drawn)",
                self.neighbors_hidden
            )?;
        }
        Ok(())
    }
}

/// The arrow between the host columns, `ARROW` wide, with `label` on it. A lost frame's
/// arrow stops short with an `X`; `both` points both ways.
fn arrow(out: &mut String<160>, from: End, label: &str, lost: bool, both: bool) {
    // The arrow's ends and at least one dash: 5 columns and a dash, 8 and a dash if lost.
    let room = if lost { ARROW - 9 } else { ARROW - 6 };
    let (label, _) = fit(label, room);
    let mut line = String::<160>::new();
    let right = from == End::A;
    let _ = match (right, lost, both) {
        (_, _, true) => write!(line, "<-- {label} "),
        (true, _, _) => write!(line, "-- {label} "),
        (false, true, _) => write!(line, "   X-- {label} "),
        (false, false, _) => write!(line, "<-- {label} "),
    };
    let head = match (right || both, lost) {
        (true, true) => "X   ",
        (true, false) => ">",
        (false, _) => "",
    };
    while display_width(&line) + head.len() < ARROW {
        let _ = line.push('-');
    }
    let _ = line.push_str(head);
    let _ = out.push_str(&line);
}

/// The payload as a quoted excerpt of at most `width` columns: UTF-8 as text, control
/// characters and invalid bytes escaped, `...` if cut.
fn excerpt(out: &mut String<160>, payload: &Payload, width: usize) {
    let mut body = String::<160>::new();
    let mut bytes = payload.excerpt();
    let mut whole = payload.excerpt().len() == payload.len;
    while !bytes.is_empty() {
        let (valid, rest) = match core::str::from_utf8(bytes) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (good, bad) = bytes.split_at(e.valid_up_to());
                // A character cut by the excerpt's end is not an error, just cut.
                let cut = e.error_len().is_none();
                if cut {
                    whole = false;
                }
                (
                    core::str::from_utf8(good).unwrap_or_default(),
                    if cut { &[][..] } else { bad },
                )
            }
        };
        for c in valid.chars() {
            let _ = match c {
                '\n' => body.write_str("\\n"),
                '\r' => body.write_str("\\r"),
                '\t' => body.write_str("\\t"),
                '"' => body.write_str("\\\""),
                '\\' => body.write_str("\\\\"),
                c if char_is_control(c) => write!(body, "\\x{:02x}", u32::from(c)),
                c => body.write_char(c),
            };
        }
        if let Some((bad, rest)) = rest.split_first() {
            let _ = write!(body, "\\x{bad:02x}");
            bytes = rest;
        } else {
            bytes = rest;
        }
    }
    let (shown, _) = fit(&body, width.saturating_sub(2));
    let cut = shown.len() < body.len() || !whole;
    let (shown, _) = if cut {
        fit(&body, width.saturating_sub(5))
    } else {
        (shown, 0)
    };
    let _ = write!(out, "\"{shown}\"{}", if cut { "..." } else { "" });
}

fn char_is_control(c: char) -> bool {
    matches!(u32::from(c), 0..=0x1f | 0x7f..=0x9f)
}

/// The notes of a row, wrapped to the notes' column, one line at a time.
struct NoteLines<'r> {
    notes: &'r [Note],
    one: Option<&'r str>,
    /// The rest of the note being written (after its first line).
    rest: Option<(&'r str, usize)>,
}

impl<'r> NoteLines<'r> {
    fn new(notes: &'r [Note]) -> Self {
        NoteLines {
            notes,
            one: None,
            rest: None,
        }
    }

    fn one(note: &'r str) -> Self {
        NoteLines {
            notes: &[],
            one: Some(note),
            rest: None,
        }
    }

    fn more(&self) -> bool {
        self.rest.is_some() || !self.notes.is_empty() || self.one.is_some()
    }

    /// Write the next line of notes (if any) after two spaces, then the newline.
    fn write_next(&mut self, out: &mut dyn Write) -> fmt::Result {
        let (text, indent) = if let Some(rest) = self.rest.take() {
            rest
        } else if let Some(one) = self.one.take() {
            (one, 0)
        } else if let Some((first, others)) = self.notes.split_first() {
            self.notes = others;
            (first.as_str(), 0)
        } else {
            return out.write_char('\n');
        };
        // A continuation is indented under the note's text, past the host's name.
        let width = NOTES - indent;
        let line = if display_width(text) <= width {
            text
        } else {
            let (most, _) = fit(text, width);
            match most.rfind(' ') {
                Some(space) if space > 0 => &text[..space],
                _ => most,
            }
        };
        let rest = text[line.len()..].trim_start();
        if !rest.is_empty() {
            let next_indent = if indent > 0 {
                indent
            } else {
                text.find(' ').map_or(0, |i| i + 1).min(NOTES / 2)
            };
            self.rest = Some((rest, next_indent));
        }
        write!(out, "  {:indent$}{line}", "")?;
        out.write_char('\n')
    }
}
