//! A stack on a Linux TAP device (feature `std`): the real-network counterpart of the wire.
//!
//! A TAP device is a virtual Ethernet card whose other end is a file descriptor: every
//! frame the kernel sends to `tap0` can be read from the fd, and every frame written to
//! the fd arrives at the kernel as if from a cable. smoltcp's `TunTapInterface` is that fd
//! as a [`Device`]; with it, a sockless stack is a second host next to the kernel, with its
//! own MAC and IP addresses, answering ARP, NDP and ping, reachable from `nc`, Python or
//! any program on the machine.
//!
//! [`TapLink`] stacks smoltcp's middleware on the device: an optional fault injector (drop
//! and corrupt a percentage of frames, to see TCP recover) and an optional pcap capture
//! that Wireshark and tshark open. Checksums are always computed and verified on TAP.
//! [`TapOptions`] is the command line shared by the `serve` and `client` examples.
//!
//! Creating a TAP device needs `CAP_NET_ADMIN` (root, or `ip tuntap add ... user $USER`
//! once by root, after which the owner opens it unprivileged): see `scripts/tap.sh`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::string::{String, ToString};
use std::vec::Vec;

use smoltcp::phy::{self, Device, FaultInjector, Medium, PcapMode, PcapWriter, TunTapInterface};
use smoltcp::time::Duration;
use smoltcp::wire::{EthernetAddress, IpCidr};

use crate::host::Host;
use crate::stack::Stack;

/// Where the capture goes: a file, or nowhere.
pub enum Capture {
    /// Write pcap records to this file.
    File(BufWriter<File>),
    /// Discard them (no `--pcap`).
    Off,
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Capture::File(f) => f.write(buf),
            Capture::Off => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Capture::File(f) => f.flush(),
            Capture::Off => Ok(()),
        }
    }
}

/// The device a TAP host polls: TAP, then fault injection, then capture.
pub type TapDevice = PcapWriter<FaultInjector<TapPort>, Capture>;

/// A TAP device as an smoltcp [`Device`], without allocation per frame.
///
/// smoltcp's own `TunTapInterface` allocates and zeroes an MTU-sized buffer at every
/// receive attempt (even one that finds nothing) and every transmit, and panics on a read
/// error; with a 64 KiB MTU the zeroing alone was a fifth of `serve`'s time. `TapPort`
/// keeps `TunTapInterface` only to open and own the (non-blocking) descriptor, and reads
/// and writes frames through two buffers allocated once.
pub struct TapPort {
    _device: TunTapInterface,
    fd: RawFd,
    frame: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl TapPort {
    /// Open the TAP device `name` (Ethernet frames, its MTU plus the header).
    pub fn open(name: &str) -> io::Result<TapPort> {
        let device = TunTapInterface::new(name, Medium::Ethernet)?;
        let frame = device.capabilities().max_transmission_unit;
        Ok(TapPort {
            fd: device.as_raw_fd(),
            _device: device,
            frame,
            rx: std::vec![0; frame],
            tx: std::vec![0; frame],
        })
    }
}

impl Device for TapPort {
    type RxToken<'a>
        = TapRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TapTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: smoltcp::time::Instant) -> Option<(TapRx<'_>, TapTx<'_>)> {
        // SAFETY: read(2) into a buffer we own, at most its length.
        let n = unsafe { libc::read(self.fd, self.rx.as_mut_ptr().cast(), self.rx.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock {
                log::warn!("tap: read: {err}");
            }
            return None;
        }
        Some((
            TapRx {
                frame: &self.rx[..n as usize],
            },
            TapTx {
                fd: self.fd,
                buffer: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<TapTx<'_>> {
        Some(TapTx {
            fd: self.fd,
            buffer: &mut self.tx,
        })
    }

    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        let mut caps = smoltcp::phy::DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.frame;
        caps
    }
}

#[doc(hidden)]
pub struct TapRx<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for TapRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

#[doc(hidden)]
pub struct TapTx<'a> {
    fd: RawFd,
    buffer: &'a mut Vec<u8>,
}

impl phy::TxToken for TapTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(self.buffer.len());
        let result = f(&mut self.buffer[..len]);
        // SAFETY: write(2) from a buffer we own, `len` bytes of it.
        let n = unsafe { libc::write(self.fd, self.buffer.as_ptr().cast(), len) };
        if n < 0 {
            log::debug!("tap: write: {}", io::Error::last_os_error());
        }
        result
    }
}

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
                .ok_or_else(|| OptionError(std::format!("{flag} needs a value")))
        };
        let bad = |what: &str, v: &str| OptionError(std::format!("{flag}: {v:?} is not {what}"));
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
            self.ips = std::vec![host.ipv4, host.ipv6];
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

/// An open TAP device with its middleware.
pub struct TapLink {
    device: TapDevice,
    fd: RawFd,
}

impl TapLink {
    /// Open the TAP device named in `options`, with its faults and capture.
    pub fn open(options: &TapOptions) -> io::Result<TapLink> {
        let tap = TapPort::open(&options.tap).map_err(|e| {
            io::Error::new(
                e.kind(),
                std::format!(
                    "cannot open TAP device {:?}: {e} (create it first: sudo scripts/tap.sh up; \
                     opening one needs CAP_NET_ADMIN or ownership of the device)",
                    options.tap
                ),
            )
        })?;
        let fd = tap.fd;
        let mut faults = FaultInjector::new(tap, options.seed);
        faults.set_drop_chance(options.drop_chance);
        faults.set_corrupt_chance(options.corrupt_chance);
        let capture = match &options.pcap {
            Some(path) => Capture::File(BufWriter::new(File::create(path)?)),
            None => Capture::Off,
        };
        Ok(TapLink {
            device: PcapWriter::new(faults, capture, PcapMode::Both),
            fd,
        })
    }

    /// The device, for [`Stack::new`] and [`Stack::poll`].
    pub fn device(&mut self) -> &mut TapDevice {
        &mut self.device
    }

    /// Sleep until a frame arrives or `timeout` passes (`None`: until a frame). Returns
    /// early, with `Interrupted`, on a signal.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        phy::wait(self.fd, timeout)
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
    stack.poll_until_quiet(device, |_| smoltcp::time::Instant::now(), app);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TapOptions, OptionError> {
        let mut options = TapOptions::new("tap0", &Host::SERVER);
        let mut it = args.iter().map(|s| s.to_string());
        while let Some(flag) = it.next() {
            if !options.parse(&flag, &mut it)? {
                return Err(OptionError(std::format!("unknown {flag}")));
            }
        }
        Ok(options)
    }

    #[test]
    fn without_ip_the_hosts_own_addresses_are_used() {
        let mut o = parse(&[]).unwrap();
        o.default_addresses(&Host::SERVER);
        assert_eq!(o.ips, std::vec![Host::SERVER.ipv4, Host::SERVER.ipv6]);
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
