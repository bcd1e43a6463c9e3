//! What a blocking call needs from its surroundings: the stack, and a way to wait.
//!
//! Under Berkeley sockets a blocking `recv` sleeps in the kernel, and the kernel's own
//! interrupt handlers and timers move the network on meanwhile. Here nothing runs unless
//! the program runs it, so a call that wants to block must drive the network itself: poll
//! the stack on its device, let the rest of the program have its turn, and sleep until the
//! next frame, the stack's next deadline or the call's own (a `write`'s `settimeout`,
//! which the stack does not keep). [`Blocking`] names that duty; whoever owns the
//! device and the clock implements it (the [`Testbed`](crate::testbed::Testbed) on its
//! virtual clock, a TAP loop on the wall clock, firmware with `wfi`). [`Polled`] is the
//! simplest one: a device and a clock, polled in a busy loop.
//!
//! Only views that can wait offer blocking verbs (`embedded-io`'s `Read` and `Write` in
//! `sockless::ecosystem`); this layer's own verbs never block.

use smoltcp::phy::Device;
use smoltcp::time::Instant;

use crate::stack::Stack;

/// Whatever lends a [`Stack`] to a view for a while: the stack itself (`&mut Stack`), or
/// a [`Blocking`] network.
pub trait StackAccess<'a> {
    /// The stack the call works on.
    fn stack(&mut self) -> &mut Stack<'a>;
}

impl<'a> StackAccess<'a> for Stack<'a> {
    fn stack(&mut self) -> &mut Stack<'a> {
        self
    }
}

impl<'a, T: StackAccess<'a> + ?Sized> StackAccess<'a> for &mut T {
    fn stack(&mut self) -> &mut Stack<'a> {
        (**self).stack()
    }
}

impl<'a, T: Blocking<'a> + ?Sized> Blocking<'a> for &mut T {
    fn wait(&mut self, until: Option<Instant>) -> bool {
        (**self).wait(until)
    }
}

/// A stack that a blocking call can wait on (see the module docs).
pub trait Blocking<'a>: StackAccess<'a> {
    /// Move the network on and return once something may have changed for the stack: a
    /// frame came, the program's other parts acted, or a deadline of the stack passed;
    /// or once `until` came, the call's own deadline (a `write`'s `settimeout`), which
    /// the stack knows nothing of: a driver that sleeps until the stack's next deadline
    /// sleeps no later than `until`. `false` if nothing ever will (a virtual network with
    /// no frame and no timer left): the blocking call then gives up instead of waiting
    /// forever.
    fn wait(&mut self, until: Option<Instant>) -> bool;
}

/// A stack, its device and a clock, polled in a busy loop: [`Blocking`] for a program
/// that has nothing else to do while it waits (no sleep, no other service on the stack).
pub struct Polled<'s, 'a, D: ?Sized, C> {
    stack: &'s mut Stack<'a>,
    device: &'s mut D,
    clock: C,
}

impl<'s, 'a, D: Device + ?Sized, C: FnMut() -> Instant> Polled<'s, 'a, D, C> {
    /// `clock` reads the time before each poll.
    pub fn new(stack: &'s mut Stack<'a>, device: &'s mut D, clock: C) -> Self {
        Polled {
            stack,
            device,
            clock,
        }
    }
}

impl<'a, D: Device + ?Sized, C: FnMut() -> Instant> StackAccess<'a> for Polled<'_, 'a, D, C> {
    fn stack(&mut self) -> &mut Stack<'a> {
        self.stack
    }
}

impl<'a, D: Device + ?Sized, C: FnMut() -> Instant> Blocking<'a> for Polled<'_, 'a, D, C> {
    /// One poll at the clock's time (a busy loop never sleeps past `until`).
    fn wait(&mut self, _until: Option<Instant>) -> bool {
        let now = (self.clock)();
        self.stack.poll(now, self.device);
        true
    }
}
