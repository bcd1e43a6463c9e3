//! 32-bit register access for the drivers of memory-mapped devices (`lan9118`,
//! `virtio_net`).
//!
//! A driver never dereferences a device address itself: it reads and writes registers at
//! byte offsets through [`Registers`]. On hardware that is [`Mmio`], volatile accesses at
//! a base address; in the host tests it is a register-level fake of the device, so the
//! same driver code runs against both.

/// 32-bit register access at byte offsets from a device's base.
pub trait Registers {
    /// Read the register at `offset`.
    fn read(&mut self, offset: usize) -> u32;
    /// Write the register at `offset`.
    fn write(&mut self, offset: usize, value: u32);
}

/// Memory-mapped registers at a base address (the real device).
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// Registers at `base` (`0x4020_0000` for the LAN9118 on MPS2; `0x1000_1000` for the
    /// first virtio-mmio slot on QEMU's RISC-V `virt`).
    ///
    /// # Safety
    /// `base` must be the address of the device's register block, mapped for volatile
    /// 32-bit access, and nothing else may access it while this value lives.
    pub const unsafe fn new(base: usize) -> Self {
        Mmio { base }
    }
}

impl Registers for Mmio {
    fn read(&mut self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: a mapped register block we own.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }
    fn write(&mut self, offset: usize, value: u32) {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
}
