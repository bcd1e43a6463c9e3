//! DHCPv4: the stack's IPv4 address from the network's server, as a host on a real LAN
//! gets it, with a static address to fall back on.
//!
//! On Linux a separate program (dhclient, systemd-networkd) asks for the lease and writes
//! the address into the kernel; sockets never see it happen. Here the client is smoltcp's
//! DHCPv4 socket, held in one of the stack's socket slots (UDP port 68), and [`Dhcp`]
//! writes what it learns into the stack's interface: the leased address replaces any
//! other IPv4 address, the router becomes the default route. Until a lease comes, the
//! stack has no IPv4 address; if none comes within the wait given to [`Dhcp::start`], the
//! fallback address is used, and the client keeps asking (a later lease replaces it). A
//! lease that is lost (expired, refused on renewal) puts the fallback back.
//!
//! Feature `dhcp` (smoltcp's `socket-dhcpv4`). Listening sockets are bound to ports, not
//! to addresses, so they keep serving across a change of address; connections made on an
//! old address are the program's to notice (as on Linux).

use smoltcp::iface::Interface;
use smoltcp::socket::dhcpv4;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};

use crate::stack::{Owner, SocketError, SocketId, Stack};

/// The DHCP client's port.
const CLIENT_PORT: u16 = 68;

/// What [`Dhcp::poll`] changed about the stack's IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpEvent {
    /// A server leased `address`; `router` (if it named one) is the default route.
    Leased {
        /// The address and its network.
        address: Ipv4Cidr,
        /// The default route.
        router: Option<Ipv4Address>,
        /// The server that leased it.
        server: Ipv4Address,
    },
    /// No lease (none came in time, or the one held was lost): the fallback address is in
    /// use, and the client keeps asking.
    Fallback {
        /// The fallback address.
        address: Ipv4Cidr,
    },
}

/// Where the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Asking, with no address yet; the fallback is used at the deadline.
    Waiting { until: Instant },
    /// Using the fallback address, still asking.
    Fallback,
    /// Using a leased address.
    Leased,
}

/// A DHCPv4 client on a [`Stack`] (see the module docs).
pub struct Dhcp {
    id: SocketId,
    fallback: Ipv4Cidr,
    gateway: Option<Ipv4Address>,
    state: State,
}

impl Dhcp {
    /// Start asking for a lease: the stack's IPv4 addresses are removed, and `fallback`
    /// (with `gateway` as the default route) is used if no lease comes within `wait`.
    /// Takes one of the stack's socket slots.
    pub fn start<'a>(
        stack: &mut Stack<'a>,
        fallback: Ipv4Cidr,
        gateway: Option<Ipv4Address>,
        wait: Duration,
    ) -> Result<Dhcp, SocketError> {
        let id = stack.add(dhcpv4::Socket::new(), Owner::Udp, CLIENT_PORT)?;
        set_ipv4(stack.interface(), None, None);
        Ok(Dhcp {
            id,
            fallback,
            gateway,
            state: State::Waiting {
                until: later(stack.now(), wait),
            },
        })
    }

    /// After a [`Stack::poll`]: apply what the client learned, or the fallback when its
    /// wait is over. `Some` when the address changed.
    pub fn poll(&mut self, stack: &mut Stack<'_>) -> Option<DhcpEvent> {
        let now = stack.now();
        let event = {
            let socket = stack.dhcp(self.id)?;
            match socket.poll() {
                Some(dhcpv4::Event::Configured(config)) => Some(DhcpEvent::Leased {
                    address: config.address,
                    router: config.router,
                    server: config.server.address,
                }),
                // smoltcp says so at start-up too, with nothing to lose then.
                Some(dhcpv4::Event::Deconfigured) if self.state == State::Leased => {
                    Some(DhcpEvent::Fallback {
                        address: self.fallback,
                    })
                }
                _ => match self.state {
                    State::Waiting { until } if now >= until => Some(DhcpEvent::Fallback {
                        address: self.fallback,
                    }),
                    _ => None,
                },
            }
        };
        match event? {
            DhcpEvent::Leased {
                address, router, ..
            } => {
                set_ipv4(stack.interface(), Some(address), router);
                self.state = State::Leased;
            }
            DhcpEvent::Fallback { address } => {
                set_ipv4(stack.interface(), Some(address), self.gateway);
                self.state = State::Fallback;
            }
        }
        event
    }

    /// When [`poll`](Self::poll) must run next for the fallback to be on time (`None`:
    /// only when a frame comes).
    pub fn poll_at(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { until } => Some(until),
            _ => None,
        }
    }
}

/// `at + wait`, saturating (a wait of `u64::MAX` microseconds is "never").
fn later(at: Instant, wait: Duration) -> Instant {
    let wait = i64::try_from(wait.total_micros()).unwrap_or(i64::MAX);
    Instant::from_micros(at.total_micros().saturating_add(wait))
}

/// The interface's IPv4 address and default route: `address` (or none) in place of any
/// other, `router` (or none) as the default route.
fn set_ipv4(iface: &mut Interface, address: Option<Ipv4Cidr>, router: Option<Ipv4Address>) {
    iface.update_ip_addrs(|addrs| {
        addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_)));
        if let Some(address) = address {
            // The IPv4 address goes first, as `Stack::new` puts it.
            let _ = addrs.insert(0, IpCidr::Ipv4(address));
        }
    });
    let routes = iface.routes_mut();
    routes.remove_default_ipv4_route();
    if let Some(router) = router {
        let _ = routes.add_default_ipv4_route(router);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phy::Loopback;
    use crate::{Host, StackStorage};
    use heapless::Vec;

    const FALLBACK: Ipv4Cidr = Ipv4Cidr::new(Ipv4Address::new(10, 0, 2, 15), 24);
    const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

    fn ipv4(stack: &mut Stack<'_>) -> Vec<Ipv4Cidr, 2> {
        stack
            .interface()
            .ip_addrs()
            .iter()
            .filter_map(|a| match a {
                IpCidr::Ipv4(a) => Some(*a),
                #[allow(unreachable_patterns)]
                _ => None,
            })
            .collect()
    }

    #[test]
    fn without_a_server_the_fallback_comes_at_the_end_of_the_wait_and_stays() {
        let mut nic = Loopback::<1514, 8>::default();
        let mut storage = StackStorage::<2>::new();
        let mut stack = Stack::new(Host::SERVER, &mut nic.port(), &mut storage, Instant::ZERO);
        let wait = Duration::from_secs(5);
        let mut dhcp = Dhcp::start(&mut stack, FALLBACK, Some(GATEWAY), wait).unwrap();
        assert_eq!(ipv4(&mut stack), [], "no IPv4 address while asking");
        assert_eq!(dhcp.poll_at(), Some(Instant::ZERO + wait));
        // Its own DISCOVERs come back on the loopback: never a lease.
        for ms in (0..5000).step_by(250) {
            stack.poll(Instant::from_millis(ms), &mut nic.port());
            assert_eq!(dhcp.poll(&mut stack), None, "at {ms} ms");
        }
        stack.poll(Instant::from_millis(5000), &mut nic.port());
        assert_eq!(
            dhcp.poll(&mut stack),
            Some(DhcpEvent::Fallback { address: FALLBACK })
        );
        assert_eq!(ipv4(&mut stack), [FALLBACK]);
        assert_eq!(dhcp.poll_at(), None);
        let mut default_route = None;
        stack.interface().routes_mut().update(|routes| {
            default_route = routes.first().map(|r| r.via_router);
        });
        assert_eq!(default_route, Some(smoltcp::wire::IpAddress::Ipv4(GATEWAY)));
        // Once in use, the fallback is not announced again.
        for s in 6..20 {
            stack.poll(Instant::from_secs(s), &mut nic.port());
            assert_eq!(dhcp.poll(&mut stack), None);
        }
    }

    #[test]
    fn an_endless_wait_saturates_and_never_falls_back() {
        let mut nic = Loopback::<1514, 8>::default();
        let mut storage = StackStorage::<2>::new();
        let start = Instant::from_secs(1000);
        let mut stack = Stack::new(Host::SERVER, &mut nic.port(), &mut storage, start);
        let wait = Duration::from_micros(u64::MAX);
        let mut dhcp = Dhcp::start(&mut stack, FALLBACK, None, wait).unwrap();
        assert_eq!(dhcp.poll_at(), Some(Instant::from_micros(i64::MAX)));
        stack.poll(Instant::from_secs(1_000_000), &mut nic.port());
        assert_eq!(dhcp.poll(&mut stack), None);
        assert_eq!(ipv4(&mut stack), []);
    }

    #[test]
    fn a_stack_without_a_free_slot_says_so() {
        let mut nic = Loopback::<1514, 8>::default();
        let mut storage = StackStorage::<1>::new();
        let mut stack = Stack::new(Host::SERVER, &mut nic.port(), &mut storage, Instant::ZERO);
        let first = Dhcp::start(&mut stack, FALLBACK, None, Duration::ZERO);
        assert!(first.is_ok());
        assert!(Dhcp::start(&mut stack, FALLBACK, None, Duration::ZERO).is_err());
    }

    #[test]
    fn a_zero_wait_uses_the_fallback_at_the_first_poll_without_a_router() {
        let mut nic = Loopback::<1514, 8>::default();
        let mut storage = StackStorage::<2>::new();
        let mut stack = Stack::new(Host::SERVER, &mut nic.port(), &mut storage, Instant::ZERO);
        let mut dhcp = Dhcp::start(&mut stack, FALLBACK, None, Duration::ZERO).unwrap();
        stack.poll(Instant::ZERO, &mut nic.port());
        assert_eq!(
            dhcp.poll(&mut stack),
            Some(DhcpEvent::Fallback { address: FALLBACK })
        );
        assert_eq!(ipv4(&mut stack), [FALLBACK]);
        let mut routes = 0;
        stack.interface().routes_mut().update(|r| routes = r.len());
        assert_eq!(routes, 0);
    }
}
