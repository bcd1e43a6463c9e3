//! The firmware's 64-bit division (examples/firmware/div.rs), which replaces the
//! compiler's on the board, against Rust's own `/` and `%` on the host.

#[path = "../examples/firmware/div.rs"]
mod div;

/// Dividends and divisors at the edges: around powers of two, the limits, and a clock's
/// microseconds divided as smoltcp and the control port divide them.
fn edges() -> Vec<u64> {
    let mut v = vec![
        0, 1, 2, 3, 7, 9, 10, 11, 999, 1000, 1001, 1_000_000, 25_000_000,
    ];
    for bit in 0..64 {
        let p = 1u64 << bit;
        v.extend([p - 1, p, p + 1, p.wrapping_mul(3)]);
    }
    v.extend([u64::MAX, u64::MAX - 1, u64::MAX / 3, 0x8000_0000_0000_0001]);
    v
}

/// A few thousand more, spread over every magnitude (xorshift, fixed seed).
fn spread(n: usize) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 64)
        })
        .collect()
}

#[test]
fn unsigned_matches_rust() {
    let numbers: Vec<u64> = edges().into_iter().chain(spread(3000)).collect();
    for &n in &numbers {
        for &d in &numbers {
            if d == 0 {
                continue;
            }
            assert_eq!(div::udivmod(n, d), (n / d, n % d), "{n} / {d}");
        }
    }
}

#[test]
fn signed_matches_rust() {
    let numbers: Vec<i64> = edges()
        .into_iter()
        .chain(spread(600))
        .flat_map(|x| [x as i64, (x as i64).wrapping_neg()])
        .collect();
    for &n in &numbers {
        for &d in &numbers {
            if d == 0 || (n == i64::MIN && d == -1) {
                continue;
            }
            assert_eq!(div::idivmod(n, d), (n / d, n % d), "{n} / {d}");
        }
    }
    // i64::MIN / -1 overflows (Rust panics before dividing); the routine wraps.
    assert_eq!(div::idivmod(i64::MIN, -1), (i64::MIN, 0));
}
