//! # The async firmware: the tutorial's services as tasks on embassy's executor
//!
//! The same board, services, ports and control port as `examples/firmware`, written the
//! other way: each service is an `async` task (`sockless::async_services`: one task per
//! port, the conversations of its pool inside it), the stack's runner is one more task
//! (`AsyncStack::run`), and `embassy-executor` (thread mode, Cortex-M) runs them. The
//! core sleeps in the executor's `wfe` until an interrupt wakes a task: the LAN9118's
//! line (a frame came) or the SysTick, set each time for the stack's next deadline (a
//! retransmission, a timer), not ticking every 10 ms as the poll-driven build's does.
//!
//! ```text
//! cargo firmware-async         # mps2-an385 (Cortex-M3), thumbv7m-none-eabi
//! cargo firmware-async-m4      # mps2-an386 (Cortex-M4F), thumbv7em-none-eabihf
//! ```
//!
//! It sits on the poll-driven build's port seam (`examples/firmware/board.rs` and
//! `boards/`, included as modules): the board starts the card and gives the clock, the
//! console, the exit and the interrupt table; only the sleeping is this build's own
//! (`wake.rs`), since here the executor sleeps.
//! The host reaches it exactly as the poll-driven build (QEMU's user network, 127.0.0.1 at
//! 20000 + port; `stats`, `log LEVEL`, `quit` on UDP 24444), and tests/firmware.rs runs
//! the same checks on both. `cargo firmware-size` reports its flash and static RAM beside
//! the poll-driven builds (it is not held to their 40 KiB budget).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "firmware_async: this example is firmware for Arm's MPS2 boards. Run it in QEMU with\n  \
         cargo firmware-async       # mps2-an385 (Cortex-M3)\n  \
         cargo firmware-async-m4    # mps2-an386 (Cortex-M4F)\n\
         (README: \"Run it on a (virtual) board\")."
    );
    std::process::exit(2);
}

#[cfg(all(target_os = "none", not(target_arch = "arm")))]
compile_error!("the async firmware is for Arm Cortex-M boards (MPS2): thumbv7m/thumbv7em");

// The poll-driven build's port seam (`board.rs`), its boards and what they share, as
// they are (their sleeping loop is not used here: the executor sleeps).
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[allow(dead_code)]
#[path = "../firmware/board.rs"]
mod board;
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/console.rs"]
mod console;
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/div.rs"]
mod div;
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/mem.rs"]
mod mem;
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/statics.rs"]
mod statics;

/// The boards, as in examples/firmware: `build.rs` picks one by the target.
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[allow(dead_code)]
#[path = "../firmware/boards"]
mod boards {
    pub mod cortex;
    pub mod mps;
    #[cfg(sockless_board = "mps2_an385")]
    pub mod mps2_an385;
    #[cfg(sockless_board = "mps2_an386")]
    pub mod mps2_an386;
    #[cfg(sockless_board = "mps2_an505")]
    pub mod mps2_an505;
    #[cfg(sockless_board = "mps3_an547")]
    pub mod mps3_an547;
}

#[cfg(sockless_board = "mps2_an385")]
use boards::mps2_an385 as this_board;
#[cfg(sockless_board = "mps2_an386")]
use boards::mps2_an386 as this_board;
#[cfg(sockless_board = "mps2_an505")]
use boards::mps2_an505 as this_board;
#[cfg(sockless_board = "mps3_an547")]
use boards::mps3_an547 as this_board;

/// The board this build is for.
#[cfg(all(target_arch = "arm", target_os = "none"))]
type ThisBoard = this_board::ThisBoard;

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod control;
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod firmware;
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod wake;

/// What the interrupt handlers (`boards/cortex.rs`) call: wake the stack's runner.
#[cfg(all(target_arch = "arm", target_os = "none"))]
fn interrupted() {
    wake::INTERRUPT.raise();
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/panic.rs"]
mod panic;
