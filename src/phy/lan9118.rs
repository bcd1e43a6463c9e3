//! A driver for the SMSC LAN9118 Ethernet controller, as an smoltcp [`Device`] (feature
//! `lan9118`).
//!
//! The LAN9118 is the MAC+PHY on Arm's MPS2 boards, which QEMU emulates (`mps2-an385`,
//! `mps2-an386`, at `0x4020_0000`). On a desktop the kernel's driver moves frames between
//! the card and socket buffers; here this module is the whole driver: frames go straight
//! between the chip's FIFOs and smoltcp, one 32-bit word at a time, whenever the stack
//! polls. The chip's RX interrupt is only a wake-up: firmware that sleeps (`wfi`) enables
//! it ([`Lan9118::enable_rx_interrupt`]) and acknowledges it before each drain
//! ([`Lan9118::ack_interrupts`]); no work is done in the interrupt handler.
//!
//! * **Registers.** All access goes through the [`Registers`] trait (`read(offset)`,
//!   `write(offset, value)`), so the same driver runs on memory-mapped hardware
//!   ([`Mmio`]) and, in the host tests, on a register-level fake.
//! * **Init** checks BYTE_TEST (`0x8765_4321`) and ID_REV (`0x0118_xxxx`) and fails with
//!   [`InitError`] if the chip is absent or another one, soft-resets, waits for READY,
//!   programs the MAC address through the MAC CSR window, and enables TX and RX.
//! * **Receive** reads one status word per frame; a frame flagged in error, or larger than
//!   the driver's buffer, is drained from the FIFO and counted, never handed to smoltcp.
//! * **Transmit** writes TX command A and B, then the frame as little-endian words; if the
//!   TX FIFO has no room the frame is dropped and counted. TX status words are drained.
//!
//! * **Interrupt.** [`Lan9118::enable_rx_interrupt`] routes "RX status FIFO not empty"
//!   to the IRQ pin; [`Lan9118::ack_interrupts`] clears it.
//!
//! Memory: one receive and one transmit buffer of `FRAME` bytes each, inside the driver.

use core::fmt;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;

/// Register offsets from the chip's base address.
pub mod reg {
    /// RX data FIFO.
    pub const RX_DATA: usize = 0x00;
    /// TX data FIFO.
    pub const TX_DATA: usize = 0x20;
    /// RX status FIFO.
    pub const RX_STATUS: usize = 0x40;
    /// TX status FIFO.
    pub const TX_STATUS: usize = 0x48;
    /// Chip ID and revision.
    pub const ID_REV: usize = 0x50;
    /// Interrupt status.
    pub const INT_STS: usize = 0x58;
    /// Interrupt configuration (IRQ pin enable, polarity, type).
    pub const IRQ_CFG: usize = 0x54;
    /// Interrupt enable.
    pub const INT_EN: usize = 0x5c;
    /// Byte order test.
    pub const BYTE_TEST: usize = 0x64;
    /// Receive configuration.
    pub const RX_CFG: usize = 0x6c;
    /// Transmit configuration.
    pub const TX_CFG: usize = 0x70;
    /// Hardware configuration.
    pub const HW_CFG: usize = 0x74;
    /// RX FIFO information.
    pub const RX_FIFO_INF: usize = 0x7c;
    /// TX FIFO information.
    pub const TX_FIFO_INF: usize = 0x80;
    /// Power management control.
    pub const PMT_CTRL: usize = 0x84;
    /// Free-running 25 MHz counter.
    pub const FREE_RUN: usize = 0x9c;
    /// MAC CSR command.
    pub const MAC_CSR_CMD: usize = 0xa4;
    /// MAC CSR data.
    pub const MAC_CSR_DATA: usize = 0xa8;
}

/// MAC CSR indices (through `MAC_CSR_CMD`).
pub mod mac {
    /// MAC control.
    pub const MAC_CR: u32 = 1;
    /// Address, high 16 bits.
    pub const ADDRH: u32 = 2;
    /// Address, low 32 bits.
    pub const ADDRL: u32 = 3;
    /// MAC_CR: receiver enable.
    pub const RXEN: u32 = 1 << 2;
    /// MAC_CR: transmitter enable.
    pub const TXEN: u32 = 1 << 3;
    /// MAC_CR: full duplex.
    pub const FDPX: u32 = 1 << 20;
}

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_READY: u32 = 1;
const TX_CFG_TX_ON: u32 = 1 << 1;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;
const RX_STATUS_ERROR: u32 = 1 << 15;
/// IRQ_CFG: the IRQ pin is enabled, active high, push-pull.
const IRQ_CFG_ON: u32 = 1 << 8 | 1 << 4 | 1;
/// INT_STS / INT_EN: the RX status FIFO holds a frame.
const INT_RSFL: u32 = 1 << 3;
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;
/// Polls before a wait for the chip is declared lost.
const SPINS: u32 = 100_000;

pub use super::mmio::{Mmio, Registers};

/// Why [`Lan9118::new`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// BYTE_TEST did not read `0x87654321`: no chip there, or wrong bus width/endianness.
    NotFound {
        /// What BYTE_TEST read.
        byte_test: u32,
    },
    /// A chip answered, but its ID is not a LAN9118's.
    WrongChip {
        /// What ID_REV read.
        id_rev: u32,
    },
    /// The chip did not come out of reset, or a MAC CSR access never completed.
    Timeout,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::NotFound { byte_test } => write!(
                f,
                "no LAN9118 found: BYTE_TEST reads {byte_test:#010x}, not 0x87654321"
            ),
            InitError::WrongChip { id_rev } => {
                write!(f, "not a LAN9118: ID_REV reads {id_rev:#010x}")
            }
            InitError::Timeout => write!(f, "the LAN9118 did not answer in time"),
        }
    }
}

impl core::error::Error for InitError {}

/// Counters of the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lan9118Stats {
    /// Frames handed to smoltcp.
    pub received: u64,
    /// Frames the chip flagged in error, drained and dropped.
    pub rx_errors: u64,
    /// Frames larger than the driver's buffer, drained and dropped.
    pub rx_oversize: u64,
    /// Frames written to the chip.
    pub sent: u64,
    /// Frames dropped because the TX FIFO had no room.
    pub tx_full: u64,
}

/// The driver: registers `R`, frames of at most `FRAME` bytes (FCS excluded).
pub struct Lan9118<R: Registers, const FRAME: usize = 1514> {
    regs: R,
    rx: [u8; FRAME],
    tx: [u8; FRAME],
    stats: Lan9118Stats,
}

impl<R: Registers, const FRAME: usize> Lan9118<R, FRAME> {
    /// Check the chip, reset it, set its MAC address, enable TX and RX.
    ///
    /// The driver holds two `FRAME`-byte buffers and is returned by value; on a small
    /// call stack build it in place with [`init`](Self::init) instead.
    pub fn new(regs: R, mac_addr: EthernetAddress) -> Result<Self, InitError> {
        let regs = Self::start(regs, mac_addr)?;
        Ok(Lan9118 {
            regs,
            rx: [0; FRAME],
            tx: [0; FRAME],
            stats: Lan9118Stats::default(),
        })
    }

    /// [`new`](Self::new), building the driver where it lies (a `static`), so its
    /// buffers never pass through the call stack.
    pub fn init(
        slot: &mut core::mem::MaybeUninit<Self>,
        regs: R,
        mac_addr: EthernetAddress,
    ) -> Result<&mut Self, InitError> {
        let regs = Self::start(regs, mac_addr)?;
        let this = slot.as_mut_ptr();
        // SAFETY: every field is written before the reference is made; the buffers are
        // byte arrays, for which all-zero is a value.
        unsafe {
            core::ptr::addr_of_mut!((*this).regs).write(regs);
            core::ptr::addr_of_mut!((*this).rx).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).tx).write_bytes(0, 1);
            core::ptr::addr_of_mut!((*this).stats).write(Lan9118Stats::default());
            Ok(slot.assume_init_mut())
        }
    }

    /// The chip checks and set-up shared by [`new`](Self::new) and [`init`](Self::init).
    fn start(mut regs: R, mac_addr: EthernetAddress) -> Result<R, InitError> {
        let byte_test = regs.read(reg::BYTE_TEST);
        if byte_test != BYTE_TEST_VALUE {
            return Err(InitError::NotFound { byte_test });
        }
        let id_rev = regs.read(reg::ID_REV);
        if id_rev >> 16 != 0x0118 {
            return Err(InitError::WrongChip { id_rev });
        }
        regs.write(reg::HW_CFG, HW_CFG_SRST);
        wait(&mut regs, reg::HW_CFG, HW_CFG_SRST, 0)?;
        wait(&mut regs, reg::PMT_CTRL, PMT_READY, PMT_READY)?;
        let m = mac_addr.0;
        csr_write(
            &mut regs,
            mac::ADDRH,
            u32::from(m[4]) | u32::from(m[5]) << 8,
        )?;
        csr_write(
            &mut regs,
            mac::ADDRL,
            u32::from_le_bytes([m[0], m[1], m[2], m[3]]),
        )?;
        let cr = csr_read(&mut regs, mac::MAC_CR)?;
        csr_write(
            &mut regs,
            mac::MAC_CR,
            cr | mac::TXEN | mac::RXEN | mac::FDPX,
        )?;
        regs.write(reg::TX_CFG, TX_CFG_TX_ON);
        regs.write(reg::INT_STS, u32::MAX);
        Ok(regs)
    }

    /// The driver's counters.
    pub fn stats(&self) -> Lan9118Stats {
        self.stats
    }

    /// The chip's free-running 25 MHz counter (a clock for the stack).
    pub fn free_run(&mut self) -> u32 {
        self.regs.read(reg::FREE_RUN)
    }

    /// Raise the chip's IRQ line while a received frame waits in the RX FIFO, so a
    /// board can sleep (`wfi`) until a frame or a timer. The line stays up until
    /// [`ack_interrupts`](Self::ack_interrupts): ack *before* draining the FIFO, then a
    /// frame that lands after the drain raises it again and no wake-up is lost.
    pub fn enable_rx_interrupt(&mut self) {
        self.regs.write(reg::IRQ_CFG, IRQ_CFG_ON);
        self.regs.write(reg::INT_EN, INT_RSFL);
    }

    /// Clear every pending interrupt status bit (write-one-to-clear), dropping the IRQ
    /// line until the next event.
    pub fn ack_interrupts(&mut self) {
        self.regs.write(reg::INT_STS, u32::MAX);
    }

    /// The registers back.
    pub fn release(self) -> R {
        self.regs
    }

    /// Take the next good frame from the RX FIFO into `rx`; its length.
    fn next_frame(&mut self) -> Option<usize> {
        loop {
            let pending = (self.regs.read(reg::RX_FIFO_INF) >> 16) & 0xff;
            if pending == 0 {
                return None;
            }
            let status = self.regs.read(reg::RX_STATUS);
            let with_fcs = ((status >> 16) & 0x3fff) as usize;
            let words = with_fcs.div_ceil(4);
            let len = with_fcs.saturating_sub(4);
            if status & RX_STATUS_ERROR != 0 || len == 0 || len > FRAME {
                if status & RX_STATUS_ERROR != 0 {
                    self.stats.rx_errors += 1;
                } else {
                    self.stats.rx_oversize += 1;
                }
                for _ in 0..words {
                    self.regs.read(reg::RX_DATA);
                }
                continue;
            }
            for i in 0..words {
                let word = self.regs.read(reg::RX_DATA).to_le_bytes();
                for (j, byte) in word.iter().enumerate() {
                    if let Some(slot) = self.rx.get_mut(i * 4 + j) {
                        *slot = *byte;
                    }
                }
            }
            self.stats.received += 1;
            return Some(len);
        }
    }
}

fn wait<R: Registers>(regs: &mut R, offset: usize, mask: u32, want: u32) -> Result<(), InitError> {
    for _ in 0..SPINS {
        if regs.read(offset) & mask == want {
            return Ok(());
        }
    }
    Err(InitError::Timeout)
}

fn csr_wait<R: Registers>(regs: &mut R) -> Result<(), InitError> {
    wait(regs, reg::MAC_CSR_CMD, CSR_BUSY, 0)
}

fn csr_write<R: Registers>(regs: &mut R, index: u32, value: u32) -> Result<(), InitError> {
    csr_wait(regs)?;
    regs.write(reg::MAC_CSR_DATA, value);
    regs.write(reg::MAC_CSR_CMD, CSR_BUSY | index);
    csr_wait(regs)
}

fn csr_read<R: Registers>(regs: &mut R, index: u32) -> Result<u32, InitError> {
    csr_wait(regs)?;
    regs.write(reg::MAC_CSR_CMD, CSR_BUSY | CSR_READ | index);
    csr_wait(regs)?;
    Ok(regs.read(reg::MAC_CSR_DATA))
}

impl<R: Registers, const FRAME: usize> Device for Lan9118<R, FRAME> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a, R, FRAME>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_, R, FRAME>)> {
        let len = self.next_frame()?;
        let Lan9118 {
            regs,
            rx,
            tx,
            stats,
        } = self;
        Some((
            Rx { frame: &rx[..len] },
            Tx {
                regs,
                buffer: tx,
                stats,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_, R, FRAME>> {
        Some(Tx {
            regs: &mut self.regs,
            buffer: &mut self.tx,
            stats: &mut self.stats,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME;
        caps.max_burst_size = Some(1);
        caps
    }
}

#[doc(hidden)]
pub struct Rx<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for Rx<'_> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        f(self.frame)
    }
}

#[doc(hidden)]
pub struct Tx<'a, R: Registers, const FRAME: usize> {
    regs: &'a mut R,
    buffer: &'a mut [u8; FRAME],
    stats: &'a mut Lan9118Stats,
}

impl<R: Registers, const FRAME: usize> phy::TxToken for Tx<'_, R, FRAME> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let len = len.min(FRAME);
        let result = f(&mut self.buffer[..len]);
        push_frame(self.regs, &self.buffer[..len], self.stats);
        result
    }
}

/// Write `frame` into the TX FIFO (or count it as dropped when the FIFO is full).
///
/// Out of [`Tx::consume`], which is compiled once per caller's closure: the FIFO code is
/// then in flash once, not once per place smoltcp (or the gate) sends from.
#[inline(never)]
fn push_frame<R: Registers>(regs: &mut R, frame: &[u8], stats: &mut Lan9118Stats) {
    // Drain TX status words: one per frame sent, nothing to do with them.
    while (regs.read(reg::TX_FIFO_INF) >> 16) & 0xff != 0 {
        regs.read(reg::TX_STATUS);
    }
    let len = frame.len();
    let words = len.div_ceil(4);
    let free = (regs.read(reg::TX_FIFO_INF) & 0xffff) as usize;
    if free < words * 4 + 8 {
        stats.tx_full += 1;
        return;
    }
    regs.write(reg::TX_DATA, TX_CMD_A_FIRST | TX_CMD_A_LAST | len as u32);
    regs.write(reg::TX_DATA, (len as u32) << 16 | len as u32);
    for chunk in frame.chunks(4) {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        regs.write(reg::TX_DATA, u32::from_le_bytes(word));
    }
    stats.sent += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use phy::{RxToken, TxToken};
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// A LAN9118 at register level: FIFOs, the MAC CSR window, reset and READY.
    struct Fake {
        byte_test: u32,
        id_rev: u32,
        resetting: bool,
        csr: [u32; 16],
        csr_data: u32,
        rx_frames: VecDeque<(u32, Vec<u32>)>,
        rx_words: VecDeque<u32>,
        tx_words: Vec<u32>,
        tx_free: u32,
        tx_status: VecDeque<u32>,
        writes: Vec<(usize, u32)>,
        int_sts: u32,
        int_en: u32,
        irq_cfg: u32,
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                byte_test: BYTE_TEST_VALUE,
                id_rev: 0x0118_0001,
                resetting: false,
                csr: [0; 16],
                csr_data: 0,
                rx_frames: VecDeque::new(),
                rx_words: VecDeque::new(),
                tx_words: Vec::new(),
                tx_free: 4608,
                tx_status: VecDeque::new(),
                writes: Vec::new(),
                int_sts: 0,
                int_en: 0,
                irq_cfg: 0,
            }
        }

        /// Queue a received frame as the chip would: status word, then data with FCS.
        fn arrive(&mut self, frame: &[u8], error: bool) {
            let mut bytes = frame.to_vec();
            bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // FCS
            let status = ((bytes.len() as u32) << 16) | if error { RX_STATUS_ERROR } else { 0 };
            let words = bytes
                .chunks(4)
                .map(|c| {
                    let mut w = [0u8; 4];
                    w[..c.len()].copy_from_slice(c);
                    u32::from_le_bytes(w)
                })
                .collect();
            self.rx_frames.push_back((status, words));
            self.int_sts |= INT_RSFL;
        }

        /// The IRQ pin, as QEMU's model drives it.
        fn irq_line(&self) -> bool {
            self.int_sts & self.int_en != 0 && self.irq_cfg & (1 << 8) != 0
        }

        /// Frames written to the TX FIFO: (command A, command B, bytes).
        fn sent(&self) -> Vec<(u32, u32, Vec<u8>)> {
            let mut out = Vec::new();
            let mut words = self.tx_words.iter();
            while let (Some(&a), Some(&b)) = (words.next(), words.next()) {
                let len = (a & 0x7ff) as usize;
                let mut bytes = Vec::new();
                for _ in 0..len.div_ceil(4) {
                    bytes.extend_from_slice(&words.next().unwrap().to_le_bytes());
                }
                bytes.truncate(len);
                out.push((a, b, bytes));
            }
            out
        }
    }

    impl Registers for Fake {
        fn read(&mut self, offset: usize) -> u32 {
            match offset {
                reg::BYTE_TEST => self.byte_test,
                reg::ID_REV => self.id_rev,
                reg::HW_CFG => {
                    // The soft reset completes after it has been seen once.
                    let v = u32::from(self.resetting);
                    self.resetting = false;
                    v
                }
                reg::PMT_CTRL => PMT_READY,
                reg::MAC_CSR_CMD => 0,
                reg::MAC_CSR_DATA => self.csr_data,
                reg::RX_FIFO_INF => (self.rx_frames.len() as u32) << 16,
                reg::RX_STATUS => match self.rx_frames.pop_front() {
                    Some((status, words)) => {
                        self.rx_words.extend(words);
                        status
                    }
                    None => 0,
                },
                reg::RX_DATA => self.rx_words.pop_front().unwrap_or(0),
                reg::TX_FIFO_INF => ((self.tx_status.len() as u32) << 16) | self.tx_free,
                reg::TX_STATUS => self.tx_status.pop_front().unwrap_or(0),
                _ => 0,
            }
        }

        fn write(&mut self, offset: usize, value: u32) {
            self.writes.push((offset, value));
            match offset {
                reg::HW_CFG if value & HW_CFG_SRST != 0 => self.resetting = true,
                reg::MAC_CSR_DATA => self.csr_data = value,
                reg::MAC_CSR_CMD => {
                    let index = (value & 0xff) as usize;
                    if value & CSR_READ != 0 {
                        self.csr_data = self.csr[index];
                    } else {
                        self.csr[index] = self.csr_data;
                    }
                }
                reg::TX_DATA => self.tx_words.push(value),
                reg::INT_STS => self.int_sts &= !value,
                reg::INT_EN => self.int_en = value,
                reg::IRQ_CFG => self.irq_cfg = value,
                _ => {}
            }
        }
    }

    const MAC: EthernetAddress = EthernetAddress([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);

    #[test]
    fn init_checks_the_chip_and_programs_the_mac() {
        let nic = Lan9118::<_, 1514>::new(Fake::new(), MAC).unwrap();
        let fake = nic.release();
        assert_eq!(fake.csr[mac::ADDRL as usize], 0x3322_1102);
        assert_eq!(fake.csr[mac::ADDRH as usize], 0x5544);
        let cr = fake.csr[mac::MAC_CR as usize];
        assert_eq!(cr & (mac::TXEN | mac::RXEN), mac::TXEN | mac::RXEN);
        assert!(
            fake.writes.contains(&(reg::HW_CFG, HW_CFG_SRST)),
            "soft reset"
        );
        assert!(fake.writes.contains(&(reg::TX_CFG, TX_CFG_TX_ON)), "TX on");
    }

    #[test]
    fn an_absent_or_foreign_chip_is_a_clear_error() {
        let mut absent = Fake::new();
        absent.byte_test = 0xffff_ffff;
        let err = Lan9118::<_, 1514>::new(absent, MAC).err().unwrap();
        assert_eq!(
            err,
            InitError::NotFound {
                byte_test: 0xffff_ffff
            }
        );
        assert!(std::format!("{err}").contains("no LAN9118 found"));
        let mut other = Fake::new();
        other.id_rev = 0x9220_0000;
        assert_eq!(
            Lan9118::<_, 1514>::new(other, MAC).err(),
            Some(InitError::WrongChip {
                id_rev: 0x9220_0000
            })
        );
    }

    #[test]
    fn receive_strips_the_fcs_for_any_length() {
        let mut nic = Lan9118::<_, 1514>::new(Fake::new(), MAC).unwrap();
        for len in [60usize, 61, 62, 63, 64, 1514] {
            let frame: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            nic.regs.arrive(&frame, false);
            let (rx, _) = nic.receive(Instant::ZERO).expect("a frame");
            let got = rx.consume(|f| f.to_vec());
            assert_eq!(got, frame, "length {len}");
        }
        assert!(nic.receive(Instant::ZERO).is_none());
        assert_eq!(nic.stats().received, 6);
    }

    #[test]
    fn errored_and_oversize_frames_are_drained_counted_and_skipped() {
        let mut nic = Lan9118::<_, 128>::new(Fake::new(), MAC).unwrap();
        nic.regs.arrive(&[0xaa; 60], true);
        nic.regs.arrive(&[0xbb; 300], false);
        nic.regs.arrive(&[0xcc; 70], false);
        let (rx, _) = nic.receive(Instant::ZERO).expect("the good frame");
        assert_eq!(rx.consume(|f| f.to_vec()), std::vec![0xcc; 70]);
        let stats = nic.stats();
        assert_eq!(
            (stats.rx_errors, stats.rx_oversize, stats.received),
            (1, 1, 1)
        );
        assert!(nic.regs.rx_words.is_empty(), "every word drained");
    }

    #[test]
    fn init_in_place_is_new() {
        let mut slot = core::mem::MaybeUninit::<Lan9118<Fake, 128>>::uninit();
        let nic = Lan9118::init(&mut slot, Fake::new(), MAC).unwrap();
        nic.regs.arrive(&[0x5a; 64], false);
        let (rx, _) = nic.receive(Instant::ZERO).expect("a frame");
        assert_eq!(rx.consume(|f| f.to_vec()), std::vec![0x5a; 64]);
        let mut absent = Fake::new();
        absent.byte_test = 0xffff_ffff;
        let mut slot = core::mem::MaybeUninit::<Lan9118<Fake, 128>>::uninit();
        assert!(matches!(
            Lan9118::init(&mut slot, absent, MAC),
            Err(InitError::NotFound { .. })
        ));
    }

    #[test]
    fn the_rx_interrupt_rises_with_a_frame_and_falls_when_acked() {
        let mut nic = Lan9118::<_, 1514>::new(Fake::new(), MAC).unwrap();
        nic.regs.arrive(&[0x11; 60], false);
        assert!(!nic.regs.irq_line(), "off until enabled");
        nic.enable_rx_interrupt();
        assert!(nic.regs.irq_line(), "a frame is waiting");
        // The loop a board runs: ack, then drain; the line stays down...
        nic.ack_interrupts();
        assert!(!nic.regs.irq_line());
        assert!(nic.receive(Instant::ZERO).is_some());
        assert!(nic.receive(Instant::ZERO).is_none());
        assert!(!nic.regs.irq_line());
        // ...until the next frame, which wakes the board again.
        nic.regs.arrive(&[0x22; 60], false);
        assert!(nic.regs.irq_line());
    }

    #[test]
    fn transmit_writes_both_commands_then_little_endian_words() {
        let mut nic = Lan9118::<_, 1514>::new(Fake::new(), MAC).unwrap();
        nic.regs.tx_status.push_back(0x1234);
        let frame: Vec<u8> = (0..42u8).collect();
        nic.transmit(Instant::ZERO)
            .unwrap()
            .consume(frame.len(), |buf| buf.copy_from_slice(&frame));
        let sent = nic.regs.sent();
        assert_eq!(sent.len(), 1);
        let (a, b, bytes) = &sent[0];
        assert_eq!(*a, TX_CMD_A_FIRST | TX_CMD_A_LAST | 42);
        assert_eq!(b & 0x7ff, 42);
        assert_eq!(bytes, &frame);
        assert!(nic.regs.tx_status.is_empty(), "TX status drained");
        assert_eq!(nic.stats().sent, 1);
    }

    #[test]
    fn a_full_tx_fifo_drops_and_counts() {
        let mut nic = Lan9118::<_, 1514>::new(Fake::new(), MAC).unwrap();
        nic.regs.tx_free = 64;
        nic.transmit(Instant::ZERO)
            .unwrap()
            .consume(1000, |buf| buf.fill(1));
        assert!(nic.regs.sent().is_empty());
        assert_eq!(nic.stats().tx_full, 1);
    }

    /// The driver under a real stack: an ARP request that arrives is answered.
    #[test]
    fn a_stack_on_the_driver_answers_arp() {
        use smoltcp::wire::{
            ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr,
            Ipv4Address,
        };
        let mut nic = Lan9118::<_, 1514>::new(Fake::new(), MAC).unwrap();
        let host = crate::Host {
            mac: MAC,
            ..crate::Host::SERVER
        };
        let mut storage = crate::StackStorage::<1>::new();
        let mut stack = crate::Stack::new(host, &mut nic, &mut storage, Instant::ZERO);
        let asker = EthernetAddress([0x02, 0, 0, 0, 0, 9]);
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: asker,
            source_protocol_addr: Ipv4Address::new(192, 168, 69, 9),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Address::new(192, 168, 69, 1),
        };
        let eth = EthernetRepr {
            src_addr: asker,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let mut frame = std::vec![0u8; eth.buffer_len() + arp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut f);
        arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
        nic.regs.arrive(&frame, false);
        stack.poll(Instant::from_millis(1), &mut nic);
        let sent = nic.regs.sent();
        assert_eq!(sent.len(), 1, "one ARP reply");
        let reply = EthernetFrame::new_checked(&sent[0].2[..]).unwrap();
        assert_eq!(reply.dst_addr(), asker);
        assert_eq!(reply.src_addr(), MAC);
        assert_eq!(reply.ethertype(), EthernetProtocol::Arp);
    }
}
