//! A lock whose waiters sleep instead of spinning, for state whose holder may block (a
//! colocated ext4 volume, whose holder waits for the disk on a cache miss: a thread spinning
//! meanwhile could keep the holder from running).

use alloc::collections::VecDeque;
use core::cell::UnsafeCell;

use x86_64::instructions::interrupts;

use crate::arch::sync::IrqMutex;
use crate::sched::{self, Tid};

/// A lock whose waiters sleep, woken one at a time in the order they came.
pub struct SleepLock<T> {
    /// (held, sleeping waiters).
    state: IrqMutex<(bool, VecDeque<Tid>)>,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only through `lock`, which hands out one guard at a time, so
// threads share it only by handing it over, which `T: Send` allows (as for `Mutex`).
unsafe impl<T: Send> Sync for SleepLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SleepLock<T> {}

pub struct SleepGuard<'a, T> {
    lock: &'a SleepLock<T>,
}

impl<T> SleepLock<T> {
    pub fn new(value: T) -> Self {
        Self {
            state: IrqMutex::new((false, VecDeque::new())),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits (asleep) until the lock is free, then holds it.
    pub fn lock(&self) -> SleepGuard<'_, T> {
        loop {
            let me = sched::current();
            let taken = interrupts::without_interrupts(|| {
                let mut state = self.state.lock();
                // Woken by someone else than the releaser: not waiting twice.
                state.1.retain(|&t| t != me);
                if !state.0 {
                    state.0 = true;
                    return true;
                }
                state.1.push_back(me);
                drop(state);
                // Interrupts stay off from the push to the block, so the waker's wake cannot
                // come before it.
                sched::block_current();
                false
            });
            if taken {
                return SleepGuard { lock: self };
            }
        }
    }
}

impl<T> core::ops::Deref for SleepGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the lock's only holder.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for SleepGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard is the lock's only holder, and `&mut self` the guard's only use.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SleepGuard<'_, T> {
    fn drop(&mut self) {
        let next = {
            let mut state = self.lock.state.lock();
            state.0 = false;
            state.1.pop_front()
        };
        if let Some(tid) = next {
            sched::wake(tid);
        }
    }
}
