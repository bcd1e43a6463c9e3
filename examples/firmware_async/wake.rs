//! How the runner sleeps and wakes: an interrupt-safe signal, the SysTick set for the
//! stack's next deadline, and the LAN9118 as the stack's device.
//!
//! The executor sleeps (`wfe`) whenever no task is ready. The runner's wait is ready
//! when [`INTERRUPT`] was raised since it last looked: by the LAN9118's line (its handler
//! in `board.rs` masks the line; the wait unmasks it again) or by the SysTick, which
//! [`arm`] sets to fire at the stack's next deadline (at most 2^24 core cycles away: 0.67 s
//! at 25 MHz). The interrupt handlers only set a flag and wake the waker left
//! there, inside a critical section: nothing else is shared with them.

use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Poll, Waker};

use cortex_m::interrupt::{self, Mutex};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SYST};
use smoltcp::phy::{Device, DeviceCapabilities};
use smoltcp::time::Instant;
use sockless::phy::lan9118::{Lan9118, Mmio};

use crate::ThisBoard;
use crate::board::{Board, NicCounters};
use crate::boards::cortex::Line;

/// Raised by the interrupt handlers, awaited by the runner.
pub struct Signal {
    raised: AtomicBool,
    waker: Mutex<RefCell<Option<Waker>>>,
}

pub static INTERRUPT: Signal = Signal {
    raised: AtomicBool::new(false),
    waker: Mutex::new(RefCell::new(None)),
};

impl Signal {
    /// From an interrupt handler: set the flag, wake the waiting task.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        let waker = interrupt::free(|cs| self.waker.borrow(cs).borrow_mut().take());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Until the next interrupt (one that came since the last wait counts).
    pub fn wait(&'static self) -> impl Future<Output = ()> {
        poll_fn(move |cx| {
            if self.raised.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            interrupt::free(|cs| *self.waker.borrow(cs).borrow_mut() = Some(cx.waker().clone()));
            // An interrupt between the look and the registration found no waker: look again.
            if self.raised.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            // SAFETY: the line's handler masks it again before anything else runs; no
            // critical section depends on it being masked.
            unsafe { NVIC::unmask(Line(ThisBoard::CARD_LINE)) };
            Poll::Pending
        })
    }
}

/// The SysTick's longest period (its counter is 24 bits).
const MAX_TICKS: u64 = 0x00ff_ffff;

/// Fire the SysTick at `deadline` (or as late as it can, 0.5 s or so, if none or later),
/// `now` being the stack's time; a deadline already passed fires at once.
pub fn arm(syst: &mut SYST, now: Instant, deadline: Option<Instant>) {
    let per_us = u64::from(ThisBoard::CORE_HZ / 1_000_000);
    let ticks = match deadline {
        Some(at) => {
            let us = at.total_micros().saturating_sub(now.total_micros()).max(0) as u64;
            us.saturating_mul(per_us).clamp(100, MAX_TICKS)
        }
        None => MAX_TICKS,
    };
    syst.disable_counter();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(ticks as u32 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// The LAN9118 as the stack's device, acking its interrupt before each look at the RX
/// FIFO (so a frame that lands after the last look raises the line again, and no wake-up
/// is lost), and publishing the driver's counters for the control port.
pub struct Nic<'n> {
    pub chip: &'n mut Lan9118<Mmio>,
    pub stats: &'n Cell<NicCounters>,
}

impl Device for Nic<'_> {
    type RxToken<'a>
        = <Lan9118<Mmio> as Device>::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = <Lan9118<Mmio> as Device>::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.stats.set(ThisBoard::counters(self.chip));
        self.chip.ack_interrupts();
        self.chip.receive(now)
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.chip.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.chip.capabilities()
    }
}
