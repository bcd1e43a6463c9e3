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
//! [`TapConfig`] says which device, capture and faults; the examples fill it from their
//! command line.
//!
//! Creating a TAP device needs `CAP_NET_ADMIN` (root, or `ip tuntap add ... user $USER`
//! once by root, after which the owner opens it unprivileged): see `scripts/tap.sh`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::string::{String, ToString};
use std::vec::Vec;

use smoltcp::phy::{self, Device, FaultInjector, Medium, PcapMode, PcapSink, PcapWriter};
use smoltcp::time::Duration;

/// Where the capture goes: a file, or nowhere.
pub enum Capture {
    /// Write pcap records to this file.
    File(BufWriter<File>),
    /// Discard them (no `--pcap`, or the file could not be written).
    Off,
}

impl PcapSink for Capture {
    fn write(&mut self, data: &[u8]) {
        if let Capture::File(file) = self
            && let Err(e) = file.write_all(data)
        {
            // A full disk ends the capture, never the host.
            log::warn!("tap: capture stopped: {e}");
            *self = Capture::Off;
        }
    }

    fn flush(&mut self) {
        if let Capture::File(file) = self {
            let _ = file.flush();
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
/// opens the (non-blocking) descriptor itself (`/dev/net/tun`, `TUNSETIFF`), and reads
/// and writes frames through two buffers allocated once. So smoltcp is used without its
/// `std` and TAP features, on a host as on a board.
pub struct TapPort {
    fd: OwnedFd,
    frame: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

/// `struct ifreq` of `<net/if.h>`: a name and a union (40 bytes on Linux).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IF_NAMESIZE],
    data: libc::c_int,
    _union_rest: [u8; 20],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= libc::IF_NAMESIZE || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                std::format!("{name:?} is not an interface name (1-15 bytes)"),
            ));
        }
        let mut req = IfReq {
            name: [0; libc::IF_NAMESIZE],
            data: 0,
            _union_rest: [0; 20],
        };
        req.name[..bytes.len()].copy_from_slice(bytes);
        Ok(req)
    }

    /// `ioctl(fd, request, &self)`.
    fn ioctl(&mut self, fd: RawFd, request: libc::c_ulong) -> io::Result<()> {
        // SAFETY: `self` is a live, properly sized `struct ifreq` for the call.
        if unsafe { libc::ioctl(fd, request as _, self as *mut IfReq) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// `<linux/if_tun.h>`: attach to a TUN/TAP device (`_IOW('T', 202, int)`).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `<linux/if_tun.h>`: a TAP (Ethernet) device, frames without a packet-info header.
const IFF_TAP: libc::c_int = 0x0002;
const IFF_NO_PI: libc::c_int = 0x1000;
/// The Ethernet header smoltcp counts in a frame, beside the IP MTU.
const ETHERNET_HEADER: usize = 14;

impl TapPort {
    /// Open the TAP device `name` (Ethernet frames, its MTU plus the header).
    pub fn open(name: &str) -> io::Result<TapPort> {
        let mut req = IfReq::new(name)?;
        // SAFETY: open(2) of a constant path; the result is checked.
        let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK) };
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened, owned from here on (closed on every path).
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        req.data = IFF_TAP | IFF_NO_PI;
        req.ioctl(fd.as_raw_fd(), TUNSETIFF)?;
        // The MTU, asked of any socket (the TAP descriptor does not answer SIOCGIFMTU).
        // SAFETY: socket(2); the result is checked and closed below.
        let probe = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        if probe == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        let probe = unsafe { OwnedFd::from_raw_fd(probe) };
        req.ioctl(probe.as_raw_fd(), libc::SIOCGIFMTU)?;
        let frame = usize::try_from(req.data).unwrap_or(0) + ETHERNET_HEADER;
        Ok(TapPort {
            fd,
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
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                self.rx.as_mut_ptr().cast(),
                self.rx.len(),
            )
        };
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
                fd: self.fd.as_raw_fd(),
                buffer: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<TapTx<'_>> {
        Some(TapTx {
            fd: self.fd.as_raw_fd(),
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

/// The host's wall clock as smoltcp's `Instant` (microseconds since the Unix epoch), for
/// [`Stack::poll`](crate::stack::Stack::poll) on a real network. (smoltcp's own
/// `Instant::now` needs its `std` feature, which this crate leaves off.)
pub fn wall_clock() -> smoltcp::time::Instant {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    smoltcp::time::Instant::from_micros(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
}

/// What a [`TapLink`] opens and puts on its device (the examples' command line fills it
/// in: `--tap`, `--pcap`, `--drop-chance`, `--corrupt-chance`, `--seed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConfig {
    /// The TAP device's name (`tap0`).
    pub name: String,
    /// Write every frame, both ways, to this pcap file.
    pub pcap: Option<PathBuf>,
    /// Drop this percentage of frames, each direction (0-100).
    pub drop_chance: u8,
    /// Corrupt this percentage of frames, each direction (0-100).
    pub corrupt_chance: u8,
    /// The fault injector's seed.
    pub seed: u32,
}

impl TapConfig {
    /// The device `name`, no capture, no faults.
    pub fn new(name: &str) -> Self {
        TapConfig {
            name: name.to_string(),
            pcap: None,
            drop_chance: 0,
            corrupt_chance: 0,
            seed: 1,
        }
    }
}

/// An open TAP device with its middleware.
pub struct TapLink {
    device: TapDevice,
    fd: RawFd,
}

impl TapLink {
    /// Open the TAP device named in `config`, with its faults and capture.
    pub fn open(config: &TapConfig) -> io::Result<TapLink> {
        let tap = TapPort::open(&config.name).map_err(|e| {
            io::Error::new(
                e.kind(),
                std::format!(
                    "cannot open TAP device {:?}: {e} (create it first: sudo scripts/tap.sh up; \
                     opening one needs CAP_NET_ADMIN or ownership of the device)",
                    config.name
                ),
            )
        })?;
        let fd = tap.fd.as_raw_fd();
        let mut faults = FaultInjector::new(tap, config.seed);
        faults.set_drop_chance(config.drop_chance);
        faults.set_corrupt_chance(config.corrupt_chance);
        let capture = match &config.pcap {
            Some(path) => Capture::File(BufWriter::new(File::create(path)?)),
            None => Capture::Off,
        };
        Ok(TapLink {
            device: PcapWriter::new(faults, capture, PcapMode::Both),
            fd,
        })
    }

    /// The device, for [`Stack::new`](crate::stack::Stack::new) and [`Stack::poll`](crate::stack::Stack::poll).
    pub fn device(&mut self) -> &mut TapDevice {
        &mut self.device
    }

    /// Sleep until a frame arrives or `timeout` passes (`None`: until a frame). Returns
    /// early, with `Interrupted`, on a signal.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        let mut fds = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Rounded up to whole milliseconds, so a due deadline is not spun on; saturating.
        let ms = timeout.map_or(-1, |t| {
            libc::c_int::try_from(t.total_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
        });
        // SAFETY: poll(2) on one live descriptor.
        if unsafe { libc::poll(&mut fds, 1, ms) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
