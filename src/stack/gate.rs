//! What happens to a connection request when a listener has no socket free.
//!
//! A kernel answers SYNs itself and keeps finished handshakes in the accept queue; when
//! that queue is full it *drops* further SYNs, and the client's TCP simply tries again a
//! second later, and again, until there is room or its `connect` times out. smoltcp
//! instead answers a SYN that finds no socket in LISTEN with an RST, so the client's
//! `connect` fails at once with "connection refused" (smoltcp #1120, #852).
//!
//! Both are reasonable, so each listener chooses ([`Overflow`]). `Queue` needs one thing
//! smoltcp has no hook for: seeing a SYN before the stack does. So while it polls, the
//! [`Stack`](super::Stack) hands smoltcp its device wrapped in a `Gate`: at the first
//! SYN of a poll for a listening port it counts that port's LISTEN sockets, lets that
//! many SYNs through, and for the rest counts them as refused (`Refuse`: smoltcp sends the
//! RST) or drops them (`Queue`: smoltcp sees an empty frame and ignores it). Everything
//! else passes untouched.

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;

use super::table::TableView;
use crate::phy::tcp_header;

/// What a listener does with a connection request when every socket is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Answer with RST: the client's `connect` fails at once with `ECONNREFUSED`
    /// (smoltcp's behaviour).
    #[default]
    Refuse,
    /// Drop the SYN: the client retransmits it and gets in once a socket is free, or its
    /// `connect` times out (a kernel's behaviour with a full backlog).
    Queue,
}

/// The most listening ports one stack keeps a policy for.
pub const MAX_PORTS: usize = 8;

/// One listening port's policy and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortPolicy {
    pub(crate) port: u16,
    pub(crate) overflow: Overflow,
    /// SYNs answered with RST because no socket was free.
    pub(crate) refused: u64,
    /// SYNs dropped to be retried because no socket was free.
    pub(crate) queued: u64,
    /// LISTEN sockets left in this poll (counted at the first SYN of the poll).
    pub(crate) budget: Option<u16>,
}

impl PortPolicy {
    pub(crate) const fn new(port: u16) -> Self {
        PortPolicy {
            port,
            overflow: Overflow::Refuse,
            refused: 0,
            queued: 0,
            budget: None,
        }
    }
}

/// A device seen through the listeners' policies (see the module docs).
pub(crate) struct Gate<'g, D: Device + ?Sized> {
    inner: &'g mut D,
    policies: &'g mut [PortPolicy],
    /// The stack's socket table, to count a port's LISTEN sockets when a SYN comes.
    table: TableView<'g>,
    /// Connection requests seen, whatever the port: the only frames that can move a
    /// socket out of LISTEN.
    syns: &'g mut u32,
}

impl<'g, D: Device + ?Sized> Gate<'g, D> {
    pub(crate) fn new(
        inner: &'g mut D,
        policies: &'g mut [PortPolicy],
        table: TableView<'g>,
        syns: &'g mut u32,
    ) -> Self {
        for policy in policies.iter_mut() {
            policy.budget = None;
        }
        Gate {
            inner,
            policies,
            table,
            syns,
        }
    }
}

impl<D: Device + ?Sized> Device for Gate<'_, D> {
    type RxToken<'a>
        = GateRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.inner.receive(now)?;
        Some((
            GateRx {
                inner: rx,
                policies: &mut *self.policies,
                table: self.table,
                syns: &mut *self.syns,
            },
            tx,
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

#[doc(hidden)]
pub struct GateRx<'g, R: phy::RxToken> {
    inner: R,
    policies: &'g mut [PortPolicy],
    table: TableView<'g>,
    syns: &'g mut u32,
}

impl<R: phy::RxToken> phy::RxToken for GateRx<'_, R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let (policies, table, syns) = (self.policies, self.table, self.syns);
        self.inner.consume(|frame| {
            // One call of `f` (smoltcp's whole ingress path): a dropped SYN is an empty
            // frame, which smoltcp ignores.
            if admit(frame, policies, table, syns) {
                f(frame)
            } else {
                f(&[])
            }
        })
    }

    fn meta(&self) -> smoltcp::phy::PacketMeta {
        self.inner.meta()
    }
}

/// Whether `frame` goes on to the stack: everything does but a SYN to a full port in queue
/// mode. Counts SYNs, and refusals and queued callers per port.
fn admit(frame: &[u8], policies: &mut [PortPolicy], table: TableView<'_>, syns: &mut u32) -> bool {
    let Some(tcp) = tcp_header(frame).filter(|t| t.is_connect()) else {
        return true;
    };
    *syns += 1;
    let Some(policy) = policies.iter_mut().find(|p| p.port == tcp.dst_port) else {
        return true;
    };
    // The table's states are those seen at the end of the last poll; this poll has moved
    // no socket out of LISTEN except through SYNs counted here.
    let budget = policy
        .budget
        .get_or_insert_with(|| table.listening(policy.port));
    if *budget > 0 {
        *budget -= 1;
        return true;
    }
    match policy.overflow {
        Overflow::Refuse => {
            policy.refused += 1;
            true
        }
        Overflow::Queue => {
            policy.queued += 1;
            log::debug!("gate: port {} full, SYN dropped for a retry", policy.port);
            false
        }
    }
}
