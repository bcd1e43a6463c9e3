//! The physical layer: where frames come from and go to.
//!
//! A Berkeley-sockets program never sees a network card: the kernel owns the driver, the
//! loopback device and the queues between them. smoltcp instead talks to anything that
//! implements its [`Device`](smoltcp::phy::Device) trait, one frame at a time, and the
//! program chooses the device. Every device here keeps its frames in fixed memory:
//!
//! * [`Wire`]: a full-duplex in-memory Ethernet cable between two stacks, with a link
//!   model per direction ([`Link`]: latency, jitter, reordering, duplication, loss,
//!   corruption, bandwidth), partitions, scripted faults ([`Rule`]) and counters
//!   ([`WireStats`]); the [`Testbed`](crate::testbed) runs on it.
//! * [`Switch`]: a star of `N` hosts, each port with its link and cuts: the
//!   [`Network`](crate::testbed::Network) of more than two hosts runs on it.
//! * [`Loopback`]: one queue a single stack sends into and receives from.
//! * `tap` (feature `std`, hosts only): a Linux TAP device, the real-network counterpart
//!   of the wire, with capture and fault injection.
//! * `lan9118` (feature `lan9118`): the driver of the Ethernet chip on Arm's MPS2 boards,
//!   for firmware.
//!
//! A wire reports every frame and its fate to an optional [`FrameObserver`]; a
//! [`PcapCapture`] is one, writing the classic capture file through smoltcp's `PcapSink`
//! (no `std`).
//!
//! Below the stack but above the bytes, two readers look at frames without trusting them:
//! [`tcp_header`] picks the few TCP fields out of any frame, and [`RetransmitCounter`]
//! counts the segments a stack sent again.
//!
//! Nothing in this layer knows about sockets or stacks: it moves and counts frames.

mod end;
mod faults;
mod frame_observer;
mod frame_queue;
#[cfg(feature = "lan9118")]
pub mod lan9118;
mod link;
mod loopback;
mod pcap_capture;
mod retransmit_counter;
mod script;
mod switch;
#[cfg(all(feature = "std", not(target_os = "none")))]
pub mod tap;
mod tcp_header;
mod timed_queue;
mod wire;

pub use end::End;
pub use faults::Faults;
pub use frame_observer::{DropCause, Fate, FrameObserver, WireFrame};
pub use frame_queue::{ETHERNET_FRAME, Frame, WireStats};
pub use link::{Chance, Link};
pub use loopback::{Loopback, LoopbackPort};
pub use pcap_capture::PcapCapture;
pub use retransmit_counter::RetransmitCounter;
pub use script::{Action, FrameMatch, Nth, Payload, RULES, Rule, RuleId, Transport};
pub use switch::{PortChange, SCHEDULED_CHANGES, Switch, SwitchPort};
pub(crate) use tcp_header::tcp_segment;
pub use tcp_header::{FLAG_ACK, FLAG_FIN, FLAG_SYN, TcpHeader, tcp_flags, tcp_header};
pub use wire::{Partition, SCHEDULED_PARTITIONS, Wire, WirePort};
