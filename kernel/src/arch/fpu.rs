//! FPU and SSE state of user threads, saved with FXSAVE64 and restored with FXRSTOR64.
//!
//! The kernel itself is built soft-float and never touches x87 or SSE registers, so only user
//! threads have state to keep. The scheduler switches it lazily (see `sched.rs`): a user
//! thread whose state is not in the registers runs with CR0.TS set, and its first x87 or SSE
//! instruction traps (#NM) to the code that moves the state. AVX state is not managed: CR4.OSXSAVE stays clear, so
//! AVX instructions fault and user programs use SSE at most.

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// The 512-byte FXSAVE area.
#[derive(Clone)]
#[repr(C, align(16))]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The state after `fninit` with SSE exceptions masked: FCW 0x37f, MXCSR 0x1f80.
    pub fn initial() -> Self {
        let mut area = [0u8; 512];
        area[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        area[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        Self(area)
    }

    #[inline]
    pub fn save(&mut self) {
        // SAFETY: the area is 512 bytes and 16-byte aligned, as FXSAVE64 requires.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack)) };
    }

    #[inline]
    pub fn restore(&self) {
        // SAFETY: the area holds a valid FXSAVE image: from `initial` or from a previous save
        // (reserved MXCSR bits are never set by either).
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack)) };
    }
}

/// Makes the next x87 or SSE instruction fault with #NM (sets CR0.TS): the scheduler's lazy
/// FPU switching (see `sched.rs`).
#[inline]
pub fn trap_next_use() {
    // SAFETY: setting TS only makes x87/SSE instructions fault, which the kernel (soft-float)
    // never executes outside `FpuState::save`/`restore`, run after `allow_use`.
    unsafe {
        core::arch::asm!(
            "mov {tmp}, cr0",
            "or {tmp}, 8",
            "mov cr0, {tmp}",
            tmp = out(reg) _,
            options(nostack, nomem)
        );
    }
}

/// Lets x87 and SSE instructions run again (clears CR0.TS).
#[inline]
pub fn allow_use() {
    // SAFETY: `clts` only clears CR0.TS.
    unsafe { core::arch::asm!("clts", options(nostack, nomem)) };
}

/// Lets ring 3 use x87 and SSE: CR0.MP set, EM and TS clear; CR4.OSFXSR and OSXMMEXCPT set.
pub fn enable() {
    // SAFETY: these bits only change how x87/SSE instructions behave; the kernel uses neither.
    unsafe {
        Cr0::update(|flags| {
            flags.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
            flags.insert(Cr0Flags::MONITOR_COPROCESSOR);
        });
        Cr4::update(|flags| flags.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
}
