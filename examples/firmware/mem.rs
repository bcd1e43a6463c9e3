//! `memcpy`, `memmove` and `memset` as the compiler calls them on Arm (`__aeabi_mem*`), and
//! `memcmp`, small instead of fast.
//!
//! Stable Rust links them from the prebuilt `compiler_builtins`, which is compiled for
//! speed (opt-level 3, unrolled word loops: 2.7 KB of flash on a Cortex-M3) and which the
//! firmware's profile cannot rebuild (only a nightly's `-Zbuild-std` can). Its definitions
//! are weak, so these take their place: a word at a time when both pointers are aligned,
//! else a byte at a time, about 200 bytes in all. The firmware copies little (the LAN9118
//! driver moves frames through its FIFO a word at a time itself), so speed does not
//! suffer where it matters.
//!
//! The loops use volatile reads and writes: a plain copy loop is what the optimizer turns
//! into a call to `memcpy`, which here would be these functions calling themselves.

use core::ptr::{read_volatile, write_volatile};

/// Copy `n` bytes from `src` to `dst`, lowest address first (so `dst` may overlap the
/// end of `src` when `dst < src`).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
unsafe fn forward(dst: *mut u8, src: *const u8, n: usize) {
    let mut i = 0;
    if (dst as usize | src as usize) & 3 == 0 {
        while i + 4 <= n {
            // SAFETY: both aligned to 4, and `i + 4 <= n`.
            unsafe {
                let word = read_volatile(src.add(i).cast::<u32>());
                write_volatile(dst.add(i).cast::<u32>(), word);
            }
            i += 4;
        }
    }
    while i < n {
        // SAFETY: `i < n`.
        unsafe { write_volatile(dst.add(i), read_volatile(src.add(i))) };
        i += 1;
    }
}

/// Copy `n` bytes from `src` to `dst`, highest address first (for `dst > src`).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
unsafe fn backward(dst: *mut u8, src: *const u8, n: usize) {
    let mut i = n;
    while i > 0 {
        i -= 1;
        // SAFETY: `i < n`.
        unsafe { write_volatile(dst.add(i), read_volatile(src.add(i))) };
    }
}

/// Set `n` bytes at `dst` to `byte`.
///
/// # Safety
/// `dst` writable for `n` bytes.
unsafe fn fill(dst: *mut u8, n: usize, byte: u8) {
    let mut i = 0;
    if dst as usize & 3 == 0 {
        let word = u32::from(byte) * 0x0101_0101;
        while i + 4 <= n {
            // SAFETY: aligned to 4, and `i + 4 <= n`.
            unsafe { write_volatile(dst.add(i).cast::<u32>(), word) };
            i += 4;
        }
    }
    while i < n {
        // SAFETY: `i < n`.
        unsafe { write_volatile(dst.add(i), byte) };
        i += 1;
    }
}

// The run-time ABI for the Arm architecture, section 4.3.4: the `4` and `8` variants may
// assume that their pointers are aligned that much, which `forward` and `fill` check anyway.

/// # Safety
/// As `memcpy`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memcpy(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { forward(dst, src, n) }
}

/// # Safety
/// As `memcpy`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memcpy4(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { forward(dst, src, n) }
}

/// # Safety
/// As `memcpy`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memcpy8(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { forward(dst, src, n) }
}

/// # Safety
/// As `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memmove(dst: *mut u8, src: *const u8, n: usize) {
    // Forward is safe unless `dst` starts inside `src`'s bytes.
    if (dst as usize).wrapping_sub(src as usize) >= n {
        unsafe { forward(dst, src, n) }
    } else {
        unsafe { backward(dst, src, n) }
    }
}

/// # Safety
/// As `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memmove4(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { __aeabi_memmove(dst, src, n) }
}

/// # Safety
/// As `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memmove8(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { __aeabi_memmove(dst, src, n) }
}

/// # Safety
/// As `memset` (note the order of the arguments).
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memset(dst: *mut u8, n: usize, c: i32) {
    unsafe { fill(dst, n, c as u8) }
}

/// # Safety
/// As `memset`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memset4(dst: *mut u8, n: usize, c: i32) {
    unsafe { fill(dst, n, c as u8) }
}

/// # Safety
/// As `memset`.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memset8(dst: *mut u8, n: usize, c: i32) {
    unsafe { fill(dst, n, c as u8) }
}

/// # Safety
/// As `memset` with 0.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memclr(dst: *mut u8, n: usize) {
    unsafe { fill(dst, n, 0) }
}

/// # Safety
/// As `memset` with 0.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memclr4(dst: *mut u8, n: usize) {
    unsafe { fill(dst, n, 0) }
}

/// # Safety
/// As `memset` with 0.
#[unsafe(no_mangle)]
pub unsafe extern "aapcs" fn __aeabi_memclr8(dst: *mut u8, n: usize) {
    unsafe { fill(dst, n, 0) }
}

/// Compare `n` bytes (what `==` on byte slices and strings calls): the difference of the
/// first two bytes that differ, or 0. A byte at a time: the firmware compares a few short
/// strings and addresses (`compiler_builtins`' word-at-a-time version is 116 bytes).
///
/// # Safety
/// As `memcmp`: `a` and `b` readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(
    a: *const core::ffi::c_void,
    b: *const core::ffi::c_void,
    n: usize,
) -> i32 {
    let (a, b) = (a.cast::<u8>(), b.cast::<u8>());
    let mut i = 0;
    while i < n {
        // SAFETY: `i < n`.
        let (x, y) = unsafe { (read_volatile(a.add(i)), read_volatile(b.add(i))) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}
