//! The command line of a TAP host, shared by `serve` and `client`: which device, which
//! addresses, capture and fault injection. The library's `TapLink` takes a plain
//! `TapConfig`; turning words into one is the examples' business.

#![allow(dead_code)]

use std::path::PathBuf;

use sockless::phy::tap::TapConfig;
use sockless::smoltcp::phy::Device;
use sockless::smoltcp::wire::{EthernetAddress, IpCidr};
use sockless::{Host, Stack};

/// The command line of a TAP host (see [`TapOptions::HELP`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapOptions {
    /// The TAP device's name.
    pub tap: String,
    /// The host's addresses (`--ip`, repeatable).
    pub ips: Vec<IpCidr>,
    /// The host's MAC address.
    pub mac: EthernetAddress,
    /// Where to write a pcap capture.
    pub pcap: Option<PathBuf>,
    /// Percentage of frames dropped, each direction.
    pub drop_chance: u8,
    /// Percentage of frames corrupted, each direction.
    pub corrupt_chance: u8,
    /// Seed of the fault injector.
    pub seed: u32,
}

/// Why an option was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl core::fmt::Display for OptionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionError {}

impl TapOptions {
    /// The options' help text.
    pub const HELP: &'static str = "\
    --tap NAME            the TAP device (default: tap0 for serve, tap1 for client)
    --ip CIDR             an address of this host, repeatable: one IPv4 and one IPv6
                          (smoltcp's default iface-max-addr-count is 2)
    --mac MAC             this host's Ethernet address
    --pcap FILE           write every frame to FILE (Wireshark / tshark open it)
    --drop-chance PCT     drop PCT% of frames, each direction (fault injection)
    --corrupt-chance PCT  corrupt PCT% of frames, each direction
    --seed N              seed of the fault injector (default 1)";

    /// Defaults for a host named by `host` (`Host::SERVER` for serve).
    pub fn new(tap: &str, host: &Host) -> Self {
        TapOptions {
            tap: tap.to_string(),
            ips: Vec::new(),
            mac: host.mac,
            pcap: None,
            drop_chance: 0,
            corrupt_chance: 0,
            seed: 1,
        }
    }

    /// Take one option and its value from `args` if `flag` is one of ours. Returns
    /// `Ok(false)` for a flag that is not a TAP option.
    pub fn parse(
        &mut self,
        flag: &str,
        args: &mut dyn Iterator<Item = String>,
    ) -> Result<bool, OptionError> {
        let mut value = || {
            args.next()
                .ok_or_else(|| OptionError(format!("{flag} needs a value")))
        };
        let bad = |what: &str, v: &str| OptionError(format!("{flag}: {v:?} is not {what}"));
        match flag {
            "--tap" => self.tap = value()?,
            "--ip" => {
                let v = value()?;
                let cidr: IpCidr = v.parse().map_err(|_| bad("an address/prefix", &v))?;
                if self.ips.len() == 2 {
                    return Err(OptionError(
                        "at most 2 --ip (smoltcp's iface-max-addr-count)".into(),
                    ));
                }
                self.ips.push(cidr);
            }
            "--mac" => {
                let v = value()?;
                self.mac = v.parse().map_err(|_| bad("a MAC address", &v))?;
            }
            "--pcap" => self.pcap = Some(PathBuf::from(value()?)),
            "--drop-chance" | "--corrupt-chance" => {
                let v = value()?;
                let pct: u8 = v
                    .parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| bad("a percentage (0-100)", &v))?;
                if flag == "--drop-chance" {
                    self.drop_chance = pct;
                } else {
                    self.corrupt_chance = pct;
                }
            }
            "--seed" => {
                let v = value()?;
                self.seed = v.parse().map_err(|_| bad("a number", &v))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The host these options describe: `base`'s identity with these MAC and addresses
    /// (the first IPv4 and IPv6 given replace `base`'s).
    pub fn host(&self, base: Host) -> Host {
        let mut host = base;
        host.mac = self.mac;
        for cidr in &self.ips {
            match cidr {
                IpCidr::Ipv4(_) => host.ipv4 = *cidr,
                IpCidr::Ipv6(_) => host.ipv6 = *cidr,
            }
        }
        host
    }

    /// Without any `--ip`, use `host`'s own IPv4 and IPv6 addresses.
    pub fn default_addresses(&mut self, host: &Host) {
        if self.ips.is_empty() {
            self.ips = vec![host.ipv4, host.ipv6];
        }
    }

    /// What the library's `TapLink` opens.
    pub fn config(&self) -> TapConfig {
        TapConfig {
            name: self.tap.clone(),
            pcap: self.pcap.clone(),
            drop_chance: self.drop_chance,
            corrupt_chance: self.corrupt_chance,
            seed: self.seed,
        }
    }

    /// Give `stack` exactly the addresses asked for (if any were).
    pub fn apply_addresses(&self, stack: &mut Stack<'_>) {
        if self.ips.is_empty() {
            return;
        }
        stack.interface().update_ip_addrs(|addrs| {
            addrs.clear();
            for cidr in &self.ips {
                let _ = addrs.push(*cidr);
            }
        });
    }
}

/// Poll `stack` on `device` and let `app` act, until neither has anything more to do at
/// this instant. The shape of every TAP host's inner loop.
///
/// [`Stack::poll_until_quiet`] with the host's wall clock.
pub fn poll_until_quiet<D: Device + ?Sized>(
    stack: &mut Stack<'_>,
    device: &mut D,
    app: impl FnMut(&mut Stack<'_>),
) {
    stack.poll_until_quiet(device, |_| sockless::phy::tap::wall_clock(), app);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TapOptions, OptionError> {
        let mut options = TapOptions::new("tap0", &Host::SERVER);
        let mut it = args.iter().map(|s| s.to_string());
        while let Some(flag) = it.next() {
            if !options.parse(&flag, &mut it)? {
                return Err(OptionError(format!("unknown {flag}")));
            }
        }
        Ok(options)
    }

    #[test]
    fn without_ip_the_hosts_own_addresses_are_used() {
        let mut o = parse(&[]).unwrap();
        o.default_addresses(&Host::SERVER);
        assert_eq!(o.ips, vec![Host::SERVER.ipv4, Host::SERVER.ipv6]);
        let mut o = parse(&["--ip", "10.0.0.1/8"]).unwrap();
        o.default_addresses(&Host::SERVER);
        assert_eq!(o.ips.len(), 1, "an explicit --ip wins");
    }

    #[test]
    fn the_documented_invocation_parses() {
        let o = parse(&[
            "--tap",
            "tap0",
            "--ip",
            "192.168.69.1/24",
            "--ip",
            "fdaa::1/64",
        ])
        .unwrap();
        assert_eq!(o.tap, "tap0");
        assert_eq!(o.ips.len(), 2);
        let host = o.host(Host::SERVER);
        assert_eq!(host.ipv4.to_string(), "192.168.69.1/24");
        assert_eq!(host.ipv6.to_string(), "fdaa::1/64");
    }

    #[test]
    fn faults_and_capture() {
        let o = parse(&[
            "--drop-chance",
            "5",
            "--corrupt-chance",
            "1",
            "--pcap",
            "x.pcap",
        ])
        .unwrap();
        assert_eq!((o.drop_chance, o.corrupt_chance), (5, 1));
        assert_eq!(o.pcap, Some(PathBuf::from("x.pcap")));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        assert!(
            parse(&["--ip", "192.168.69.1"]).is_err(),
            "a prefix is needed"
        );
        assert!(parse(&["--drop-chance", "101"]).is_err());
        assert!(parse(&["--mac"]).unwrap_err().0.contains("needs a value"));
        assert!(
            parse(&[
                "--ip",
                "10.0.0.1/8",
                "--ip",
                "fd00::1/64",
                "--ip",
                "10.0.0.2/8"
            ])
            .is_err()
        );
    }
}
