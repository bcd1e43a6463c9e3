//! QEMU's `mps2-an386`: Arm's MPS2 with the AN386 image, a Cortex-M4F
//! (`thumbv7em-none-eabihf`, `cargo firmware-m4`). The AN385's map: `mps2_an385.x`.

use super::mps::{Mps, MpsMap};

pub struct An386;

impl MpsMap for An386 {
    const NAME: &'static str = "mps2-an386 (Cortex-M4F)";
    const LAN9118: usize = 0x4020_0000;
    const LAN9118_IRQ: u16 = 13;
    const CORE_HZ: u32 = 25_000_000;
}

pub type ThisBoard = Mps<An386>;

/// Entries of the interrupt table: up to the LAN9118's line.
pub const INTERRUPTS: usize = 14;
