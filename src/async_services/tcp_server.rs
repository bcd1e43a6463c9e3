//! A TCP service as one task: a listener, `POOL` conversations at once, the counters.

use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll};

use smoltcp::time::Duration;

use super::conversations::Ending;
use crate::async_sockets::{AsyncListener, AsyncStack, AsyncTcpStream};
use crate::services::{Report, ServiceConfig, ServiceStats};
use crate::socket::{ListenError, RecvError, TcpBuffers};

/// A listening port whose callers are served by one conversation function each, up to
/// `POOL` at once (see the [module docs](super)). Shared by reference: its task runs
/// [`serve`](Self::serve), and anyone else on the same executor may read its counters
/// ([`report`](Self::report), [`busy`](Self::busy)) meanwhile.
pub struct TcpServer<'s, 'a, const POOL: usize, const TIMERS: usize = 8> {
    name: &'static str,
    port: u16,
    stack: &'s AsyncStack<'a, TIMERS>,
    /// Borrowed only inside a poll, never across an `.await`.
    listener: RefCell<AsyncListener<'s, 'a, POOL, TIMERS>>,
    idle_timeout: Option<Duration>,
    stats: Cell<ServiceStats>,
    /// Conversations under way.
    active: Cell<usize>,
}

impl<'s, 'a, const POOL: usize, const TIMERS: usize> TcpServer<'s, 'a, POOL, TIMERS> {
    /// Listen on `port` with one socket per element of `pool` (backlog = pool size), as
    /// [`TcpService::start`](crate::services::TcpService::start) does.
    pub fn start<const RX: usize, const TX: usize>(
        name: &'static str,
        stack: &'s AsyncStack<'a, TIMERS>,
        port: u16,
        pool: &'a mut [TcpBuffers<RX, TX>],
        config: ServiceConfig,
    ) -> Result<Self, ListenError> {
        let backlog = pool.len();
        let mut listener = AsyncListener::listen(stack, port, backlog, pool)?;
        if let Some(l) = listener.listener() {
            let l = &*l;
            let _ = stack.with(|s| l.set_overflow(s, config.overflow));
        }
        log::info!("{name}: listening on port {port}, pool {backlog}");
        Ok(TcpServer {
            name,
            port,
            stack,
            listener: RefCell::new(listener),
            idle_timeout: config.idle_timeout,
            stats: Cell::new(ServiceStats::default()),
            active: Cell::new(0),
        })
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The service's counters (connection requests queued and refused included).
    pub fn stats(&self) -> ServiceStats {
        let mut stats = self.stats.get();
        if let Some(counts) = self.stack.with(|s| s.syn_counts(self.port)) {
            (stats.refused, stats.queued) = (counts.refused, counts.queued);
        }
        stats
    }

    /// The counters as a printable line (the poll-driven service's line).
    pub fn report(&self) -> Report {
        Report {
            name: self.name,
            udp: false,
            stats: self.stats(),
        }
    }

    /// Conversations under way.
    pub fn active(&self) -> usize {
        self.active.get()
    }

    /// Sockets of the pool that carry a connection or are still closing (0 once every
    /// one listens again).
    pub fn busy(&self) -> usize {
        let Ok(mut listener) = self.listener.try_borrow_mut() else {
            return POOL;
        };
        let Some(l) = listener.listener() else {
            return 0;
        };
        self.stack.with(|s| l.busy(s)).unwrap_or(POOL)
    }

    /// Serve callers forever: accept while a slot is free, and give each caller
    /// `conversation(conn)`; when one ends, count it and let its socket go (the next
    /// caller in the backlog gets it).
    pub async fn serve<F, C>(&self, mut conversation: F) -> !
    where
        F: FnMut(AsyncTcpStream<'s, 'a, TIMERS>) -> C,
        C: Future<Output = (AsyncTcpStream<'s, 'a, TIMERS>, Ending)>,
    {
        let mut slots = pin!([const { None::<C> }; POOL]);
        poll_fn(|cx| {
            // Until a turn changes nothing: a conversation that ends frees a slot for a
            // caller waiting in the backlog.
            while self.accept_into(slots.as_mut(), &mut conversation, cx)
                | self.step(slots.as_mut(), cx)
            {}
            Poll::<()>::Pending
        })
        .await;
        unreachable!("a pending future never finishes")
    }

    /// Accept callers into free slots; whether one came.
    fn accept_into<F, C>(
        &self,
        mut slots: Pin<&mut [Option<C>; POOL]>,
        conversation: &mut F,
        cx: &mut Context<'_>,
    ) -> bool
    where
        F: FnMut(AsyncTcpStream<'s, 'a, TIMERS>) -> C,
    {
        let mut came = false;
        while let Some(free) = slots.iter().position(Option::is_none) {
            let accepted = {
                let Ok(mut listener) = self.listener.try_borrow_mut() else {
                    cx.waker().wake_by_ref();
                    break;
                };
                let accept = pin!(listener.accept());
                accept.poll(cx)
            };
            let Poll::Ready(Ok((mut conn, _peer))) = accepted else {
                break;
            };
            let idle = self.idle_timeout;
            let _ = conn.with(|socket, s| socket.set_idle_timeout(s, idle));
            self.count(|s| s.accepted += 1);
            self.active.set(self.active.get() + 1);
            // SAFETY: structural pinning of the array's elements; the slot is replaced in
            // place (the old value, `None`, is dropped where it lies).
            let mut slot = unsafe { slots.as_mut().map_unchecked_mut(|s| &mut s[free]) };
            slot.set(Some(conversation(conn)));
            came = true;
        }
        came
    }

    /// Poll every conversation once; whether one ended.
    fn step<C>(&self, mut slots: Pin<&mut [Option<C>; POOL]>, cx: &mut Context<'_>) -> bool
    where
        C: Future<Output = (AsyncTcpStream<'s, 'a, TIMERS>, Ending)>,
    {
        let mut ended = false;
        for i in 0..POOL {
            // SAFETY: as in `accept_into`: each element is pinned where it lies and only
            // ever dropped in place.
            let mut slot = unsafe { slots.as_mut().map_unchecked_mut(|s| &mut s[i]) };
            let Some(running) = slot.as_mut().as_pin_mut() else {
                continue;
            };
            if let Poll::Ready((conn, ending)) = running.poll(cx) {
                slot.set(None);
                self.finish(conn, ending);
                ended = true;
            }
        }
        ended
    }

    /// Count a conversation that ended; dropping `conn` closes it (FIN after the queued
    /// data) and its socket goes back to the pool.
    fn finish(&self, mut conn: AsyncTcpStream<'s, 'a, TIMERS>, ending: Ending) {
        let (counts, error) = conn
            .with(|socket, s| (socket.byte_counts(s), socket.error(s)))
            .unwrap_or(((0, 0), None));
        self.count(|s| {
            s.bytes_in += counts.0;
            s.bytes_out += counts.1;
            match (ending, error) {
                (Ending::Close, _) => s.closed += 1,
                (Ending::Lost, Some(RecvError::TimedOut)) => s.timed_out += 1,
                (Ending::Lost, _) => s.reset += 1,
            }
        });
        if ending == Ending::Lost {
            log::info!("{}: connection lost", self.name);
        }
        self.active.set(self.active.get().saturating_sub(1));
    }

    fn count(&self, f: impl FnOnce(&mut ServiceStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }
}
