//! A service's counters, and the one-line report `demo`, `serve` and the firmware print.
//!
//! Printed with nothing but `write_str`: no integer formatting from `core::fmt`, so a
//! size-tuned firmware that prints reports does not pay for it ([`Count`]). Each can also
//! be written to any [`fmt::Write`] without going through `core::fmt` at all
//! ([`Report::write_to`], [`Count::write_to`]): a firmware that prints nothing else with
//! `write!` then has none of its formatting machinery.

use core::fmt;

/// Counters of one service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Connections accepted (TCP) or datagrams received (UDP).
    pub accepted: u64,
    /// Connection requests refused (RST) because every socket was taken.
    pub refused: u64,
    /// Connection requests dropped for a retry because every socket was taken
    /// ([`Overflow::Queue`](crate::stack::Overflow::Queue)).
    pub queued: u64,
    /// Connections closed because the conversation ended.
    pub closed: u64,
    /// Connections lost to a reset (an RST from the peer).
    pub reset: u64,
    /// Connections lost to a timeout (idle, or the peer stopped answering).
    pub timed_out: u64,
    /// Bytes received, over finished connections (TCP) or datagrams (UDP).
    pub bytes_in: u64,
    /// Bytes sent, likewise.
    pub bytes_out: u64,
    /// UDP datagrams answered.
    pub answered: u64,
    /// UDP datagrams dropped (too large for the buffer, or no room to answer).
    pub dropped: u64,
}

impl ServiceStats {
    /// Connections lost, whatever the reason.
    pub fn lost(&self) -> u64 {
        self.reset + self.timed_out
    }
}

/// One service's counters, printable as one line (`demo` and `serve` print these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The service's name.
    pub name: &'static str,
    /// A UDP service (datagrams, not connections).
    pub udp: bool,
    /// Its counters.
    pub stats: ServiceStats,
}

impl Report {
    /// The line [`Display`](fmt::Display) prints, written with `write_str` alone: the
    /// firmware writes its `stats` reply this way, without `write!`.
    pub fn write_to(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        let s = &self.stats;
        out.write_str(self.name)?;
        for _ in self.name.len()..9 {
            out.write_str(" ")?;
        }
        let mut field = |label: &str, n: u64| {
            out.write_str(label)?;
            Count(n).write_to(out)
        };
        if self.udp {
            field(" datagrams ", s.accepted)?;
            field(" answered ", s.answered)?;
            field(" dropped ", s.dropped)?;
        } else {
            field(" accepted ", s.accepted)?;
            field(" refused ", s.refused)?;
            field(" queued ", s.queued)?;
            field(" closed ", s.closed)?;
            field(" reset ", s.reset)?;
            field(" timed out ", s.timed_out)?;
        }
        field(", ", s.bytes_in)?;
        field(" B in ", s.bytes_out)?;
        out.write_str(" B out")
    }
}

impl fmt::Display for Report {
    /// One line, the name padded to 9 columns. Only `write_str` and [`Count`]: no integer
    /// formatting or padding from `core::fmt`, so firmware that prints reports does not
    /// pay for them (see [`Count`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

/// A counter, printed in decimal with nothing but `write_str`.
///
/// `write!(out, "{}", n)` for an integer brings in `core::fmt`'s integer formatting and
/// padding: about 1.5 KB of flash on a Cortex-M, a cost every size-tuned firmware notices.
/// The reports and the firmware's `stats` reply print their numbers through this instead.
/// (Width, fill and the other format options are ignored.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl Count {
    /// The number in decimal, written with `write_str` alone (see [`Report::write_to`]).
    pub fn write_to(self, out: &mut dyn fmt::Write) -> fmt::Result {
        let mut digits = [0u8; 20]; // u64::MAX has 20
        let mut at = digits.len();
        let mut n = self.0;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits were written.
        out.write_str(core::str::from_utf8(&digits[at..]).unwrap_or("?"))
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn counts_print_in_decimal_without_core_integer_formatting() {
        for n in [0, 7, 10, 1024, 4_294_967_296, u64::MAX] {
            assert_eq!(format!("{}", Count(n)), format!("{n}"));
        }
    }

    #[test]
    fn a_report_is_one_line_with_the_name_in_nine_columns() {
        let stats = ServiceStats {
            accepted: 3,
            refused: 1,
            closed: 2,
            reset: 1,
            bytes_in: 4096,
            bytes_out: 12,
            ..ServiceStats::default()
        };
        let tcp = Report {
            name: "echo",
            udp: false,
            stats,
        };
        assert_eq!(
            format!("{tcp}"),
            "echo      accepted 3 refused 1 queued 0 closed 2 reset 1 timed out 0, 4096 B in 12 B out"
        );
        let stats = ServiceStats {
            accepted: 6,
            answered: 5,
            dropped: 1,
            bytes_in: 70,
            bytes_out: 10,
            ..ServiceStats::default()
        };
        let udp = Report {
            name: "udp-ok",
            udp: true,
            stats,
        };
        assert_eq!(
            format!("{udp}"),
            "udp-ok    datagrams 6 answered 5 dropped 1, 70 B in 10 B out"
        );
        // A name longer than the column is not cut.
        let long = Report {
            name: "a-long-name",
            udp: true,
            stats,
        };
        assert!(format!("{long}").starts_with("a-long-name datagrams 6"));
    }

    #[test]
    fn write_to_writes_what_display_prints() {
        let report = Report {
            name: "robot",
            udp: false,
            stats: ServiceStats {
                accepted: 12,
                bytes_out: u64::MAX,
                ..ServiceStats::default()
            },
        };
        let mut line = std::string::String::new();
        report.write_to(&mut line).unwrap();
        assert_eq!(line, format!("{report}"));
        let mut n = std::string::String::new();
        Count(90210).write_to(&mut n).unwrap();
        assert_eq!(n, "90210");
    }
}
