//! Deliberate faults for the in-QEMU tests, and the facts the fault report needs.
//!
//! Each deliberate fault is sound to call from safe code: it never returns normally, because the
//! exception it raises is fatal in kernel mode.

use core::arch::asm;

use super::paging;

unsafe extern "C" {
    static __boot_stack_guard: u8;
}

/// The guard page below the boot stack, as a virtual range.
pub fn boot_stack_guard() -> (u64, u64) {
    let start = &raw const __boot_stack_guard as u64;
    (start, start + 4096)
}

/// Reads from `address`, which must be unmapped, and so takes a page fault.
pub fn page_fault_at(address: u64) -> ! {
    assert!(
        paging::translate(address).is_none(),
        "{address:#x} is mapped; pick an unmapped address"
    );
    // SAFETY: the address is unmapped (checked above), so the read faults and the fatal
    // page-fault handler never returns here; no memory is read.
    unsafe {
        asm!("mov {tmp}, qword ptr [{address}]", address = in(reg) address, tmp = out(reg) _, options(nostack));
    }
    unreachable!("reading unmapped address {address:#x} did not fault");
}

/// Points the stack at an unmapped address and pushes: the page fault cannot be delivered on that
/// stack, so the CPU raises a double fault, which runs on its own IST stack.
pub fn double_fault() -> ! {
    let bad_stack = 0x0000_0000_dead_0000u64;
    assert!(
        paging::translate(bad_stack - 8).is_none(),
        "the bad stack must be unmapped"
    );
    // SAFETY: the push faults; delivering #PF on the same unmapped stack faults again, giving a
    // double fault whose handler is fatal, so control never comes back to this code.
    unsafe {
        asm!("mov rsp, {stack}", "push rax", "ud2", stack = in(reg) bad_stack, options(noreturn));
    }
}

/// Values loaded into rax, rbx, rcx, rdx, rsi, rdi, rbp, r8..r15 before the breakpoint.
const REGISTER_PATTERN: [u64; 15] = [
    0x1111_1111_1111_1111,
    0x2222_2222_2222_2222,
    0x3333_3333_3333_3333,
    0x4444_4444_4444_4444,
    0x5555_5555_5555_5555,
    0x6666_6666_6666_6666,
    0x7777_7777_7777_7777,
    0x8888_8888_8888_8888,
    0x9999_9999_9999_9999,
    0xaaaa_aaaa_aaaa_aaaa,
    0xbbbb_bbbb_bbbb_bbbb,
    0xcccc_cccc_cccc_cccc,
    0xdddd_dddd_dddd_dddd,
    0xeeee_eeee_eeee_eeee,
    0xffff_ffff_ffff_ffff,
];

/// Executes `int3` with a known value in every general register and returns the values the
/// registers hold after the breakpoint handler returned, next to the values they should hold.
pub fn breakpoint_round_trip() -> ([u64; 15], [u64; 15]) {
    let mut after = [0u64; 15];
    let p = &REGISTER_PATTERN;
    // SAFETY: int3 enters the breakpoint handler, which returns. rbx and rbp (which Rust
    // reserves) are saved and restored around the test; every other register is declared
    // clobbered. The stack is balanced, and `after` is a valid 15-word array.
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "push rdi",
            "mov rax, [rsi + 0]",
            "mov rbx, [rsi + 8]",
            "mov rcx, [rsi + 16]",
            "mov rdx, [rsi + 24]",
            "mov rdi, [rsi + 40]",
            "mov rbp, [rsi + 48]",
            "mov r8, [rsi + 56]",
            "mov r9, [rsi + 64]",
            "mov r10, [rsi + 72]",
            "mov r11, [rsi + 80]",
            "mov r12, [rsi + 88]",
            "mov r13, [rsi + 96]",
            "mov r14, [rsi + 104]",
            "mov r15, [rsi + 112]",
            "mov rsi, [rsi + 32]",
            "int3",
            "xchg rax, [rsp]",
            "mov [rax + 8], rbx",
            "mov [rax + 16], rcx",
            "mov [rax + 24], rdx",
            "mov [rax + 32], rsi",
            "mov [rax + 40], rdi",
            "mov [rax + 48], rbp",
            "mov [rax + 56], r8",
            "mov [rax + 64], r9",
            "mov [rax + 72], r10",
            "mov [rax + 80], r11",
            "mov [rax + 88], r12",
            "mov [rax + 96], r13",
            "mov [rax + 104], r14",
            "mov [rax + 112], r15",
            "pop rcx",
            "mov [rax], rcx",
            "pop rbp",
            "pop rbx",
            inout("rdi") after.as_mut_ptr() => _,
            inout("rsi") p.as_ptr() => _,
            out("rax") _, out("rcx") _, out("rdx") _, out("r8") _, out("r9") _,
            out("r10") _, out("r11") _, out("r12") _, out("r13") _, out("r14") _,
            out("r15") _,
        );
    }
    (after, REGISTER_PATTERN)
}

/// The lower-half address of the user page that [`smap_violation`] and [`smep_violation`] point
/// the kernel at.
pub const USER_TEST_PAGE: u64 = 0x40_0000;

/// Which protection a deliberate user-page access is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserProtection {
    /// SMAP: the kernel reads a user page without `stac`.
    Access,
    /// SMEP: the kernel jumps into a user page.
    Execution,
}

/// Builds an address space whose only lower-half page is a user-accessible, writable,
/// executable page at [`USER_TEST_PAGE`] holding `ret`, switches to it with interrupts off (so
/// nothing switches back), and reads it (SMAP) or calls it (SMEP) from ring 0. With the
/// protection on, the CPU raises a fatal page fault (protection violation, kernel mode); the
/// function panics instead if the protection is off, so the scenario fails either way unless
/// the fault report appears.
pub fn user_page_violation(protection: UserProtection) -> ! {
    use super::address_space::{AddressSpace, PageRights};
    use x86_64::registers::control::{Cr4, Cr4Flags};
    let (flag, name) = match protection {
        UserProtection::Access => (Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION, "SMAP"),
        UserProtection::Execution => (Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION, "SMEP"),
    };
    assert!(
        Cr4::read().contains(flag),
        "{name} is off: this CPU does not offer it (QEMU needs -cpu max)"
    );
    let mut space = AddressSpace::new().expect("an address space for the SMAP/SMEP test");
    let frame = crate::memory::frames::alloc().expect("a frame for the SMAP/SMEP test");
    let rights = PageRights {
        write: true,
        execute: true,
        user: true,
    };
    space
        .map(USER_TEST_PAGE, frame, rights)
        .expect("mapping the SMAP/SMEP test page");
    space
        .write(USER_TEST_PAGE, &[0xc3])
        .expect("writing `ret` into the test page");
    x86_64::instructions::interrupts::disable();
    space.activation().activate();
    // The address space must outlive the access, which never returns.
    core::mem::forget(space);
    match protection {
        // SAFETY: the page is mapped (above) and holds a byte; with SMAP on the read faults
        // before reading, and the fault is fatal in kernel mode, so control never comes back.
        UserProtection::Access => unsafe {
            asm!("mov {tmp}, byte ptr [{page}]", page = in(reg) USER_TEST_PAGE, tmp = out(reg_byte) _, options(nostack, readonly));
        },
        // SAFETY: the page holds `ret`; with SMEP on the fetch faults before anything runs, and
        // the fault is fatal in kernel mode, so control never comes back.
        UserProtection::Execution => unsafe {
            asm!("call {page}", page = in(reg) USER_TEST_PAGE, clobber_abi("C"));
        },
    }
    panic!("the kernel touched a user page from ring 0 and {name} did not stop it");
}
