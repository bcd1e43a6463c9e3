//! TIME-WAIT without a socket: a compact record per finished connection.
//!
//! The side of a TCP connection that closes first waits in TIME-WAIT (smoltcp: 10 s)
//! before the 4-tuple may be used again, so that a retransmitted FIN is ACKed again and a
//! late segment of the old connection cannot be taken for part of a new one. smoltcp
//! keeps that state in the socket itself, so a server whose goodbyes close first (the
//! notice server, the robot's `exit`) holds a pool socket per caller for 10 s and turns
//! the fifth caller of a pool of four away. A kernel keeps TIME-WAIT in a small record
//! beside the listener instead (Linux's `inet_timewait_sock`), and so does this stack:
//! when a connection the program has closed reaches TIME-WAIT, its socket goes back to
//! its owner at once and a [`TimeWaitRecord`] does the waiting. While it lasts, the
//! [`Gate`](super::gate) sends every segment of that 4-tuple here before smoltcp sees it:
//!
//! * a retransmitted FIN is ACKed again, and the wait starts over (RFC 793);
//! * an RST is ignored (RFC 1337: TIME-WAIT assassination);
//! * a SYN whose sequence number is beyond the old connection's last one is a new
//!   connection: the record ends and the SYN goes on to a listening socket (RFC 6191);
//! * anything else is absorbed: it never reaches a listening socket or a new connection.
//!
//! The same records keep a connection the program closed while its peer has not yet
//! (FIN-WAIT-2: our FIN is acknowledged, theirs has not come). A kernel keeps such an
//! orphan for `tcp_fin_timeout` (60 s) without letting it hold the listener's backlog;
//! here, too, its socket goes back at once and the record waits for the peer's FIN (ACKs
//! it and turns into TIME-WAIT), answers data with an RST (nobody will read it, as Linux
//! does for an orphan), ends on the peer's RST, and is given up after [`FIN_TIMEOUT`].
//!
//! Memory: `TW` records in the stack's storage ([`TimeWaitRecord`], 72 bytes each on a
//! 64-bit host with IPv6, see `StackStorage`). When every record is taken, the oldest is
//! given up early to make room, and counted: as Linux does past `tcp_max_tw_buckets`, the
//! stack stops protecting the oldest 4-tuple rather than turning new callers away.

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint};

use super::table::later;
use crate::phy::TcpHeader;

/// How long a record lasts: smoltcp's own TIME-WAIT.
pub const TIME_WAIT: Duration = Duration::from_secs(10);

/// How long a record waits in FIN-WAIT-2 for the peer's FIN (Linux's `tcp_fin_timeout`).
pub const FIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Which wait a record keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Our FIN is acknowledged; the peer's has not come.
    FinWait2,
    /// Both FINs are done: the 4-tuple rests.
    TimeWait,
}

/// One connection in TIME-WAIT (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWaitRecord {
    local: IpEndpoint,
    remote: IpEndpoint,
    /// The peer's next sequence number after its FIN, when it is known.
    peer_next: Option<u32>,
    expires: Instant,
    wait: Wait,
    /// The sequence number of an old SYN the record answered with a challenge ACK: the
    /// client's RST carrying exactly it ends the record (its retry then gets in).
    challenged: Option<u32>,
}

impl TimeWaitRecord {
    /// A record that is free (expired at time zero).
    pub(crate) const EMPTY: TimeWaitRecord = TimeWaitRecord {
        local: IpEndpoint {
            addr: IpAddress::Ipv4(smoltcp::wire::Ipv4Address::UNSPECIFIED),
            port: 0,
        },
        remote: IpEndpoint {
            addr: IpAddress::Ipv4(smoltcp::wire::Ipv4Address::UNSPECIFIED),
            port: 0,
        },
        peer_next: None,
        expires: Instant::ZERO,
        wait: Wait::TimeWait,
        challenged: None,
    };

    fn live(&self, now: Instant) -> bool {
        self.local.port != 0 && now < self.expires
    }

    fn matches(&self, segment: &TcpHeader) -> bool {
        self.local.port == segment.dst_port
            && self.remote.port == segment.src_port
            && self.remote.addr == segment.src
            && self.local.addr == segment.dst
    }
}

/// What the records did, since the stack started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWaitStats {
    /// Connections whose TIME-WAIT moved into a record (their socket freed at once).
    pub entered: u64,
    /// Retransmitted FINs ACKed again (and, from FIN-WAIT-2, the peer's FIN ACKed).
    pub fin_reacked: u64,
    /// Connections the program closed before its peer, whose FIN-WAIT-2 moved into a
    /// record (their socket freed at once).
    pub fin_wait: u64,
    /// Data for a connection in FIN-WAIT-2 that nobody will read, answered with RST.
    pub reset: u64,
    /// Late segments absorbed (not FIN, RST or a new SYN).
    pub absorbed: u64,
    /// RSTs ignored (RFC 1337).
    pub rst_ignored: u64,
    /// New connections admitted on a 4-tuple still in TIME-WAIT (RFC 6191).
    pub reused: u64,
    /// Records given up early because every record was taken.
    pub overflow: u64,
}

/// What the gate does with a segment of a 4-tuple in TIME-WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not a 4-tuple in TIME-WAIT: on to smoltcp.
    Pass,
    /// A new connection on the 4-tuple: the record is gone, on to smoltcp.
    Reuse,
    /// Keep it from smoltcp.
    Absorb,
    /// Keep it from smoltcp and ACK it again (a retransmitted FIN).
    Ack,
    /// Keep it from smoltcp and answer with RST (data nobody will read).
    Reset,
    /// Keep it from smoltcp and answer with an ACK the sender cannot accept (an old SYN:
    /// its RST, exact, then ends the record, as a kernel's challenge ACK does).
    Challenge,
}

/// The records of one stack, on caller storage.
pub(crate) struct TimeWaitTable<'a> {
    records: &'a mut [TimeWaitRecord],
    /// The record to give up next when every one is live: round robin, which is the
    /// order they were made in (so the oldest goes first, whatever their expiry).
    victim: usize,
    /// Records possibly live (a hint that lets a stack with none skip every lookup).
    live: usize,
    stats: TimeWaitStats,
}

impl<'a> TimeWaitTable<'a> {
    pub(crate) fn new(records: &'a mut [TimeWaitRecord]) -> Self {
        TimeWaitTable {
            records,
            victim: 0,
            live: 0,
            stats: TimeWaitStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> TimeWaitStats {
        self.stats
    }

    /// Whether any record may be live (else no segment needs a look).
    pub(crate) fn may_hold(&self) -> bool {
        self.live > 0
    }

    /// Forget the records that have expired by `now` (keeps [`may_hold`](Self::may_hold)
    /// honest).
    pub(crate) fn sweep(&mut self, now: Instant) {
        if self.live > 0 {
            self.live = self.records.iter().filter(|r| r.live(now)).count();
        }
    }

    /// Records in use at `now`.
    pub(crate) fn in_use(&self, now: Instant) -> usize {
        self.records.iter().filter(|r| r.live(now)).count()
    }

    /// Keep TIME-WAIT for `local`-`remote` from `now` on. `peer_next` is the peer's
    /// sequence number after its FIN, if known. Returns `false` if the table has no room
    /// at all (zero records).
    pub(crate) fn enter(
        &mut self,
        wait: Wait,
        local: IpEndpoint,
        remote: IpEndpoint,
        peer_next: Option<u32>,
        now: Instant,
    ) -> bool {
        let lasts = match wait {
            Wait::TimeWait => TIME_WAIT,
            Wait::FinWait2 => FIN_TIMEOUT,
        };
        let record = TimeWaitRecord {
            local,
            remote,
            peer_next,
            expires: later(now, lasts),
            wait,
            challenged: None,
        };
        let slot = match self.records.iter().position(|r| !r.live(now)) {
            Some(free) => free,
            None => {
                // Every record is live: give up the oldest.
                if self.records.is_empty() {
                    return false;
                }
                let oldest = self.victim % self.records.len();
                self.victim = oldest + 1;
                self.stats.overflow += 1;
                log::debug!(
                    "time-wait: table full, {} given up early",
                    self.records[oldest].remote
                );
                oldest
            }
        };
        self.records[slot] = record;
        self.live = self.records.iter().filter(|r| r.local.port != 0).count();
        match wait {
            Wait::TimeWait => self.stats.entered += 1,
            Wait::FinWait2 => self.stats.fin_wait += 1,
        }
        true
    }

    /// Forget the records of local port `port` with `remote`: the program opens a new
    /// connection on that very 4-tuple from this side (a client bound to its port).
    pub(crate) fn forget(&mut self, port: u16, remote: IpEndpoint) {
        for record in self.records.iter_mut() {
            if record.local.port == port && record.remote == remote {
                *record = TimeWaitRecord::EMPTY;
            }
        }
    }

    /// Whether a live record has `segment`'s 4-tuple.
    pub(crate) fn holds(&self, segment: &TcpHeader, now: Instant) -> bool {
        self.records
            .iter()
            .any(|r| r.live(now) && r.matches(segment))
    }

    /// What to do with `segment` at `now` (see the module docs).
    pub(crate) fn judge(&mut self, segment: &TcpHeader, now: Instant) -> Verdict {
        if self.live == 0 {
            return Verdict::Pass;
        }
        let Some(record) = self
            .records
            .iter_mut()
            .find(|r| r.live(now) && r.matches(segment))
        else {
            return Verdict::Pass;
        };
        if record.wait == Wait::FinWait2 {
            return Self::judge_fin_wait(record, &mut self.stats, segment, now);
        }
        if segment.rst {
            if record.challenged == Some(segment.seq) {
                // The answer to our challenge ACK: the client is opening a new connection.
                *record = TimeWaitRecord::EMPTY;
                self.stats.reused += 1;
                return Verdict::Absorb;
            }
            self.stats.rst_ignored += 1;
            return Verdict::Absorb;
        }
        if segment.is_connect() {
            let newer = record
                .peer_next
                .is_none_or(|next| (segment.seq.wrapping_sub(next) as i32) > 0);
            if newer {
                *record = TimeWaitRecord::EMPTY;
                self.stats.reused += 1;
                return Verdict::Reuse;
            }
            // An older-looking SYN (smoltcp's ISNs are random): challenge it, as Linux
            // does, so that a client really opening anew resets the record and retries.
            record.challenged = Some(segment.seq);
            self.stats.absorbed += 1;
            return Verdict::Challenge;
        }
        if segment.fin {
            record.expires = later(now, TIME_WAIT);
            self.stats.fin_reacked += 1;
            return Verdict::Ack;
        }
        self.stats.absorbed += 1;
        Verdict::Absorb
    }
}

impl TimeWaitTable<'_> {
    /// A segment for a connection in FIN-WAIT-2 (see the module docs).
    fn judge_fin_wait(
        record: &mut TimeWaitRecord,
        stats: &mut TimeWaitStats,
        segment: &TcpHeader,
        now: Instant,
    ) -> Verdict {
        if segment.rst {
            // The peer is gone: so is the record.
            *record = TimeWaitRecord::EMPTY;
            stats.absorbed += 1;
            return Verdict::Absorb;
        }
        if segment.fin && segment.len > 1 {
            // Data with their FIN: nobody will read it (as Linux answers an orphan).
            *record = TimeWaitRecord::EMPTY;
            stats.reset += 1;
            return Verdict::Reset;
        }
        if segment.fin {
            // Their FIN: ACK it, and rest in TIME-WAIT.
            record.wait = Wait::TimeWait;
            record.peer_next = Some(segment.seq.wrapping_add(segment.len));
            record.expires = later(now, TIME_WAIT);
            stats.entered += 1;
            stats.fin_reacked += 1;
            return Verdict::Ack;
        }
        if segment.is_connect() {
            // The peer opens anew on the same 4-tuple (it crashed and came back): the old
            // connection is over for it too.
            *record = TimeWaitRecord::EMPTY;
            stats.reused += 1;
            return Verdict::Reuse;
        }
        if segment.len > 0 && !segment.syn {
            *record = TimeWaitRecord::EMPTY;
            stats.reset += 1;
            return Verdict::Reset;
        }
        stats.absorbed += 1;
        Verdict::Absorb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{EthernetAddress, Ipv4Address};

    const LOCAL: IpEndpoint = IpEndpoint {
        addr: IpAddress::Ipv4(Ipv4Address::new(192, 168, 69, 1)),
        port: 8888,
    };
    const REMOTE: IpEndpoint = IpEndpoint {
        addr: IpAddress::Ipv4(Ipv4Address::new(192, 168, 69, 2)),
        port: 50000,
    };

    fn segment(seq: u32, syn: bool, ack: bool, fin: bool, rst: bool) -> TcpHeader {
        TcpHeader {
            ipv6: false,
            src_mac: EthernetAddress([2, 0, 0, 0, 0, 2]),
            src: REMOTE.addr,
            dst: LOCAL.addr,
            src_port: REMOTE.port,
            dst_port: LOCAL.port,
            seq,
            ack_number: 0,
            len: 0,
            syn,
            ack,
            fin,
            rst,
        }
    }

    #[test]
    fn a_record_is_as_large_as_the_docs_say() {
        #[cfg(all(target_pointer_width = "64", feature = "ipv6"))]
        assert_eq!(core::mem::size_of::<TimeWaitRecord>(), 72);
    }

    #[test]
    fn each_kind_of_late_segment_gets_its_answer() {
        let mut records = [TimeWaitRecord::EMPTY; 2];
        let mut table = TimeWaitTable::new(&mut records);
        let t0 = Instant::from_secs(1);
        assert!(table.enter(Wait::TimeWait, LOCAL, REMOTE, Some(1000), t0));
        assert_eq!(
            table.judge(&segment(999, false, true, true, false), t0),
            Verdict::Ack
        );
        assert_eq!(
            table.judge(&segment(1000, false, true, false, true), t0),
            Verdict::Absorb
        );
        assert_eq!(
            table.judge(&segment(1000, false, true, false, false), t0),
            Verdict::Absorb
        );
        // An old SYN (not beyond the last sequence number) is challenged...
        assert_eq!(
            table.judge(&segment(500, true, false, false, false), t0),
            Verdict::Challenge
        );
        // ...a newer one ends the record and goes on.
        assert_eq!(
            table.judge(&segment(5000, true, false, false, false), t0),
            Verdict::Reuse
        );
        assert_eq!(
            table.judge(&segment(5000, true, false, false, false), t0),
            Verdict::Pass
        );
        let stats = table.stats();
        assert_eq!(
            (
                stats.entered,
                stats.fin_reacked,
                stats.rst_ignored,
                stats.absorbed,
                stats.reused
            ),
            (1, 1, 1, 2, 1)
        );
    }

    #[test]
    fn fin_wait_2_waits_for_their_fin_then_rests_in_time_wait() {
        let mut records = [TimeWaitRecord::EMPTY; 1];
        let mut table = TimeWaitTable::new(&mut records);
        let t0 = Instant::from_secs(1);
        assert!(table.enter(Wait::FinWait2, LOCAL, REMOTE, None, t0));
        let ack = segment(100, false, true, false, false);
        assert_eq!(table.judge(&ack, t0), Verdict::Absorb);
        assert_eq!(
            table.judge(&segment(100, false, true, true, false), t0),
            Verdict::Ack
        );
        // Now TIME-WAIT: a retransmitted FIN is ACKed again, an RST ignored.
        assert_eq!(
            table.judge(&segment(100, false, true, true, false), t0),
            Verdict::Ack
        );
        assert_eq!(
            table.judge(&segment(101, false, true, false, true), t0),
            Verdict::Absorb
        );
        let stats = table.stats();
        assert_eq!(
            (
                stats.fin_wait,
                stats.entered,
                stats.fin_reacked,
                stats.rst_ignored
            ),
            (1, 1, 2, 1)
        );
    }

    #[test]
    fn fin_wait_2_answers_data_with_rst_and_ends_on_theirs_or_after_a_minute() {
        let mut records = [TimeWaitRecord::EMPTY; 1];
        let mut table = TimeWaitTable::new(&mut records);
        let data = TcpHeader {
            len: 5,
            ..segment(100, false, true, false, false)
        };
        table.enter(Wait::FinWait2, LOCAL, REMOTE, None, Instant::ZERO);
        assert_eq!(table.judge(&data, Instant::ZERO), Verdict::Reset);
        assert_eq!(
            table.judge(&data, Instant::ZERO),
            Verdict::Pass,
            "the record ended"
        );
        table.enter(Wait::FinWait2, LOCAL, REMOTE, None, Instant::ZERO);
        let data_and_fin = TcpHeader {
            len: 6,
            ..segment(100, false, true, true, false)
        };
        assert_eq!(table.judge(&data_and_fin, Instant::ZERO), Verdict::Reset);
        table.enter(Wait::FinWait2, LOCAL, REMOTE, None, Instant::ZERO);
        let rst = segment(100, false, false, false, true);
        assert_eq!(table.judge(&rst, Instant::ZERO), Verdict::Absorb);
        assert_eq!(table.judge(&rst, Instant::ZERO), Verdict::Pass);
        table.enter(Wait::FinWait2, LOCAL, REMOTE, None, Instant::ZERO);
        let ack = segment(100, false, true, false, false);
        assert_eq!(table.judge(&ack, Instant::from_secs(59)), Verdict::Absorb);
        assert_eq!(table.judge(&ack, Instant::from_secs(60)), Verdict::Pass);
    }

    #[test]
    fn a_record_ends_after_time_wait_and_a_fin_restarts_it() {
        let mut records = [TimeWaitRecord::EMPTY; 1];
        let mut table = TimeWaitTable::new(&mut records);
        let t0 = Instant::from_secs(1);
        table.enter(Wait::TimeWait, LOCAL, REMOTE, None, t0);
        let fin = segment(7, false, true, true, false);
        assert_eq!(table.judge(&fin, t0 + Duration::from_secs(9)), Verdict::Ack);
        // Restarted at 10 s: still there at 18 s, gone at 19 s.
        assert_eq!(table.judge(&fin, Instant::from_secs(18)), Verdict::Ack);
        assert_eq!(table.judge(&fin, Instant::from_secs(28)), Verdict::Pass);
        assert_eq!(table.in_use(Instant::from_secs(28)), 0);
    }

    #[test]
    fn a_full_table_gives_up_the_oldest_record() {
        let mut records = [TimeWaitRecord::EMPTY; 2];
        let mut table = TimeWaitTable::new(&mut records);
        let other = |port| IpEndpoint { port, ..REMOTE };
        table.enter(Wait::TimeWait, LOCAL, other(1), None, Instant::from_secs(1));
        table.enter(Wait::TimeWait, LOCAL, other(2), None, Instant::from_secs(2));
        table.enter(Wait::TimeWait, LOCAL, other(3), None, Instant::from_secs(3));
        assert_eq!(table.stats().overflow, 1);
        let late = |port| TcpHeader {
            src_port: port,
            ..segment(1, false, true, false, false)
        };
        let now = Instant::from_secs(3);
        assert_eq!(table.judge(&late(1), now), Verdict::Pass, "the oldest went");
        assert_eq!(table.judge(&late(2), now), Verdict::Absorb);
        assert_eq!(table.judge(&late(3), now), Verdict::Absorb);
        let mut none: [TimeWaitRecord; 0] = [];
        assert!(!TimeWaitTable::new(&mut none).enter(Wait::TimeWait, LOCAL, REMOTE, None, now));
    }

    #[test]
    fn sequence_numbers_compare_across_the_wrap() {
        let mut records = [TimeWaitRecord::EMPTY; 1];
        let mut table = TimeWaitTable::new(&mut records);
        table.enter(
            Wait::TimeWait,
            LOCAL,
            REMOTE,
            Some(u32::MAX - 10),
            Instant::ZERO,
        );
        assert_eq!(
            table.judge(&segment(5, true, false, false, false), Instant::ZERO),
            Verdict::Reuse,
            "5 is after u32::MAX - 10"
        );
    }
}
