//! An in-memory Ethernet switch joining `N` stacks: more than two hosts on the testbed.
//!
//! Where a [`Wire`](super::Wire) is a cable between two hosts, a [`Switch`] is a star: each
//! host has a port, and a frame goes to the port of the host whose Ethernet address it is
//! addressed to (learned from the frames each host sends, as a real switch learns), or to
//! every other port when it is broadcast, multicast (ARP, IPv6 neighbour discovery) or
//! not yet known. A Berkeley-sockets test would need several machines, network namespaces
//! or a simulator (turmoil) for this; here it is one value of `N * DEPTH` frames.
//!
//! Each port has a [`Link`] for the frames its host sends (latency, jitter, loss...: the
//! same model as a wire's direction; a flooded frame meets the link once and is copied
//! after it), and can be cut off: both ways ([`Switch::disconnect`]), or one way
//! ([`Switch::cut_from`], [`Switch::cut_to`]), now or at a chosen virtual time
//! ([`Switch::change_at`]). A frame sent while a cut is in force is lost and counted; a
//! frame already in flight still arrives.
//!
//! A port borrows the switch for one poll ([`Switch::port`]); a received frame is copied
//! out of the switch first (one frame on the stack), so that the stack may send through
//! the same switch while it handles it. Scripted faults ([`Rule`](super::Rule)) are a
//! [`Wire`](super::Wire)'s; a switch has links and cuts.

use heapless::Vec;
use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;

use super::frame_queue::{ETHERNET_FRAME, Frame, FrameQueue, WireStats, capabilities};
use super::link::{Direction, Link, Passage, Rng};
use super::retransmit_counter::RetransmitCounter;
use super::timed_queue::TimedQueue;

/// A change to a switch port's connection ([`Switch::change_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChange {
    /// The host at this port is cut off both ways.
    Disconnect(usize),
    /// Frames the host at this port sends are lost.
    CutFrom(usize),
    /// Frames to the host at this port are lost.
    CutTo(usize),
    /// The host at this port is connected both ways again.
    Reconnect(usize),
}

/// How many port changes a switch keeps scheduled.
pub const SCHEDULED_CHANGES: usize = 8;

/// One port: the frames due to its host, and what its host sent.
struct Port<const FRAME: usize, const DEPTH: usize> {
    inbox: TimedQueue<FRAME, DEPTH>,
    link: Direction,
    /// Learned from the frames the host sends.
    mac: Option<[u8; 6]>,
    cut_from: bool,
    cut_to: bool,
    stats: WireStats,
    watch: RetransmitCounter,
}

/// An Ethernet switch with `N` ports (see the module documentation).
pub struct Switch<const N: usize, const FRAME: usize = ETHERNET_FRAME, const DEPTH: usize = 64> {
    ports: [Port<FRAME, DEPTH>; N],
    scratch: [u8; FRAME],
    checksums: bool,
    rng: Rng,
    schedule: Vec<(Instant, PortChange), SCHEDULED_CHANGES>,
}

impl<const N: usize, const FRAME: usize, const DEPTH: usize> Default for Switch<N, FRAME, DEPTH> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const FRAME: usize, const DEPTH: usize> Switch<N, FRAME, DEPTH> {
    /// A switch with ideal links, every port connected, checksums on.
    pub fn new() -> Self {
        Switch {
            ports: core::array::from_fn(|_| Port {
                inbox: TimedQueue::new(),
                link: Direction::new(),
                mac: None,
                cut_from: false,
                cut_to: false,
                stats: WireStats::default(),
                watch: RetransmitCounter::new(),
            }),
            scratch: [0; FRAME],
            checksums: true,
            rng: Rng::seeded(0),
            schedule: Vec::new(),
        }
    }

    /// Seed the random source of every link effect.
    pub fn set_seed(&mut self, seed: u32) {
        self.rng = Rng::seeded(seed);
    }

    /// The link the frames of the host at `port` go through (ignored for a port that
    /// does not exist).
    pub fn set_link(&mut self, port: usize, link: Link) {
        if let Some(p) = self.ports.get_mut(port) {
            p.link.set(link);
        }
    }

    /// The same link on every port.
    pub fn set_links(&mut self, link: Link) {
        for p in &mut self.ports {
            p.link.set(link);
        }
    }

    /// Make a change now.
    pub fn change(&mut self, change: PortChange) {
        let (port, from, to) = match change {
            PortChange::Disconnect(p) => (p, Some(true), Some(true)),
            PortChange::CutFrom(p) => (p, Some(true), None),
            PortChange::CutTo(p) => (p, None, Some(true)),
            PortChange::Reconnect(p) => (p, Some(false), Some(false)),
        };
        if let Some(p) = self.ports.get_mut(port) {
            p.cut_from = from.unwrap_or(p.cut_from);
            p.cut_to = to.unwrap_or(p.cut_to);
        }
    }

    /// Cut the host at `port` off, both ways, now.
    pub fn disconnect(&mut self, port: usize) {
        self.change(PortChange::Disconnect(port));
    }

    /// Lose the frames the host at `port` sends, from now on.
    pub fn cut_from(&mut self, port: usize) {
        self.change(PortChange::CutFrom(port));
    }

    /// Lose the frames sent to the host at `port`, from now on.
    pub fn cut_to(&mut self, port: usize) {
        self.change(PortChange::CutTo(port));
    }

    /// Connect the host at `port` both ways again.
    pub fn reconnect(&mut self, port: usize) {
        self.change(PortChange::Reconnect(port));
    }

    /// Make `change` at the virtual instant `at`. False if [`SCHEDULED_CHANGES`] are
    /// waiting already.
    pub fn change_at(&mut self, at: Instant, change: PortChange) -> bool {
        let place = self.schedule.iter().take_while(|(t, _)| *t <= at).count();
        self.schedule.insert(place, (at, change)).is_ok()
    }

    /// Whether the host at `port` is cut off in some way.
    pub fn is_cut(&self, port: usize) -> bool {
        self.ports.get(port).is_some_and(|p| p.cut_from || p.cut_to)
    }

    fn catch_up(&mut self, now: Instant) {
        while let Some(&(at, change)) = self.schedule.first() {
            if at > now {
                break;
            }
            self.schedule.remove(0);
            self.change(change);
        }
    }

    /// The device for the host at `port`, borrowed for one poll. `None` if there is no
    /// such port.
    pub fn port(&mut self, port: usize) -> Option<SwitchPort<'_, N, FRAME, DEPTH>> {
        (port < N).then_some(SwitchPort { switch: self, port })
    }

    /// Whether a frame for the host at `port` is due by `now`.
    pub fn due_by(&self, port: usize, now: Instant) -> bool {
        self.ports.get(port).is_some_and(|p| p.inbox.due_by(now))
    }

    /// Whether a frame for any host is due by `now`.
    pub fn any_due_by(&self, now: Instant) -> bool {
        self.ports.iter().any(|p| p.inbox.due_by(now))
    }

    /// When the next frame in flight falls due.
    pub fn next_due(&self) -> Option<Instant> {
        self.ports.iter().filter_map(|p| p.inbox.next_due()).min()
    }

    /// Frames in flight to any host.
    pub fn in_flight(&self) -> usize {
        self.ports.iter().map(|p| p.inbox.len()).sum()
    }

    /// What the host at `port` sent (each copy of a flooded frame counts as sent), and
    /// in `delivered`, how many frames it received. Zero for a port that does not exist.
    pub fn stats(&self, port: usize) -> WireStats {
        self.ports
            .get(port)
            .map_or_else(WireStats::default, |p| WireStats {
                tcp_segments: p.watch.segments(),
                retransmitted: p.watch.retransmitted(),
                ..p.stats
            })
    }

    /// Send the `len` bytes in the scratch buffer from `from` at `now`.
    fn send(&mut self, from: usize, len: usize, now: Instant) {
        self.catch_up(now);
        let Switch {
            ports,
            scratch,
            rng,
            ..
        } = self;
        let frame = &mut scratch[..len];
        let sender = &mut ports[from];
        sender.watch.observe(frame);
        if frame.len() >= 12 {
            let mut mac = [0; 6];
            mac.copy_from_slice(&frame[6..12]);
            sender.mac = Some(mac);
        }
        if sender.cut_from {
            sender.stats.dropped_partition += 1;
            return;
        }
        let (due, copy) = if sender.link.is_ideal() {
            (now, None)
        } else {
            match sender.link.send(rng, frame, now) {
                Passage::QueueFull => {
                    sender.stats.dropped_queue += 1;
                    return;
                }
                Passage::Lost => {
                    sender.stats.dropped_fault += 1;
                    return;
                }
                Passage::Due {
                    due,
                    copy,
                    corrupted,
                    reordered,
                } => {
                    sender.stats.corrupted += u64::from(corrupted);
                    sender.stats.reordered += u64::from(reordered);
                    sender.stats.duplicated += u64::from(copy.is_some());
                    (due, copy)
                }
            }
        };
        let dst = frame.get(..6);
        let flood = dst.is_none_or(|d| d[0] & 1 == 1)
            || !ports.iter().any(|p| p.mac.as_ref().map(|m| &m[..]) == dst);
        let mut sent = 0;
        let mut dropped = [0u64; 2];
        for (to, port) in ports.iter_mut().enumerate() {
            if to == from || !(flood || port.mac.as_ref().map(|m| &m[..]) == dst) {
                continue;
            }
            if port.cut_to {
                dropped[0] += 1;
                continue;
            }
            for at in [Some(due), copy].into_iter().flatten() {
                if port.inbox.push(frame, at, None) {
                    sent += 1;
                } else {
                    dropped[1] += 1;
                }
            }
        }
        let sender = &mut ports[from];
        sender.stats.sent += sent;
        sender.stats.dropped_partition += dropped[0];
        sender.stats.dropped_full += dropped[1];
    }
}

/// The [`Device`] of one switch port.
pub struct SwitchPort<'s, const N: usize, const FRAME: usize, const DEPTH: usize> {
    switch: &'s mut Switch<N, FRAME, DEPTH>,
    port: usize,
}

impl<const N: usize, const FRAME: usize, const DEPTH: usize> Device
    for SwitchPort<'_, N, FRAME, DEPTH>
{
    type RxToken<'a>
        = SwitchRx<FRAME>
    where
        Self: 'a;
    type TxToken<'a>
        = SwitchTx<'a, N, FRAME, DEPTH>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let port = &mut self.switch.ports[self.port];
        let frame = port.inbox.front(now)?.clone();
        port.inbox.pop_front();
        port.stats.delivered += 1;
        Some((
            SwitchRx { frame },
            SwitchTx {
                switch: &mut *self.switch,
                port: self.port,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        Some(SwitchTx {
            switch: &mut *self.switch,
            port: self.port,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(FRAME, self.switch.checksums)
    }
}

#[doc(hidden)]
pub struct SwitchRx<const FRAME: usize> {
    frame: Frame<FRAME>,
}

impl<const FRAME: usize> phy::RxToken for SwitchRx<FRAME> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.frame)
    }
}

#[doc(hidden)]
pub struct SwitchTx<'s, const N: usize, const FRAME: usize, const DEPTH: usize> {
    switch: &'s mut Switch<N, FRAME, DEPTH>,
    port: usize,
    now: Instant,
}

impl<const N: usize, const FRAME: usize, const DEPTH: usize> phy::TxToken
    for SwitchTx<'_, N, FRAME, DEPTH>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if len > FRAME {
            self.switch.ports[self.port].stats.dropped_oversize += 1;
            return f(&mut self.switch.scratch[..]);
        }
        let result = f(&mut self.switch.scratch[..len]);
        self.switch.send(self.port, len, self.now);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{RxToken, TxToken};

    fn send(sw: &mut Switch<3, 64, 4>, from: usize, dst: [u8; 6], src: [u8; 6], at: i64) {
        let mut port = sw.port(from).unwrap();
        port.transmit(Instant::from_millis(at))
            .unwrap()
            .consume(60, |buf| {
                buf[..6].copy_from_slice(&dst);
                buf[6..12].copy_from_slice(&src);
            });
    }

    fn recv(sw: &mut Switch<3, 64, 4>, to: usize, at: i64) -> Option<[u8; 6]> {
        let mut port = sw.port(to).unwrap();
        let (rx, _) = port.receive(Instant::from_millis(at))?;
        Some(rx.consume(|buf| buf[6..12].try_into().unwrap()))
    }

    const BROADCAST: [u8; 6] = [0xff; 6];
    const M: [[u8; 6]; 3] = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 3]];

    #[test]
    fn broadcasts_flood_and_unicasts_go_to_the_learned_port() {
        let mut sw = Switch::<3, 64, 4>::new();
        send(&mut sw, 0, BROADCAST, M[0], 0);
        assert_eq!(recv(&mut sw, 1, 0), Some(M[0]));
        assert_eq!(recv(&mut sw, 2, 0), Some(M[0]));
        assert_eq!(recv(&mut sw, 0, 0), None, "not back to the sender");
        // Port 1 answers port 0: learned, so port 2 does not see it.
        send(&mut sw, 1, M[0], M[1], 0);
        assert_eq!(recv(&mut sw, 0, 0), Some(M[1]));
        assert_eq!(recv(&mut sw, 2, 0), None);
        // An unknown unicast floods.
        send(&mut sw, 0, M[2], M[0], 0);
        assert_eq!(recv(&mut sw, 1, 0), Some(M[0]));
        assert_eq!(recv(&mut sw, 2, 0), Some(M[0]));
        assert!(sw.port(3).is_none());
        assert_eq!(sw.stats(0).sent, 4);
    }

    #[test]
    fn a_disconnected_port_neither_sends_nor_receives_until_reconnected() {
        let mut sw = Switch::<3, 64, 4>::new();
        sw.set_link(
            1,
            Link::IDEAL.latency(smoltcp::time::Duration::from_millis(10)),
        );
        assert!(sw.change_at(Instant::from_millis(5), PortChange::Disconnect(2)));
        send(&mut sw, 2, BROADCAST, M[2], 0);
        send(&mut sw, 1, BROADCAST, M[1], 1);
        assert_eq!(recv(&mut sw, 2, 1), None, "due at 11 ms");
        send(&mut sw, 0, BROADCAST, M[0], 6);
        assert!(sw.is_cut(2));
        assert_eq!(recv(&mut sw, 2, 11), Some(M[1]), "in flight before the cut");
        assert_eq!(recv(&mut sw, 2, 11), None, "sent after the cut");
        send(&mut sw, 2, BROADCAST, M[2], 7);
        assert_eq!(sw.stats(2).dropped_partition, 1);
        sw.reconnect(2);
        send(&mut sw, 2, M[0], M[2], 8);
        assert_eq!(recv(&mut sw, 0, 8), Some(M[2]));
        // Port 1's flood to port 0 (sent at 1 ms on a 10 ms link) is still to come.
        while recv(&mut sw, 0, 10).is_some() {}
        assert_eq!(
            sw.next_due(),
            Some(Instant::from_millis(0)),
            "port 1's own frames"
        );
        while recv(&mut sw, 1, 10).is_some() {}
        assert_eq!(sw.next_due(), Some(Instant::from_millis(11)));
        assert_eq!(recv(&mut sw, 0, 11), Some(M[1]));
        assert_eq!(sw.in_flight(), 0);
    }
}
