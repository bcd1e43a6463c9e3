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
//! The board's code is the poll-driven build's (`examples/firmware/board.rs`, `div.rs`,
//! `mem.rs`, included as modules): console, clock, statics, panics, interrupt table.
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

// The poll-driven build's board code, as it is (its sleep loop is not used here).
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[allow(dead_code)]
#[path = "../firmware/board.rs"]
mod board;
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/div.rs"]
mod div;
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[path = "../firmware/mem.rs"]
mod mem;

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod control;
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod firmware;
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod wake;

/// What `board.rs`'s interrupt handlers call: wake the stack's runner.
#[cfg(all(target_arch = "arm", target_os = "none"))]
fn interrupted() {
    wake::INTERRUPT.raise();
}
