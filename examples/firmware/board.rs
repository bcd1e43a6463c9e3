//! The port seam: what a board gives the firmware, and nothing else.
//!
//! On a desktop the kernel gives a program its network card, a clock, a way to wait
//! (`poll`), a console (stdout), its memory and `exit`. On bare metal the board does, and
//! [`Board`] is all of it: one implementation per board, in `boards/` (the MPS2/MPS3
//! boards share theirs, `boards/mps.rs`, and differ in a few constants and a memory map),
//! picked at build time by the target (`build.rs`). Everything else, the stack, the
//! services, the control port and the loop, is `firmware.rs` and does not change from board
//! to board.
//!
//! What a board provides:
//!
//! * **a network card**: [`Board::Device`], any smoltcp [`Device`], built in a `static`
//!   of the board's and handed out by [`Board::start`] with its MAC address;
//! * **a clock**: [`Board::now`], monotonic microseconds (any source: a counter on the
//!   card, SysTick, a timer peripheral);
//! * **a way to sleep until a frame or a deadline**: [`Board::sleep`] (it may return
//!   early; the loop polls and asks again);
//! * **a console**: [`Board::print`], one line at a time (semihosting, a UART, RTT);
//! * **an exit**: [`Board::exit`] (QEMU's exit status; a real board may reset or halt);
//! * **memory for the statics**: the board's linker memory map (`boards/*.x`, which
//!   `build.rs` hands to the linker as `memory.x`); the statics themselves are `.bss`;
//! * two read-outs for the control port's `stats`: [`Board::counters`] (the card's frame
//!   counters) and [`Board::stack_used`] (the call stack's high-water mark).
//!
//! Unlike Berkeley sockets, nothing here is a file descriptor or a system call: the trait is
//! static (one board per build, no `dyn`), so it costs no flash over calling the board's
//! functions by name.

use smoltcp::phy::Device;
use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;

/// A board: its network card, clock, sleep, console and exit (see the module docs).
pub trait Board: Sized {
    /// The board's name, on the console at boot: `"mps2-an385 (Cortex-M3)"`.
    const NAME: &'static str;

    /// The network card, as smoltcp drives it.
    type Device: Device;

    /// Bring the board up: clocks, the tick, the card (initialised, in a `static` of the
    /// board's), its interrupt. Returns the board, the card and the card's MAC address.
    /// A board that cannot start says why on its console and exits.
    fn start() -> (Self, &'static mut Self::Device, EthernetAddress);

    /// The time now: monotonic, from any start. `nic` is there for boards whose clock is
    /// on the card (the LAN9118's 25 MHz counter); others ignore it.
    fn now(&mut self, nic: &mut Self::Device) -> Instant;

    /// Sleep until a frame arrives or until `deadline` (`None`: no timer is due), whichever
    /// comes first. It may return sooner (a tick, any interrupt): the loop then polls and
    /// sleeps again. A frame that arrived since the last poll must not be slept through.
    fn sleep(&mut self, nic: &mut Self::Device, deadline: Option<Instant>);

    /// The card's frame counters, for the control port's `stats`.
    fn counters(nic: &Self::Device) -> NicCounters;

    /// One line on the console.
    fn print(line: &str);

    /// End the run: under QEMU, its exit status (0 if `ok`); on a real board, a halt or a
    /// reset.
    fn exit(ok: bool) -> !;

    /// Bytes of the call stack used so far (its deepest point), or 0 if the board cannot
    /// tell.
    fn stack_used() -> usize;
}

/// What the control port's `stats` shows of the network card (a driver without a counter
/// leaves it 0).
#[derive(Clone, Copy, Default)]
pub struct NicCounters {
    /// Frames handed to smoltcp.
    pub received: u64,
    /// Frames sent.
    pub sent: u64,
    /// Frames the card flagged in error, dropped.
    pub rx_errors: u64,
    /// Frames larger than the driver's buffer, dropped.
    pub rx_oversize: u64,
    /// Frames dropped because the card had no room to send them.
    pub tx_full: u64,
}
