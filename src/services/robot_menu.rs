//! The "10086" phone-menu robot (智能机器人): what it answers, with no I/O at all.
//!
//! The tutorial's robot greets the caller, answers `0` with a transfer to a human, hangs
//! up on `exit` and asks for anything else again. Here it also has a small menu of `1xxx`
//! codes, like a real carrier's hotline, and clear answers for input it cannot read.
//! [`answer`] maps one input line to one [`Reply`]; the connection driver
//! ([`services`](crate::services)) only frames lines and sends replies, so this module is
//! tested directly.
//!
//! Input is trimmed (Python's `str.strip()`) before it is looked up. Every reply is one
//! line of UTF-8; the driver appends `\n`.

/// The greeting, sent as soon as a caller connects.
pub const WELCOME: &str = "欢迎致电 10086,请输入1xxx,0转人工服务.";

/// The answer to `0` (the tutorial's text, with its typos 通过 and 一大推 fixed).
pub const TRANSFER: &str = "通话可能会被录音.正在为您转接人工服务,请稍候.";

/// The answer to `exit`, after which the robot hangs up.
pub const GOODBYE: &str = "感谢致电 10086,再见.";

/// The answer to anything it does not know.
pub const RETRY: &str = "请重新输入.";

/// The answer to a line that is not valid UTF-8.
pub const BAD_UTF8: &str = "输入不是有效的 UTF-8 文字,请重新输入.";

/// The answer to a line longer than the robot's line buffer.
pub const TOO_LONG: &str = "输入过长,已丢弃,请重新输入.";

/// The menu: each `1xxx` code with its name and its answer.
pub const MENU: [(&str, &str, &str); 5] = [
    ("1001", "话费余额", "您的话费余额为 58.60 元."),
    (
        "1002",
        "流量查询",
        "本月套餐内流量 30GB,已使用 12.5GB,剩余 17.5GB.",
    ),
    (
        "1003",
        "本月账单",
        "本月账单 88.00 元:套餐费 58.00 元,流量费 30.00 元.",
    ),
    (
        "1004",
        "国际漫游",
        "国际漫游已开通,境外通话 1.00 元/分钟,流量 5 元/天.",
    ),
    ("1005", "积分查询", "您的积分为 2680 分,可兑换话费或流量."),
];

/// The answer to `1`: every code of the menu.
pub const MENU_LIST: &str =
    "1001 话费余额,1002 流量查询,1003 本月账单,1004 国际漫游,1005 积分查询;0 转人工服务,exit 挂机.";

/// One answer of the robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The line to send (without `\n`).
    pub text: &'static str,
    /// Whether the robot hangs up after sending it.
    pub hang_up: bool,
}

impl Reply {
    const fn say(text: &'static str) -> Reply {
        Reply {
            text,
            hang_up: false,
        }
    }
}

/// The longest reply in bytes, `\n` included: a connection must have this much room in
/// its transmit buffer before the robot reads the next line.
pub const MAX_REPLY: usize = {
    let mut max = 0;
    let fixed = [
        WELCOME, TRANSFER, GOODBYE, RETRY, BAD_UTF8, TOO_LONG, MENU_LIST,
    ];
    let mut i = 0;
    while i < fixed.len() {
        if fixed[i].len() > max {
            max = fixed[i].len();
        }
        i += 1;
    }
    let mut i = 0;
    while i < MENU.len() {
        if MENU[i].2.len() > max {
            max = MENU[i].2.len();
        }
        i += 1;
    }
    max + 1
};

/// What the robot answers to one input line (raw bytes, without the line end).
pub fn answer(line: &[u8]) -> Reply {
    let Ok(text) = core::str::from_utf8(line) else {
        return Reply::say(BAD_UTF8);
    };
    match text.trim_matches(is_white_space) {
        "exit" => Reply {
            text: GOODBYE,
            hang_up: true,
        },
        "0" => Reply::say(TRANSFER),
        "1" => Reply::say(MENU_LIST),
        code => MENU
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or(Reply::say(RETRY), |(_, _, text)| Reply::say(text)),
    }
}

/// Unicode's White_Space, the characters `str::trim` strips: written out, because `trim`
/// looks most of them up in a 256-byte table (with its code, 0.3 KB of firmware flash).
fn is_white_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The answer to a line that overflowed the line buffer.
pub const fn too_long() -> Reply {
    Reply::say(TOO_LONG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_is_what_trim_strips() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(is_white_space(c), c.is_whitespace(), "{:?}", c);
        }
        assert_eq!(
            answer("\u{3000} 0\t\u{a0}".as_bytes()),
            Reply::say(TRANSFER)
        );
    }

    #[test]
    fn zero_transfers_to_a_human() {
        assert_eq!(answer(b"0"), Reply::say(TRANSFER));
        assert!(TRANSFER.starts_with("通话可能会被录音"));
    }

    #[test]
    fn exit_says_goodbye_and_hangs_up() {
        let r = answer(b"exit");
        assert_eq!(r.text, GOODBYE);
        assert!(r.hang_up);
    }

    #[test]
    fn one_lists_every_code_of_the_menu() {
        let r = answer(b"1");
        for (code, name, _) in MENU {
            assert!(r.text.contains(code), "{code} missing from {}", r.text);
            assert!(r.text.contains(name));
        }
        assert!(!r.hang_up);
    }

    #[test]
    fn each_code_has_its_own_answer() {
        let mut seen = std::vec::Vec::new();
        for (code, _, text) in MENU {
            let r = answer(code.as_bytes());
            assert_eq!(r.text, text);
            assert!(!seen.contains(&r.text));
            seen.push(r.text);
        }
        assert!(seen.len() >= 4);
    }

    #[test]
    fn input_is_stripped_like_python() {
        assert_eq!(answer(b"  1001 \t").text, MENU[0].2);
        assert_eq!(answer("\u{3000}exit".as_bytes()).text, GOODBYE);
    }

    #[test]
    fn anything_else_asks_again() {
        for input in [&b""[..], b"2", b"10010", b"1xxx", b"EXIT", "零".as_bytes()] {
            assert_eq!(answer(input), Reply::say(RETRY), "{input:?}");
        }
    }

    #[test]
    fn invalid_utf8_gets_a_clear_answer() {
        assert_eq!(answer(&[0xe4, 0xbd]).text, BAD_UTF8);
        assert_eq!(answer(&[0xff, b'1']).text, BAD_UTF8);
    }

    #[test]
    fn max_reply_bounds_every_reply() {
        assert!(MAX_REPLY > MENU_LIST.len());
        for text in [WELCOME, TRANSFER, GOODBYE, RETRY, BAD_UTF8, TOO_LONG] {
            assert!(text.len() < MAX_REPLY);
        }
    }
}
