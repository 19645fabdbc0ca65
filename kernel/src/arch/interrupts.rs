//! The IDT, the 256 interrupt entry stubs and the dispatch to Rust.
//!
//! Every vector has a 16-byte stub that pushes a dummy error code (when the CPU does not push
//! one) and the vector number, then jumps to a common routine that saves all general registers
//! as a [`TrapFrame`], switches GS when coming from ring 3, and calls [`dispatch`]. Exceptions
//! go to `crate::trap`; device vectors go to the handler registered for them.

use core::arch::naked_asm;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Once;
use x86_64::VirtAddr;
use x86_64::structures::idt::InterruptDescriptorTable;

use super::gdt;

/// The machine state saved on interrupt entry, lowest address first.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// Whether the interrupted code ran in ring 3.
    pub fn came_from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// Size of each entry stub; stub `n` starts at `vector_stubs + n * STUB_SIZE`.
const STUB_SIZE: usize = 16;

/// The 256 entry stubs. Vectors 8, 10-14, 17, 21, 29 and 30 get an error code from the CPU.
#[unsafe(naked)]
unsafe extern "C" fn vector_stubs() {
    naked_asm!(
        ".set vector, 0",
        ".rept 256",
        ".balign 16",
        ".if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)",
        ".else",
        "pushq $0",
        ".endif",
        "pushq $vector",
        "jmp {common}",
        ".set vector, vector + 1",
        ".endr",
        common = sym interrupt_common,
        options(att_syntax)
    );
}

/// Saves registers, calls [`dispatch`] with a pointer to the frame, restores and returns.
#[unsafe(naked)]
unsafe extern "C" fn interrupt_common() {
    naked_asm!(
        // Stack: vector, error code, rip, cs, rflags, rsp, ss. CS is at +24.
        "testb $3, 24(%rsp)",
        "jz 1f",
        "swapgs",
        "1:",
        "pushq %rax",
        "pushq %rbx",
        "pushq %rcx",
        "pushq %rdx",
        "pushq %rsi",
        "pushq %rdi",
        "pushq %rbp",
        "pushq %r8",
        "pushq %r9",
        "pushq %r10",
        "pushq %r11",
        "pushq %r12",
        "pushq %r13",
        "pushq %r14",
        "pushq %r15",
        "cld",
        "movq %rsp, %rdi",
        // 22 quadwords were pushed on a 16-byte aligned stack, so RSP is aligned for the call.
        "call {dispatch}",
        // New threads start here too, from a frame prepared by `context.rs`.
        ".global lux9_interrupt_return",
        "lux9_interrupt_return:",
        "popq %r15",
        "popq %r14",
        "popq %r13",
        "popq %r12",
        "popq %r11",
        "popq %r10",
        "popq %r9",
        "popq %r8",
        "popq %rbp",
        "popq %rdi",
        "popq %rsi",
        "popq %rdx",
        "popq %rcx",
        "popq %rbx",
        "popq %rax",
        "testb $3, 24(%rsp)",
        "jz 2f",
        "swapgs",
        "2:",
        "addq $16, %rsp",
        "iretq",
        dispatch = sym dispatch,
        options(att_syntax)
    );
}

/// A device interrupt handler. It runs with interrupts disabled and must not allocate.
pub type Handler = fn(&mut TrapFrame);

/// Handlers for vectors 32..=255, stored as `fn` addresses (0 = none).
static HANDLERS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];

/// Registers `handler` for `vector` (32..=255). Replaces any previous handler.
pub fn register(vector: u8, handler: Handler) {
    assert!(
        vector >= 32,
        "vectors below 32 are CPU exceptions, handled by crate::trap"
    );
    HANDLERS[usize::from(vector)].store(handler as usize, Ordering::Release);
}

extern "C" fn dispatch(frame: &mut TrapFrame) {
    let vector = frame.vector as usize;
    if vector < 32 {
        // CR2 is read first, before anything else can fault and overwrite it. A double fault
        // keeps the address of the page fault that caused it (a stack overflow's, say).
        let cr2 = if vector == 14 || vector == 8 {
            super::cpu::read_cr2()
        } else {
            0
        };
        crate::trap::exception(frame, cr2);
    } else {
        let address = HANDLERS[vector].load(Ordering::Acquire);
        if address == 0 {
            crate::trap::unexpected_interrupt(frame);
        } else {
            // SAFETY: only `register` stores into HANDLERS, and it stores valid `Handler`
            // addresses.
            let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(address) };
            handler(frame);
        }
    }
    // About to return to ring 3 (a handler has sent its EOI): a killed process ends here. This
    // catches a process that spins without system calls at its next timer tick, and it is one
    // of the ways back to ring 3 that keep a marked thread from reaching `syscall` (see
    // `ipc::fastpath`).
    if frame.came_from_user() {
        crate::process::exit_if_killed();
    }
}

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Builds the IDT (every vector points at its stub) and loads it.
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        let base = vector_stubs as *const () as u64;
        let stub = |vector: usize| VirtAddr::new(base + (vector * STUB_SIZE) as u64);
        // SAFETY: each address is the start of the stub for that vector, which saves state,
        // handles the interrupt and returns with iretq.
        unsafe {
            idt.divide_error.set_handler_addr(stub(0));
            idt.debug.set_handler_addr(stub(1));
            idt.non_maskable_interrupt
                .set_handler_addr(stub(2))
                .set_stack_index(gdt::NMI_IST);
            idt.breakpoint.set_handler_addr(stub(3));
            idt.overflow.set_handler_addr(stub(4));
            idt.bound_range_exceeded.set_handler_addr(stub(5));
            idt.invalid_opcode.set_handler_addr(stub(6));
            idt.device_not_available.set_handler_addr(stub(7));
            idt.double_fault
                .set_handler_addr(stub(8))
                .set_stack_index(gdt::DOUBLE_FAULT_IST);
            idt.invalid_tss.set_handler_addr(stub(10));
            idt.segment_not_present.set_handler_addr(stub(11));
            idt.stack_segment_fault.set_handler_addr(stub(12));
            idt.general_protection_fault.set_handler_addr(stub(13));
            idt.page_fault.set_handler_addr(stub(14));
            idt.x87_floating_point.set_handler_addr(stub(16));
            idt.alignment_check.set_handler_addr(stub(17));
            idt.machine_check
                .set_handler_addr(stub(18))
                .set_stack_index(gdt::MACHINE_CHECK_IST);
            idt.simd_floating_point.set_handler_addr(stub(19));
            idt.virtualization.set_handler_addr(stub(20));
            idt.cp_protection_exception.set_handler_addr(stub(21));
            idt.hv_injection_exception.set_handler_addr(stub(28));
            idt.vmm_communication_exception.set_handler_addr(stub(29));
            idt.security_exception.set_handler_addr(stub(30));
            for vector in 32..256 {
                idt[vector as u8].set_handler_addr(stub(vector));
            }
        }
        idt
    });
    idt.load();
}
