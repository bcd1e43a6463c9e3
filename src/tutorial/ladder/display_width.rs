//! How many terminal columns text takes: Chinese takes two per character.
//!
//! `format!("{:<20}", s)` pads by `char`s, so a column of `请求占领地球` beside ASCII comes
//! out ragged. Terminals give East Asian Wide and Fullwidth characters two columns
//! (Unicode's UAX #11); combining marks and zero-width characters take none. This is the
//! small table the ladder needs (CJK, Hangul, fullwidth forms, the common emoji blocks),
//! not all of UAX #11: the `unicode-width` crate has the whole table, and a library that
//! stays dependency-light does not need it to align the tutorial's Chinese.

use core::fmt::{self, Write};

/// The columns `c` takes in a terminal: 0, 1 or 2.
pub fn char_width(c: char) -> usize {
    let c = u32::from(c);
    match c {
        // Control characters are shown escaped, never raw; count them as nothing.
        0..=0x1f | 0x7f..=0x9f => 0,
        // Combining marks, zero-width space/joiners, variation selectors.
        0x0300..=0x036f | 0x200b..=0x200f | 0x20d0..=0x20ff | 0xfe00..=0xfe0f => 0,
        0x1100..=0x115f // Hangul Jamo
        | 0x2e80..=0x303e // CJK radicals, punctuation
        | 0x3041..=0x33ff // kana, CJK symbols
        | 0x3400..=0x4dbf // CJK extension A
        | 0x4e00..=0x9fff // CJK unified ideographs
        | 0xa000..=0xa4cf // Yi
        | 0xac00..=0xd7a3 // Hangul syllables
        | 0xf900..=0xfaff // CJK compatibility ideographs
        | 0xfe30..=0xfe4f // CJK compatibility forms
        | 0xff00..=0xff60 // fullwidth forms
        | 0xffe0..=0xffe6
        | 0x1f300..=0x1f64f // emoji
        | 0x1f900..=0x1f9ff
        | 0x20000..=0x3fffd => 2,
        _ => 1,
    }
}

/// The columns `s` takes in a terminal.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Write `s`, then spaces up to `width` columns (nothing if `s` is wider).
pub fn pad(out: &mut dyn Write, s: &str, width: usize) -> fmt::Result {
    out.write_str(s)?;
    for _ in display_width(s)..width {
        out.write_char(' ')?;
    }
    Ok(())
}

/// The longest prefix of `s` that fits in `width` columns, and its width.
pub fn fit(s: &str, width: usize) -> (&str, usize) {
    let mut used = 0;
    for (at, c) in s.char_indices() {
        let w = char_width(c);
        if used + w > width {
            return (&s[..at], used);
        }
        used += w;
    }
    (s, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_takes_two_columns_ascii_one() {
        assert_eq!(display_width("请求占领地球"), 12);
        assert_eq!(display_width("Hello world"), 11);
        assert_eq!(display_width("sockless 你好 smoltcp"), 21);
        assert_eq!(display_width("不要回答,不要回答"), 17);
        assert_eq!(display_width("欢迎致电 10086,请输入1xxx"), 25);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(display_width("✓"), 1);
        assert_eq!(display_width("ｈｉ"), 4);
    }

    #[test]
    fn fit_never_splits_a_wide_character() {
        assert_eq!(fit("请求占领", 5), ("请求", 4));
        assert_eq!(fit("请求占领", 8), ("请求占领", 8));
        assert_eq!(fit("ab请", 3), ("ab", 2));
        assert_eq!(fit("", 3), ("", 0));
        assert_eq!(fit("abc", 0), ("", 0));
    }

    #[test]
    fn pad_aligns_by_columns() {
        let mut s = heapless::String::<64>::new();
        pad(&mut s, "你好", 6).unwrap();
        s.push('|').unwrap();
        pad(&mut s, "hi", 6).unwrap();
        s.push('|').unwrap();
        pad(&mut s, "too wide", 3).unwrap();
        assert_eq!(s.as_str(), "你好  |hi    |too wide");
    }
}
