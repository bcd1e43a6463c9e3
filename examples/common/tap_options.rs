//! The command line of a TAP host, shared by `serve` and `client`: which device, which
//! addresses, capture and fault injection. The library's `TapLink` takes a plain
//! `TapConfig`; turning words into one is the examples' business.

#![allow(dead_code)]

use std::path::PathBuf;

use crate::cli::{self, Error, Parser};
use sockless::phy::tap::{TapConfig, TapLink};
use sockless::smoltcp::phy::Device;
use sockless::smoltcp::wire::{EthernetAddress, IpCidr};
use sockless::{Host, Stack};

/// The command line of a TAP host (see [`TapOptions::help`]).
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

impl TapOptions {
    /// The options' lines of a `--help`, with the defaults of these options (not yet
    /// parsed) and of `host`, the addresses used without `--ip`.
    pub fn help(&self, host: &Host) -> String {
        format!(
            "    --tap NAME            the TAP device (default {tap})
    --ip CIDR             an address of this host, repeatable: one IPv4 and one IPv6,
                          at most 2 (default {ipv4} and {ipv6})
    --mac MAC             this host's Ethernet address (default {mac})
    --pcap FILE           write every frame to FILE, for Wireshark (default none)
    --drop-chance PCT     drop PCT% of frames, each direction (default {drop})
    --corrupt-chance PCT  corrupt PCT% of frames, each direction (default {corrupt})
    --seed N              seed of the drops and corruptions (default {seed})",
            tap = self.tap,
            ipv4 = host.ipv4,
            ipv6 = host.ipv6,
            mac = self.mac,
            drop = self.drop_chance,
            corrupt = self.corrupt_chance,
            seed = self.seed,
        )
    }

    /// The command line of the TAP host `name` (`serve`): these options, defaults `tap` and
    /// `host`'s identity, and the example's own, taken by `own` (the hook of
    /// [`cli::parse`]). `help` is given the defaults. Exits on `--help` and on a mistake
    /// (see [`cli::parse_env`]).
    pub fn parse_env(
        name: &str,
        tap: &str,
        host: &Host,
        help: impl FnOnce(&TapOptions) -> String,
        mut own: impl FnMut(&str, &mut Parser) -> Result<bool, Error>,
    ) -> TapOptions {
        let mut options = TapOptions::new(tap, host);
        let help = help(&options);
        cli::parse_env(name, &help, |flag, parser| {
            Ok(options.parse_arg(flag, parser)? || own(flag, parser)?)
        });
        options.default_addresses(host);
        options
    }

    /// Open the TAP device, or say why not (`serve: ...`).
    pub fn open(&self, name: &str) -> Option<TapLink> {
        TapLink::open(&self.config())
            .map_err(|e| eprintln!("{name}: {e}"))
            .ok()
    }

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

    /// Take option `flag` (and its value from `parser`) if it is one of ours: the hook of
    /// [`cli::parse`]. Returns `Ok(false)` for an option that is not a TAP option.
    pub fn parse_arg(&mut self, flag: &str, parser: &mut Parser) -> Result<bool, Error> {
        let percentage = |parser: &mut Parser| {
            cli::value_with(parser, flag, "a percentage (0-100)", |v| {
                v.parse().ok().filter(|p| *p <= 100)
            })
        };
        match flag {
            "--tap" => self.tap = cli::value(parser, flag, "a device name")?,
            "--ip" => {
                let cidr = cli::value(parser, flag, "an address/prefix like 10.0.0.1/8")?;
                if self.ips.len() == 2 {
                    return Err("--ip: at most 2 (smoltcp's iface-max-addr-count)".into());
                }
                self.ips.push(cidr);
            }
            "--mac" => self.mac = cli::value(parser, flag, "a MAC address")?,
            "--pcap" => self.pcap = Some(parser.value()?.into()),
            "--drop-chance" => self.drop_chance = percentage(parser)?,
            "--corrupt-chance" => self.corrupt_chance = percentage(parser)?,
            "--seed" => self.seed = cli::value(parser, flag, "a number (0-4294967295)")?,
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

    fn parse(args: &[&str]) -> Result<TapOptions, String> {
        let mut options = TapOptions::new("tap0", &Host::SERVER);
        cli::parse(Parser::from_args(args), |flag, parser| {
            options.parse_arg(flag, parser)
        })
        .map_err(|e| cli::usage_error(&e))?;
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
        assert_eq!(
            parse(&["--drop-chance", "101"]).unwrap_err(),
            r#"--drop-chance: "101" is not a percentage (0-100)"#
        );
        assert_eq!(
            parse(&["--mac"]).unwrap_err(),
            "missing argument for option '--mac'"
        );
        assert!(parse(&["--bogus"]).unwrap_err().contains("'--bogus'"));
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
