//! QEMU's `mps2-an505`: Arm's MPS2+ with the AN505 image, a Cortex-M33 with TrustZone
//! (`thumbv8m.main-none-eabi`, `cargo firmware-m33`). Memory map: `mps2_an505.x`.
//!
//! The core starts in the Secure state and the firmware stays there: it runs from the
//! Secure aliases of code and data memory (`0x1000_0000`, `0x3800_0000`), where the boot
//! vector table is (QEMU's `init-svtor`), and reaches the LAN9118 through its Secure alias,
//! `0x5200_0000` (the chip is at `0x4200_0000` for Non-secure code; its protection
//! controller lets only Secure accesses through until told otherwise).

use super::mps::{Mps, MpsMap};

pub struct An505;

impl MpsMap for An505 {
    const NAME: &'static str = "mps2-an505 (Cortex-M33)";
    const LAN9118: usize = 0x5200_0000;
    const LAN9118_IRQ: u16 = 48;
    const CORE_HZ: u32 = 20_000_000;
}

pub type ThisBoard = Mps<An505>;

/// Entries of the interrupt table: up to the LAN9118's line.
pub const INTERRUPTS: usize = 49;
