//! The context switch and the first stack frames of new threads.
//!
//! A switch saves only what the System V ABI says a callee must preserve (rbx, rbp, r12-r15)
//! plus the return address, on the old thread's kernel stack, stores that stack pointer, loads
//! the new thread's, and pops the same registers there. Everything else the old thread needs
//! is already on its stack: its caller-saved registers (the compiler spilled them around the
//! call) and, if it came from ring 3, the trap or syscall frame with every user register.
//! CR3, the kernel-stack pointers for ring-3 entry and the FPU state are switched by the
//! scheduler before calling [`switch`].

use core::arch::naked_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use super::gdt;
use super::interrupts::TrapFrame;

/// Callee-saved registers and the return address, as [`switch`] leaves them on a stack.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct SwitchFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    rbx: u64,
    rbp: u64,
    rip: u64,
}

/// Room for this many threads at once; thread ids index [`SAVED`].
pub const MAX_THREADS: usize = 4096;

/// The saved stack pointer of every thread that is not running (0 = none).
static SAVED: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];

#[unsafe(naked)]
unsafe extern "C" fn switch_stacks(save: *mut u64, load: u64) {
    naked_asm!(
        "pushq %rbp",
        "pushq %rbx",
        "pushq %r12",
        "pushq %r13",
        "pushq %r14",
        "pushq %r15",
        "movq %rsp, (%rdi)",
        "movq %rsi, %rsp",
        "popq %r15",
        "popq %r14",
        "popq %r13",
        "popq %r12",
        "popq %rbx",
        "popq %rbp",
        "ret",
        options(att_syntax)
    );
}

/// Saves the running thread `prev`'s context and resumes thread `next`, which must have a
/// context saved by an earlier `switch` or prepared by [`prepare_user_stack`] /
/// [`prepare_kernel_stack`]. Returns when some later `switch` resumes `prev`.
///
/// The scheduler keeps a thread's kernel stack mapped for as long as its context is saved
/// here; [`forget`] clears the slot before the stack goes away.
pub fn switch(prev: usize, next: usize) {
    assert!(
        !x86_64::instructions::interrupts::are_enabled(),
        "switch with interrupts enabled"
    );
    assert!(prev != next && prev < MAX_THREADS && next < MAX_THREADS);
    let load = SAVED[next].swap(0, Ordering::Relaxed);
    assert_ne!(load, 0, "thread {next} has no saved context");
    // SAFETY: `load` came from a switch or a prepare function for `next`, whose stack is still
    // mapped (the scheduler frees stacks only after `forget`); the save slot is a static that
    // only this CPU touches with interrupts disabled (asserted above).
    unsafe { switch_stacks(SAVED[prev].as_ptr(), load) };
}

/// A switch that the system-call entry code makes itself (the IPC fastpath): it saves the
/// running thread's context as [`switch_stacks`] does (callee-saved registers under a return
/// address, here the entry's own way back to ring 3) into `prev_slot`, then loads `next_rsp`
/// and pops `next`'s. `next_rsp` 0 means no switch.
#[derive(Debug)]
#[repr(C)]
pub struct EntrySwitch {
    pub next_rsp: u64,
    pub prev_slot: *mut u64,
}

impl EntrySwitch {
    pub const NONE: Self = Self {
        next_rsp: 0,
        prev_slot: core::ptr::null_mut(),
    };
}

/// Takes `next`'s saved context for a switch from `prev` that the entry code makes (see
/// [`EntrySwitch`]); the same checks as [`switch`].
#[inline(always)]
pub fn detach(prev: usize, next: usize) -> EntrySwitch {
    debug_assert!(
        !x86_64::instructions::interrupts::are_enabled(),
        "switch with interrupts enabled"
    );
    debug_assert!(prev != next && prev < MAX_THREADS && next < MAX_THREADS);
    // SAFETY: thread ids are below MAX_THREADS: the scheduler's table never grows past it.
    let (next_slot, prev_slot) = unsafe { (SAVED.get_unchecked(next), SAVED.get_unchecked(prev)) };
    let load = next_slot.swap(0, Ordering::Relaxed);
    assert!(load != 0, "a thread without a saved context");
    EntrySwitch {
        next_rsp: load,
        prev_slot: prev_slot.as_ptr(),
    }
}

/// Drops the saved context of a thread whose stack is about to be freed.
pub fn forget(tid: usize) {
    SAVED[tid].store(0, Ordering::Relaxed);
}

unsafe extern "C" {
    /// The register-restoring tail of the interrupt entry (`interrupts.rs`): pops a
    /// [`TrapFrame`] and returns with `iretq`.
    fn lux9_interrupt_return();
}

/// First code of a new user thread, on its way to ring 3 through the interrupt return: a
/// thread killed before it ever ran ends here (every way to ring 3 checks, see
/// `ipc::fastpath`). The trap frame above is 16-byte aligned, as the `call` needs.
#[unsafe(naked)]
unsafe extern "C" fn user_thread_start() {
    naked_asm!(
        "sti",
        "call {check}",
        "cli",
        "jmp {interrupt_return}",
        check = sym user_thread_check,
        interrupt_return = sym lux9_interrupt_return,
        options(att_syntax)
    );
}

extern "C" fn user_thread_check() {
    crate::process::exit_if_killed();
}

/// First code of a new kernel thread: enables interrupts and calls `entry(arg)` (in r12, r13).
#[unsafe(naked)]
unsafe extern "C" fn kernel_thread_start() {
    naked_asm!(
        "sti",
        "movq %r13, %rdi",
        "call *%r12",
        "call {exit}",
        "ud2",
        exit = sym kernel_thread_exit,
        options(att_syntax)
    );
}

extern "C" fn kernel_thread_exit() -> ! {
    crate::sched::exit_current_kernel_thread()
}

/// Writes `value` at `*cursor - 8` and moves the cursor down.
fn push(cursor: &mut u64, value: u64) {
    *cursor -= 8;
    // SAFETY: `check_new_stack` verified that the whole stack is a mapped, writable page range in
    // the kernel-stack region, and the frames written stay far above its bottom; a new thread's
    // stack is not yet used by anyone.
    unsafe { core::ptr::write(*cursor as *mut u64, value) };
}

/// A new thread's stack must be a mapped, writable range of the kernel-stack region.
fn check_new_stack(bottom: u64, top: u64) {
    assert!(
        top.is_multiple_of(16) && top - bottom >= 1024,
        "kernel stack too small or unaligned"
    );
    assert!(
        bottom >= super::KERNEL_STACKS_BASE,
        "{bottom:#x} is not in the kernel-stack region"
    );
    for page in (bottom..top).step_by(4096) {
        let flags = super::paging::flags(page);
        assert!(
            flags.is_some_and(|f| f.contains(super::paging::MapFlags::WRITABLE)),
            "kernel stack page {page:#x} is not mapped writable"
        );
    }
}

fn push_switch_frame(cursor: &mut u64, frame: SwitchFrame) {
    for value in [
        frame.rip, frame.rbp, frame.rbx, frame.r12, frame.r13, frame.r14, frame.r15,
    ] {
        push(cursor, value);
    }
}

/// Prepares the kernel stack `[bottom, top)` of new user thread `tid` so that the first
/// [`switch`] to it enters ring 3 at `rip` with stack `rsp` and `rdi`, `rsi` = `args`.
pub fn prepare_user_stack(tid: usize, bottom: u64, top: u64, rip: u64, rsp: u64, args: (u64, u64)) {
    check_new_stack(bottom, top);
    let (user_code, user_data) = gdt::user_selectors();
    let frame = TrapFrame {
        rdi: args.0,
        rsi: args.1,
        rip,
        cs: u64::from(user_code.0),
        rflags: 0x202, // IF, and the always-one bit 1
        rsp,
        ss: u64::from(user_data.0),
        ..TrapFrame::default()
    };
    let mut cursor = top;
    let words: [u64; 22] = [
        frame.r15,
        frame.r14,
        frame.r13,
        frame.r12,
        frame.r11,
        frame.r10,
        frame.r9,
        frame.r8,
        frame.rbp,
        frame.rdi,
        frame.rsi,
        frame.rdx,
        frame.rcx,
        frame.rbx,
        frame.rax,
        frame.vector,
        frame.error_code,
        frame.rip,
        frame.cs,
        frame.rflags,
        frame.rsp,
        frame.ss,
    ];
    for &word in words.iter().rev() {
        push(&mut cursor, word);
    }
    push_switch_frame(
        &mut cursor,
        SwitchFrame {
            rip: user_thread_start as *const () as u64,
            ..SwitchFrame::default()
        },
    );
    SAVED[tid].store(cursor, Ordering::Relaxed);
}

/// Prepares the kernel stack of new kernel thread `tid`, which will run `entry(arg)`.
pub fn prepare_kernel_stack(
    tid: usize,
    bottom: u64,
    top: u64,
    entry: extern "C" fn(u64),
    arg: u64,
) {
    check_new_stack(bottom, top);
    // After `switch` pops six registers and returns, RSP is back at `top`, 16-byte aligned
    // for the `call` in `kernel_thread_start`.
    let mut cursor = top;
    push_switch_frame(
        &mut cursor,
        SwitchFrame {
            rip: kernel_thread_start as *const () as u64,
            r12: entry as *const () as u64,
            r13: arg,
            ..SwitchFrame::default()
        },
    );
    SAVED[tid].store(cursor, Ordering::Relaxed);
}
