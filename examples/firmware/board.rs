//! What the firmware needs from the board, and nothing else: a console, a clock, a way to
//! sleep until something happens, a way to end the run, statics that are handed out once,
//! and a measure of the call stack.
//!
//! On a desktop the kernel gives a program all of this (stdout, `clock_gettime`, `poll`,
//! `exit`, the loader). Here each is a few lines over the Cortex-M core and the LAN9118:
//!
//! * **Console**: Arm semihosting. Each line is one `SYS_WRITE0` trap that QEMU prints on
//!   its own standard output; a real board with a debug probe shows it in the probe's
//!   console (or swap this for a UART). It carries the `log` crate's lines.
//! * **Clock**: the LAN9118's `FREE_RUN` register, a 25 MHz counter, widened to 64 bits by
//!   counting its wraps (it wraps every 171 s; the loop reads it at least every 10 ms).
//! * **Sleep**: `wfi` until the LAN9118 raises its IRQ line (a frame arrived) or the
//!   SysTick fires (every 10 ms, for the stack's timers). The chip's interrupt handler only
//!   masks its line; the main loop acks the chip, drains it, unmasks, and sleeps with
//!   interrupts disabled so that a frame arriving in between still wakes it.
//! * **Exit**: semihosting `SYS_EXIT`, which ends QEMU with status 0 (or 1 on a panic).

use core::cell::UnsafeCell;
use core::fmt::Write as _;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SYST};
use cortex_m_rt::exception;
use cortex_m_semihosting::{debug, hio};
use smoltcp::time::Instant;

/// The LAN9118's line on the NVIC of QEMU's MPS2 boards.
#[derive(Clone, Copy)]
pub struct EthernetIrq;

// SAFETY: 13 is a valid external interrupt number on these boards, and the only one
// this type stands for.
unsafe impl InterruptNumber for EthernetIrq {
    fn number(self) -> u16 {
        13
    }
}

/// The core clock of QEMU's MPS2 boards (SysTick counts it).
const SYSCLK_HZ: u32 = 25_000_000;
/// How often the SysTick wakes the core: the resolution of the stack's timers.
pub const TICK_HZ: u32 = 100;

/// Start the periodic wake-up and let the Ethernet line interrupt `wfi`.
pub fn start_sleeping(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSCLK_HZ / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Sleep until the Ethernet line or the tick. Call after acking and draining the chip.
pub fn sleep() {
    cortex_m::interrupt::free(|_| {
        // SAFETY: the handler below masks the line again before any other code runs; no
        // critical section depends on it being masked.
        unsafe { NVIC::unmask(EthernetIrq) };
        // With interrupts disabled, `wfi` still returns on a pending interrupt, so a
        // frame that arrived since the drain is not slept through.
        cortex_m::asm::wfi();
    });
}

#[exception]
fn SysTick() {
    crate::interrupted();
}

/// The interrupt half of the vector table, up to the last line the firmware uses (13):
/// 14 words instead of cortex-m-rt's generic 240 (its `device` feature; `device.x` is
/// empty because every entry is named here). Each goes to `DefaultHandler` below.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); 14] = [DefaultHandler; 14];

unsafe extern "C" {
    /// cortex-m-rt's name for the handler `#[exception] DefaultHandler` defines below.
    fn DefaultHandler();
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == 13 {
        // Level-triggered: mask it until the main loop has drained the chip.
        NVIC::mask(EthernetIrq);
        crate::interrupted();
    } else {
        panic!("unexpected interrupt {irqn}");
    }
}

/// A 64-bit microsecond clock from the chip's 32-bit 25 MHz counter.
pub struct Clock {
    last: u32,
    high: u64,
}

impl Clock {
    /// Ticks per microsecond.
    const PER_US: u64 = 25;

    pub const fn new() -> Self {
        Clock { last: 0, high: 0 }
    }

    /// The time for a raw `FREE_RUN` reading.
    pub fn at(&mut self, ticks: u32) -> Instant {
        if ticks < self.last {
            self.high += 1 << 32;
        }
        self.last = ticks;
        Instant::from_micros(((self.high | u64::from(ticks)) / Self::PER_US) as i64)
    }
}

/// `log` lines on the semihosting console, one trap per line.
pub struct Console;

pub static CONSOLE: Console = Console;

impl log::Log for Console {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut line = heapless::String::<192>::new();
            // A line longer than the buffer is cut; the console is for people.
            let _ = write!(line, "{:<5} {}", record.level(), record.args());
            print(&line);
        }
    }

    fn flush(&self) {}
}

/// One line on the console.
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

/// A panic, with its message and where it happened (the build with log lines).
#[cfg(not(feature = "log-off"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = heapless::String::<192>::new();
    let _ = write!(line, "PANIC {info}");
    print(&line);
    exit(false)
}

/// A panic, without a word of what or where: the small build (`log-off`). Not looking at
/// `info` lets the link drop every panic message, its source path and the formatting
/// behind them (about 9 KB). The build with log lines says what and where.
#[cfg(feature = "log-off")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    print("PANIC (cargo firmware-logs prints what and where)");
    exit(false)
}

/// A `static` that is handed out once, as `&'static mut`, and built in place (so a large
/// value never passes through the call stack, and its bytes are `.bss`, not flash).
pub struct Static<T> {
    taken: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is reachable only through the one `&mut` that `take` hands out.
unsafe impl<T> Sync for Static<T> {}

impl<T> Static<T> {
    pub const fn new() -> Self {
        Static {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The uninitialized slot, the first time; a panic after that.
    #[allow(clippy::mut_from_ref)] // the `taken` flag makes the `&mut` unique
    pub fn take(&'static self) -> &'static mut MaybeUninit<T> {
        claim(&self.taken);
        // SAFETY: `taken` makes this the only reference ever made.
        unsafe { &mut *self.value.get() }
    }
}

/// Set `taken`, or panic if it was set already: out of `Static::take` so that its atomic
/// swap and panic are in flash once, not once per type of static.
#[inline(never)]
fn claim(taken: &AtomicBool) {
    assert!(!taken.swap(true, Ordering::AcqRel), "static taken twice");
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
