//! A connected UDP socket's filter: which queued datagrams `recv` may return.
//!
//! Linux's `connect` on a UDP socket sets a default destination and a filter: from then
//! on, a datagram from anyone but the peer is dropped when it *arrives*. Datagrams that
//! were queued before the `connect` stay, whoever sent them (checked with Python on
//! 127.0.0.1: two datagrams from two senders, `connect` to one, both are received).
//!
//! smoltcp has no such filter, so it is applied when a datagram is taken from the queue,
//! and the datagrams queued before the `connect` must still pass. smoltcp's queue cannot
//! count its datagrams, only its bytes, so the filter remembers how many bytes were
//! queued at `connect` (wrap-around padding included) and lets datagrams through until
//! that many bytes have left the queue: the queue is first in, first out, and the padding
//! in front of a datagram leaves with it, so the count is exact. The one thing it cannot
//! see is an *empty* datagram from another sender queued last before the `connect`: it
//! holds no byte, and is dropped as if it came after.
//!
//! Pure logic: the adapters ([`NalUdpStack`](crate::ecosystem::NalUdpStack), the async
//! `EdgeUdp`) feed it the queue's byte counts.

use smoltcp::wire::IpEndpoint;

/// The peer of a connected UDP socket, and the bytes queued before it was connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PeerFilter {
    peer: Option<IpEndpoint>,
    /// Bytes still queued that arrived before the last `connect` (they pass).
    queued_before: usize,
}

impl PeerFilter {
    /// Python: `sk.connect(peer)` while `queued` bytes wait in the receive queue.
    pub(crate) fn connect(&mut self, peer: IpEndpoint, queued: usize) {
        self.peer = Some(peer);
        self.queued_before = queued;
    }

    /// The peer `send` goes to (`None`: not connected).
    pub(crate) fn peer(&self) -> Option<IpEndpoint> {
        self.peer
    }

    /// Whether the datagram at the head of the queue, from `from`, may be received.
    pub(crate) fn accepts(&self, from: IpEndpoint) -> bool {
        self.accepts_head() || self.peer.is_none_or(|p| p == from)
    }

    /// Whether the datagram at the head of the queue arrived before the `connect` (it
    /// may be received whoever sent it).
    pub(crate) fn accepts_head(&self) -> bool {
        self.queued_before > 0
    }

    /// The head datagram left the queue, which then held `freed` bytes fewer.
    pub(crate) fn taken(&mut self, freed: usize) {
        self.queued_before = self.queued_before.saturating_sub(freed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::IpAddress;

    fn ep(port: u16) -> IpEndpoint {
        IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), port)
    }

    #[test]
    fn unconnected_accepts_everyone() {
        let f = PeerFilter::default();
        assert!(f.accepts(ep(1)) && f.accepts(ep(2)));
        assert_eq!(f.peer(), None);
    }

    #[test]
    fn datagrams_queued_before_connect_pass_then_only_the_peer() {
        let mut f = PeerFilter::default();
        // Two datagrams queued (3 and 5 bytes), then connect to port 1.
        f.connect(ep(1), 8);
        assert!(f.accepts(ep(2)));
        f.taken(3);
        assert!(f.accepts(ep(2)));
        f.taken(5);
        assert!(!f.accepts(ep(2)));
        assert!(f.accepts(ep(1)));
    }

    #[test]
    fn padding_counted_and_extreme_counts_saturate() {
        let mut f = PeerFilter::default();
        f.connect(ep(1), 10);
        // A datagram of 4 bytes with 6 bytes of wrap-around padding in front of it.
        f.taken(10);
        assert!(!f.accepts(ep(2)));
        f.taken(usize::MAX);
        f.connect(ep(2), usize::MAX);
        f.taken(usize::MAX);
        assert!(!f.accepts(ep(1)) && f.accepts(ep(2)));
    }
}
