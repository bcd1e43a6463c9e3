//! The panic handler of every firmware build (poll-driven and async): the panic on the
//! board's console, then the board's exit with a failure (QEMU exits 1).

use crate::ThisBoard;
use crate::board::Board as _;

/// A panic, with its message and where it happened (a build with log lines).
#[cfg(not(feature = "log-off"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = heapless::String::<192>::new();
    let _ = core::fmt::Write::write_fmt(&mut line, format_args!("PANIC {info}"));
    ThisBoard::print(&line);
    ThisBoard::exit(false)
}

/// A panic, without a word of what or where: the small build (`log-off`). Not looking at
/// `info` lets the link drop every panic message, its source path and the formatting
/// behind them (about 9 KB). A build with log lines says what and where.
#[cfg(feature = "log-off")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    ThisBoard::print("PANIC (a build with log lines prints what and where)");
    ThisBoard::exit(false)
}
