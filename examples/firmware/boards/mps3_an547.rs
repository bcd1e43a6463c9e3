//! QEMU's `mps3-an547`: Arm's MPS3 with the AN547 image, a Cortex-M55 with TrustZone and
//! an FPU (`thumbv8m.main-none-eabihf`, `cargo firmware-m55`). Memory map: `mps3_an547.x`.
//!
//! As on the AN505, the firmware stays in the Secure state it starts in: code in the
//! Secure alias of the ITCM (`0x1000_0000`; the boot vector table is read at its
//! Non-secure address, 0), data in the Secure alias of the DTCM (`0x3000_0000`), and the
//! LAN9118 through its Secure alias, `0x5140_0000` (`0x4140_0000` Non-secure).

use super::mps::{Mps, MpsMap};

pub struct An547;

impl MpsMap for An547 {
    const NAME: &'static str = "mps3-an547 (Cortex-M55)";
    const LAN9118: usize = 0x5140_0000;
    const LAN9118_IRQ: u16 = 49;
    const CORE_HZ: u32 = 32_000_000;
}

pub type ThisBoard = Mps<An547>;

/// Entries of the interrupt table: up to the LAN9118's line.
pub const INTERRUPTS: usize = 50;
