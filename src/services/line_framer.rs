//! Line framing: turning a TCP byte stream into lines, in a fixed buffer.
//!
//! TCP carries bytes, not messages. The tutorial's robot compares each `recv(1024)` with
//! `'exit'`, which works only while every message happens to arrive in one segment: a
//! line split over two segments, or two lines in one, breaks it. [`LineFramer`] is the fix,
//! and it is pure logic (no socket), fed whatever bytes arrived:
//!
//! * a line ends at `\n`; a `\r` just before it is dropped, so `\r\n` works too;
//! * a line may arrive in any number of pieces, and one piece may hold several lines:
//!   [`feed`](LineFramer::feed) consumes bytes only up to the first complete line and says
//!   how many it took, so the rest stays in the socket for the next call;
//! * a line longer than `N` bytes is never stored: the framer reports
//!   [`Framed::TooLong`] as soon as it overflows, then discards the rest of that line up to
//!   its `\n`. Memory stays `N` bytes whatever the peer sends.

use heapless::Vec;

/// What [`LineFramer::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// A complete line: read it with [`LineFramer::line`].
    Line,
    /// The current line outgrew the buffer; the rest of it will be discarded.
    TooLong,
}

/// Splits a byte stream into lines of at most `N` bytes (a trailing `\r` included).
#[derive(Debug, Default)]
pub struct LineFramer<const N: usize> {
    buf: Vec<u8, N>,
    complete: bool,
    discarding: bool,
}

impl<const N: usize> LineFramer<N> {
    /// An empty framer.
    pub const fn new() -> Self {
        LineFramer {
            buf: Vec::new(),
            complete: false,
            discarding: false,
        }
    }

    /// Take bytes from `data` up to and including the first line end. Returns how many
    /// bytes were consumed and, if a line was completed or overflowed, which.
    pub fn feed(&mut self, data: &[u8]) -> (usize, Option<Framed>) {
        if self.complete {
            self.buf.clear();
            self.complete = false;
        }
        for (i, &byte) in data.iter().enumerate() {
            if byte == b'\n' {
                if self.discarding {
                    self.discarding = false;
                    continue;
                }
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                self.complete = true;
                return (i + 1, Some(Framed::Line));
            }
            if self.discarding {
                continue;
            }
            if self.buf.push(byte).is_err() {
                self.buf.clear();
                self.discarding = true;
                return (i + 1, Some(Framed::TooLong));
            }
        }
        (data.len(), None)
    }

    /// At end of stream: a last line that had no `\n`, if any.
    pub fn finish(&mut self) -> Option<Framed> {
        if self.complete || self.discarding || self.buf.is_empty() {
            return None;
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        self.complete = true;
        Some(Framed::Line)
    }

    /// The line completed by the last [`feed`](Self::feed) (without its line end).
    pub fn line(&self) -> &[u8] {
        if self.complete { &self.buf } else { &[] }
    }

    /// Bytes of an unfinished line held so far.
    pub fn pending(&self) -> usize {
        if self.complete { 0 } else { self.buf.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec as StdVec;

    /// Feed `pieces` in order; collect every line (or `None` for an overflow).
    fn frame<const N: usize>(pieces: &[&[u8]]) -> StdVec<Option<StdVec<u8>>> {
        let mut framer = LineFramer::<N>::new();
        let mut out = StdVec::new();
        for piece in pieces {
            let mut rest = *piece;
            while !rest.is_empty() {
                let (used, framed) = framer.feed(rest);
                assert!(used > 0 && used <= rest.len());
                rest = &rest[used..];
                match framed {
                    Some(Framed::Line) => out.push(Some(framer.line().to_vec())),
                    Some(Framed::TooLong) => out.push(None),
                    None => {}
                }
            }
        }
        if framer.finish() == Some(Framed::Line) {
            out.push(Some(framer.line().to_vec()));
        }
        out
    }

    fn lines(v: &[&str]) -> StdVec<Option<StdVec<u8>>> {
        v.iter().map(|s| Some(s.as_bytes().to_vec())).collect()
    }

    #[test]
    fn one_line_per_piece() {
        assert_eq!(
            frame::<16>(&[b"1001\n", b"exit\n"]),
            lines(&["1001", "exit"])
        );
    }

    #[test]
    fn crlf_is_accepted() {
        assert_eq!(frame::<16>(&[b"0\r\n1\r\n"]), lines(&["0", "1"]));
    }

    #[test]
    fn several_lines_in_one_piece() {
        assert_eq!(
            frame::<16>(&[b"1\n1001\n\nexit\n"]),
            lines(&["1", "1001", "", "exit"])
        );
    }

    #[test]
    fn a_line_split_byte_by_byte_including_utf8() {
        let text = "你好\r\nexit\n";
        let pieces: StdVec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(frame::<16>(&pieces), lines(&["你好", "exit"]));
    }

    #[test]
    fn cr_split_from_its_lf() {
        assert_eq!(frame::<16>(&[b"1001\r", b"\n"]), lines(&["1001"]));
    }

    #[test]
    fn overlong_line_is_reported_once_and_discarded_to_its_end() {
        let long = [b'x'; 40];
        let got = frame::<8>(&[&long[..20], &long[20..], b"\n1001\n"]);
        assert_eq!(got, vec![None, Some(b"1001".to_vec())]);
    }

    #[test]
    fn a_line_of_exactly_n_bytes_fits() {
        assert_eq!(frame::<4>(&[b"1001\n"]), lines(&["1001"]));
        assert_eq!(
            frame::<4>(&[b"10011\n1\n"]),
            vec![None, Some(b"1".to_vec())]
        );
    }

    #[test]
    fn unterminated_last_line_is_returned_at_end_of_stream() {
        assert_eq!(frame::<16>(&[b"1\nexit"]), lines(&["1", "exit"]));
        assert_eq!(frame::<16>(&[b"1\n"]), lines(&["1"]));
    }
}
