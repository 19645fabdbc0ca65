//! The `syscall`/`sysret` entry: switches to the thread's kernel stack, saves the caller's
//! registers as a [`SyscallFrame`], and calls `crate::syscall::dispatch`.
//!
//! On entry the CPU has put the user RIP in RCX and RFLAGS in R11 and cleared the flags in
//! SFMASK (interrupts among them), so nothing can interrupt the stack switch. Interrupts are
//! enabled again once the frame is saved, and disabled before the user state is restored.
//! `sysret` returns to the RIP that `syscall` saved, which is always canonical: the kernel
//! never rewrites `rip` in the frame.

use core::arch::naked_asm;

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;

use super::gdt;
use super::percpu::{KERNEL_RSP_OFFSET, USER_RSP_OFFSET};

/// The caller's registers, lowest address first, as the entry code pushes them.
///
/// `r12`-`r15` are saved too although the kernel's own code preserves them: IPC messages carry
/// eight words in `rdx`, `r10`, `r8`, `r9` and `r12`-`r15`, which the kernel reads and writes
/// here.
#[derive(Debug)]
#[repr(C)]
pub struct SyscallFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r9: u64,
    pub r8: u64,
    pub r10: u64,
    /// Third argument on entry; the result value on return.
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// System-call number on entry; the error code on return.
    pub rax: u64,
    pub rip: u64,
    pub rflags: u64,
    pub rsp: u64,
}

impl SyscallFrame {
    pub fn number(&self) -> usize {
        self.rax as usize
    }

    /// Arguments in ABI order.
    pub fn args(&self) -> [usize; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9].map(|a| a as usize)
    }

    pub fn set_result(&mut self, error: usize, value: usize) {
        self.rax = error as u64;
        self.rdx = value as u64;
    }

    /// The eight IPC message words, in ABI order.
    pub fn message_words(&self) -> [u64; 8] {
        [
            self.rdx, self.r10, self.r8, self.r9, self.r12, self.r13, self.r14, self.r15,
        ]
    }

    /// Stores a received message: sender, info and words.
    #[inline]
    pub fn set_message(&mut self, sender: u64, info: u64, words: &[u64; 8]) {
        self.rax = 0;
        self.rdi = sender;
        self.rsi = info;
        [
            self.rdx, self.r10, self.r8, self.r9, self.r12, self.r13, self.r14, self.r15,
        ] = *words;
    }
}

/// Runs `f` on the syscall frame of a thread that is blocked inside a system call and whose
/// kernel stack ends at `stack_top`: the frame is the first thing the entry code pushes, so it
/// sits right below the stack top. The IPC code uses this to hand a message straight into the
/// registers of a blocked receiver.
///
/// The scheduler lock must be held and the thread must be blocked in a system call (an IPC
/// wait state guarantees both); it cannot run, so nothing else touches its frame meanwhile.
#[inline]
pub fn with_blocked_frame<R>(stack_top: u64, f: impl FnOnce(&mut SyscallFrame) -> R) -> R {
    let offset = stack_top.wrapping_sub(super::KERNEL_STACKS_BASE);
    assert!(
        stack_top > super::KERNEL_STACKS_BASE && offset.is_multiple_of(super::KERNEL_STACK_SLOT),
        "{stack_top:#x} is not the top of a kernel stack"
    );
    let frame = (stack_top - core::mem::size_of::<SyscallFrame>() as u64) as *mut SyscallFrame;
    // SAFETY: `stack_top` is the top of a thread's kernel stack (checked above), which stays
    // mapped while the thread exists; a thread blocked in a system call has its SyscallFrame
    // right below that top, and it does not run while we hold the scheduler lock, so this is
    // the only access. The blocked thread passed its own frame through `black_box` before
    // switching away and reads it back with volatile loads (see `ipc::finish`).
    f(unsafe { &mut *frame })
}

/// Reads a frame field with a volatile load: after a thread wakes from a blocking IPC call,
/// another thread may have written its frame while it slept.
pub fn read_after_wake(field: &u64) -> u64 {
    // SAFETY: `field` is a valid reference to an initialised u64.
    unsafe { core::ptr::read_volatile(field) }
}

#[unsafe(naked)]
unsafe extern "C" fn syscall_entry() {
    naked_asm!(
        "swapgs",
        "movq %rsp, %gs:{user_rsp}",
        "movq %gs:{kernel_rsp}, %rsp",
        "pushq %gs:{user_rsp}",
        "pushq %r11",
        "pushq %rcx",
        "pushq %rax",
        "pushq %rdi",
        "pushq %rsi",
        "pushq %rdx",
        "pushq %r10",
        "pushq %r8",
        "pushq %r9",
        "pushq %r12",
        "pushq %r13",
        "pushq %r14",
        "pushq %r15",
        // Fourteen quadwords on a 16-byte aligned stack top: aligned for the call.
        "sti",
        "movq %rsp, %rdi",
        "call {dispatch}",
        "cli",
        "popq %r15",
        "popq %r14",
        "popq %r13",
        "popq %r12",
        "popq %r9",
        "popq %r8",
        "popq %r10",
        "popq %rdx",
        "popq %rsi",
        "popq %rdi",
        "popq %rax",
        "popq %rcx",
        "popq %r11",
        "popq %rsp",
        "swapgs",
        "sysretq",
        user_rsp = const USER_RSP_OFFSET,
        kernel_rsp = const KERNEL_RSP_OFFSET,
        dispatch = sym dispatch,
        options(att_syntax)
    );
}

extern "C" fn dispatch(frame: &mut SyscallFrame) {
    crate::syscall::dispatch(frame);
    // The way back to ring 3: a killed process ends here, its kernel work done.
    crate::process::exit_if_killed();
}

/// Enables `syscall`: segment bases in STAR, the entry point in LSTAR, and the flags cleared on
/// entry in SFMASK.
pub fn init() {
    let (kernel_code, kernel_data) = gdt::kernel_selectors();
    let (user_code, user_data) = gdt::user_selectors();
    Star::write(user_code, user_data, kernel_code, kernel_data)
        .expect("the GDT order matches what syscall/sysret need");
    LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
    SFMask::write(
        RFlags::INTERRUPT_FLAG
            | RFlags::TRAP_FLAG
            | RFlags::DIRECTION_FLAG
            | RFlags::ALIGNMENT_CHECK
            | RFlags::NESTED_TASK,
    );
    // SAFETY: enabling SCE only makes `syscall` usable; its entry point is set up above.
    unsafe { Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS)) };
}
