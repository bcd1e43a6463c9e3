//! The caller-owned memory of a stack: smoltcp's socket slots and the socket table.
//!
//! A kernel allocates a socket when the program asks for one. Here every socket a stack
//! will ever hold is room in a [`StackStorage<N>`] that the caller provides once, for the
//! stack's whole life: a `static` on a board, a local in a test.

use core::mem::MaybeUninit;

use smoltcp::iface::SocketStorage;

use super::table::Slot;
use super::time_wait::TimeWaitRecord;

/// The caller-owned memory of a [`Stack`](super::Stack) with room for `N` sockets
/// (`N` at most 255: a descriptor is one byte) and `TW` connections in TIME-WAIT
/// ([`time_wait`](super::time_wait): a finished connection's record, so its socket is
/// free at once; 16 by default).
///
/// Each socket costs `size_of::<SocketStorage>()` (a few hundred bytes, mostly the TCP
/// socket's state) plus a table entry of 136 bytes on a 64-bit host (about as much on a 32-bit
/// microcontroller); the data buffers are separate ([`TcpBuffers`](crate::socket::TcpBuffers),
/// [`UdpBuffers`](crate::socket::UdpBuffers)) and sized by their own const generics.
/// [`StackStorage::SIZE`] gives the exact figure for a build.
///
/// Note for firmware: a `static` `StackStorage` built with [`new`](Self::new) is not
/// all-zero (an empty `SocketStorage` is `None` of an enum whose niche is not zero,
/// smoltcp #1199), so it is placed in `.data` and costs flash for its initial image as
/// well as RAM; [`init`](Self::init) on a `MaybeUninit` static keeps it in `.bss`.
/// A TIME-WAIT record is 72 bytes on a 64-bit host with IPv6.
pub struct StackStorage<'a, const N: usize, const TW: usize = 16> {
    pub(super) sockets: [SocketStorage<'a>; N],
    pub(super) table: [Slot; N],
    pub(super) time_wait: [TimeWaitRecord; TW],
}

impl<const N: usize, const TW: usize> Default for StackStorage<'_, N, TW> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const N: usize, const TW: usize> StackStorage<'a, N, TW> {
    /// Checked at compile time by both constructors: a descriptor is one byte.
    const FITS: () = assert!(N <= u8::MAX as usize, "at most 255 sockets per stack");

    /// Room for `N` sockets, all free.
    ///
    /// ```compile_fail
    /// // 256 sockets do not fit one-byte descriptors: a build error, not socket 0 twice.
    /// let storage = sockless::StackStorage::<256>::new();
    /// ```
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        StackStorage {
            sockets: [SocketStorage::EMPTY; N],
            table: [Slot::EMPTY; N],
            time_wait: [TimeWaitRecord::EMPTY; TW],
        }
    }

    /// Build the storage where it lies (a `static` on a board, a heap allocation), one
    /// entry at a time, without building the whole value on the call stack first as
    /// [`new`](Self::new) does. The same checks as `new`:
    ///
    /// ```compile_fail
    /// let mut slot = std::mem::MaybeUninit::<sockless::StackStorage<'static, 300>>::uninit();
    /// sockless::StackStorage::init(&mut slot);
    /// ```
    pub fn init(slot: &mut MaybeUninit<Self>) -> &mut Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        let this = slot.as_mut_ptr();
        for i in 0..N {
            // SAFETY: each element of both arrays is written once, in bounds, before the
            // reference is made.
            unsafe {
                core::ptr::addr_of_mut!((*this).sockets[i]).write(SocketStorage::EMPTY);
                core::ptr::addr_of_mut!((*this).table[i]).write(Slot::EMPTY);
            }
        }
        for i in 0..TW {
            // SAFETY: as above.
            unsafe {
                core::ptr::addr_of_mut!((*this).time_wait[i]).write(TimeWaitRecord::EMPTY);
            }
        }
        // SAFETY: every field was written above.
        unsafe { slot.assume_init_mut() }
    }

    /// Bytes this storage takes (excluding the sockets' data buffers).
    pub const SIZE: usize = core::mem::size_of::<Self>();
}
