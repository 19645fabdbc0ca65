//! CPU exceptions and unexpected interrupts.
//!
//! In kernel mode every exception but a breakpoint is fatal: the report names the vector, the
//! error code, RIP, CR2 and all registers, then the machine stops (see `panic.rs`). Faults in
//! ring 3 will kill only the offending process once processes exist.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::fault::boot_stack_guard;
use crate::arch::interrupts::TrapFrame;
use crate::arch::{cpu, lapic, usercopy};

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);
static NMIS: AtomicU64 = AtomicU64::new(0);

/// Mnemonic and name of each architectural exception vector.
pub fn exception_name(vector: u64) -> (&'static str, &'static str) {
    match vector {
        0 => ("#DE", "divide error"),
        1 => ("#DB", "debug"),
        2 => ("NMI", "non-maskable interrupt"),
        3 => ("#BP", "breakpoint"),
        4 => ("#OF", "overflow"),
        5 => ("#BR", "bound range exceeded"),
        6 => ("#UD", "invalid opcode"),
        7 => ("#NM", "device not available"),
        8 => ("#DF", "double fault"),
        10 => ("#TS", "invalid TSS"),
        11 => ("#NP", "segment not present"),
        12 => ("#SS", "stack-segment fault"),
        13 => ("#GP", "general protection fault"),
        14 => ("#PF", "page fault"),
        16 => ("#MF", "x87 floating-point error"),
        17 => ("#AC", "alignment check"),
        18 => ("#MC", "machine check"),
        19 => ("#XM", "SIMD floating-point error"),
        20 => ("#VE", "virtualization exception"),
        21 => ("#CP", "control protection"),
        28 => ("#HV", "hypervisor injection"),
        29 => ("#VC", "VMM communication"),
        30 => ("#SX", "security exception"),
        _ => ("#??", "reserved exception"),
    }
}

/// Breakpoints taken so far (a test checks that `int3` returns).
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

pub fn exception(frame: &mut TrapFrame, cr2: u64) {
    if frame.vector == 2 {
        // An NMI can arrive while the console lock is held, so it is only counted.
        NMIS.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if frame.vector == 7 && frame.came_from_user() {
        // A user thread's first x87/SSE instruction since it got the CPU from another one
        // that used them: the lazy FPU switch.
        crate::sched::fpu_trap();
        return;
    }
    if frame.came_from_user() {
        kill_user(frame, cr2);
    }
    match frame.vector {
        3 => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
        }
        14 if let Some(resume) = usercopy::fixup_for(frame.rip) => {
            // A copy from or to user memory touched an unmapped page: the copy fails with
            // an error instead of the kernel.
            frame.rip = resume;
        }
        _ => fatal_exception(frame, cr2),
    }
}

/// A fault in ring 3 ends that process only.
fn kill_user(frame: &TrapFrame, cr2: u64) -> ! {
    let (_, name) = exception_name(frame.vector);
    let vector = frame.vector as u8;
    if frame.vector == 14 {
        let (access, kind, _) = page_fault_cause(frame.error_code);
        crate::process::kill_current(
            vector,
            format_args!(
                "page fault at {cr2:#x} rip {:#x} ({access}, {kind})",
                frame.rip
            ),
        )
    } else {
        crate::process::kill_current(
            vector,
            format_args!(
                "{name} (error {:#x}) rip {:#x}",
                frame.error_code, frame.rip
            ),
        )
    }
}

/// Describes a page-fault error code: `write, not present, kernel`.
fn page_fault_cause(error: u64) -> (&'static str, &'static str, &'static str) {
    let access = if error & 0x10 != 0 {
        "instruction fetch"
    } else if error & 0x2 != 0 {
        "write"
    } else {
        "read"
    };
    let kind = if error & 0x1 != 0 {
        "protection violation"
    } else {
        "page not present"
    };
    let mode = if error & 0x4 != 0 { "user" } else { "kernel" };
    (access, kind, mode)
}

fn fatal_exception(frame: &TrapFrame, cr2: u64) -> ! {
    let (mnemonic, name) = exception_name(frame.vector);
    let mode = if frame.came_from_user() {
        "user"
    } else {
        "kernel"
    };
    crate::panic::die(|out| {
        let _ = writeln!(
            out,
            "lux9: panic: CPU exception {} {} ({}) in {} mode",
            frame.vector, mnemonic, name, mode
        );
        let _ = write!(out, "  error code {:#x}", frame.error_code);
        if frame.vector == 14 {
            let (access, kind, who) = page_fault_cause(frame.error_code);
            let _ = write!(out, " ({access}, {kind}, {who})");
        }
        let _ = writeln!(out);
        let (guard_start, guard_end) = boot_stack_guard();
        let hits_guard = |addr: u64| {
            (guard_start..guard_end).contains(&addr) || crate::memory::kstack::is_guard_page(addr)
        };
        if hits_guard(frame.rsp) || ((frame.vector == 14 || frame.vector == 8) && hits_guard(cr2)) {
            let _ = writeln!(
                out,
                "  kernel stack overflow: the stack reached its guard page"
            );
        }
        let _ = writeln!(
            out,
            "  rip {:#018x}  cs {:#x}  rflags {:#x}  rsp {:#018x}  ss {:#x}",
            frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss
        );
        let _ = writeln!(out, "  cr2 {:#018x}  cr3 {:#018x}", cr2, cpu::read_cr3());
        let registers = [
            ("rax", frame.rax),
            ("rbx", frame.rbx),
            ("rcx", frame.rcx),
            ("rdx", frame.rdx),
            ("rsi", frame.rsi),
            ("rdi", frame.rdi),
            ("rbp", frame.rbp),
            ("r8", frame.r8),
            ("r9", frame.r9),
            ("r10", frame.r10),
            ("r11", frame.r11),
            ("r12", frame.r12),
            ("r13", frame.r13),
            ("r14", frame.r14),
            ("r15", frame.r15),
        ];
        for row in registers.chunks(4) {
            let _ = write!(out, " ");
            for (name, value) in row {
                let _ = write!(out, " {name:>3} {value:#018x}");
            }
            let _ = writeln!(out);
        }
    })
}

/// A vector with no handler: log it and acknowledge it so the APIC does not stall.
pub fn unexpected_interrupt(frame: &mut TrapFrame) {
    log::warn!("unexpected interrupt on vector {:#x}", frame.vector);
    lapic::end_of_interrupt();
}
