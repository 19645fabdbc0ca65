//! The local APIC (xAPIC, memory-mapped): end of interrupt, spurious vector and the timer.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::registers::model_specific::Msr;

use super::{phys_to_virt, pit};

const IA32_APIC_BASE: u32 = 0x1b;

const REG_ID: u64 = 0x20;
const REG_TPR: u64 = 0x80;
const REG_EOI: u64 = 0xb0;
const REG_SPURIOUS: u64 = 0xf0;
const REG_ESR: u64 = 0x280;
const REG_LVT_TIMER: u64 = 0x320;
const REG_LVT_LINT0: u64 = 0x350;
const REG_LVT_ERROR: u64 = 0x370;
const REG_TIMER_INITIAL: u64 = 0x380;
const REG_TIMER_CURRENT: u64 = 0x390;
const REG_TIMER_DIVIDE: u64 = 0x3e0;

const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;
const DIVIDE_BY_16: u32 = 0b0011;

/// Vector for APIC errors.
pub const ERROR_VECTOR: u8 = 0xfe;
/// Vector for spurious interrupts; needs no EOI.
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// Direct-map address of the register page; 0 until `init`.
static BASE: AtomicU64 = AtomicU64::new(0);

fn read(reg: u64) -> u32 {
    let base = BASE.load(Ordering::Relaxed);
    assert_ne!(base, 0, "local APIC used before lapic::init");
    // SAFETY: `base` is the direct-map address of this CPU's APIC register page (set in init),
    // `reg` is one of the register offsets above, and APIC registers are 32-bit aligned.
    unsafe { core::ptr::read_volatile((base + reg) as *const u32) }
}

fn write(reg: u64, value: u32) {
    let base = BASE.load(Ordering::Relaxed);
    assert_ne!(base, 0, "local APIC used before lapic::init");
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((base + reg) as *mut u32, value) }
}

/// Physical address of the register page, from the APIC base MSR.
pub fn physical_base() -> u64 {
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU with an APIC, which Lux9 requires.
    unsafe { Msr::new(IA32_APIC_BASE).read() & 0x000f_ffff_ffff_f000 }
}

/// Enables the local APIC at `phys` with a spurious vector, accepting every priority.
pub fn init(phys: u64) {
    BASE.store(phys_to_virt(phys), Ordering::Relaxed);
    // SAFETY: sets the global-enable bit of IA32_APIC_BASE at its current base address.
    unsafe {
        let mut msr = Msr::new(IA32_APIC_BASE);
        let value = msr.read();
        msr.write(value | (1 << 11));
    }
    write(REG_SPURIOUS, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(REG_TPR, 0);
    // Devices come through the I/O APIC; the PIC's virtual-wire input is not used.
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_ERROR, u32::from(ERROR_VECTOR));
    write(REG_ESR, 0);
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED);
    end_of_interrupt();
}

/// This CPU's APIC id.
pub fn id() -> u8 {
    (read(REG_ID) >> 24) as u8
}

/// Signals the end of the current interrupt.
#[inline]
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// Reads and clears the error status register.
pub fn take_error_status() -> u32 {
    write(REG_ESR, 0);
    read(REG_ESR)
}

/// Rates measured against the PIT.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// APIC timer counts per millisecond at divide-by-16.
    pub timer_per_ms: u64,
    /// TSC counts per millisecond.
    pub tsc_per_ms: u64,
}

/// Measures the APIC timer and TSC rates over a PIT window of `ms` milliseconds.
pub fn calibrate(ms: u64) -> Calibration {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED);
    let ((timer_start, tsc_start), (timer_end, tsc_end)) = pit::time_window(
        ms,
        || {
            write(REG_TIMER_INITIAL, u32::MAX);
            (u32::MAX, super::cpu::rdtsc())
        },
        || (read(REG_TIMER_CURRENT), super::cpu::rdtsc()),
    );
    write(REG_TIMER_INITIAL, 0);
    Calibration {
        timer_per_ms: (u64::from(timer_start - timer_end) / ms).max(1),
        tsc_per_ms: (tsc_end.saturating_sub(tsc_start) / ms).max(1),
    }
}

/// Starts the timer in periodic mode, firing `vector` every `counts` timer counts.
pub fn start_periodic_timer(vector: u8, counts: u32) {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, u32::from(vector) | LVT_PERIODIC);
    write(REG_TIMER_INITIAL, counts.max(1));
}
