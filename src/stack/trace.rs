//! The lifecycle trace: what happened to each socket, when, and which Python call it is.
//!
//! The tutorial explains sockets as a story: `bind`, `listen`, the client's `connect`, the
//! server's `accept`, `recv` and `send`, then `close`. Under a kernel most of that story is
//! invisible (the handshake, the FINs, TIME-WAIT). Here the [`Stack`](crate::Stack)
//! reports every step to an optional [`Observer`]: the verbs the program called, and the
//! TCP state changes it saw after each poll (SYN sent and received, established, FIN sent
//! and received, closed, reset, timed out).
//!
//! [`Trace`] is the observer the demo and the tests use: a fixed ring of `N` events with
//! their virtual timestamps. When it is full the oldest event is overwritten and counted
//! in [`Trace::overwritten`]. It takes `&self` (interior mutability), so a test can read it
//! while the stacks still hold it.

use core::cell::RefCell;
use core::fmt;

use heapless::Deque;
use smoltcp::time::Instant;
use smoltcp::wire::IpEndpoint;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A UDP socket was bound to a port.
    Bind {
        /// The local port.
        port: u16,
    },
    /// A listener started: `backlog` sockets listening on `port`.
    Listen {
        /// The local port.
        port: u16,
        /// How many connections may wait for `accept`.
        backlog: u8,
    },
    /// `connect` was called; the SYN goes out on the next poll.
    Connect {
        /// Whom we called.
        remote: IpEndpoint,
    },
    /// A listening socket received a SYN (state LISTEN => SYN-RECEIVED).
    SynReceived,
    /// The handshake completed (=> ESTABLISHED).
    Established,
    /// `accept` handed a connection to the program.
    Accept {
        /// The caller's address.
        peer: IpEndpoint,
    },
    /// `recv` returned bytes.
    Recv {
        /// How many.
        bytes: u32,
    },
    /// `send`/`sendall` queued bytes.
    Send {
        /// How many.
        bytes: u32,
    },
    /// `recvfrom` returned a datagram.
    RecvFrom {
        /// Its size.
        bytes: u32,
        /// Who sent it.
        from: IpEndpoint,
    },
    /// `sendto` queued a datagram.
    SendTo {
        /// Its size.
        bytes: u32,
        /// Where to.
        to: IpEndpoint,
    },
    /// Our FIN went out (`close` or `shutdown(SHUT_WR)`).
    FinSent,
    /// The peer's FIN arrived: `recv` will return end of stream after the data.
    FinReceived,
    /// The connection finished cleanly (=> CLOSED after LAST-ACK or TIME-WAIT).
    Closed,
    /// The connection was reset: an RST arrived (or the socket fell to CLOSED without a
    /// clean close).
    Reset,
    /// `connect` was answered with an RST: nobody listens there.
    Refused,
    /// A timeout expired: `connect`, `recv` (`settimeout`), or the idle timeout.
    TimedOut,
    /// The program aborted the connection (an RST was sent).
    Aborted,
}

impl EventKind {
    /// The Python call (or the kernel step) of the tutorial that this event stands for.
    pub const fn python(&self) -> &'static str {
        match self {
            EventKind::Bind { .. } => "sk.bind(ip_port)",
            EventKind::Listen { .. } => "sk.listen(backlog)",
            EventKind::Connect { .. } => "sk.connect(ip_port)",
            EventKind::SynReceived => "(kernel) SYN queued for accept",
            EventKind::Established => "(kernel) handshake done",
            EventKind::Accept { .. } => "conn, addr = sk.accept()",
            EventKind::Recv { .. } => "data = recv(1024)",
            EventKind::Send { .. } => "send(data) / sendall(data)",
            EventKind::RecvFrom { .. } => "data, addr = sk.recvfrom(1024)",
            EventKind::SendTo { .. } => "sk.sendto(data, addr)",
            EventKind::FinSent => "close() / shutdown(SHUT_WR)",
            EventKind::FinReceived => "recv() will return b''",
            EventKind::Closed => "(kernel) connection gone, port reusable",
            EventKind::Reset => "ConnectionResetError",
            EventKind::Refused => "ConnectionRefusedError / connect_ex() == 111",
            EventKind::TimedOut => "socket.timeout",
            EventKind::Aborted => "SO_LINGER 0 + close() (RST)",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Bind { port } => write!(f, "bind port {port}"),
            EventKind::Listen { port, backlog } => {
                write!(f, "listen port {port} backlog {backlog}")
            }
            EventKind::Connect { remote } => write!(f, "connect {} (SYN)", Endpoint(*remote)),
            EventKind::SynReceived => write!(f, "SYN received"),
            EventKind::Established => write!(f, "established"),
            EventKind::Accept { peer } => write!(f, "accept from {}", Endpoint(*peer)),
            EventKind::Recv { bytes } => write!(f, "recv {bytes} bytes"),
            EventKind::Send { bytes } => write!(f, "send {bytes} bytes"),
            EventKind::RecvFrom { bytes, from } => {
                write!(f, "recvfrom {bytes} bytes from {}", Endpoint(*from))
            }
            EventKind::SendTo { bytes, to } => {
                write!(f, "sendto {bytes} bytes to {}", Endpoint(*to))
            }
            EventKind::FinSent => write!(f, "FIN sent"),
            EventKind::FinReceived => write!(f, "FIN received"),
            EventKind::Closed => write!(f, "closed"),
            EventKind::Reset => write!(f, "reset"),
            EventKind::Refused => write!(f, "refused"),
            EventKind::TimedOut => write!(f, "timed out"),
            EventKind::Aborted => write!(f, "aborted (RST sent)"),
        }
    }
}

/// An endpoint printed the way Python and URLs do: `192.168.69.1:7`, `[fdaa::1]:7`
/// (smoltcp's own `Display` leaves IPv6 unbracketed, `fdaa::1:7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint(pub IpEndpoint);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.addr {
            smoltcp::wire::IpAddress::Ipv4(a) => write!(f, "{a}:{}", self.0.port),
            #[cfg(feature = "ipv6")]
            smoltcp::wire::IpAddress::Ipv6(a) => write!(f, "[{a}]:{}", self.0.port),
        }
    }
}

/// One entry of the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The stack's clock when it happened.
    pub at: Instant,
    /// Which host ([`Host::name`](crate::Host::name)).
    pub host: &'static str,
    /// Which socket of that host (its index in the stack's socket table).
    pub socket: u8,
    /// What happened.
    pub kind: EventKind,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6}.{:03}s {:<6} #{:<2} {}",
            self.at.secs(),
            self.at.millis() % 1000,
            self.host,
            self.socket,
            self.kind
        )
    }
}

/// Receives lifecycle events from one or more stacks.
pub trait Observer {
    /// Called once per event, in order.
    fn record(&self, event: Event);
}

impl<T: Observer + ?Sized> Observer for &T {
    fn record(&self, event: Event) {
        (**self).record(event);
    }
}

/// Two observers of one stack (a trace and a ladder, say): each gets every event, the
/// first one first.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn record(&self, event: Event) {
        self.0.record(event);
        self.1.record(event);
    }
}

/// A fixed-size trace: the last `N` events, oldest first.
pub struct Trace<const N: usize> {
    inner: RefCell<TraceInner<N>>,
}

struct TraceInner<const N: usize> {
    events: Deque<Event, N>,
    overwritten: usize,
}

impl<const N: usize> Default for Trace<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Trace<N> {
    /// An empty trace.
    pub const fn new() -> Self {
        Trace {
            inner: RefCell::new(TraceInner {
                events: Deque::new(),
                overwritten: 0,
            }),
        }
    }

    /// How many events are held.
    pub fn len(&self) -> usize {
        self.inner.borrow().events.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th event held, oldest first.
    pub fn get(&self, i: usize) -> Option<Event> {
        self.inner.borrow().events.iter().nth(i).copied()
    }

    /// The events held, oldest first (each a copy).
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// How many events were lost because the trace was full.
    pub fn overwritten(&self) -> usize {
        self.inner.borrow().overwritten
    }

    /// Forget every event.
    pub fn clear(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.events.clear();
        inner.overwritten = 0;
    }
}

impl<const N: usize> Observer for Trace<N> {
    fn record(&self, event: Event) {
        let mut inner = self.inner.borrow_mut();
        if inner.events.is_full() {
            inner.events.pop_front();
            inner.overwritten += 1;
        }
        let _ = inner.events.push_back(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: u32) -> Event {
        Event {
            at: Instant::from_millis(n as i64),
            host: "t",
            socket: 0,
            kind: EventKind::Recv { bytes: n },
        }
    }

    #[test]
    fn full_trace_overwrites_oldest_and_counts() {
        let t = Trace::<3>::new();
        for n in 1..=5 {
            t.record(ev(n));
        }
        let kinds: heapless::Vec<EventKind, 3> = t.events().map(|e| e.kind).collect();
        assert_eq!(
            kinds.as_slice(),
            &[
                EventKind::Recv { bytes: 3 },
                EventKind::Recv { bytes: 4 },
                EventKind::Recv { bytes: 5 }
            ]
        );
        assert_eq!(t.overwritten(), 2);
        t.clear();
        assert!(t.is_empty());
    }
}
