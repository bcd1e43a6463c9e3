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
use smoltcp::socket::{AnySocket, Socket, dhcpv4};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};

use super::Stack;
use super::table::{Owner, SocketError, SocketId};

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
                until: stack.now() + wait,
            },
        })
    }

    /// After a [`Stack::poll`]: apply what the client learned, or the fallback when its
    /// wait is over. `Some` when the address changed.
    pub fn poll(&mut self, stack: &mut Stack<'_>) -> Option<DhcpEvent> {
        let now = stack.now();
        let event = {
            let (slot, _) = stack.table.entry(self.id)?;
            let handle = slot.handle()?;
            let socket = dhcpv4::Socket::downcast_mut(stack.sockets.get_mut::<Socket>(handle))?;
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
