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

    /// The destination of an IPC operation (`rdi`): a pid, 0 for none.
    #[inline(always)]
    pub fn ipc_peer(&self) -> crate::process::Pid {
        crate::process::Pid::from_raw(self.rdi as usize)
    }

    /// The eight IPC message words, in ABI order.
    #[inline(always)]
    pub fn message_words(&self) -> [u64; 8] {
        [
            self.rdx, self.r10, self.r8, self.r9, self.r12, self.r13, self.r14, self.r15,
        ]
    }

    /// Stores a received message: sender, info and words.
    #[inline(always)]
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
#[inline(always)]
pub fn with_blocked_frame<R>(stack_top: u64, f: impl FnOnce(&mut SyscallFrame) -> R) -> R {
    let frame = blocked_frame(stack_top);
    // SAFETY: `stack_top` is the top of a thread's kernel stack (checked above), which stays
    // mapped while the thread exists; a thread blocked in a system call has its SyscallFrame
    // right below that top, and it does not run while we hold the scheduler lock, so this is
    // the only access. The blocked thread passed its own frame through `black_box` before
    // switching away and reads it back with volatile loads (see `ipc::finish`).
    f(unsafe { &mut *frame })
}

/// Where the frame of a thread blocked in a system call sits, its kernel stack ending at
/// `stack_top` (checked to be the top of a kernel stack).
#[inline(always)]
fn blocked_frame(stack_top: u64) -> *mut SyscallFrame {
    let offset = stack_top.wrapping_sub(super::KERNEL_STACKS_BASE);
    assert!(
        stack_top > super::KERNEL_STACKS_BASE && offset.is_multiple_of(super::KERNEL_STACK_SLOT),
        "{stack_top:#x} is not the top of a kernel stack"
    );
    (stack_top - core::mem::size_of::<SyscallFrame>() as u64) as *mut SyscallFrame
}

/// The IPC fastpath's hand-over: copies the short message in `from` (the sender's own frame:
/// info and the eight words) into the frame of the thread blocked in a system call whose kernel
/// stack ends at `stack_top`, with `sender` and error 0, under the conditions of
/// [`with_blocked_frame`]: one `rep movsq` and two stores.
#[inline(always)]
pub fn deliver_to_blocked(stack_top: u64, sender: u64, from: &SyscallFrame) {
    // The scheduler sets a thread's stack top from its `KernelStack` and nothing else, so
    // the check `blocked_frame` makes is left to debug builds on this path.
    debug_assert_eq!(blocked_frame(stack_top) as u64 + FRAME_SIZE, stack_top);
    let to = stack_top - FRAME_SIZE;
    // The eight words and the info word are the frame's first nine quadwords in both frames.
    const COPIED: usize = (core::mem::offset_of!(SyscallFrame, rsi) + 8) / 8;
    // SAFETY: `to` is the frame of a thread blocked in a system call, which nothing else
    // touches meanwhile (see `with_blocked_frame`); `from` is the running thread's own frame;
    // the two are on different kernel stacks, so the copy does not overlap. `rep movsq` with
    // the direction flag clear (the ABI's state) copies COPIED quadwords upwards.
    unsafe {
        core::arch::asm!(
            "rep movsq",
            inout("rcx") COPIED => _,
            inout("rsi") from as *const SyscallFrame as u64 => _,
            inout("rdi") to => _,
            options(nostack, preserves_flags)
        );
        let to = &mut *(to as *mut SyscallFrame);
        to.rdi = sender;
        to.rax = 0;
    }
}

/// Size of [`SyscallFrame`].
const FRAME_SIZE: u64 = core::mem::size_of::<SyscallFrame>() as u64;

/// Reads a frame field with a volatile load: after a thread wakes from a blocking IPC call,
/// another thread may have written its frame while it slept.
pub fn read_after_wake(field: &u64) -> u64 {
    // SAFETY: `field` is a valid reference to an initialised u64.
    unsafe { core::ptr::read_volatile(field) }
}

/// Offsets in [`SyscallFrame`] that the entry code reads or writes.
const FRAME_RDX: usize = core::mem::offset_of!(SyscallFrame, rdx);
const FRAME_RSI: usize = core::mem::offset_of!(SyscallFrame, rsi);

/// What the entry code passes to [`dispatch`]: a system call to run, or the end of a fastpath
/// wait that needs more than the return to ring 3.
const RUN_CALL: u64 = 0;
const FINISH_WAIT: u64 = 1;

/// The entry. It builds the frame, then goes one of three ways, with interrupts disabled
/// until the generic dispatch enables them:
/// - the null call is answered here: it is the measured floor, frame and return and nothing
///   else (no kill can be pending for a thread that executes `syscall`, see `ipc::fastpath`);
/// - `call` and `reply_recv` try the IPC fastpath (`ipc::fastpath::take_call` and `take_reply_recv`). When it hands the
///   message over, this code switches to the peer itself: it saves the caller's context the
///   way `context::switch_stacks` does, with its return address at label 6 below, and pops
///   the peer's. So a thread that waits in the fastpath keeps no kernel call chain: when
///   anyone switches back to it, it resumes at 6 with its stack at its frame and returns to
///   ring 3, through the generic code only for a long message to copy, a kill, or dead
///   threads to free;
/// - everything else, and a fastpath not taken, goes to the generic dispatch.
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
        // Fourteen quadwords on a 16-byte aligned stack top: aligned for the calls.
        "cmpq ${call}, %rax",
        "je 2f",
        "cmpq ${reply_recv}, %rax",
        "je 8f",
        "testq %rax, %rax",
        "jnz 3f",
        // The null call: error 0 is already in the frame's rax; the value is 0.
        "movq $0, {rdx}(%rsp)",
        "jmp 5f",
        // The IPC fastpath: rax = the peer's saved stack pointer (0: not taken), rdx = where
        // ours goes. The callee-saved registers still hold the caller's user values.
        "8:",
        "movq %rsp, %rdi",
        "call {take_reply_recv}",
        "jmp 9f",
        "2:",
        "movq %rsp, %rdi",
        "call {take_call}",
        "9:",
        "testq %rax, %rax",
        "jz 3f",
        "leaq 6f(%rip), %rcx",
        "pushq %rcx",
        "pushq %rbp",
        "pushq %rbx",
        // r12-r15 need no saving: the way out at 6 reloads them from the frame.
        "subq $32, %rsp",
        "movq %rsp, (%rdx)",
        "movq %rax, %rsp",
        "popq %r15",
        "popq %r14",
        "popq %r13",
        "popq %r12",
        "popq %rbx",
        "popq %rbp",
        "ret",
        // Resumed after a fastpath wait, the frame holding the outcome the waker wrote.
        "6:",
        "testl ${long_bit}, {rsi}(%rsp)",
        "jnz 7f",
        "cmpq $0, {exit_work}(%rip)",
        "je 5f",
        "7:",
        "movl ${finish}, %esi",
        "jmp 4f",
        // The generic dispatch.
        "3:",
        "movl ${run}, %esi",
        "4:",
        "sti",
        "movq %rsp, %rdi",
        "call {dispatch}",
        "cli",
        "5:",
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
        call = const lux9_abi::Syscall::Call as u64,
        reply_recv = const lux9_abi::Syscall::ReplyRecv as u64,
        rdx = const FRAME_RDX,
        rsi = const FRAME_RSI,
        long_bit = const lux9_abi::ipc::LONG_BIT,
        run = const RUN_CALL,
        finish = const FINISH_WAIT,
        exit_work = sym crate::sched::EXIT_WORK,
        take_call = sym crate::ipc::fastpath::take_call,
        take_reply_recv = sym crate::ipc::fastpath::take_reply_recv,
        dispatch = sym dispatch,
        options(att_syntax)
    );
}

/// The generic path, with interrupts enabled: the system call, or the end of a fastpath wait
/// (`FINISH_WAIT`: dead threads to free, a long message to copy); then the way back to ring
/// 3, where a killed process ends, its kernel work done.
extern "C" fn dispatch(frame: &mut SyscallFrame, what: u64) {
    if what == FINISH_WAIT {
        crate::sched::reap();
        crate::ipc::finish_woken(frame);
    } else {
        crate::syscall::dispatch(frame);
    }
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
