//! Memory for the firmware's statics: a `static` that is handed out once, as
//! `&'static mut`, and built in place.
//!
//! A desktop program would put its buffers on the heap or the stack; here every byte the
//! firmware keeps is a `static` of a size fixed at build time, its bytes `.bss` (zeroed at
//! reset, not stored in flash), and never passes through the call stack on its way in.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

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
