//! Waiting for a device: a thread starts a transfer, then waits until the device's interrupt
//! signals its completion or a deadline passes. The waiter blocks (other threads run) and the
//! interrupt wakes it; during boot, before any other thread exists, it halts until the next
//! interrupt instead. A completion that never comes ends the wait at its deadline: drivers turn
//! that into a clear error, never a hang.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use x86_64::instructions::interrupts;

use crate::{sched, time};

/// One outstanding event at a time, signalled from an interrupt handler.
pub struct Completion {
    signalled: AtomicBool,
    /// The waiting thread's id plus one, or 0.
    waiter: AtomicUsize,
}

impl Completion {
    pub const fn new() -> Self {
        Self {
            signalled: AtomicBool::new(false),
            waiter: AtomicUsize::new(0),
        }
    }

    /// Called by the interrupt handler: the event happened.
    pub fn signal(&self) {
        self.signalled.store(true, Ordering::Release);
        let waiter = self.waiter.swap(0, Ordering::AcqRel);
        if waiter != 0 {
            sched::wake_from_interrupt(sched::Tid::from_index(waiter - 1));
        }
    }

    /// Waits for the signal (consuming it) at most `timeout_ms` milliseconds; `false` when the
    /// time ran out first. Interrupts must be enabled.
    pub fn wait(&self, timeout_ms: u64) -> bool {
        assert!(
            interrupts::are_enabled(),
            "waiting for a device with interrupts disabled would never end"
        );
        let deadline = time::ticks() + (timeout_ms * time::HZ).div_ceil(1000) + 1;
        loop {
            interrupts::disable();
            if self.signalled.swap(false, Ordering::AcqRel) {
                interrupts::enable();
                return true;
            }
            if time::ticks() >= deadline {
                interrupts::enable();
                return false;
            }
            if sched::current_is_idle() {
                // `sti; hlt`: an interrupt after the check still ends the halt.
                crate::arch::cpu::wait_for_interrupt();
                continue;
            }
            self.waiter
                .store(sched::current().index() + 1, Ordering::Release);
            // Blocks until the signal's wake-up or the deadline; interrupts stay disabled
            // between the check above and the block, so the wake-up cannot be lost.
            sched::sleep_until(deadline);
            self.waiter.store(0, Ordering::Release);
            interrupts::enable();
        }
    }
}

/// Takes `mutex` for a caller that may then block (a driver holding its device for a batch):
/// it never spins on a holder that sleeps, but sleeps a millisecond between tries (halts,
/// during boot).
pub fn lock<T>(mutex: &spin::Mutex<T>) -> spin::MutexGuard<'_, T> {
    loop {
        if let Some(guard) = mutex.try_lock() {
            return guard;
        }
        if sched::current_is_idle() {
            crate::arch::cpu::wait_for_interrupt();
        } else {
            time::sleep_ms(1);
        }
    }
}
