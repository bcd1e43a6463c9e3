//! QEMU's RISC-V `virt` board (`qemu-system-riscv32 -M virt`, `riscv32imac-unknown-none-elf`,
//! `cargo firmware-riscv`): a second architecture and a second kind of network card on the
//! same seam. Memory map: `riscv_virt.x` (everything in RAM at `0x8000_0000`; QEMU loads
//! the ELF there and starts the hart in machine mode at its first byte, `-bios none`).
//!
//! * **Card**: virtio-net on virtio-mmio through `sockless::phy::virtio_net` (descriptor
//!   rings in a `static`, not FIFOs as on the MPS boards). `virt` has eight virtio-mmio
//!   slots at `0x1000_1000 + n * 0x1000`, interrupt line `1 + n`, and QEMU fills them from
//!   the last one down: the board looks for the network card in each.
//! * **Clock**: the CLINT's `mtime`, a 64-bit 10 MHz counter that never wraps.
//! * **Sleep**: `wfi` until the card's line (through the PLIC) or the deadline (the
//!   CLINT's `mtimecmp`), no tick. Interrupts stay globally off (`mstatus.MIE` = 0): `wfi`
//!   still returns when an interrupt enabled in `mie` is pending, so no trap handler is
//!   needed and none runs; the board then claims the line at the PLIC, acknowledges the
//!   card, and completes the claim. A frame that lands after the drain keeps the card's
//!   line up, so the next `wfi` returns at once.
//! * **Console**: the ns16550a UART at `0x1000_0000` (QEMU's `-serial stdio`), polled.
//! * **Exit**: the SiFive test device at `0x10_0000` (`0x5555`: QEMU exits 0; `0x3333` with
//!   the code in the high half: that code).
//! * **Stack**: painted at start-up below the stack pointer (64 KiB) and measured like the
//!   Cortex-M boards'.

use core::arch::asm;

use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;
use sockless::phy::virtio_net::{InitError, Mmio, Registers, VirtioNet, VirtioNetMemory};

use crate::board::{Board, NicCounters};
use crate::statics::Static;

#[riscv_rt::entry]
fn main() -> ! {
    crate::firmware::run::<ThisBoard>()
}

/// The first virtio-mmio slot, and the distance between slots.
const VIRTIO: usize = 0x1000_1000;
const VIRTIO_STRIDE: usize = 0x1000;
const VIRTIO_SLOTS: usize = 8;
/// The PLIC: priorities (a word per line), enables and threshold/claim of context 0
/// (hart 0, machine mode).
const PLIC: usize = 0x0c00_0000;
const PLIC_ENABLE: usize = PLIC + 0x2000;
const PLIC_THRESHOLD: usize = PLIC + 0x20_0000;
const PLIC_CLAIM: usize = PLIC + 0x20_0004;
/// The CLINT: hart 0's timer compare, and the time.
const MTIMECMP: usize = 0x0200_4000;
const MTIME: usize = 0x0200_bff8;
/// `mtime` ticks per microsecond (10 MHz).
const TICKS_PER_US: u64 = 10;
/// The ns16550a UART: transmit holding register and line status (bit 5: room to send).
const UART: usize = 0x1000_0000;
const UART_LSR: usize = UART + 5;
/// The SiFive test device ("finisher").
const FINISHER: usize = 0x10_0000;
/// `mie`: machine timer (7) and machine external (11) interrupts.
const MIE_MTIE: usize = 1 << 7;
const MIE_MEIE: usize = 1 << 11;

/// The board (its state is all in its devices).
pub struct ThisBoard;

/// Receive and transmit buffers each (1526 bytes: a full frame and virtio's header): the
/// pools' windows of 1 KiB keep few frames in flight, and a card with no free receive
/// buffer holds the next frame (QEMU queues it) rather than dropping it.
const QUEUE: usize = 4;

type Nic = VirtioNet<Mmio, QUEUE>;

/// The card's rings and buffers, and the driver, built in place at start-up (`.bss`).
static MEMORY: Static<VirtioNetMemory<QUEUE>> = Static::new();
static NIC: Static<Nic> = Static::new();

fn read32(addr: usize) -> u32 {
    // SAFETY: callers pass the address of a register of `virt`'s fixed memory map.
    unsafe { (addr as *const u32).read_volatile() }
}

fn write32(addr: usize, value: u32) {
    // SAFETY: as above.
    unsafe { (addr as *mut u32).write_volatile(value) }
}

/// The first virtio-mmio slot that holds a network card.
fn find_card() -> Option<usize> {
    (0..VIRTIO_SLOTS).find(|slot| {
        // SAFETY: a virtio-mmio slot of `virt`, only read here.
        let mut regs = unsafe { Mmio::new(VIRTIO + slot * VIRTIO_STRIDE) };
        regs.read(0) == 0x7472_6976 && regs.read(8) == 1
    })
}

/// Set hart 0's timer to fire at `ticks` (the spec's sequence for a 32-bit hart: no
/// moment where the compare value is below both the old and the new one).
fn set_timer(ticks: u64) {
    write32(MTIMECMP, u32::MAX);
    write32(MTIMECMP + 4, (ticks >> 32) as u32);
    write32(MTIMECMP, ticks as u32);
}

/// Paint the stack below the current stack pointer, for [`Board::stack_used`].
const PAINTED: usize = 64 * 1024;
const PAINT: u32 = 0xcccc_cccc;

fn stack_top() -> usize {
    unsafe extern "C" {
        static _stack_start: u32;
    }
    &raw const _stack_start as usize
}

fn paint_stack() {
    let sp: usize;
    // SAFETY: reads the stack pointer.
    unsafe { asm!("mv {}, sp", out(reg) sp) };
    // Leave the words just below the pointer to this function's own frame.
    let mut at = stack_top() - PAINTED;
    while at < sp - 256 {
        // SAFETY: RAM below the live stack (the stack is the top of RAM, far larger).
        unsafe { (at as *mut u32).write_volatile(PAINT) };
        at += 4;
    }
}

impl Board for ThisBoard {
    const NAME: &'static str = "riscv-virt (RV32IMAC, virtio-net)";
    type Device = Nic;

    fn start() -> (Self, &'static mut Nic, EthernetAddress) {
        paint_stack();
        let Some(slot) = find_card() else {
            Self::print(
                "no virtio-net card in any virtio-mmio slot (QEMU: -device virtio-net-device,netdev=...)",
            );
            Self::exit(false)
        };
        // SAFETY: the slot's registers; this driver is their only user from now on.
        let regs = unsafe { Mmio::new(VIRTIO + slot * VIRTIO_STRIDE) };
        let memory = VirtioNetMemory::init(MEMORY.take());
        let fallback = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x15]);
        let nic = match VirtioNet::new(regs, memory, fallback) {
            Ok(nic) => NIC.take().write(nic),
            Err(e) => {
                // A fixed line in every build (the small one has no log lines), then why.
                Self::print(match e {
                    InitError::Legacy { .. } => {
                        "virtio-net: a legacy (version 1) card: run QEMU with \
                         -global virtio-mmio.force-legacy=false"
                    }
                    _ => "virtio-net: the card did not start (cargo firmware-logs-riscv says why)",
                });
                log::error!("{e}");
                Self::exit(false)
            }
        };
        let mac = nic.mac();
        let irq = 1 + slot as u32;
        write32(PLIC + 4 * irq as usize, 1);
        write32(PLIC_ENABLE + 4 * (irq as usize / 32), 1 << (irq % 32));
        write32(PLIC_THRESHOLD, 0);
        set_timer(u64::MAX);
        // SAFETY: enables the two wake-ups in `mie`; `mstatus.MIE` stays 0, so neither
        // ever traps.
        unsafe { asm!("csrs mie, {}", in(reg) MIE_MTIE | MIE_MEIE) };
        (ThisBoard, nic, mac)
    }

    fn now(&mut self, _nic: &mut Nic) -> Instant {
        // The high word read twice: a carry between the two halves is seen and retried.
        let ticks = loop {
            let high = read32(MTIME + 4);
            let low = read32(MTIME);
            if read32(MTIME + 4) == high {
                break u64::from(high) << 32 | u64::from(low);
            }
        };
        Instant::from_micros((ticks / TICKS_PER_US) as i64)
    }

    fn sleep(&mut self, nic: &mut Nic, deadline: Option<Instant>) {
        let ticks = deadline.map_or(u64::MAX, |at| {
            (at.total_micros().max(0) as u64).saturating_mul(TICKS_PER_US)
        });
        set_timer(ticks);
        // SAFETY: waits for an interrupt; none traps (`mstatus.MIE` = 0).
        unsafe { asm!("wfi") };
        // Claim the line (0: none pending), acknowledge the card so it lowers it, and
        // complete the claim; the next drain follows.
        let claimed = read32(PLIC_CLAIM);
        nic.ack_interrupts();
        if claimed != 0 {
            write32(PLIC_CLAIM, claimed);
        }
    }

    fn counters(nic: &Nic) -> NicCounters {
        let s = nic.stats();
        NicCounters {
            received: s.received,
            sent: s.sent,
            // Used-ring entries the device got wrong: the nearest thing to an error.
            rx_errors: s.device_errors,
            rx_oversize: s.rx_oversize,
            tx_full: s.tx_full,
        }
    }

    fn print(line: &str) {
        for byte in line.bytes().chain(*b"\n") {
            // SAFETY: the UART's registers, byte-wide.
            unsafe {
                while (UART_LSR as *const u8).read_volatile() & 0x20 == 0 {}
                (UART as *mut u8).write_volatile(byte);
            }
        }
    }

    fn exit(ok: bool) -> ! {
        write32(FINISHER, if ok { 0x5555 } else { 1 << 16 | 0x3333 });
        // Not under QEMU: nowhere to go.
        loop {
            // SAFETY: waits for an interrupt.
            unsafe { asm!("wfi") };
        }
    }

    fn stack_used() -> usize {
        let top = stack_top();
        let mut at = top - PAINTED;
        // SAFETY: the painted words, RAM below the stack's top.
        while at < top && unsafe { (at as *const u32).read_volatile() } == PAINT {
            at += 4;
        }
        top - at
    }
}
