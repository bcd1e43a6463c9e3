//! 64-bit division as the compiler calls it on Arm (`__aeabi_uldivmod`, `__aeabi_ldivmod`),
//! small instead of fast.
//!
//! A Cortex-M3 divides 32-bit numbers in hardware, not 64-bit ones: `u64 / u64` and `i64 /
//! i64` are calls into the prebuilt `compiler_builtins`, whose routine is tuned for speed
//! (about 1 KB of flash on a Cortex-M3, as `mem.rs` says of its `memcpy`). smoltcp divides
//! 64-bit times now and then (milliseconds from its microsecond clock for the round-trip
//! estimate, and so on), the control port's counters divide by ten. Those definitions are
//! weak, so these take their place: the hardware's 32-bit divide when the dividend fits in
//! 32 bits, else a shift-and-subtract loop, one quotient bit per round (at most 64 rounds,
//! about 30 for a microsecond clock divided by 1000).
//!
//! [`udivmod`] is plain Rust, tested on the host against the `/` and `%` operators
//! (tests/firmware_division.rs); the two entry points below only move its results into the
//! registers the run-time ABI returns them in.

/// `(n / d, n % d)`; a zero `d` (Rust checks for it before dividing, so never) gives
/// `(u64::MAX, n)`, as a loop that never subtracts would. Inlined into its one caller on
/// the board (the entry point's wrapper), which saves a call.
#[inline(always)]
pub fn udivmod(n: u64, d: u64) -> (u64, u64) {
    if d > n {
        return (0, n);
    }
    if d == 0 {
        return (u64::MAX, n);
    }
    if n >> 32 == 0 {
        // Both fit in 32 bits (`d <= n`): one hardware `udiv`.
        let (n, d) = (n as u32, d as u32);
        if let Some(d) = core::num::NonZeroU32::new(d) {
            return (u64::from(n / d), u64::from(n % d));
        }
    }
    // Long division, base 2: line the divisor's top bit up with the dividend's, then one
    // quotient bit per step down.
    let shift = d.leading_zeros() - n.leading_zeros();
    let mut d = d << shift;
    let (mut q, mut r) = (0u64, n);
    for _ in 0..=shift {
        q <<= 1;
        if r >= d {
            r -= d;
            q |= 1;
        }
        d >>= 1;
    }
    (q, r)
}

/// `(n / d, n % d)` for signed numbers: the quotient rounds toward zero and the remainder
/// has the dividend's sign, as Rust's `/` and `%` do.
pub fn idivmod(n: i64, d: i64) -> (i64, i64) {
    let (q, r) = udivmod(n.unsigned_abs(), d.unsigned_abs());
    let q = if (n < 0) != (d < 0) {
        (q as i64).wrapping_neg()
    } else {
        q as i64
    };
    let r = if n < 0 {
        (r as i64).wrapping_neg()
    } else {
        r as i64
    };
    (q, r)
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod aeabi {
    use super::{idivmod, udivmod};

    /// [`udivmod`] with the remainder stored through `rem` (the fifth argument word, on
    /// the stack): what the entry point below calls.
    extern "aapcs" fn udivmod_to(n: u64, d: u64, rem: &mut u64) -> u64 {
        let (q, r) = udivmod(n, d);
        *rem = r;
        q
    }

    /// [`idivmod`], the same way.
    extern "aapcs" fn idivmod_to(n: i64, d: i64, rem: &mut i64) -> i64 {
        let (q, r) = idivmod(n, d);
        *rem = r;
        q
    }

    // The run-time ABI for the Arm architecture, section 4.2: the dividend in r0:r1, the
    // divisor in r2:r3; the quotient comes back in r0:r1 and the remainder in r2:r3, which
    // no `extern` Rust function can return, hence the few instructions of each: room for
    // the remainder and a pointer to it on the stack (kept 8-byte aligned), the call, the
    // remainder into r2:r3.

    /// # Safety
    /// Called by compiler-generated code only, with the ABI above.
    #[unsafe(naked)]
    #[unsafe(no_mangle)]
    pub unsafe extern "aapcs" fn __aeabi_uldivmod() {
        core::arch::naked_asm!(
            "push {{r4, lr}}",
            "sub sp, sp, #16",
            "add r4, sp, #8",
            "str r4, [sp]",
            "bl {f}",
            "ldr r2, [sp, #8]",
            "ldr r3, [sp, #12]",
            "add sp, sp, #16",
            "pop {{r4, pc}}",
            f = sym udivmod_to,
        );
    }

    /// # Safety
    /// As `__aeabi_uldivmod`.
    #[unsafe(naked)]
    #[unsafe(no_mangle)]
    pub unsafe extern "aapcs" fn __aeabi_ldivmod() {
        core::arch::naked_asm!(
            "push {{r4, lr}}",
            "sub sp, sp, #16",
            "add r4, sp, #8",
            "str r4, [sp]",
            "bl {f}",
            "ldr r2, [sp, #8]",
            "ldr r3, [sp, #12]",
            "add sp, sp, #16",
            "pop {{r4, pc}}",
            f = sym idivmod_to,
        );
    }
}
