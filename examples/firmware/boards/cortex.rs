//! What every Arm Cortex-M board here shares: the entry point, the SysTick tick, sleeping
//! on one interrupt line, the interrupt table, a semihosting console and exit, and the
//! call stack's high-water mark.
//!
//! A board file (`mps.rs` for the MPS2/MPS3 boards) builds its [`Board`](crate::board::Board)
//! from these; a port to another Cortex-M board with a debug probe keeps them all and
//! writes only its card, its clock and its memory map. Each is a few lines over the core:
//!
//! * **Console**: Arm semihosting. Each line is one `SYS_WRITE0` trap that QEMU prints on
//!   its own standard output; a real board with a debug probe shows it in the probe's
//!   console (or swap this for a UART or RTT).
//! * **Sleep**: `wfi` until the card's line or the SysTick (every 10 ms, for the stack's
//!   timers). The line's handler only masks it; the board unmasks it and sleeps with
//!   interrupts disabled, so that one raised in between still wakes the core.
//! * **Exit**: semihosting `SYS_EXIT`, which ends QEMU with status 0 (or 1).

use core::fmt::Write as _;

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SYST};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hio};

#[entry]
fn main() -> ! {
    crate::firmware::run::<crate::ThisBoard>()
}

/// An external interrupt line of the NVIC.
#[derive(Clone, Copy)]
pub struct Line(pub u16);

// SAFETY: every board passes a line its interrupt table has (`INTERRUPTS` entries).
unsafe impl InterruptNumber for Line {
    fn number(self) -> u16 {
        self.0
    }
}

/// How often the SysTick wakes the core: the resolution of the stack's timers.
pub const TICK_HZ: u32 = 100;

/// Start the periodic wake-up, from the core's clock of `core_hz`.
pub fn start_tick(mut syst: SYST, core_hz: u32) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(core_hz / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Sleep until `line` or the tick.
pub fn sleep_on(line: u16) {
    cortex_m::interrupt::free(|_| {
        // SAFETY: the handler below masks the line again before any other code runs; no
        // critical section depends on it being masked.
        unsafe { NVIC::unmask(Line(line)) };
        // With interrupts disabled, `wfi` still returns on a pending interrupt, so a
        // line raised since the last poll is not slept through.
        cortex_m::asm::wfi();
    });
}

#[exception]
fn SysTick() {
    crate::interrupted();
}

/// The interrupt half of the vector table, up to the last line the board uses: its
/// `INTERRUPTS` entries instead of cortex-m-rt's generic 240 (its `device` feature;
/// `device.x` is empty because every entry is named here). Each goes to `DefaultHandler`.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); crate::this_board::INTERRUPTS] =
    [DefaultHandler; crate::this_board::INTERRUPTS];

unsafe extern "C" {
    /// cortex-m-rt's name for the handler `#[exception] DefaultHandler` defines below.
    fn DefaultHandler();
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    match u16::try_from(irqn) {
        // Level-triggered: masked until the main loop has drained the card. Only the
        // card's line is ever unmasked.
        Ok(line) => {
            NVIC::mask(Line(line));
            crate::interrupted();
        }
        Err(_) => panic!("unexpected exception {irqn}"),
    }
}

/// One line on the semihosting console.
pub fn print(text: &str) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_str(text);
        let _ = out.write_str("\n");
    }
}

/// End the run: QEMU exits with 0 (`ok`) or 1.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Without a debugger (a real board, no semihosting host) there is nowhere to go.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Bytes of the call stack used so far: cortex-m-rt paints it with `0xcccccccc` at reset
/// (feature `paint-stack`); the lowest word not still painted is the deepest point reached.
pub fn stack_used() -> usize {
    unsafe extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    let bottom = &raw const _stack_end as usize;
    let top = &raw const _stack_start as usize;
    let mut at = bottom;
    while at < top {
        // SAFETY: every word between the linker's `_stack_end` and `_stack_start` is RAM.
        if unsafe { core::ptr::read_volatile(at as *const u32) } != 0xcccc_cccc {
            break;
        }
        at += 4;
    }
    top - at
}
