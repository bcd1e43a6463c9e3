//! QEMU's `mps2-an385`: Arm's MPS2 with the AN385 image, a Cortex-M3
//! (`thumbv7m-none-eabi`, `cargo firmware`). Memory map: `mps2_an385.x`.

use super::mps::{Mps, MpsMap};

pub struct An385;

impl MpsMap for An385 {
    const NAME: &'static str = "mps2-an385 (Cortex-M3)";
    const LAN9118: usize = 0x4020_0000;
    const LAN9118_IRQ: u16 = 13;
    const CORE_HZ: u32 = 25_000_000;
}

pub type ThisBoard = Mps<An385>;

/// Entries of the interrupt table: up to the LAN9118's line.
pub const INTERRUPTS: usize = 14;
