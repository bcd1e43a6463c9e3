//! The stack shared by async tasks: who polls it, who gets woken.

use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::{Poll, Waker};

use heapless::Vec;
use smoltcp::phy::Device;
use smoltcp::time::Instant;

use crate::stack::Stack;

/// A [`Stack`] shared by the tasks of one single-threaded executor (see the module docs):
/// the sockets' tasks call its verbs, one task runs it ([`run`](Self::run), or a
/// runner of its own calling [`poll`](Self::poll)). `TIMERS` tasks at a time can wait
/// with a timeout (more still work: they are polled again at once, as a busy wait).
pub struct AsyncStack<'a, const TIMERS: usize = 8> {
    stack: RefCell<Stack<'a>>,
    /// Tasks waiting for a time: woken once the stack's clock passes it.
    timers: RefCell<Vec<(Instant, Waker), TIMERS>>,
    /// The runner, woken whenever a task did something the stack must act on.
    runner: RefCell<Option<Waker>>,
    runner_due: Cell<bool>,
    /// Tasks waiting for the stack to change (an `accept` waiting for a socket to come
    /// back to its pool): woken after every poll that changed something or followed a
    /// task's call.
    on_change: RefCell<Vec<Waker, TIMERS>>,
    /// A task called into the stack since the last poll.
    acted: Cell<bool>,
}

impl<'a, const TIMERS: usize> AsyncStack<'a, TIMERS> {
    /// Share `stack` with async tasks.
    pub fn new(stack: Stack<'a>) -> Self {
        AsyncStack {
            stack: RefCell::new(stack),
            timers: RefCell::new(Vec::new()),
            runner: RefCell::new(None),
            runner_due: Cell::new(true),
            on_change: RefCell::new(Vec::new()),
            acted: Cell::new(false),
        }
    }

    /// Run `f` on the stack (the borrow never lasts across an `.await`), then wake the
    /// runner: what `f` did may need a poll (a segment to send, a socket to re-arm).
    /// `None` if the stack is borrowed already (`f` was called from inside another
    /// borrow, e.g. an [`Observer`](crate::stack::Observer)): nothing was done.
    pub fn with<R>(&self, f: impl FnOnce(&mut Stack<'a>) -> R) -> Option<R> {
        let result = {
            let mut stack = self.stack.try_borrow_mut().ok()?;
            f(&mut stack)
        };
        self.acted.set(true);
        self.wake_runner();
        Some(result)
    }

    /// Poll the stack on `device` at `now` (smoltcp wakes the tasks of the sockets it
    /// changed) and wake the tasks whose time came. What a runner calls.
    pub fn poll<D: Device + ?Sized>(&self, now: Instant, device: &mut D) -> bool {
        let changed = match self.stack.try_borrow_mut() {
            Ok(mut stack) => stack.poll(now, device),
            Err(_) => false,
        };
        self.wake_timers(now);
        if self.acted.take() | changed {
            self.wake_changed();
        }
        changed
    }

    /// Have `waker` woken after the next poll that changes something (a socket returned
    /// to a listener's pool, a handshake done): for what no socket's waker covers.
    pub(crate) fn wake_on_change(&self, waker: &Waker) {
        let mut kept = false;
        if let Ok(mut wakers) = self.on_change.try_borrow_mut() {
            if wakers.iter().any(|w| w.will_wake(waker)) {
                kept = true;
            } else {
                kept = wakers.push(waker.clone()).is_ok();
            }
        }
        if !kept {
            // No room: poll again at once (a busy wait rather than a lost wake-up).
            waker.wake_by_ref();
        }
    }

    fn wake_changed(&self) {
        // Taken out first and woken after: a waker may run code that registers again.
        let wakers = self
            .on_change
            .try_borrow_mut()
            .map(|mut w| core::mem::take(&mut *w))
            .unwrap_or_default();
        for waker in wakers {
            waker.wake();
        }
    }

    /// When the stack must be polled next at the latest: its own deadlines and the
    /// tasks' timeouts (`None`: only when a frame comes or a task acts).
    pub fn poll_at(&self) -> Option<Instant> {
        let stack = self
            .stack
            .try_borrow_mut()
            .ok()
            .and_then(|mut s| s.poll_at());
        let timers = self
            .timers
            .try_borrow()
            .ok()
            .and_then(|t| t.iter().map(|(at, _)| *at).min());
        [stack, timers].into_iter().flatten().min()
    }

    /// How many lifecycle events the stack produced (see [`Stack::activity`]).
    pub fn activity(&self) -> u64 {
        self.stack.try_borrow().map_or(0, |s| s.activity())
    }

    /// The time of the stack's last poll.
    pub fn now(&self) -> Instant {
        self.stack.try_borrow().map_or(Instant::ZERO, |s| s.now())
    }

    /// The stack's own task: poll it on `device` (at `clock()`), then wait until a task
    /// acts, its next deadline, or `wait` returns, whichever comes first, forever.
    /// `wait(deadline)` is the board's sleep: a timer at `deadline` (if any) raced with
    /// the device's interrupt (with embassy: `select(Timer::at(..), irq.wait())`).
    pub async fn run<D, W>(
        &self,
        device: &mut D,
        mut clock: impl FnMut() -> Instant,
        wait: impl FnMut(Option<Instant>) -> W,
    ) -> !
    where
        D: Device + ?Sized,
        W: Future<Output = ()>,
    {
        self.run_on(device, |_| clock(), wait).await
    }

    /// [`run`](Self::run) for a clock on the device itself (a counter of the network
    /// card's, as the LAN9118's): `clock` reads it between polls.
    pub async fn run_on<D, W>(
        &self,
        device: &mut D,
        mut clock: impl FnMut(&mut D) -> Instant,
        mut wait: impl FnMut(Option<Instant>) -> W,
    ) -> !
    where
        D: Device + ?Sized,
        W: Future<Output = ()>,
    {
        loop {
            self.poll(clock(device), device);
            let sleep = wait(self.poll_at());
            let mut sleep = pin!(sleep);
            poll_fn(|cx| {
                if self.runner_due.take() {
                    return Poll::Ready(());
                }
                if let Ok(mut runner) = self.runner.try_borrow_mut() {
                    *runner = Some(cx.waker().clone());
                }
                sleep.as_mut().poll(cx)
            })
            .await;
        }
    }

    /// Wait until the stack's clock (the time of its last poll) reaches `at`: a timer on
    /// the stack's own time, which is virtual time on a testbed.
    pub async fn sleep_until(&self, at: Instant) {
        poll_fn(|cx| {
            if self.now() >= at {
                Poll::Ready(())
            } else {
                self.wake_at(at, cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// Have `waker` woken once the stack's clock reaches `at` (what a task waiting with a
    /// timeout registers; its runner fires it).
    pub fn wake_at(&self, at: Instant, waker: &Waker) {
        let kept = match self.timers.try_borrow_mut() {
            Ok(mut timers) => {
                if let Some(slot) = timers.iter_mut().find(|(_, w)| w.will_wake(waker)) {
                    *slot = (at.min(slot.0), waker.clone());
                    true
                } else {
                    timers.push((at, waker.clone())).is_ok()
                }
            }
            Err(_) => false,
        };
        if !kept {
            // No room: poll again at once (a busy wait rather than a lost timeout).
            waker.wake_by_ref();
        }
        self.wake_runner();
    }

    fn wake_timers(&self, now: Instant) {
        // Taken out first and woken after: a waker may run code that registers a timer.
        let mut due: Vec<Waker, TIMERS> = Vec::new();
        if let Ok(mut timers) = self.timers.try_borrow_mut() {
            let mut i = 0;
            while i < timers.len() {
                if timers[i].0 <= now {
                    let _ = due.push(timers.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
        }
        for waker in due {
            waker.wake();
        }
    }

    /// The runner must poll: a task did something.
    pub fn wake_runner(&self) {
        self.runner_due.set(true);
        let waker = self.runner.try_borrow_mut().ok().and_then(|mut r| r.take());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether a task woke the runner since the last time this was asked (for runners
    /// of one's own: an async testbed).
    pub fn take_runner_due(&self) -> bool {
        self.runner_due.take()
    }
}

/// A step's outcome: pending with its timer set, ready, or a busy stack (try again).
pub(super) fn finish<T, const TIMERS: usize>(
    stack: &AsyncStack<'_, TIMERS>,
    step: Option<Poll<T>>,
    until: Option<Option<Instant>>,
    cx: &mut core::task::Context<'_>,
) -> Poll<T> {
    match step {
        Some(Poll::Pending) => {
            if let Some(Some(t)) = until {
                stack.wake_at(t, cx.waker());
            }
            Poll::Pending
        }
        Some(ready) => ready,
        None => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Let every other task run once.
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
