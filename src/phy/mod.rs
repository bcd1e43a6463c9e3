//! The physical layer: where frames come from and go to.
//!
//! A Berkeley-sockets program never sees a network card: the kernel owns the driver, the
//! loopback device and the queues between them. smoltcp instead talks to anything that
//! implements its [`Device`](smoltcp::phy::Device) trait, one frame at a time, and the
//! program chooses the device. Every device here keeps its frames in fixed memory:
//!
//! * [`Wire`]: a full-duplex in-memory Ethernet cable between two stacks, with fault
//!   injection ([`Faults`]) and counters ([`WireStats`]); the [`Testbed`](crate::testbed)
//!   runs on it.
//! * [`Loopback`]: one queue a single stack sends into and receives from.
//! * `tap` (feature `std`, hosts only): a Linux TAP device, the real-network counterpart
//!   of the wire, with capture and fault injection.
//! * `lan9118` (feature `lan9118`): the driver of the Ethernet chip on Arm's MPS2 boards,
//!   for firmware.
//! * `virtio_net` (feature `virtio-net`): the virtual machines' network card, over
//!   virtio-mmio descriptor rings in static memory (QEMU's RISC-V `virt` board).
//! * [`mmio`]: the register access both drivers share (hardware or a test's fake).
//!
//! Below the stack but above the bytes, two readers look at frames without trusting them:
//! [`tcp_header`] picks the few TCP fields out of any frame, and [`RetransmitCounter`]
//! counts the segments a stack sent again.
//!
//! Nothing in this layer knows about sockets or stacks: it moves and counts frames.

mod faults;
mod frame_queue;
#[cfg(feature = "lan9118")]
pub mod lan9118;
mod loopback;
pub mod mmio;
mod retransmit_counter;
#[cfg(all(feature = "std", not(target_os = "none")))]
pub mod tap;
mod tcp_header;
#[cfg(feature = "virtio-net")]
pub mod virtio_net;
mod wire;

pub use faults::Faults;
pub use frame_queue::{ETHERNET_FRAME, Frame, WireStats};
pub use loopback::{Loopback, LoopbackPort};
pub use retransmit_counter::RetransmitCounter;
pub(crate) use tcp_header::tcp_segment;
pub use tcp_header::{FLAG_ACK, FLAG_FIN, FLAG_SYN, TcpHeader, tcp_flags, tcp_header};
pub use wire::{End, Wire, WirePort};
