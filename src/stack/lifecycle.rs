//! What a TCP state change means: the lifecycle events of the tutorial's story.
//!
//! smoltcp reports only a socket's current RFC 793 state. The tutorial talks in steps:
//! the SYN arrived, the handshake finished, a FIN went out or came in, the connection
//! closed, was refused or reset. [`transition`] turns one change of state (as the socket
//! table sees it between two looks) into those steps, and says how the connection ended
//! when it reaches CLOSED. It is a pure function, tested over every pair of states.

use smoltcp::socket::tcp::State;

use super::trace::EventKind;

/// How the last TCP connection of a slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Finished,
    Refused,
    Reset,
    TimedOut,
    Aborted,
    /// The program closed the socket during its connect (no RST, nothing sent).
    Cancelled,
}

/// The meaning of one state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifecycle {
    /// The events, in the order they happened.
    pub(crate) events: Steps,
    /// How the connection ended, if this change ended it and nothing had said so before.
    pub(crate) outcome: Option<Outcome>,
}

/// The events of one state change: a set, one bit per kind, because they can only happen
/// in one order. A byte instead of a list of `EventKind`s: less to
/// build, copy and compare on every change of state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Steps(u8);

impl Steps {
    /// The kinds, in the order in which the events of one change happen.
    fn kind(bit: u8) -> EventKind {
        match bit {
            0 => EventKind::SynReceived,
            1 => EventKind::Established,
            2 => EventKind::FinSent,
            3 => EventKind::FinReceived,
            4 => EventKind::Refused,
            5 => EventKind::Closed,
            _ => EventKind::Reset,
        }
    }

    fn bit(kind: EventKind) -> u8 {
        match kind {
            EventKind::SynReceived => 1,
            EventKind::Established => 1 << 1,
            EventKind::FinSent => 1 << 2,
            EventKind::FinReceived => 1 << 3,
            EventKind::Refused => 1 << 4,
            EventKind::Closed => 1 << 5,
            EventKind::Reset => 1 << 6,
            _ => 0,
        }
    }

    fn push(&mut self, kind: EventKind) {
        self.0 |= Self::bit(kind);
    }

    /// Whether `kind` is one of the events.
    pub(crate) fn contains(self, kind: EventKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    /// The events, in the order they happened.
    pub(crate) fn iter(self) -> impl Iterator<Item = EventKind> {
        (0..7)
            .filter(move |bit| self.0 & (1 << bit) != 0)
            .map(Self::kind)
    }
}

fn fin_sent(s: State) -> bool {
    use State::*;
    matches!(s, FinWait1 | FinWait2 | Closing | LastAck | TimeWait)
}

fn fin_received(s: State) -> bool {
    use State::*;
    matches!(s, CloseWait | Closing | LastAck | TimeWait)
}

fn handshaking(s: State) -> bool {
    use State::*;
    matches!(s, Listen | SynSent | SynReceived)
}

/// The events of a change from `old` to `new`, given how the connection is already known
/// to have ended (`outcome`: an abort or a timeout is recorded before the state moves).
pub(crate) fn transition(old: State, new: State, outcome: Option<Outcome>) -> Lifecycle {
    use State::*;
    let mut events = Steps::default();
    let mut push = |kind| events.push(kind);
    if old == new {
        return Lifecycle {
            events,
            outcome: None,
        };
    }
    if old == Listen && new != Closed && new != Listen {
        push(EventKind::SynReceived);
    }
    if handshaking(old) && !handshaking(new) && new != Closed {
        push(EventKind::Established);
    }
    if fin_sent(new) && !fin_sent(old) && old != Closed {
        push(EventKind::FinSent);
    }
    if fin_received(new) && !fin_received(old) {
        push(EventKind::FinReceived);
    }
    let mut ended = None;
    if new == Closed {
        match (old, outcome) {
            (_, Some(_)) | (Listen, _) => {}
            (SynSent, None) => {
                ended = Some(Outcome::Refused);
                push(EventKind::Refused);
            }
            (TimeWait | LastAck, None) => {
                ended = Some(Outcome::Finished);
                push(EventKind::Closed);
            }
            (_, None) => {
                ended = Some(Outcome::Reset);
                push(EventKind::Reset);
            }
        }
    }
    Lifecycle {
        events,
        outcome: ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as E;
    use State::*;

    const STATES: [State; 11] = [
        Closed,
        Listen,
        SynSent,
        SynReceived,
        Established,
        FinWait1,
        FinWait2,
        CloseWait,
        Closing,
        LastAck,
        TimeWait,
    ];

    /// The expected events for every pair of states, written out as a table: the reading
    /// of RFC 793 that the trace tells.
    fn expected(old: State, new: State) -> &'static [EventKind] {
        match (old, new) {
            _ if old == new => &[],
            // Anything that falls back to CLOSED without a known outcome.
            (Listen, Closed) => &[],
            (SynSent, Closed) => &[E::Refused],
            (TimeWait | LastAck, Closed) => &[E::Closed],
            (_, Closed) => &[E::Reset],
            // Re-armed as a listener, or a connect from CLOSED.
            (_, Listen) => &[],
            (Closed, SynSent | SynReceived) => &[],
            (Listen, SynSent) => &[E::SynReceived],
            (Listen, SynReceived) => &[E::SynReceived],
            (SynSent, SynReceived) | (SynReceived, SynSent) => &[],
            (SynSent | SynReceived, Established) => &[E::Established],
            (Listen, Established) => &[E::SynReceived, E::Established],
            (Listen, FinWait1 | FinWait2) => &[E::SynReceived, E::Established, E::FinSent],
            (Listen, CloseWait) => &[E::SynReceived, E::Established, E::FinReceived],
            (Listen, Closing | LastAck | TimeWait) => {
                &[E::SynReceived, E::Established, E::FinSent, E::FinReceived]
            }
            (SynSent | SynReceived, FinWait1 | FinWait2) => &[E::Established, E::FinSent],
            (SynSent | SynReceived, CloseWait) => &[E::Established, E::FinReceived],
            (SynSent | SynReceived, Closing | LastAck | TimeWait) => {
                &[E::Established, E::FinSent, E::FinReceived]
            }
            // From CLOSED straight into a later state: no FIN of ours is news.
            (Closed, Established | FinWait1 | FinWait2) => &[],
            (Closed, CloseWait | Closing | LastAck | TimeWait) => &[E::FinReceived],
            // Established onwards: only the FINs are news.
            (_, _) => {
                let sent = fin_sent(new) && !fin_sent(old);
                let received = fin_received(new) && !fin_received(old);
                match (sent, received) {
                    (true, true) => &[E::FinSent, E::FinReceived],
                    (true, false) => &[E::FinSent],
                    (false, true) => &[E::FinReceived],
                    (false, false) => &[],
                }
            }
        }
    }

    #[test]
    fn every_state_pair_without_a_known_outcome() {
        for old in STATES {
            for new in STATES {
                let change = transition(old, new, None);
                let events: heapless::Vec<EventKind, 7> = change.events.iter().collect();
                assert_eq!(events.as_slice(), expected(old, new), "{old} => {new}");
                let outcome = match (old, new) {
                    _ if old == new => None,
                    (Listen, Closed) => None,
                    (SynSent, Closed) => Some(Outcome::Refused),
                    (TimeWait | LastAck, Closed) => Some(Outcome::Finished),
                    (_, Closed) => Some(Outcome::Reset),
                    _ => None,
                };
                assert_eq!(change.outcome, outcome, "{old} => {new}");
            }
        }
    }

    #[test]
    fn a_known_outcome_is_not_reported_again() {
        for old in STATES {
            for known in [Outcome::Aborted, Outcome::TimedOut, Outcome::Finished] {
                let change = transition(old, Closed, Some(known));
                assert_eq!(change.outcome, None, "{old} => CLOSED after {known:?}");
                assert!(
                    !change
                        .events
                        .iter()
                        .any(|e| matches!(e, E::Closed | E::Reset | E::Refused)),
                    "{old} => CLOSED after {known:?}: {:?}",
                    change.events
                );
            }
        }
    }
}
