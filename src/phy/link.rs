//! What a link does to the frames it carries, one direction at a time: delay, jitter,
//! reordering, duplication, loss, corruption, a bandwidth limit with a drop-tail queue.
//!
//! A socket program on an operating system gets these from the network (or from Linux's
//! `netem` qdisc, or from a simulator such as turmoil that replaces the sockets). Here a
//! [`Link`] is a plain value given to a [`Wire`](super::Wire) (or a
//! [`Switch`](super::Switch) port), and its effects are computed when a frame is sent: the
//! frame either is lost, or is stored with the instant it is **due** at the other end.
//! Nothing happens in wall time; the [`Testbed`](crate::testbed) jumps its virtual clock to
//! the next due frame as it does to the next stack deadline, so a 100 ms link costs no
//! waiting.
//!
//! A frame sent at `now` goes through, in this order:
//!
//! 1. the **bottleneck** (when [`Link::bandwidth`] is not 0): the link sends one frame at a
//!    time at `bandwidth` bits per second, first in first out. A frame that would make
//!    the bytes not yet sent (its own, and the rest of the one going out, included) more
//!    than [`Link::queue_bytes`] is dropped (drop-tail), as by a router's egress queue;
//!    otherwise it leaves when the frames ahead and its own bytes are through. This is the model of smoltcp's `tests/netsim.rs` (its bottleneck, in
//!    bytes per second there);
//! 2. **loss** ([`Link::drop`]) and **corruption** ([`Link::corrupt`]: one bit flipped, for
//!    the checksums to catch);
//! 3. the **delay**: [`Link::latency`] plus a jitter drawn **uniformly** from `0 ..=`
//!    [`Link::jitter`] (whole microseconds), plus [`Link::reorder_delay`] for the frames
//!    chosen by [`Link::reorder`];
//! 4. **duplication** ([`Link::duplicate`]): a second copy, with its own jitter draw.
//!
//! Frames are delivered in the order they fall due (ties in the order sent). So jitter
//! larger than the gap between two frames reorders them, as on a path with several
//! routes (netem does the same; a real single cable would not), and [`Link::reorder`]
//! reorders on request with a fixed extra delay. With no latency, jitter or reordering a
//! link keeps the order frames were sent in.
//!
//! Randomness comes from one seeded generator (SplitMix64) per wire, so the same seed and the same
//! traffic give the same losses, delays and copies on every run. Probabilities are
//! [`Chance`]s, exact ratios of integers (no floating point on a microcontroller).

use smoltcp::time::{Duration, Instant};

/// A probability, `num` in `den`: [`Chance::percent`], [`Chance::per_mille`],
/// [`Chance::ratio`]. [`Chance::NEVER`] by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chance {
    num: u32,
    den: u32,
}

impl Default for Chance {
    fn default() -> Self {
        Chance::NEVER
    }
}

impl Chance {
    /// Never.
    pub const NEVER: Chance = Chance { num: 0, den: 1 };
    /// Always.
    pub const ALWAYS: Chance = Chance { num: 1, den: 1 };

    /// `p` in 100 (more than 100 is always).
    pub const fn percent(p: u8) -> Chance {
        Chance::ratio(p as u32, 100)
    }

    /// `p` in 1000 (more than 1000 is always).
    pub const fn per_mille(p: u16) -> Chance {
        Chance::ratio(p as u32, 1000)
    }

    /// `num` in `den`; a `den` of 0 is never, a `num` above `den` always.
    pub const fn ratio(num: u32, den: u32) -> Chance {
        if den == 0 || num == 0 {
            Chance::NEVER
        } else if num > den {
            Chance { num: den, den }
        } else {
            Chance { num, den }
        }
    }

    /// Whether this chance is zero.
    pub const fn is_never(&self) -> bool {
        self.num == 0
    }

    /// The chance as parts per million (rounded down), for printing.
    pub const fn ppm(&self) -> u32 {
        ((self.num as u64 * 1_000_000) / self.den as u64) as u32
    }
}

/// What one direction of a link does to frames (see the module documentation for the
/// order of effects). [`Link::IDEAL`] (the default) does nothing: frames arrive at the
/// instant they are sent, in order, as on the plain [`Wire`](super::Wire).
///
/// Build one from [`Link::IDEAL`] with the `const` setters:
///
/// ```
/// use sockless::phy::{Chance, Link};
/// use sockless::smoltcp::time::Duration;
///
/// let satellite = Link::IDEAL
///     .latency(Duration::from_millis(300))
///     .jitter(Duration::from_millis(20))
///     .drop(Chance::percent(1))
///     .bandwidth(2_000_000, 64 * 1024);
/// assert_eq!(satellite.latency, Duration::from_millis(300));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The fixed one-way delay.
    pub latency: Duration,
    /// The largest extra delay; each frame draws one uniformly from `0 ..= jitter`.
    pub jitter: Duration,
    /// Frames lost.
    pub drop: Chance,
    /// Frames delivered with one bit flipped (checksums catch it; keep them on).
    pub corrupt: Chance,
    /// Frames delivered twice.
    pub duplicate: Chance,
    /// Frames held back by [`reorder_delay`](Self::reorder_delay), so that later frames
    /// overtake them.
    pub reorder: Chance,
    /// The extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// The bottleneck's rate in bits per second (Ethernet header included); 0: no limit.
    pub bandwidth: u64,
    /// The bottleneck's drop-tail queue in bytes: a frame that would make the bytes not
    /// yet sent (its own included) more than this is dropped. Only with a
    /// [`bandwidth`](Self::bandwidth).
    pub queue_bytes: u32,
}

impl Default for Link {
    fn default() -> Self {
        Link::IDEAL
    }
}

impl Link {
    /// No delay, no loss, no limit.
    pub const IDEAL: Link = Link {
        latency: Duration::ZERO,
        jitter: Duration::ZERO,
        drop: Chance::NEVER,
        corrupt: Chance::NEVER,
        duplicate: Chance::NEVER,
        reorder: Chance::NEVER,
        reorder_delay: Duration::ZERO,
        bandwidth: 0,
        queue_bytes: u32::MAX,
    };

    /// This link with a fixed one-way delay.
    pub const fn latency(mut self, latency: Duration) -> Link {
        self.latency = latency;
        self
    }

    /// This link with a jitter of up to `jitter` (uniform).
    pub const fn jitter(mut self, jitter: Duration) -> Link {
        self.jitter = jitter;
        self
    }

    /// This link losing frames.
    pub const fn drop(mut self, chance: Chance) -> Link {
        self.drop = chance;
        self
    }

    /// This link corrupting frames.
    pub const fn corrupt(mut self, chance: Chance) -> Link {
        self.corrupt = chance;
        self
    }

    /// This link duplicating frames.
    pub const fn duplicate(mut self, chance: Chance) -> Link {
        self.duplicate = chance;
        self
    }

    /// This link holding frames back by `delay`, so that later ones overtake them.
    pub const fn reorder(mut self, chance: Chance, delay: Duration) -> Link {
        self.reorder = chance;
        self.reorder_delay = delay;
        self
    }

    /// This link limited to `bits_per_second` (0: no limit), with a drop-tail queue of
    /// `queue_bytes`.
    pub const fn bandwidth(mut self, bits_per_second: u64, queue_bytes: u32) -> Link {
        self.bandwidth = bits_per_second;
        self.queue_bytes = queue_bytes;
        self
    }

    /// Whether this link does nothing at all to frames.
    pub const fn is_ideal(&self) -> bool {
        self.latency.total_micros() == 0
            && self.jitter.total_micros() == 0
            && self.drop.is_never()
            && self.corrupt.is_never()
            && self.duplicate.is_never()
            && self.reorder.is_never()
            && self.bandwidth == 0
    }

    /// How long the bottleneck takes to send `bytes` (zero without a limit).
    pub const fn serialization(&self, bytes: usize) -> Duration {
        if self.bandwidth == 0 {
            return Duration::ZERO;
        }
        let bits = (bytes as u64).saturating_mul(8);
        // Rounded up: a link never goes faster than its rate.
        Duration::from_micros(bits.saturating_mul(1_000_000).div_ceil(self.bandwidth))
    }
}

/// The wire's deterministic random source: SplitMix64 (a counter through a strong
/// mixer), so that draws taken every few steps (one direction's losses, while the other
/// direction and the jitter draw in between) are as independent as consecutive ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// A generator from a seed.
    pub(crate) const fn seeded(seed: u32) -> Rng {
        Rng((seed as u64) ^ 0x5eed_f00d_0000_0000)
    }

    pub(crate) fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32
    }

    /// True with the given chance (draws nothing for a chance of zero).
    pub(crate) fn roll(&mut self, chance: Chance) -> bool {
        chance.num > 0 && self.next() % chance.den < chance.num
    }

    /// A whole number of microseconds in `0 ..= max` (draws nothing for zero).
    pub(crate) fn upto(&mut self, max: Duration) -> Duration {
        let max = max.total_micros();
        if max == 0 {
            return Duration::ZERO;
        }
        let draw = (u64::from(self.next()) << 32) | u64::from(self.next());
        Duration::from_micros(draw % max.saturating_add(1).max(1))
    }
}

/// `at + by`, saturating (time arithmetic never overflows).
pub(crate) fn after(at: Instant, by: Duration) -> Instant {
    let by = i64::try_from(by.total_micros()).unwrap_or(i64::MAX);
    Instant::from_micros(at.total_micros().saturating_add(by))
}

/// The instant of a frame held until released: later than any real one.
pub(crate) const HELD: Instant = Instant::from_micros_const(i64::MAX);

/// One direction's link and the state of its bottleneck.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Direction {
    pub(crate) link: Link,
    ideal: bool,
    /// When the bottleneck has sent every frame admitted so far.
    busy_until: Instant,
}

/// What became of a frame given to a link: lost, or due at one instant (or two, when
/// duplicated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Passage {
    /// Dropped by the bottleneck's full queue.
    QueueFull,
    /// Lost on the link.
    Lost,
    /// Delivered at `due`, and a copy at `copy`.
    Due {
        due: Instant,
        copy: Option<Instant>,
        corrupted: bool,
        reordered: bool,
    },
}

impl Direction {
    pub(crate) const fn new() -> Direction {
        Direction {
            link: Link::IDEAL,
            ideal: true,
            busy_until: Instant::ZERO,
        }
    }

    pub(crate) fn set(&mut self, link: Link) {
        self.link = link;
        self.ideal = link.is_ideal();
    }

    /// Whether this direction leaves frames alone.
    #[inline]
    pub(crate) fn is_ideal(&self) -> bool {
        self.ideal
    }

    /// Send `frame` at `now`: decide its fate, flipping a bit of it if it is corrupted.
    pub(crate) fn send(&mut self, rng: &mut Rng, frame: &mut [u8], now: Instant) -> Passage {
        let link = self.link;
        let mut left = now;
        if link.bandwidth != 0 {
            let start = self.busy_until.max(now);
            // Bytes still waiting ahead of this frame: the backlog, at the link's rate.
            let backlog = start
                .total_micros()
                .saturating_sub(now.total_micros())
                .max(0) as u64;
            let waiting = u128::from(backlog) * u128::from(link.bandwidth) / 8_000_000;
            if waiting.saturating_add(frame.len() as u128) > u128::from(link.queue_bytes) {
                return Passage::QueueFull;
            }
            left = after(start, link.serialization(frame.len()));
            self.busy_until = left;
        }
        if rng.roll(link.drop) {
            return Passage::Lost;
        }
        let mut corrupted = false;
        if !frame.is_empty() && rng.roll(link.corrupt) {
            let at = rng.next() as usize % frame.len();
            frame[at] ^= 1 << (rng.next() % 8);
            corrupted = true;
        }
        let duplicated = rng.roll(link.duplicate);
        let reordered = rng.roll(link.reorder);
        let base = after(left, link.latency);
        let mut due = after(base, rng.upto(link.jitter));
        if reordered {
            due = after(due, link.reorder_delay);
        }
        let copy = duplicated.then(|| after(base, rng.upto(link.jitter)));
        Passage::Due {
            due,
            copy,
            corrupted,
            reordered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_ideal_link_delivers_now() {
        let mut d = Direction::new();
        assert!(d.is_ideal());
        let mut rng = Rng::seeded(1);
        let now = Instant::from_millis(5);
        assert_eq!(
            d.send(&mut rng, &mut [0; 60], now),
            Passage::Due {
                due: now,
                copy: None,
                corrupted: false,
                reordered: false
            }
        );
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_varies() {
        let mut d = Direction::new();
        d.set(Link::IDEAL.latency(ms(100)).jitter(ms(10)));
        let mut rng = Rng::seeded(7);
        let (mut lo, mut hi) = (Instant::from_micros(i64::MAX), Instant::ZERO);
        for _ in 0..1000 {
            let Passage::Due { due, .. } = d.send(&mut rng, &mut [0; 60], Instant::ZERO) else {
                panic!("no loss configured");
            };
            lo = lo.min(due);
            hi = hi.max(due);
        }
        assert!(lo >= Instant::from_millis(100) && hi <= Instant::from_millis(110));
        assert!(hi - lo > ms(9), "uniform over the range: {lo} .. {hi}");
    }

    #[test]
    fn losses_hit_each_direction_at_their_rate() {
        // Two directions drawing in turn from one generator, with jitter draws between:
        // each still loses about its share (a plain xorshift32 lost none of 95 here).
        let link = Link::IDEAL.jitter(ms(2)).drop(Chance::percent(5));
        let (mut a, mut b) = (Direction::new(), Direction::new());
        a.set(link);
        b.set(link);
        let mut rng = Rng::seeded(9);
        let (mut lost_a, mut lost_b) = (0, 0);
        for _ in 0..2000 {
            lost_a += usize::from(a.send(&mut rng, &mut [0; 60], Instant::ZERO) == Passage::Lost);
            lost_b += usize::from(b.send(&mut rng, &mut [0; 60], Instant::ZERO) == Passage::Lost);
        }
        for lost in [lost_a, lost_b] {
            assert!((60..=140).contains(&lost), "{lost} of 2000 at 5%");
        }
    }

    #[test]
    fn the_bottleneck_spaces_frames_and_drops_at_the_tail() {
        let mut d = Direction::new();
        // 1 Mbit/s: 1000 bytes take 8 ms. Room for three frames, the one going out
        // included.
        d.set(Link::IDEAL.bandwidth(1_000_000, 3000));
        let mut rng = Rng::seeded(1);
        let mut dues = [Instant::ZERO; 3];
        for due in &mut dues {
            match d.send(&mut rng, &mut [0; 1000], Instant::ZERO) {
                Passage::Due { due: at, .. } => *due = at,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(dues, [8, 16, 24].map(Instant::from_millis));
        assert_eq!(
            d.send(&mut rng, &mut [0; 1000], Instant::ZERO),
            Passage::QueueFull
        );
        // Once the first has gone, one more fits.
        assert!(matches!(
            d.send(&mut rng, &mut [0; 1000], Instant::from_millis(8)),
            Passage::Due { .. }
        ));
    }

    #[test]
    fn extreme_values_saturate() {
        let mut d = Direction::new();
        d.set(
            Link::IDEAL
                .latency(Duration::from_micros(u64::MAX))
                .jitter(Duration::from_micros(u64::MAX))
                .bandwidth(1, u32::MAX),
        );
        let mut rng = Rng::seeded(0);
        let fate = d.send(&mut rng, &mut [0; 1514], Instant::from_micros(i64::MAX - 1));
        assert!(matches!(fate, Passage::Due { .. }));
        assert_eq!(Chance::ratio(5, 0), Chance::NEVER);
        assert_eq!(Chance::percent(200), Chance::ALWAYS.max_of(100));
    }

    impl Chance {
        fn max_of(self, den: u32) -> Chance {
            Chance { num: den, den }
        }
    }
}
