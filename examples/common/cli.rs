//! The examples' command lines, on `lexopt`: one loop for every example, one way to read
//! an option's value, one way to report a mistake (`serve: --drop-chance: "101" is not a
//! percentage (0-100)`, exit status 2). Each example only says what its own options do.

#![allow(dead_code)]

use std::str::FromStr;

use lexopt::Arg;
pub use lexopt::{Error, Parser};

/// How a command line ended, when it was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Every option was taken: run.
    Run,
    /// `-h` or `--help`: print the help text and stop.
    Help,
}

/// Read `parser`'s arguments. Each option goes to `take` by its name as written on a
/// command line (`--tap`, `-x`), with the parser to read its value from; `take` returns
/// `Ok(false)` for an option it does not know. Positional arguments are refused.
pub fn parse(
    mut parser: Parser,
    mut take: impl FnMut(&str, &mut Parser) -> Result<bool, Error>,
) -> Result<Parsed, Error> {
    while let Some(arg) = parser.next()? {
        let flag = match arg {
            Arg::Short('h') | Arg::Long("help") => return Ok(Parsed::Help),
            Arg::Short(c) => format!("-{c}"),
            Arg::Long(name) => format!("--{name}"),
            Arg::Value(value) => return Err(Error::UnexpectedArgument(value)),
        };
        if !take(&flag, &mut parser)? {
            return Err(Error::UnexpectedOption(flag));
        }
    }
    Ok(Parsed::Run)
}

/// [`parse`] the program's own command line. `--help` prints `help` and exits 0; a
/// mistake prints `name: what was wrong` on stderr and exits 2.
pub fn parse_env(
    name: &str,
    help: &str,
    take: impl FnMut(&str, &mut Parser) -> Result<bool, Error>,
) {
    match parse(Parser::from_env(), take) {
        Ok(Parsed::Run) => {}
        Ok(Parsed::Help) => {
            println!("{help}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{name}: {}", usage_error(&e));
            std::process::exit(2);
        }
    }
}

/// What to say about `e`: lexopt's own words, and where to look for a word it did not know.
pub fn usage_error(e: &Error) -> String {
    match e {
        Error::UnexpectedOption(_) | Error::UnexpectedArgument(_) => format!("{e} (see --help)"),
        _ => e.to_string(),
    }
}

/// The value of option `flag`, turned into a `T` by `convert`; `what` names a good value
/// in the error (`--seed: "x" is not a number`).
pub fn value_with<T>(
    parser: &mut Parser,
    flag: &str,
    what: &str,
    convert: impl FnOnce(&str) -> Option<T>,
) -> Result<T, Error> {
    let bad = |v: &dyn std::fmt::Debug| Error::from(format!("{flag}: {v:?} is not {what}"));
    let text = parser.value()?.into_string().map_err(|v| bad(&v))?;
    convert(&text).ok_or_else(|| bad(&text))
}

/// The value of option `flag`, parsed as a `T` (see [`value_with`]).
pub fn value<T: FromStr>(parser: &mut Parser, flag: &str, what: &str) -> Result<T, Error> {
    value_with(parser, flag, what, |v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line with `--on` and `--count N` (1 to 9).
    fn parse_words(words: &[&str]) -> Result<(Parsed, bool, u8), String> {
        let (mut on, mut count) = (false, 0);
        let parsed = parse(Parser::from_args(words), |flag, parser| {
            match flag {
                "--on" => on = true,
                "--count" => {
                    count = value_with(parser, flag, "a digit (1-9)", |v| {
                        v.parse().ok().filter(|n| (1..=9).contains(n))
                    })?
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
        .map_err(|e| usage_error(&e))?;
        Ok((parsed, on, count))
    }

    #[test]
    fn options_and_values_in_every_spelling() {
        assert_eq!(parse_words(&[]), Ok((Parsed::Run, false, 0)));
        assert_eq!(
            parse_words(&["--on", "--count", "3"]),
            Ok((Parsed::Run, true, 3))
        );
        assert_eq!(parse_words(&["--count=4"]), Ok((Parsed::Run, false, 4)));
    }

    #[test]
    fn help_stops_the_parse() {
        assert_eq!(parse_words(&["--on", "-h"]).unwrap().0, Parsed::Help);
        assert_eq!(parse_words(&["--help", "--bogus"]).unwrap().0, Parsed::Help);
    }

    #[test]
    fn mistakes_say_what_and_where() {
        for (words, error) in [
            (
                &["--count", "10"][..],
                r#"--count: "10" is not a digit (1-9)"#,
            ),
            (&["--count"], "missing argument for option '--count'"),
            (&["--bogus"], "invalid option '--bogus' (see --help)"),
            (&["stray"], r#"unexpected argument "stray" (see --help)"#),
            (
                &["--on=yes"],
                r#"unexpected argument for option '--on': "yes""#,
            ),
        ] {
            assert_eq!(parse_words(words), Err(error.to_string()), "{words:?}");
        }
    }
}
