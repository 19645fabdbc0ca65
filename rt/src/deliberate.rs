//! Deliberate faults and register checks, for the programs that test the kernel.
//!
//! Each fault function never returns: the kernel kills the process that faults.

use core::arch::asm;

/// Reads from `addr` (a kernel address or an unmapped one).
pub fn read(addr: usize) -> ! {
    // SAFETY: the read either faults (the intent: the kernel then ends this process) or reads a
    // byte this process may read; nothing is written.
    unsafe {
        asm!("mov {tmp}, byte ptr [{addr}]", addr = in(reg) addr, tmp = out(reg_byte) _, options(nostack))
    };
    crate::sys::exit(200)
}

/// Writes to `addr` (read-only or unmapped memory).
///
/// # Safety
/// `addr` should be memory the process may not write, so that the write faults. If it is
/// writable the byte is changed and the process exits at once; that is only sound if nothing
/// else (another thread, a shared page's peer) can observe the change.
pub unsafe fn write(addr: usize) -> ! {
    // SAFETY: meant to fault on a page this process may not write; the caller vouches for the
    // case that it does not.
    unsafe { asm!("mov byte ptr [{addr}], 0x90", addr = in(reg) addr, options(nostack)) };
    crate::sys::exit(200)
}

/// Jumps to `addr` (non-executable or unmapped memory).
///
/// # Safety
/// `addr` must not be executable by this process: were it, whatever is there would run.
pub unsafe fn execute(addr: usize) -> ! {
    // SAFETY: the caller guarantees the fetch faults; the kernel then ends the process.
    unsafe { asm!("jmp {addr}", addr = in(reg) addr, options(noreturn)) }
}

/// `hlt` is privileged: a general-protection fault in ring 3.
pub fn privileged_instruction() -> ! {
    // SAFETY: faults in ring 3; never returns.
    unsafe { asm!("hlt", "ud2", options(noreturn)) }
}

/// `ud2`: an invalid-opcode fault.
pub fn invalid_opcode() -> ! {
    // SAFETY: always faults; never returns.
    unsafe { asm!("ud2", options(noreturn)) }
}

/// Divides by zero with `div`: a divide error.
pub fn divide_by_zero() -> ! {
    // SAFETY: `div` by a zero register always faults (#DE); never returns.
    unsafe {
        asm!(
            "xor edx, edx",
            "mov eax, 1",
            "xor ecx, ecx",
            "div ecx",
            "ud2",
            options(noreturn)
        )
    }
}

/// Loads the 16 XMM registers from `pattern` and MXCSR from `mxcsr`.
pub fn load_sse(pattern: &[u8; 256], mxcsr: u32) {
    // SAFETY: reads 256 bytes from a valid array and writes only SSE registers and MXCSR, which
    // no Rust code in this soft-float program uses; `mxcsr` must have no reserved bits set.
    unsafe {
        asm!(
            "movdqu xmm0, [{p}]", "movdqu xmm1, [{p} + 16]", "movdqu xmm2, [{p} + 32]",
            "movdqu xmm3, [{p} + 48]", "movdqu xmm4, [{p} + 64]", "movdqu xmm5, [{p} + 80]",
            "movdqu xmm6, [{p} + 96]", "movdqu xmm7, [{p} + 112]", "movdqu xmm8, [{p} + 128]",
            "movdqu xmm9, [{p} + 144]", "movdqu xmm10, [{p} + 160]", "movdqu xmm11, [{p} + 176]",
            "movdqu xmm12, [{p} + 192]", "movdqu xmm13, [{p} + 208]", "movdqu xmm14, [{p} + 224]",
            "movdqu xmm15, [{p} + 240]",
            "ldmxcsr [{m}]",
            p = in(reg) pattern.as_ptr(),
            m = in(reg) &mxcsr,
            options(nostack, readonly),
        );
    }
}

/// Stores the 16 XMM registers and MXCSR.
pub fn store_sse(out: &mut [u8; 256]) -> u32 {
    let mut mxcsr = 0u32;
    // SAFETY: writes 256 bytes into a valid array and 4 bytes into `mxcsr`.
    unsafe {
        asm!(
            "movdqu [{p}], xmm0", "movdqu [{p} + 16], xmm1", "movdqu [{p} + 32], xmm2",
            "movdqu [{p} + 48], xmm3", "movdqu [{p} + 64], xmm4", "movdqu [{p} + 80], xmm5",
            "movdqu [{p} + 96], xmm6", "movdqu [{p} + 112], xmm7", "movdqu [{p} + 128], xmm8",
            "movdqu [{p} + 144], xmm9", "movdqu [{p} + 160], xmm10", "movdqu [{p} + 176], xmm11",
            "movdqu [{p} + 192], xmm12", "movdqu [{p} + 208], xmm13", "movdqu [{p} + 224], xmm14",
            "movdqu [{p} + 240], xmm15",
            "stmxcsr [{m}]",
            p = in(reg) out.as_mut_ptr(),
            m = in(reg) &mut mxcsr,
            options(nostack),
        );
    }
    mxcsr
}
