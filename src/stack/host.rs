//! Who a host is on the link: its Ethernet address and its IPv4 and IPv6 addresses.
//!
//! With Berkeley sockets the addresses belong to the operating system (`ip addr`), and a
//! program only names them in `bind`. An smoltcp interface carries its own, so each stack
//! is given a [`Host`]. The two on the in-memory wire are [`Host::CLIENT`] and
//! [`Host::SERVER`]; the server's addresses are the ones the TAP walk-through gives its
//! device (`192.168.69.1/24`, `fdaa::1/64`).

#[cfg(feature = "ipv6")]
use smoltcp::wire::Ipv6Address;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, Ipv4Address};

/// A host's link-layer and network-layer identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// A short name for logs and traces (`"client"`, `"server"`).
    pub name: &'static str,
    /// The Ethernet (MAC) address.
    pub mac: EthernetAddress,
    /// The IPv4 address and prefix.
    pub ipv4: IpCidr,
    /// The IPv6 address and prefix (feature `ipv6`).
    #[cfg(feature = "ipv6")]
    pub ipv6: IpCidr,
    /// The seed for smoltcp's random numbers (initial sequence numbers): fixed per host so
    /// that runs on the in-memory wire repeat exactly.
    pub random_seed: u64,
}

impl Host {
    /// The client end of the in-memory wire.
    pub const CLIENT: Host = Host {
        name: "client",
        mac: EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]),
        ipv4: IpCidr::Ipv4(smoltcp::wire::Ipv4Cidr::new(
            Ipv4Address::new(192, 168, 69, 2),
            24,
        )),
        #[cfg(feature = "ipv6")]
        ipv6: IpCidr::Ipv6(smoltcp::wire::Ipv6Cidr::new(
            Ipv6Address::new(0xfdaa, 0, 0, 0, 0, 0, 0, 2),
            64,
        )),
        random_seed: 0x5eed_c11e,
    };

    /// The server end of the in-memory wire: where the services run.
    pub const SERVER: Host = Host {
        name: "server",
        mac: EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]),
        ipv4: IpCidr::Ipv4(smoltcp::wire::Ipv4Cidr::new(
            Ipv4Address::new(192, 168, 69, 1),
            24,
        )),
        #[cfg(feature = "ipv6")]
        ipv6: IpCidr::Ipv6(smoltcp::wire::Ipv6Cidr::new(
            Ipv6Address::new(0xfdaa, 0, 0, 0, 0, 0, 0, 1),
            64,
        )),
        random_seed: 0x5eed_5e4e,
    };

    /// The `n`th extra host of a network (a [`Switch`](crate::phy::Switch) joins more
    /// than two): `02:00:00:00:01:nn`, `192.168.69.(10 + n)/24`, `fdaa::(10 + n)/64`, on
    /// the subnet of [`Host::CLIENT`] and [`Host::SERVER`]. `n` is taken modulo 240, so
    /// the address is never one of theirs nor the broadcast.
    pub const fn nth(n: u8) -> Host {
        let n = n % 240;
        Host {
            name: "host",
            mac: EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x01, n]),
            ipv4: IpCidr::Ipv4(smoltcp::wire::Ipv4Cidr::new(
                Ipv4Address::new(192, 168, 69, 10 + n),
                24,
            )),
            #[cfg(feature = "ipv6")]
            ipv6: IpCidr::Ipv6(smoltcp::wire::Ipv6Cidr::new(
                Ipv6Address::new(0xfdaa, 0, 0, 0, 0, 0, 0, 10 + n as u16),
                64,
            )),
            random_seed: 0x5eed_0000 + n as u64,
        }
    }

    /// The IPv4 address alone.
    pub fn ipv4_addr(&self) -> IpAddress {
        self.ipv4.address()
    }

    /// The IPv6 address alone.
    #[cfg(feature = "ipv6")]
    pub fn ipv6_addr(&self) -> IpAddress {
        self.ipv6.address()
    }
}
