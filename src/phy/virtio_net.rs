//! A virtio-net driver over virtio-mmio, as an smoltcp [`Device`] (feature `virtio-net`).
//!
//! Virtio is the network card of virtual machines: QEMU's RISC-V `virt` board has eight
//! virtio-mmio slots at `0x1000_1000 + n * 0x1000`, and `-nic user,model=virtio-net-device`
//! puts a network card in one. Unlike the LAN9118 (`lan9118`), whose FIFOs the driver
//! feeds one 32-bit word at a time, a virtio device moves whole frames itself (DMA) between
//! buffers the driver lends it, through *descriptor rings* in ordinary memory: most real
//! Ethernet MACs (an STM32's, an i.MX's) work the same way. On a desktop the kernel's
//! virtio-net driver owns these rings and copies frames to socket buffers; here this module
//! is the whole driver, and smoltcp reads each frame in place in the buffer the device
//! wrote.
//!
//! This is virtio 1.x ("modern", virtio-mmio version 2; QEMU 7 and 8 still default to
//! legacy virtio-mmio, so run it with `-global virtio-mmio.force-legacy=false`), with the
//! split virtqueue and only two features: `VIRTIO_F_VERSION_1` (required) and
//! `VIRTIO_NET_F_MAC` (the device's address, if it has one). Without mergeable receive
//! buffers or offloads, every frame comes in one buffer after a 12-byte `virtio_net_hdr`,
//! and goes out the same way with that header all zero.
//!
//! * **Memory.** Two queues (receive 0, transmit 1) of `QUEUE` descriptors each, and
//!   `QUEUE` buffers of `BUF` bytes per queue, all in one [`VirtioNetMemory`] that the
//!   caller places (a `static`, zeroed in place by [`VirtioNetMemory::init`]) and gives to
//!   the driver for good (`&'static mut`: the device writes it until it is reset). The device writes into it behind the
//!   compiler's back, so the driver touches it only through raw pointers, volatile
//!   accesses and fences; descriptor `i` of a queue always points at buffer `i`.
//! * **Init** follows the spec's sequence: reset, ACKNOWLEDGE, DRIVER, features,
//!   FEATURES_OK (checked to have stuck), the queues (each must be free and at least
//!   `QUEUE` long), DRIVER_OK; then every receive buffer is offered to the device. Any
//!   failure sets FAILED and returns an [`InitError`].
//! * **Receive** takes the next used receive buffer and lends its frame to smoltcp's
//!   token; the buffer goes back to the device at the next `receive` or `transmit`. A
//!   buffer the device says is shorter than the header or longer than `BUF` is counted
//!   and given back unread. A frame is only handed out while a transmit buffer is free
//!   (smoltcp answers on the token it gets with it), so a full transmit queue holds
//!   frames in the device until the device has sent something.
//! * **Transmit** takes a free transmit buffer, or returns `None` when all `QUEUE` are
//!   with the device (counted); the device hands them back through the used ring.
//! * **A device that misbehaves** (an id out of range or not lent, a used index that runs
//!   ahead of what was lent, `DEVICE_NEEDS_RESET`) never makes the driver panic or touch
//!   memory it does not own: a bad entry is counted and skipped, and a device that lost
//!   count or asked for a reset turns the driver off ([`VirtioNet::is_broken`]).
//! * **Interrupt.** The device raises its line when it has used buffers (and on a
//!   configuration change); [`VirtioNet::ack_interrupts`] acknowledges it, before the
//!   board drains the rings, so a frame that lands after the drain raises it again.
//!
//! Dropping the driver resets the device, which then stops touching the memory.
//!
//! Why not the `virtio-drivers` crate: its no-alloc `VirtIONetRaw` is sound, but it takes
//! its ring memory from a `Hal` trait shaped for an allocator (`dma_alloc`,
//! `share`/`unshare` per buffer), which a static-memory board has to fake, and it brings
//! its own transport, feature and error types and dependencies for one card. The subset
//! a network card needs (two split queues, no event index, no indirect descriptors) is
//! this one file, tested below against a fake device.

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{Ordering, fence};

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;

pub use super::mmio::{Mmio, Registers};

/// Register offsets of a virtio-mmio transport (version 2).
pub mod reg {
    /// `0x74726976` ("virt").
    pub const MAGIC: usize = 0x000;
    /// 2 for virtio 1.x; 1 is the legacy interface.
    pub const VERSION: usize = 0x004;
    /// The kind of device (1: network card; 0: an empty slot).
    pub const DEVICE_ID: usize = 0x008;
    /// Feature bits the device offers, 32 at a time (`DEVICE_FEATURES_SEL`).
    pub const DEVICE_FEATURES: usize = 0x010;
    /// Which 32 feature bits `DEVICE_FEATURES` shows.
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    /// Feature bits the driver accepts, 32 at a time.
    pub const DRIVER_FEATURES: usize = 0x020;
    /// Which 32 feature bits `DRIVER_FEATURES` takes.
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    /// The queue the `QUEUE_*` registers below address.
    pub const QUEUE_SEL: usize = 0x030;
    /// The longest the selected queue may be (0: no such queue).
    pub const QUEUE_NUM_MAX: usize = 0x034;
    /// The selected queue's length.
    pub const QUEUE_NUM: usize = 0x038;
    /// 1 once the selected queue is set up.
    pub const QUEUE_READY: usize = 0x044;
    /// Write a queue's index: it has new available buffers.
    pub const QUEUE_NOTIFY: usize = 0x050;
    /// Why the interrupt line is up: bit 0 used buffers, bit 1 configuration change.
    pub const INTERRUPT_STATUS: usize = 0x060;
    /// Write the bits of `INTERRUPT_STATUS` handled.
    pub const INTERRUPT_ACK: usize = 0x064;
    /// The device status bits ([`status`](super::status)); 0 resets the device.
    pub const STATUS: usize = 0x070;
    /// The selected queue's descriptor table, low and high 32 bits.
    pub const QUEUE_DESC_LOW: usize = 0x080;
    /// See [`QUEUE_DESC_LOW`].
    pub const QUEUE_DESC_HIGH: usize = 0x084;
    /// The selected queue's available ring (the driver's), low and high 32 bits.
    pub const QUEUE_DRIVER_LOW: usize = 0x090;
    /// See [`QUEUE_DRIVER_LOW`].
    pub const QUEUE_DRIVER_HIGH: usize = 0x094;
    /// The selected queue's used ring (the device's), low and high 32 bits.
    pub const QUEUE_DEVICE_LOW: usize = 0x0a0;
    /// See [`QUEUE_DEVICE_LOW`].
    pub const QUEUE_DEVICE_HIGH: usize = 0x0a4;
    /// Changes whenever the configuration space changes.
    pub const CONFIG_GENERATION: usize = 0x0fc;
    /// The device's configuration space (virtio-net: the MAC address first).
    pub const CONFIG: usize = 0x100;
}

/// Device status bits.
pub mod status {
    /// The driver has seen the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The driver knows how to drive it.
    pub const DRIVER: u32 = 2;
    /// The driver is ready: the device may use the queues.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is done.
    pub const FEATURES_OK: u32 = 8;
    /// The device hit an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    /// The driver gave up on the device.
    pub const FAILED: u32 = 128;
}

/// The feature bits this driver knows.
pub mod feature {
    /// virtio-net: the device has a MAC address in its configuration space.
    pub const MAC: u64 = 1 << 5;
    /// The device is a virtio 1.x device (not legacy).
    pub const VERSION_1: u64 = 1 << 32;
}

const MAGIC_VALUE: u32 = 0x7472_6976;
const NET_DEVICE: u32 = 1;
/// `virtio_net_hdr` without offloads: flags, gso_type, hdr_len, gso_size, csum_start,
/// csum_offset, num_buffers.
pub const HEADER: usize = 12;
const RX_QUEUE: u32 = 0;
const TX_QUEUE: u32 = 1;
/// Descriptor flag: the device writes this buffer.
const DESC_F_WRITE: u16 = 2;
/// Used-ring flag: the device does not need to be notified.
const USED_F_NO_NOTIFY: u16 = 1;
/// Polls before a wait for the device is declared lost.
const SPINS: u32 = 100_000;

/// One descriptor: a buffer the driver lends the device.
#[repr(C)]
struct Descriptor {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

/// The driver's ring: which descriptors are on offer.
#[repr(C)]
struct AvailRing<const N: usize> {
    flags: u16,
    idx: u16,
    ring: [u16; N],
    used_event: u16,
}

/// One entry of the used ring: a descriptor given back, and how many bytes it wrote.
#[repr(C)]
struct UsedElem {
    id: u32,
    len: u32,
}

/// The device's ring: which descriptors it is done with.
#[repr(C, align(4))]
struct UsedRing<const N: usize> {
    flags: u16,
    idx: u16,
    ring: [UsedElem; N],
    avail_event: u16,
}

/// A split virtqueue: descriptor table (16-byte aligned), available and used rings.
#[repr(C, align(16))]
struct Queue<const N: usize> {
    desc: [Descriptor; N],
    avail: AvailRing<N>,
    used: UsedRing<N>,
}

/// Every byte the device reads or writes: the two queues and their buffers. Place it
/// (`static`, zeroed by [`init`](Self::init)) and lend it to [`VirtioNet::new`].
#[repr(C)]
pub struct VirtioNetMemory<const QUEUE: usize = 8, const BUF: usize = 1526> {
    rx: Queue<QUEUE>,
    tx: Queue<QUEUE>,
    rx_buffers: [[u8; BUF]; QUEUE],
    tx_buffers: [[u8; BUF]; QUEUE],
}

impl<const QUEUE: usize, const BUF: usize> VirtioNetMemory<QUEUE, BUF> {
    /// Bytes of memory (queues and buffers).
    pub const SIZE: usize = core::mem::size_of::<Self>();

    /// Zero the memory where it lies (a `static`), so it never passes through the stack.
    pub fn init(slot: &mut core::mem::MaybeUninit<Self>) -> &mut Self {
        // SAFETY: every field is integers, for which all-zero is a value.
        unsafe {
            slot.as_mut_ptr().write_bytes(0, 1);
            slot.assume_init_mut()
        }
    }
}

/// Why [`VirtioNet::new`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// No virtio-mmio transport there, or an empty slot (device id 0).
    NotFound {
        /// What the magic register read.
        magic: u32,
    },
    /// A legacy (version 1) transport: run QEMU with `-global
    /// virtio-mmio.force-legacy=false`.
    Legacy {
        /// What the version register read.
        version: u32,
    },
    /// A virtio device, but not a network card.
    WrongDevice {
        /// What the device id register read.
        device_id: u32,
    },
    /// The device does not offer `VIRTIO_F_VERSION_1`, or did not accept the features.
    FeaturesRejected,
    /// A queue is missing, already in use, or shorter than the driver's `QUEUE`.
    Queue {
        /// 0 receive, 1 transmit.
        queue: u32,
        /// The device's longest queue (`QUEUE_NUM_MAX`).
        max: u32,
    },
    /// The device did not finish its reset.
    Timeout,
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InitError::NotFound { magic } => {
                write!(f, "no virtio device: magic {magic:#010x} or empty slot")
            }
            InitError::Legacy { version } => write!(
                f,
                "legacy virtio-mmio (version {version}); QEMU: -global virtio-mmio.force-legacy=false"
            ),
            InitError::WrongDevice { device_id } => {
                write!(f, "virtio device {device_id} is not a network card")
            }
            InitError::FeaturesRejected => write!(f, "virtio-net: no virtio 1.x features"),
            InitError::Queue { queue, max } => {
                write!(f, "virtio-net: queue {queue} unusable (max {max})")
            }
            InitError::Timeout => write!(f, "virtio-net: the device did not reset"),
        }
    }
}

impl core::error::Error for InitError {}

/// Counters of the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioNetStats {
    /// Frames handed to smoltcp.
    pub received: u64,
    /// Receive buffers the device said were shorter than the header or longer than the
    /// buffer: given back unread.
    pub rx_oversize: u64,
    /// Frames given to the device.
    pub sent: u64,
    /// Calls that found every transmit buffer with the device.
    pub tx_full: u64,
    /// Used-ring entries that named a descriptor out of range or not lent: skipped.
    pub device_errors: u64,
}

/// Driver-side state of one queue.
struct Ring<const N: usize> {
    /// Next index of the available ring to write.
    avail_idx: u16,
    /// Next index of the used ring to read.
    used_seen: u16,
    /// Which descriptors the device holds.
    lent: [bool; N],
}

impl<const N: usize> Ring<N> {
    const fn new() -> Self {
        Ring {
            avail_idx: 0,
            used_seen: 0,
            lent: [false; N],
        }
    }
}

/// The driver: registers `R`, queues of `QUEUE` descriptors, buffers of `BUF` bytes
/// (the 12-byte header and a frame: 1526 for 1514-byte frames), in memory given to it for
/// good.
///
/// The memory is `&'static mut`: the device writes it for as long as it runs, and only
/// the driver's `Drop` stops it. A shorter borrow would let safe code `mem::forget` the
/// driver and use the memory again while the device still writes into it.
pub struct VirtioNet<R: Registers, const QUEUE: usize = 8, const BUF: usize = 1526> {
    regs: R,
    mem: NonNull<VirtioNetMemory<QUEUE, BUF>>,
    _mem: PhantomData<&'static mut VirtioNetMemory<QUEUE, BUF>>,
    mac: EthernetAddress,
    rx: Ring<QUEUE>,
    tx: Ring<QUEUE>,
    /// The receive buffer lent to smoltcp's last token, to give back to the device.
    rx_held: Option<u16>,
    broken: bool,
    stats: VirtioNetStats,
}

impl<R: Registers, const QUEUE: usize, const BUF: usize> VirtioNet<R, QUEUE, BUF> {
    const CHECKS: () = {
        assert!(QUEUE > 0 && QUEUE <= 32768 && QUEUE.is_power_of_two());
        assert!(BUF >= HEADER + 60 && BUF <= u32::MAX as usize);
    };

    /// Set the device up on `memory` and offer it every receive buffer. `mac` is the
    /// address used if the device has none of its own ([`mac`](Self::mac) says which).
    pub fn new(
        mut regs: R,
        memory: &'static mut VirtioNetMemory<QUEUE, BUF>,
        mac: EthernetAddress,
    ) -> Result<Self, InitError> {
        let () = Self::CHECKS;
        let mem = NonNull::from(memory);
        match start(&mut regs, mem, mac) {
            Ok(mac) => {
                let mut nic = VirtioNet {
                    regs,
                    mem,
                    _mem: PhantomData,
                    mac,
                    rx: Ring::new(),
                    tx: Ring::new(),
                    rx_held: None,
                    broken: false,
                    stats: VirtioNetStats::default(),
                };
                for id in 0..QUEUE as u16 {
                    nic.give_rx(id);
                }
                nic.regs
                    .write(reg::STATUS, DRIVER_READY | status::DRIVER_OK);
                nic.notify(RX_QUEUE);
                Ok(nic)
            }
            Err(e) => {
                // A virtio network card that could not be set up is told so; anything
                // else at this address is left alone.
                if !matches!(
                    e,
                    InitError::NotFound { .. }
                        | InitError::Legacy { .. }
                        | InitError::WrongDevice { .. }
                ) {
                    let now = regs.read(reg::STATUS);
                    regs.write(reg::STATUS, now | status::FAILED);
                }
                Err(e)
            }
        }
    }

    /// The MAC address in use: the device's, or the one given to [`new`](Self::new).
    pub fn mac(&self) -> EthernetAddress {
        self.mac
    }

    /// The driver's counters.
    pub fn stats(&self) -> VirtioNetStats {
        self.stats
    }

    /// Whether the driver has turned itself off: the device lost count of its rings or
    /// asked for a reset. `receive` and `transmit` then return `None`.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Acknowledge the device's interrupt (before draining the rings); notices a device
    /// that asks for a reset.
    pub fn ack_interrupts(&mut self) {
        let why = self.regs.read(reg::INTERRUPT_STATUS);
        if why != 0 {
            self.regs.write(reg::INTERRUPT_ACK, why);
        }
        if why & 2 != 0 && self.regs.read(reg::STATUS) & status::DEVICE_NEEDS_RESET != 0 {
            self.broken = true;
        }
    }

    fn rx_queue(&self) -> *mut Queue<QUEUE> {
        // SAFETY: `mem` is the driver's memory; only a place is computed.
        unsafe { &raw mut (*self.mem.as_ptr()).rx }
    }

    fn tx_queue(&self) -> *mut Queue<QUEUE> {
        // SAFETY: as above.
        unsafe { &raw mut (*self.mem.as_ptr()).tx }
    }

    fn buffer(&self, rx: bool, id: u16) -> *mut u8 {
        let mem = self.mem.as_ptr();
        // SAFETY: `id < QUEUE` (every caller's id is one this driver lent); places only.
        unsafe {
            if rx {
                (&raw mut (*mem).rx_buffers[usize::from(id)]).cast()
            } else {
                (&raw mut (*mem).tx_buffers[usize::from(id)]).cast()
            }
        }
    }

    fn notify(&mut self, queue: u32) {
        let q = if queue == RX_QUEUE {
            self.rx_queue()
        } else {
            self.tx_queue()
        };
        notify(&mut self.regs, q, queue);
    }

    /// Offer receive buffer `id` (all `BUF` bytes, device-writable).
    fn give_rx(&mut self, id: u16) {
        let addr = self.buffer(true, id) as usize as u64;
        let q = self.rx_queue();
        offer(q, &mut self.rx, id, addr, BUF as u32, DESC_F_WRITE);
    }

    /// The next entry of a queue's used ring that names a descriptor this driver lent,
    /// taken back; bad entries are counted and skipped. A used index that claims more
    /// entries than were lent turns the driver off.
    fn take_used(&mut self, rx: bool) -> Option<(u16, u32)> {
        let q = if rx { self.rx_queue() } else { self.tx_queue() };
        let ring = if rx { &mut self.rx } else { &mut self.tx };
        loop {
            // SAFETY: the used ring in the lent memory, written by the device.
            let idx = unsafe { (&raw const (*q).used.idx).read_volatile() };
            let new = idx.wrapping_sub(ring.used_seen);
            if new == 0 {
                return None;
            }
            if usize::from(new) > QUEUE {
                self.broken = true;
                return None;
            }
            fence(Ordering::SeqCst);
            let slot = usize::from(ring.used_seen) % QUEUE;
            // SAFETY: `slot < QUEUE`: an entry of the used ring.
            let (id, len) = unsafe {
                let elem = &raw const (*q).used.ring[slot];
                (
                    (&raw const (*elem).id).read_volatile(),
                    (&raw const (*elem).len).read_volatile(),
                )
            };
            ring.used_seen = ring.used_seen.wrapping_add(1);
            match ring.lent.get_mut(id as usize) {
                Some(lent) if *lent => {
                    *lent = false;
                    return Some((id as u16, len));
                }
                _ => self.stats.device_errors += 1,
            }
        }
    }

    /// Give the buffer smoltcp last read back to the device.
    fn return_held(&mut self) {
        if let Some(id) = self.rx_held.take() {
            self.give_rx(id);
            self.notify(RX_QUEUE);
        }
    }

    /// A token that sends through free transmit descriptor `id`.
    fn tx_token(&mut self, id: u16) -> Tx<'_, R, QUEUE, BUF> {
        Tx {
            queue: self.tx_queue(),
            buffer: self.buffer(false, id),
            regs: &mut self.regs,
            ring: &mut self.tx,
            stats: &mut self.stats,
            id,
        }
    }

    /// A transmit descriptor the device is done with (or never had), if any.
    fn free_tx(&mut self) -> Option<u16> {
        if let Some((id, _)) = self.take_used(false) {
            return Some(id);
        }
        let lent = self.tx.lent.iter().position(|lent| !lent)?;
        Some(lent as u16)
    }
}

/// Tell the device about new available buffers on queue `queue` (at `q`), unless it said
/// it need not be told.
fn notify<R: Registers, const N: usize>(regs: &mut R, q: *mut Queue<N>, queue: u32) {
    fence(Ordering::SeqCst);
    // SAFETY: the used ring's flags, in the lent memory; the device writes it.
    let flags = unsafe { (&raw const (*q).used.flags).read_volatile() };
    if flags & USED_F_NO_NOTIFY == 0 {
        regs.write(reg::QUEUE_NOTIFY, queue);
    }
}

/// The status bits of a driver that has set the device up.
const DRIVER_READY: u32 = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;

/// Put descriptor `id` (`len` bytes at `addr`) on a queue's available ring.
fn offer<const N: usize>(
    q: *mut Queue<N>,
    ring: &mut Ring<N>,
    id: u16,
    addr: u64,
    len: u32,
    flags: u16,
) {
    let slot = usize::from(ring.avail_idx) % N;
    // SAFETY: `q` is a queue in the lent memory; `id < N` and `slot < N` index it; the
    // device does not read descriptor `id` until it is on the ring (the fence).
    unsafe {
        let desc = &raw mut (*q).desc[usize::from(id)];
        desc.write_volatile(Descriptor {
            addr,
            len,
            flags,
            next: 0,
        });
        (&raw mut (*q).avail.ring[slot]).write_volatile(id);
        fence(Ordering::SeqCst);
        ring.avail_idx = ring.avail_idx.wrapping_add(1);
        (&raw mut (*q).avail.idx).write_volatile(ring.avail_idx);
    }
    ring.lent[usize::from(id)] = true;
}

/// The spec's initialization up to (not including) DRIVER_OK: the MAC address in use.
fn start<R: Registers, const QUEUE: usize, const BUF: usize>(
    regs: &mut R,
    mem: NonNull<VirtioNetMemory<QUEUE, BUF>>,
    fallback: EthernetAddress,
) -> Result<EthernetAddress, InitError> {
    let magic = regs.read(reg::MAGIC);
    if magic != MAGIC_VALUE {
        return Err(InitError::NotFound { magic });
    }
    let version = regs.read(reg::VERSION);
    if version != 2 {
        return Err(InitError::Legacy { version });
    }
    match regs.read(reg::DEVICE_ID) {
        NET_DEVICE => {}
        0 => return Err(InitError::NotFound { magic }),
        device_id => return Err(InitError::WrongDevice { device_id }),
    }
    regs.write(reg::STATUS, 0);
    if !(0..SPINS).any(|_| regs.read(reg::STATUS) == 0) {
        return Err(InitError::Timeout);
    }
    regs.write(reg::STATUS, status::ACKNOWLEDGE);
    regs.write(reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    let mut offered = 0u64;
    for half in 0..2 {
        regs.write(reg::DEVICE_FEATURES_SEL, half);
        offered |= u64::from(regs.read(reg::DEVICE_FEATURES)) << (32 * half);
    }
    if offered & feature::VERSION_1 == 0 {
        return Err(InitError::FeaturesRejected);
    }
    let accepted = offered & (feature::VERSION_1 | feature::MAC);
    for half in 0..2 {
        regs.write(reg::DRIVER_FEATURES_SEL, half);
        regs.write(reg::DRIVER_FEATURES, (accepted >> (32 * half)) as u32);
    }
    regs.write(reg::STATUS, DRIVER_READY);
    if regs.read(reg::STATUS) & status::FEATURES_OK == 0 {
        return Err(InitError::FeaturesRejected);
    }
    let mem = mem.as_ptr();
    // SAFETY: places in the lent memory; nothing is read or written here.
    let queues = unsafe {
        [
            (RX_QUEUE, &raw mut (*mem).rx),
            (TX_QUEUE, &raw mut (*mem).tx),
        ]
    };
    for (queue, q) in queues {
        regs.write(reg::QUEUE_SEL, queue);
        let max = regs.read(reg::QUEUE_NUM_MAX);
        if regs.read(reg::QUEUE_READY) != 0 || (max as usize) < QUEUE {
            return Err(InitError::Queue { queue, max });
        }
        regs.write(reg::QUEUE_NUM, QUEUE as u32);
        // SAFETY: places only.
        let (desc, avail, used) =
            unsafe { (&raw mut (*q).desc, &raw mut (*q).avail, &raw mut (*q).used) };
        for (low, addr) in [
            (reg::QUEUE_DESC_LOW, desc as usize as u64),
            (reg::QUEUE_DRIVER_LOW, avail as usize as u64),
            (reg::QUEUE_DEVICE_LOW, used as usize as u64),
        ] {
            regs.write(low, addr as u32);
            regs.write(low + 4, (addr >> 32) as u32);
        }
        regs.write(reg::QUEUE_READY, 1);
    }
    if accepted & feature::MAC == 0 {
        return Ok(fallback);
    }
    // The configuration space may change while it is read: read until the generation
    // stands still (bounded; a device that never settles gets the last reading).
    let mut mac = [0u8; 6];
    for _ in 0..8 {
        let generation = regs.read(reg::CONFIG_GENERATION);
        let low = regs.read(reg::CONFIG).to_le_bytes();
        let high = regs.read(reg::CONFIG + 4).to_le_bytes();
        mac = [low[0], low[1], low[2], low[3], high[0], high[1]];
        if regs.read(reg::CONFIG_GENERATION) == generation {
            break;
        }
    }
    Ok(EthernetAddress(mac))
}

impl<R: Registers, const QUEUE: usize, const BUF: usize> Drop for VirtioNet<R, QUEUE, BUF> {
    /// Reset the device: it stops touching the memory.
    fn drop(&mut self) {
        self.regs.write(reg::STATUS, 0);
    }
}

impl<R: Registers, const QUEUE: usize, const BUF: usize> Device for VirtioNet<R, QUEUE, BUF> {
    type RxToken<'b>
        = Rx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = Tx<'b, R, QUEUE, BUF>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_, R, QUEUE, BUF>)> {
        if self.broken {
            return None;
        }
        self.return_held();
        let tx_id = self.free_tx();
        if tx_id.is_none() {
            self.stats.tx_full += 1;
        }
        let tx_id = tx_id?;
        let (id, len) = loop {
            let (id, len) = self.take_used(true)?;
            let len = len as usize;
            if (HEADER..=BUF).contains(&len) {
                break (id, len);
            }
            self.stats.rx_oversize += 1;
            self.give_rx(id);
            self.notify(RX_QUEUE);
        };
        self.rx_held = Some(id);
        self.stats.received += 1;
        // SAFETY: buffer `id` came back from the device and stays out of its hands until
        // the next `receive` or `transmit`, which the token's borrow of `self` excludes;
        // `len <= BUF`.
        let frame =
            unsafe { core::slice::from_raw_parts(self.buffer(true, id).add(HEADER), len - HEADER) };
        Some((Rx { frame }, self.tx_token(tx_id)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_, R, QUEUE, BUF>> {
        if self.broken {
            return None;
        }
        self.return_held();
        let Some(id) = self.free_tx() else {
            self.stats.tx_full += 1;
            return None;
        };
        Some(self.tx_token(id))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = BUF - HEADER;
        caps
    }
}

#[doc(hidden)]
pub struct Rx<'b> {
    frame: &'b [u8],
}

impl phy::RxToken for Rx<'_> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        f(self.frame)
    }
}

#[doc(hidden)]
pub struct Tx<'b, R: Registers, const QUEUE: usize, const BUF: usize> {
    regs: &'b mut R,
    queue: *mut Queue<QUEUE>,
    /// Transmit buffer `id` (`BUF` bytes), which the device does not hold.
    buffer: *mut u8,
    ring: &'b mut Ring<QUEUE>,
    stats: &'b mut VirtioNetStats,
    id: u16,
}

impl<R: Registers, const QUEUE: usize, const BUF: usize> phy::TxToken for Tx<'_, R, QUEUE, BUF> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let len = HEADER + len.min(BUF - HEADER);
        // SAFETY: `buffer` is transmit buffer `id`, `BUF` bytes the device does not hold
        // (`id` is not lent) and that no other token can reach (this one borrows the
        // driver); `len <= BUF`.
        let bytes = unsafe { core::slice::from_raw_parts_mut(self.buffer, len) };
        let (header, frame) = bytes.split_at_mut(HEADER);
        header.fill(0);
        let result = f(frame);
        send(self.regs, self.queue, self.ring, self.id, self.buffer, len);
        self.stats.sent += 1;
        result
    }
}

/// Lend transmit buffer `id` (`len` bytes at `buffer`) to the device and tell it.
///
/// Out of [`Tx::consume`], which is compiled once per caller's closure: the ring code is
/// then in flash once.
#[inline(never)]
fn send<R: Registers, const N: usize>(
    regs: &mut R,
    q: *mut Queue<N>,
    ring: &mut Ring<N>,
    id: u16,
    buffer: *mut u8,
    len: usize,
) {
    offer(q, ring, id, buffer as usize as u64, len as u32, 0);
    notify(regs, q, TX_QUEUE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use phy::{RxToken, TxToken};
    use std::boxed::Box;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::vec;
    use std::vec::Vec;

    /// The device side of one queue: where the driver put it, and how far the device got.
    #[derive(Default, Clone, Copy)]
    struct FakeQueue {
        num_max: u32,
        num: u32,
        ready: u32,
        desc: u64,
        driver: u64,
        device: u64,
        last_avail: u16,
        used_idx: u16,
    }

    /// A virtio-mmio network card at register level, and the device half of the split
    /// virtqueue: it reads the driver's descriptors and available ring in the driver's
    /// memory, and writes buffers and the used ring, as QEMU does.
    struct Fake {
        magic: u32,
        version: u32,
        device_id: u32,
        features: u64,
        features_sel: u32,
        driver_features: u64,
        driver_features_sel: u32,
        accepts_features: bool,
        resets: bool,
        status: u32,
        queue_sel: u32,
        queues: [FakeQueue; 2],
        interrupt_status: u32,
        notified: [u32; 2],
        mac: [u8; 6],
        writes: u32,
    }

    #[derive(Clone)]
    struct Regs(Rc<RefCell<Fake>>);

    fn rd16(addr: u64) -> u16 {
        // SAFETY: an address the driver gave the device, in memory the test keeps alive.
        unsafe { (addr as usize as *const u16).read_volatile() }
    }
    fn rd32(addr: u64) -> u32 {
        // SAFETY: as above.
        unsafe { (addr as usize as *const u32).read_volatile() }
    }
    fn rd64(addr: u64) -> u64 {
        // SAFETY: as above.
        unsafe { (addr as usize as *const u64).read_volatile() }
    }
    fn wr16(addr: u64, v: u16) {
        // SAFETY: as above.
        unsafe { (addr as usize as *mut u16).write_volatile(v) }
    }
    fn wr32(addr: u64, v: u32) {
        // SAFETY: as above.
        unsafe { (addr as usize as *mut u32).write_volatile(v) }
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                magic: MAGIC_VALUE,
                version: 2,
                device_id: NET_DEVICE,
                // Also mergeable buffers (15) and checksum offload (0): not for this driver.
                features: feature::VERSION_1 | feature::MAC | 1 << 15 | 1,
                features_sel: 0,
                driver_features: 0,
                driver_features_sel: 0,
                accepts_features: true,
                resets: true,
                status: 0,
                queue_sel: 0,
                queues: [FakeQueue {
                    num_max: 256,
                    ..FakeQueue::default()
                }; 2],
                interrupt_status: 0,
                notified: [0; 2],
                mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
                writes: 0,
            }
        }

        fn reset(&mut self) {
            self.status = 0;
            self.driver_features = 0;
            self.interrupt_status = 0;
            for q in &mut self.queues {
                *q = FakeQueue {
                    num_max: q.num_max,
                    ..FakeQueue::default()
                };
            }
        }

        fn queue(&mut self) -> Option<&mut FakeQueue> {
            self.queues.get_mut(self.queue_sel as usize)
        }

        fn live(&self, q: usize) -> bool {
            self.status & status::DRIVER_OK != 0 && self.queues[q].ready == 1
        }

        /// The next descriptor the driver made available on queue `q`: (id, addr, len, flags).
        fn pop_avail(&mut self, q: usize) -> Option<(u16, u64, u32, u16)> {
            if !self.live(q) {
                return None;
            }
            let fq = &mut self.queues[q];
            if rd16(fq.driver + 2) == fq.last_avail {
                return None;
            }
            let slot = u64::from(fq.last_avail) % u64::from(fq.num);
            let id = rd16(fq.driver + 4 + 2 * slot);
            fq.last_avail = fq.last_avail.wrapping_add(1);
            let d = fq.desc + 16 * u64::from(id);
            Some((id, rd64(d), rd32(d + 8), rd16(d + 12)))
        }

        fn push_used(&mut self, q: usize, id: u32, len: u32) {
            let fq = &mut self.queues[q];
            let slot = u64::from(fq.used_idx) % u64::from(fq.num);
            wr32(fq.device + 4 + 8 * slot, id);
            wr32(fq.device + 8 + 8 * slot, len);
            fq.used_idx = fq.used_idx.wrapping_add(1);
            wr16(fq.device + 2, fq.used_idx);
            self.interrupt_status |= 1;
        }

        /// Receive `frame` from the wire into the next receive buffer, writing as much as
        /// fits and reporting the full length, as a careless device would.
        fn deliver(&mut self, frame: &[u8]) -> bool {
            let Some((id, addr, len, flags)) = self.pop_avail(0) else {
                return false;
            };
            assert_eq!(
                flags, DESC_F_WRITE,
                "a receive buffer must be device-writable"
            );
            let mut bytes = vec![0u8; HEADER];
            bytes[10] = 1; // num_buffers
            bytes.extend_from_slice(frame);
            let n = bytes.len().min(len as usize);
            // SAFETY: the driver lent `len` bytes at `addr`.
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as usize as *mut u8, n) };
            self.push_used(0, u32::from(id), bytes.len() as u32);
            true
        }

        /// Every frame the driver queued for sending, taken off the wire: (header, frame).
        fn take_sent(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut out = Vec::new();
            while let Some((id, addr, len, flags)) = self.pop_avail(1) {
                assert_eq!(flags, 0, "a transmit buffer is read by the device");
                let mut bytes = vec![0u8; len as usize];
                // SAFETY: the driver lent `len` bytes at `addr`.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        addr as usize as *const u8,
                        bytes.as_mut_ptr(),
                        bytes.len(),
                    )
                };
                let frame = bytes.split_off(HEADER);
                out.push((bytes, frame));
                self.push_used(1, u32::from(id), 0);
            }
            out
        }
    }

    impl Registers for Regs {
        fn read(&mut self, offset: usize) -> u32 {
            let mut f = self.0.borrow_mut();
            let sel = f.queue_sel as usize;
            match offset {
                reg::MAGIC => f.magic,
                reg::VERSION => f.version,
                reg::DEVICE_ID => f.device_id,
                reg::DEVICE_FEATURES => match f.features_sel {
                    0 => f.features as u32,
                    1 => (f.features >> 32) as u32,
                    _ => 0,
                },
                reg::QUEUE_NUM_MAX => f.queue().map_or(0, |q| q.num_max),
                reg::QUEUE_READY => f.queue().map_or(0, |q| q.ready),
                reg::INTERRUPT_STATUS => f.interrupt_status,
                reg::STATUS => f.status,
                reg::CONFIG_GENERATION => 0,
                reg::CONFIG => u32::from_le_bytes([f.mac[0], f.mac[1], f.mac[2], f.mac[3]]),
                o if o == reg::CONFIG + 4 => u32::from_le_bytes([f.mac[4], f.mac[5], 0, 0]),
                _ => {
                    let _ = sel;
                    0
                }
            }
        }

        fn write(&mut self, offset: usize, value: u32) {
            let mut f = self.0.borrow_mut();
            f.writes += 1;
            let high = |old: u64| old & 0xffff_ffff | u64::from(value) << 32;
            let low = |old: u64| old & !0xffff_ffff | u64::from(value);
            match offset {
                reg::DEVICE_FEATURES_SEL => f.features_sel = value,
                reg::DRIVER_FEATURES_SEL => f.driver_features_sel = value,
                reg::DRIVER_FEATURES => match f.driver_features_sel {
                    0 => f.driver_features = low(f.driver_features),
                    1 => f.driver_features = high(f.driver_features),
                    _ => {}
                },
                reg::QUEUE_SEL => f.queue_sel = value,
                reg::QUEUE_NUM => {
                    if let Some(q) = f.queue() {
                        q.num = value
                    }
                }
                reg::QUEUE_READY => {
                    if let Some(q) = f.queue() {
                        q.ready = value
                    }
                }
                reg::QUEUE_DESC_LOW => {
                    f.queue().unwrap().desc = low(f.queues[f.queue_sel as usize].desc)
                }
                reg::QUEUE_DESC_HIGH => {
                    f.queue().unwrap().desc = high(f.queues[f.queue_sel as usize].desc)
                }
                reg::QUEUE_DRIVER_LOW => {
                    f.queue().unwrap().driver = low(f.queues[f.queue_sel as usize].driver)
                }
                reg::QUEUE_DRIVER_HIGH => {
                    f.queue().unwrap().driver = high(f.queues[f.queue_sel as usize].driver)
                }
                reg::QUEUE_DEVICE_LOW => {
                    f.queue().unwrap().device = low(f.queues[f.queue_sel as usize].device)
                }
                reg::QUEUE_DEVICE_HIGH => {
                    f.queue().unwrap().device = high(f.queues[f.queue_sel as usize].device)
                }
                reg::QUEUE_NOTIFY => {
                    if let Some(n) = f.notified.get_mut(value as usize) {
                        *n += 1
                    }
                }
                reg::INTERRUPT_ACK => f.interrupt_status &= !value,
                reg::STATUS => {
                    if value == 0 {
                        if f.resets {
                            f.reset();
                        }
                    } else if f.accepts_features && f.driver_features & !f.features == 0 {
                        f.status = value;
                    } else {
                        f.status = value & !status::FEATURES_OK;
                    }
                }
                _ => {}
            }
        }
    }

    type Small = VirtioNet<Regs, 4, 128>;
    type SmallMemory = VirtioNetMemory<4, 128>;

    /// Memory for one driver, leaked as the driver's `'static` wants (about 1.3 KB).
    fn memory() -> &'static mut SmallMemory {
        VirtioNetMemory::init(Box::leak(Box::new_uninit()))
    }

    fn fake() -> (Rc<RefCell<Fake>>, Regs) {
        let fake = Rc::new(RefCell::new(Fake::new()));
        (fake.clone(), Regs(fake))
    }

    const FALLBACK: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
    const T0: Instant = Instant::ZERO;

    fn frame(n: usize, len: usize) -> Vec<u8> {
        (0..len).map(|i| (n.wrapping_mul(31) + i) as u8).collect()
    }

    fn recv(nic: &mut Small) -> Option<Vec<u8>> {
        let (rx, _tx) = nic.receive(T0)?;
        Some(rx.consume(|f| f.to_vec()))
    }

    fn send(nic: &mut Small, bytes: &[u8]) -> bool {
        match nic.transmit(T0) {
            Some(tx) => {
                tx.consume(bytes.len(), |b| b.copy_from_slice(bytes));
                true
            }
            None => false,
        }
    }

    #[test]
    fn negotiates_version_1_and_mac_only_and_offers_every_receive_buffer() {
        let (fake, regs) = fake();
        let nic = Small::new(regs, memory(), FALLBACK).unwrap();
        let f = fake.borrow();
        assert_eq!(f.driver_features, feature::VERSION_1 | feature::MAC);
        assert_eq!(f.status, DRIVER_READY | status::DRIVER_OK);
        assert_eq!(nic.mac(), EthernetAddress(f.mac));
        for q in &f.queues {
            assert_eq!((q.num, q.ready), (4, 1));
            assert_eq!(q.desc % 16, 0);
            assert_eq!(q.driver % 2, 0);
            assert_eq!(q.device % 4, 0);
        }
        assert_eq!(
            rd16(f.queues[0].driver + 2),
            4,
            "every receive buffer on offer"
        );
        assert_eq!(rd16(f.queues[1].driver + 2), 0);
        assert_eq!(f.notified, [1, 0]);
        assert_eq!(nic.capabilities().max_transmission_unit, 128 - HEADER);
    }

    #[test]
    fn a_device_without_a_mac_gets_the_fallback() {
        let (fake, regs) = fake();
        fake.borrow_mut().features = feature::VERSION_1;
        let nic = Small::new(regs, memory(), FALLBACK).unwrap();
        assert_eq!(nic.mac(), FALLBACK);
        assert_eq!(fake.borrow().driver_features, feature::VERSION_1);
    }

    #[test]
    fn init_failures_are_errors_and_a_network_card_is_told() {
        type Case = (fn(&mut Fake), InitError, bool);
        let cases: [Case; 9] = [
            (
                |f| f.magic = 0x1234,
                InitError::NotFound { magic: 0x1234 },
                false,
            ),
            (
                |f| f.device_id = 0,
                InitError::NotFound { magic: MAGIC_VALUE },
                false,
            ),
            (|f| f.version = 1, InitError::Legacy { version: 1 }, false),
            (
                |f| f.device_id = 2,
                InitError::WrongDevice { device_id: 2 },
                false,
            ),
            (
                |f| f.features = feature::MAC,
                InitError::FeaturesRejected,
                true,
            ),
            (
                |f| f.accepts_features = false,
                InitError::FeaturesRejected,
                true,
            ),
            (
                |f| f.queues[1].num_max = 2,
                InitError::Queue { queue: 1, max: 2 },
                true,
            ),
            (
                |f| f.queues[0].num_max = 0,
                InitError::Queue { queue: 0, max: 0 },
                true,
            ),
            (|f| f.resets = false, InitError::Timeout, true),
        ];
        for (break_it, want, told) in cases {
            let (fake, regs) = fake();
            // A device that does not reset is caught mid-run.
            fake.borrow_mut().status = status::DRIVER_OK;
            break_it(&mut fake.borrow_mut());
            let got = Small::new(regs, memory(), FALLBACK).err();
            assert_eq!(got, Some(want));
            let f = fake.borrow();
            assert_eq!(f.status & status::FAILED != 0, told, "{want:?}");
            if !told {
                assert_eq!(f.writes, 0, "{want:?}: nothing written to a stranger");
            }
        }
    }

    #[test]
    fn a_queue_already_in_use_is_refused() {
        let (fake, regs) = fake();
        fake.borrow_mut().status = 0;
        fake.borrow_mut().queues[0].ready = 1;
        fake.borrow_mut().resets = false;
        let err = Small::new(regs, memory(), FALLBACK).err();
        assert_eq!(err, Some(InitError::Queue { queue: 0, max: 256 }));
    }

    #[test]
    fn garbage_registers_are_not_a_device() {
        struct Floating;
        impl Registers for Floating {
            fn read(&mut self, _: usize) -> u32 {
                u32::MAX
            }
            fn write(&mut self, _: usize, _: u32) {
                panic!("wrote to a bus with nothing on it");
            }
        }
        let got = VirtioNet::new(Floating, memory(), FALLBACK).err();
        assert_eq!(got, Some(InitError::NotFound { magic: u32::MAX }));
    }

    #[test]
    fn frames_both_ways_with_a_zero_header() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        assert_eq!(recv(&mut nic), None);
        assert!(fake.borrow_mut().deliver(&frame(1, 60)));
        assert_eq!(recv(&mut nic), Some(frame(1, 60)));
        assert_eq!(recv(&mut nic), None);
        assert!(send(&mut nic, &frame(2, 116)));
        let sent = fake.borrow_mut().take_sent();
        assert_eq!(sent, vec![(vec![0; HEADER], frame(2, 116))]);
        // A frame longer than the buffer is cut to it (smoltcp never asks: the MTU).
        assert!(send(&mut nic, &frame(3, 116)));
        let tx = nic.transmit(T0).unwrap();
        tx.consume(500, |b| assert_eq!(b.len(), 128 - HEADER));
        assert_eq!(fake.borrow_mut().take_sent().len(), 2);
        let stats = nic.stats();
        assert_eq!((stats.received, stats.sent, stats.device_errors), (1, 3, 0));
        assert_eq!(fake.borrow().notified[1], 3);
    }

    #[test]
    fn rings_wrap_around_positions_and_16_bit_indices() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        // 70 000 frames each way: past 65 536, so the u16 ring indices wrap too. The
        // device drains its transmit ring only every third frame and delivers in bursts
        // of up to three, so the driver meets full and partly full rings.
        let (mut got, mut sent) = (0usize, Vec::new());
        let mut next = 0usize;
        while got < 70_000 {
            for _ in 0..(next % 3 + 1) {
                if fake.borrow_mut().deliver(&frame(next, 60 + next % 50)) {
                    next += 1;
                }
            }
            while let Some(f) = recv(&mut nic) {
                assert_eq!(f, frame(got, 60 + got % 50), "frame {got}");
                got += 1;
                assert!(send(&mut nic, &f[..60]) || got % 3 != 0);
            }
            if got % 3 == 0 {
                sent.extend(fake.borrow_mut().take_sent());
            }
        }
        sent.extend(fake.borrow_mut().take_sent());
        assert!(sent.len() > 60_000, "{}", sent.len());
        let stats = nic.stats();
        assert_eq!(stats.received, 70_000);
        assert_eq!(stats.sent, sent.len() as u64);
        assert_eq!((stats.rx_oversize, stats.device_errors), (0, 0));
        assert!(!nic.is_broken());
        assert_eq!(fake.borrow().queues[0].used_idx, (70_000 % 65_536) as u16);
    }

    #[test]
    fn a_frame_larger_than_the_buffer_is_dropped_and_the_buffer_reused() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        // Ten times the queue's length: each buffer must come back to the device.
        for n in 0..40 {
            assert!(
                fake.borrow_mut().deliver(&frame(n, 1514)),
                "buffer {n} given back"
            );
            assert_eq!(recv(&mut nic), None);
        }
        // A device that reports fewer bytes than the header.
        let id = fake.borrow_mut().pop_avail(0).unwrap().0;
        fake.borrow_mut().push_used(0, u32::from(id), 3);
        assert_eq!(recv(&mut nic), None);
        assert!(fake.borrow_mut().deliver(&frame(7, 116)));
        assert_eq!(recv(&mut nic), Some(frame(7, 116)));
        assert_eq!(nic.stats().rx_oversize, 41);
        assert_eq!(nic.stats().received, 1);
    }

    #[test]
    fn a_full_transmit_ring_holds_frames_in_the_device() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        for n in 0..4 {
            assert!(send(&mut nic, &frame(n, 60)));
        }
        assert!(!send(&mut nic, &frame(4, 60)));
        assert!(fake.borrow_mut().deliver(&frame(5, 60)));
        assert_eq!(recv(&mut nic), None, "no token to answer with: wait");
        assert_eq!(nic.stats().tx_full, 2);
        // A token taken and dropped unused gives its buffer back.
        assert_eq!(fake.borrow_mut().take_sent().len(), 4);
        let _unused = nic.transmit(T0).unwrap();
        assert_eq!(recv(&mut nic), Some(frame(5, 60)));
        for n in 0..4 {
            assert!(send(&mut nic, &frame(n, 60)));
        }
        assert!(!send(&mut nic, &frame(4, 60)));
    }

    #[test]
    fn a_device_that_names_strange_descriptors_is_skipped() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        // An id out of range, and one (transmit 2) the driver never lent.
        fake.borrow_mut().push_used(0, 99, 70);
        fake.borrow_mut().push_used(1, 2, 0);
        fake.borrow_mut().push_used(0, u32::MAX, 70);
        assert!(fake.borrow_mut().deliver(&frame(1, 60)));
        assert_eq!(recv(&mut nic), Some(frame(1, 60)));
        assert!(send(&mut nic, &frame(2, 60)));
        assert_eq!(nic.stats().device_errors, 3);
        // A transmit buffer given back twice: the second time it is not lent.
        assert_eq!(fake.borrow_mut().take_sent().len(), 1);
        fake.borrow_mut().push_used(1, 0, 0);
        let _unused = nic.transmit(T0);
        assert!(send(&mut nic, &frame(3, 60)));
        assert_eq!(nic.stats().device_errors, 4);
        assert_eq!(fake.borrow_mut().take_sent().len(), 1);
        assert!(!nic.is_broken());
    }

    #[test]
    fn a_device_that_loses_count_turns_the_driver_off() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        {
            let mut f = fake.borrow_mut();
            let used = f.queues[0].device;
            f.queues[0].used_idx = 1000;
            wr16(used + 2, 1000);
        }
        assert_eq!(recv(&mut nic), None);
        assert!(nic.is_broken());
        assert!(nic.transmit(T0).is_none());
        assert!(!fake.borrow_mut().deliver(&frame(1, 60)) || recv(&mut nic).is_none());
    }

    #[test]
    fn a_device_that_asks_for_a_reset_turns_the_driver_off() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        assert!(fake.borrow_mut().deliver(&frame(1, 60)));
        nic.ack_interrupts();
        assert_eq!(fake.borrow().interrupt_status, 0, "acknowledged");
        assert!(!nic.is_broken());
        {
            let mut f = fake.borrow_mut();
            f.status |= status::DEVICE_NEEDS_RESET;
            f.interrupt_status |= 2;
        }
        nic.ack_interrupts();
        assert!(nic.is_broken());
        assert_eq!(recv(&mut nic), None);
    }

    #[test]
    fn a_device_that_resets_itself_goes_quiet_without_a_panic() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        assert!(send(&mut nic, &frame(0, 60)));
        fake.borrow_mut().reset();
        assert!(!fake.borrow_mut().deliver(&frame(1, 60)));
        assert_eq!(recv(&mut nic), None);
        for n in 1..4 {
            assert!(send(&mut nic, &frame(n, 60)));
        }
        assert!(!send(&mut nic, &frame(4, 60)));
        assert_eq!(fake.borrow_mut().take_sent(), Vec::new());
    }

    #[test]
    fn dropping_the_driver_resets_the_device() {
        let (fake, regs) = fake();
        let nic = Small::new(regs, memory(), FALLBACK).unwrap();
        drop(nic);
        let f = fake.borrow();
        assert_eq!(f.status, 0);
        assert_eq!(f.queues[0].ready, 0);
    }

    #[test]
    fn a_device_that_wants_no_notifications_gets_none() {
        let (fake, regs) = fake();
        let mut nic = Small::new(regs, memory(), FALLBACK).unwrap();
        let used = fake.borrow().queues[1].device;
        wr16(used, USED_F_NO_NOTIFY);
        assert!(send(&mut nic, &frame(0, 60)));
        assert_eq!(fake.borrow().notified[1], 0);
        assert_eq!(fake.borrow_mut().take_sent().len(), 1);
    }
}
