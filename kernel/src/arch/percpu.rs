//! Per-CPU data, reached through the GS base: the current thread's kernel stack top (which the
//! `syscall` entry needs before it has a stack) and a scratch slot for the user stack pointer.
//!
//! While the CPU runs kernel code GS points here; while it runs user code the kernel's value
//! sits in `IA32_KERNEL_GS_BASE`, and `swapgs` on every entry and exit exchanges the two.

use core::cell::UnsafeCell;

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{GsBase, KernelGsBase};

/// Offsets used by the assembly in `syscall.rs`.
pub const KERNEL_RSP_OFFSET: usize = 0;
pub const USER_RSP_OFFSET: usize = 8;

#[repr(C)]
pub struct PerCpu {
    /// Top of the current thread's kernel stack.
    pub kernel_rsp: u64,
    /// The user stack pointer, saved by the syscall entry.
    pub user_rsp: u64,
}

struct PerCpuCell(UnsafeCell<PerCpu>);

// SAFETY: one CPU; the fields are written only with interrupts disabled (context switch) and
// read by the syscall entry of the same CPU.
unsafe impl Sync for PerCpuCell {}

static PER_CPU: PerCpuCell = PerCpuCell(UnsafeCell::new(PerCpu {
    kernel_rsp: 0,
    user_rsp: 0,
}));

/// Points GS at this CPU's data (kernel mode), with a zero user GS waiting in KERNEL_GS_BASE.
pub fn init() {
    GsBase::write(VirtAddr::from_ptr(PER_CPU.0.get()));
    KernelGsBase::write(VirtAddr::new(0));
}

/// Sets the kernel stack used on the next entry from ring 3 (syscall and interrupts).
#[inline]
pub fn set_kernel_stack(top: u64) {
    // SAFETY: called with interrupts disabled during a context switch; nothing else writes it.
    unsafe { (*PER_CPU.0.get()).kernel_rsp = top };
    super::gdt::set_interrupt_stack(top);
}
