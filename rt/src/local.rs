//! Process-wide state without locks: a Lux9 process has exactly one thread.

use core::cell::RefCell;

/// A global that only this process's single thread touches.
pub struct ProcessLocal<T>(RefCell<T>);

// SAFETY: Lux9 processes have one thread and no signal handlers, so no two contexts ever reach
// the cell at once; the RefCell catches re-entrant misuse within that thread.
unsafe impl<T> Sync for ProcessLocal<T> {}

impl<T> ProcessLocal<T> {
    pub const fn new(value: T) -> Self {
        Self(RefCell::new(value))
    }

    /// Runs `f` on the value. Panics if `f` (or something it calls) re-enters.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }

    /// Like [`Self::with`], or `None` if the value is already in use further up the stack.
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.0.try_borrow_mut().ok().map(|mut value| f(&mut value))
    }
}
