//! Arm's MPS2 and MPS3 FPGA boards with a LAN9118 (QEMU's `mps2-an385`, `mps2-an386`,
//! `mps2-an505`, `mps3-an547`): the [`Board`] they share. Each board file gives only where
//! its chip is, its interrupt line, its core clock and its memory map ([`MpsMap`] and a
//! `.x` file).
//!
//! * **Card**: the LAN9118 through `sockless::phy::lan9118`, its registers at the board's
//!   address, its receive interrupt on the board's line.
//! * **Clock**: the LAN9118's `FREE_RUN` register, a 25 MHz counter on every one of these
//!   boards, widened to 64 bits by counting its wraps (it wraps every 171 s; the loop
//!   reads it at least every 10 ms tick).
//! * **Sleep**: `wfi` until the chip's line or the 10 ms SysTick, then ack the chip
//!   (`boards/cortex.rs`). The deadline is met at the tick's resolution.
//! * **Console, exit, stack**: semihosting and cortex-m-rt's painted stack
//!   (`boards/cortex.rs`).

use core::marker::PhantomData;

use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;
use sockless::phy::lan9118::{Lan9118, Mmio};

use super::cortex;
use crate::board::{Board, NicCounters};
use crate::statics::Static;

/// Where an MPS board has its LAN9118 and its clocks.
pub trait MpsMap {
    /// The board's name on the console.
    const NAME: &'static str;
    /// The LAN9118's registers, as the firmware's security state sees them.
    const LAN9118: usize;
    /// The LAN9118's line on the NVIC.
    const LAN9118_IRQ: u16;
    /// The core clock (SysTick counts it).
    const CORE_HZ: u32;
}

/// An MPS board, its map `M`, and the clock's state.
pub struct Mps<M> {
    last: u32,
    high: u64,
    map: PhantomData<M>,
}

// The poll-driven build (examples/firmware) sleeps through the seam and names neither.
#[allow(dead_code)]
impl<M: MpsMap> Mps<M> {
    /// The LAN9118's line and the core clock, for a build that sleeps its own way (the
    /// async build, examples/firmware_async).
    pub const CARD_LINE: u16 = M::LAN9118_IRQ;
    pub const CORE_HZ: u32 = M::CORE_HZ;
}

/// The driver's memory, built in place at start-up (`.bss`).
static NIC: Static<Lan9118<Mmio>> = Static::new();

impl<M: MpsMap> Board for Mps<M> {
    const NAME: &'static str = M::NAME;
    type Device = Lan9118<Mmio>;

    fn start() -> (Self, &'static mut Self::Device, EthernetAddress) {
        let Some(core) = cortex_m::Peripherals::take() else {
            Self::exit(false)
        };
        // SAFETY: the LAN9118's registers on this board; this is their only user.
        let regs = unsafe { Mmio::new(M::LAN9118) };
        let mac = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x15]);
        let nic = match Lan9118::init(NIC.take(), regs, mac) {
            Ok(nic) => nic,
            Err(e) => {
                log::error!("{e}");
                Self::exit(false)
            }
        };
        nic.enable_rx_interrupt();
        cortex::start_tick(core.SYST, M::CORE_HZ);
        let board = Mps {
            last: 0,
            high: 0,
            map: PhantomData,
        };
        (board, nic, mac)
    }

    fn now(&mut self, nic: &mut Self::Device) -> Instant {
        // 25 ticks a microsecond.
        let ticks = nic.free_run();
        if ticks < self.last {
            self.high += 1 << 32;
        }
        self.last = ticks;
        Instant::from_micros(((self.high | u64::from(ticks)) / 25) as i64)
    }

    fn sleep(&mut self, nic: &mut Self::Device, _deadline: Option<Instant>) {
        cortex::sleep_on(M::LAN9118_IRQ);
        // Ack after waking and before the next drain: a frame that lands after the drain
        // raises the line again, so none is slept through.
        nic.ack_interrupts();
    }

    fn counters(nic: &Self::Device) -> NicCounters {
        let s = nic.stats();
        NicCounters {
            received: s.received,
            sent: s.sent,
            rx_errors: s.rx_errors,
            rx_oversize: s.rx_oversize,
            tx_full: s.tx_full,
        }
    }

    fn print(line: &str) {
        cortex::print(line)
    }

    fn exit(ok: bool) -> ! {
        cortex::exit(ok)
    }

    fn stack_used() -> usize {
        cortex::stack_used()
    }
}
