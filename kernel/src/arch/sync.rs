//! Spinlocks that keep interrupts off while held, so an interrupt handler on the same CPU can
//! never spin on a lock its own CPU holds.

use core::sync::atomic::{AtomicBool, Ordering};

use x86_64::instructions::interrupts;

/// A `lock_api` raw mutex: disables interrupts, spins, and restores the interrupt flag on unlock.
///
/// Guards must be released in the reverse order of acquisition (the usual scope order), because
/// the interrupt flag saved by the outermost lock is the one restored last.
pub struct RawIrqSpinlock {
    locked: AtomicBool,
    /// Whether interrupts were enabled when the current holder locked.
    interrupts_were_enabled: AtomicBool,
}

// SAFETY: `locked` is taken with an acquire compare-exchange and released with a release store,
// so only one holder exists at a time and its writes are visible to the next holder.
unsafe impl lock_api::RawMutex for RawIrqSpinlock {
    #[allow(
        clippy::declare_interior_mutable_const,
        reason = "lock_api requires a const INIT"
    )]
    const INIT: Self = Self {
        locked: AtomicBool::new(false),
        interrupts_were_enabled: AtomicBool::new(false),
    };

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        let enabled = interrupts::are_enabled();
        interrupts::disable();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        self.interrupts_were_enabled
            .store(enabled, Ordering::Relaxed);
    }

    fn try_lock(&self) -> bool {
        let enabled = interrupts::are_enabled();
        interrupts::disable();
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.interrupts_were_enabled
                .store(enabled, Ordering::Relaxed);
            true
        } else {
            if enabled {
                interrupts::enable();
            }
            false
        }
    }

    #[inline]
    unsafe fn unlock(&self) {
        let enabled = self.interrupts_were_enabled.load(Ordering::Relaxed);
        self.locked.store(false, Ordering::Release);
        if enabled {
            interrupts::enable();
        }
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

/// A mutex that is safe to take from both thread and interrupt context.
pub type IrqMutex<T> = lock_api::Mutex<RawIrqSpinlock, T>;

/// Runs `f` on what `mutex` guards, for code that already runs with interrupts disabled (the
/// IPC fastpath): the same lock as [`IrqMutex::lock`], taken and released without saving or
/// restoring the interrupt flag. A panic in `f` leaves the lock held, which is harmless only
/// because a kernel panic stops the machine.
#[inline(always)]
pub fn with_lock_interrupts_off<T, R>(mutex: &IrqMutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
    debug_assert!(!interrupts::are_enabled());
    // SAFETY: only the lock word is used, the same way `RawMutex::lock` and `unlock` use it.
    let raw = unsafe { mutex.raw() };
    // One CPU, interrupts disabled, and no holder can be preempted (holders keep interrupts
    // disabled): the lock is free whenever this runs, so taking it is a plain store; a holder
    // here would be a bug, which the assertion reports.
    assert!(
        !raw.locked.swap(true, Ordering::Acquire),
        "the lock is held on the only CPU"
    );
    // SAFETY: this code holds the lock (taken above, released below), so it is the only
    // access to the data until then.
    let result = f(unsafe { &mut *mutex.data_ptr() });
    raw.locked.store(false, Ordering::Release);
    result
}

/// Releases `mutex` without a guard. Only for the panic path, which must print even when the
/// panicking code held the console lock; the CPU never returns to that holder.
pub fn force_unlock<T>(mutex: &IrqMutex<T>) {
    if mutex.is_locked() {
        // SAFETY: called only on the panic path, after interrupts are disabled for good; the
        // previous holder will never run again, so no second guard can observe the release.
        unsafe { mutex.force_unlock() };
    }
}
