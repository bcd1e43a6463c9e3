//! How a long-lived adapter reaches its stack: borrowed for its life, or shared.
//!
//! A protocol crate usually takes its network stack by value and keeps it (an MQTT
//! client owns its `TcpClientStack`). If that value held `&mut Stack`, nothing else could
//! poll the stack or run the tutorial's services on it meanwhile. So the adapters take any
//! [`StackRef`]: `&mut Stack` when they are the stack's only user, or `&RefCell<Stack>`
//! when the program's main loop polls the stack and other code uses it too (the way
//! embassy-net shares its stack on a single-threaded executor: no heap, no lock, a borrow
//! checked at run time). A borrow that fails (the stack is in use further up the call
//! chain) is [`NetError::Busy`], never a panic.

use core::cell::RefCell;

use crate::socket::NetError;
use crate::stack::Stack;

/// A way to reach a [`Stack`] for the length of one call (see the module docs).
pub trait StackRef<'a> {
    /// Run `f` on the stack, or say it is [`Busy`](NetError::Busy).
    fn with<R>(&mut self, f: impl FnOnce(&mut Stack<'a>) -> R) -> Result<R, NetError>;
}

impl<'a> StackRef<'a> for &mut Stack<'a> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Stack<'a>) -> R) -> Result<R, NetError> {
        Ok(f(self))
    }
}

impl<'a> StackRef<'a> for &RefCell<Stack<'a>> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Stack<'a>) -> R) -> Result<R, NetError> {
        let mut stack = self.try_borrow_mut().map_err(|_| NetError::Busy)?;
        Ok(f(&mut stack))
    }
}
