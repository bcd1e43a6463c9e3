//! # Firmware: every service of the tutorial on a Cortex-M board, with no OS at all
//!
//! `serve` runs the services on a Linux TAP device: the kernel still owns the clock, the
//! memory and the network card. Here nothing is left of it. The same library, the same
//! `Services`, run as the only program on an Arm MPS2/MPS3 board (QEMU's `mps2-an385`,
//! Cortex-M3, `mps2-an386`, Cortex-M4F, `mps2-an505`, Cortex-M33, or `mps3-an547`,
//! Cortex-M55); frames go between smoltcp and the board's
//! LAN9118 Ethernet chip through `sockless::lan9118`, the clock is that chip's 25 MHz
//! counter, every byte of memory is a `static` fixed at build time, the console is
//! semihosting, and the core sleeps (`wfi`) until a frame or a 10 ms tick.
//!
//! ```text
//! cargo firmware           # mps2-an385 (Cortex-M3), thumbv7m-none-eabi
//! cargo firmware-m4        # mps2-an386 (Cortex-M4F), thumbv7em-none-eabihf
//! cargo firmware-m33       # mps2-an505 (Cortex-M33), thumbv8m.main-none-eabi
//! cargo firmware-m55       # mps3-an547 (Cortex-M55), thumbv8m.main-none-eabihf
//! cargo firmware-logs      # with log lines, panic messages and DHCP (also -m4, -m33, -m55)
//! cargo firmware-riscv     # QEMU's RISC-V virt with virtio-net, riscv32imac-unknown-none-elf
//! ```
//!
//! The RISC-V board (`boards/riscv_virt.rs`) shows the seam from the other side: another
//! architecture (riscv-rt instead of cortex-m-rt), another kind of card (virtio-net's
//! descriptor rings instead of the LAN9118's FIFOs), the CLINT's timer, a UART console, and
//! the same `firmware.rs`.
//!
//! **The port seam.** What the firmware needs of a board is one trait, `board.rs`'s
//! `Board`: a network card (a smoltcp `Device`), a clock, a sleep until a frame or a
//! deadline, a console, an exit, and its memory map. Each board is a short file in
//! `boards/` (with a `.x` memory map); `build.rs` picks it by the target. Everything else
//! (`firmware.rs`: the stack, the services, the control port, the loop; `statics.rs`,
//! `mem.rs`, `div.rs`) is the same on every board.
//!
//! `cargo firmware` is an alias (`.cargo/config.toml`) for the small build, the one held
//! to the 40 KiB flash budget on stable Rust (`cargo firmware-size`): IPv4-only
//! (`--no-default-features --features lan9118,log-off`; add `--features ipv6` for IPv6),
//! cargo profile `firmware` (opt-level "z", fat LTO), no log lines (feature `log-off`), a
//! panic prints only `PANIC` (`main.rs`), and `mem.rs` and `div.rs` replace the prebuilt,
//! speed-tuned `memcpy` family, `memcmp` and 64-bit division. `cargo firmware-logs` builds the same services with the log lines
//! (`info` at boot; `log debug` on the control port for more) and panic messages, for
//! debugging (bigger; profile `firmware-logs`). `cargo firmware-build` (`-m4`, `-logs`)
//! builds without booting.
//!
//! `.cargo/config.toml` makes QEMU the runner (`scripts/qemu-mps2`), with QEMU's user
//! networking: the board is 10.0.2.15, and the host reaches it on 127.0.0.1 at
//! 20000 + the service's port: TCP/UDP 7 on 20007, TCP 6969 on 26969, TCP 8888 on 28888,
//! TCP/UDP 9999 on 29999, and this firmware's control port, UDP 4444, on 24444:
//!
//! ```text
//! echo stats | nc -u -w1 127.0.0.1 24444     # the counters
//! echo 'log debug' | nc -u -w1 127.0.0.1 24444
//! echo quit | nc -u -w1 127.0.0.1 24444      # QEMU exits with status 0
//! ```
//!
//! On a desktop this file only says how to run it (it is firmware), so that
//! `cargo build --examples` and `cargo test` still work there.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "firmware: this example is firmware for Arm's MPS2 boards. Run it in QEMU with\n  \
         cargo firmware       # mps2-an385 (Cortex-M3)\n  \
         cargo firmware-m4    # mps2-an386 (Cortex-M4F)\n\
         after `sudo apt-get install qemu-system-arm` and\n\
         `rustup target add thumbv7m-none-eabi thumbv7em-none-eabihf`\n\
         (`cargo firmware-riscv` for QEMU's RISC-V virt: qemu-system-misc and\n\
         riscv32imac-unknown-none-elf)\n\
         (README: \"Run it on a (virtual) board\")."
    );
    std::process::exit(2);
}

#[cfg(all(
    target_os = "none",
    not(any(target_arch = "arm", target_arch = "riscv32"))
))]
compile_error!(
    "the firmware example is for Arm Cortex-M boards (MPS2, MPS3: thumbv7m/thumbv7em/\
     thumbv8m.main) and QEMU's RISC-V virt (riscv32imac)"
);

// The port seam (`board.rs`) and what every board shares.
#[cfg(target_os = "none")]
mod board;
#[cfg(target_os = "none")]
mod console;
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod div;
#[cfg(target_os = "none")]
mod firmware;
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod mem;
#[cfg(target_os = "none")]
mod statics;

/// The boards: one file each, and what a family shares. `build.rs` picks one by the
/// target (`cfg(sockless_board = ...)`).
#[cfg(target_os = "none")]
mod boards {
    #[cfg(target_arch = "arm")]
    pub mod cortex;
    #[cfg(target_arch = "arm")]
    pub mod mps;
    #[cfg(sockless_board = "mps2_an385")]
    pub mod mps2_an385;
    #[cfg(sockless_board = "mps2_an386")]
    pub mod mps2_an386;
    #[cfg(sockless_board = "mps2_an505")]
    pub mod mps2_an505;
    #[cfg(sockless_board = "mps3_an547")]
    pub mod mps3_an547;
    #[cfg(sockless_board = "riscv_virt")]
    pub mod riscv_virt;
}

#[cfg(sockless_board = "mps2_an385")]
use boards::mps2_an385 as this_board;
#[cfg(sockless_board = "mps2_an386")]
use boards::mps2_an386 as this_board;
#[cfg(sockless_board = "mps2_an505")]
use boards::mps2_an505 as this_board;
#[cfg(sockless_board = "mps3_an547")]
use boards::mps3_an547 as this_board;
#[cfg(sockless_board = "riscv_virt")]
use boards::riscv_virt as this_board;

/// The board this build is for.
#[cfg(target_os = "none")]
type ThisBoard = this_board::ThisBoard;

#[cfg(target_os = "none")]
mod panic;

/// What the interrupt handlers (`boards/cortex.rs`) call after their own work: nothing
/// here (the loop runs after every `wfi`); the async build (examples/firmware_async) wakes
/// its runner.
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[inline(always)]
fn interrupted() {}
