//! Time: the local APIC timer tick, uptime, and sleeping.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{interrupts, lapic};

/// Timer interrupts per second.
pub const HZ: u64 = 1000;
/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0x20;

static TICKS: AtomicU64 = AtomicU64::new(0);
static TSC_PER_MS: AtomicU64 = AtomicU64::new(0);

fn on_tick(_frame: &mut interrupts::TrapFrame) {
    let now = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    if now.is_multiple_of(HZ) {
        // Keeps the reference clock's 64-bit count exact across its counter's wrap.
        crate::arch::pm_timer::counts();
    }
    lapic::end_of_interrupt();
    crate::sched::tick(now);
}

/// Rates found by calibration, for the boot log.
#[derive(Clone, Copy, Debug)]
pub struct TimerInfo {
    pub tsc_per_ms: u64,
    pub timer_per_ms: u64,
}

/// Calibrates the APIC timer and TSC against the PIT and starts the periodic tick.
/// Interrupts must still be disabled; the tick starts counting once they are enabled.
pub fn init() -> TimerInfo {
    let calibration = lapic::calibrate(20);
    TSC_PER_MS.store(calibration.tsc_per_ms, Ordering::Relaxed);
    interrupts::register(TIMER_VECTOR, on_tick);
    let per_tick = (calibration.timer_per_ms * 1000 / HZ).clamp(1, u64::from(u32::MAX)) as u32;
    lapic::start_periodic_timer(TIMER_VECTOR, per_tick);
    TimerInfo {
        tsc_per_ms: calibration.tsc_per_ms,
        timer_per_ms: calibration.timer_per_ms,
    }
}

/// Timer ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Milliseconds since the timer started (0 before).
pub fn uptime_ms() -> u64 {
    ticks() * 1000 / HZ
}

/// TSC counts per millisecond (0 before calibration).
pub fn tsc_per_ms() -> u64 {
    TSC_PER_MS.load(Ordering::Relaxed)
}

/// Sleeps at least `ms` milliseconds: the calling thread blocks and others run meanwhile.
/// Interrupts must be enabled.
pub fn sleep_ms(ms: u64) {
    assert!(
        x86_64::instructions::interrupts::are_enabled(),
        "sleep_ms with interrupts disabled would never wake"
    );
    // One extra tick: the current tick may be about to end.
    crate::sched::sleep_until(ticks() + (ms * HZ).div_ceil(1000) + 1);
}
