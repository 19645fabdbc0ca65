//! Copies between kernel memory and user memory that may be unmapped.
//!
//! The caller (`crate::uaccess`) has already checked that the user range lies in the user half;
//! this module handles what can still go wrong: a page that is not mapped, or not writable. The
//! copy is `rep movsq` then `rep movsb` (for the last bytes), in a range of addresses known to
//! the page-fault handler: a fault there resumes at a fixup that returns failure instead of
//! panicking (the Linux exception-table idea). With SMAP on, the copy runs between `stac` and
//! `clac`.

use core::arch::naked_asm;
use core::sync::atomic::{AtomicBool, Ordering};

/// Whether SMAP is enabled (then user pages need `stac` around each access).
static SMAP_ON: AtomicBool = AtomicBool::new(false);

pub fn set_smap(enabled: bool) {
    SMAP_ON.store(enabled, Ordering::Relaxed);
}

/// Copies `len` bytes from `src` to `dst`; returns 0 on success, 1 on a fault.
#[unsafe(naked)]
unsafe extern "C" fn copy_bytes(dst: u64, src: u64, len: u64) -> u64 {
    naked_asm!(
        "cmpb $0, {smap}(%rip)",
        "je 1f",
        "stac",
        "1:",
        // Eight bytes at a time, then the rest: `rep movsq` does an eighth of the iterations
        // of `rep movsb` (which matters where each iteration costs, as under QEMU's icount,
        // and on CPUs without fast `rep movsb`).
        "movq %rdx, %rcx",
        "shrq $3, %rcx",
        "andl $7, %edx",
        ".global lux9_user_copy_start",
        "lux9_user_copy_start:",
        "rep movsq",
        "movq %rdx, %rcx",
        "rep movsb",
        ".global lux9_user_copy_end",
        "lux9_user_copy_end:",
        "cmpb $0, {smap}(%rip)",
        "je 2f",
        "clac",
        "2:",
        "xorl %eax, %eax",
        "ret",
        ".global lux9_user_copy_fixup",
        "lux9_user_copy_fixup:",
        "cmpb $0, {smap}(%rip)",
        "je 3f",
        "clac",
        "3:",
        "movl $1, %eax",
        "ret",
        smap = sym SMAP_ON,
        options(att_syntax)
    );
}

unsafe extern "C" {
    fn lux9_user_copy_start();
    fn lux9_user_copy_end();
    fn lux9_user_copy_fixup();
}

/// Where a kernel-mode page fault at `rip` should resume, if it hit the user copy.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let start = lux9_user_copy_start as *const () as u64;
    let end = lux9_user_copy_end as *const () as u64;
    (start..end)
        .contains(&rip)
        .then_some(lux9_user_copy_fixup as *const () as u64)
}

/// The user range was not (fully) mapped with the needed rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

fn in_user_half(addr: u64, len: usize) -> bool {
    addr.checked_add(len as u64)
        .is_some_and(|end| end <= lux9_abi::syscall::USER_END)
}

/// Copies `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
    assert!(
        in_user_half(src, dst.len()),
        "unchecked user range reached copy_from_user"
    );
    // SAFETY: `dst` is a valid kernel buffer of the given length; `src` lies in the user half
    // (asserted), so the copy cannot touch kernel memory, and a fault on an unmapped user page
    // returns 1 through the fixup instead of panicking.
    match unsafe { copy_bytes(dst.as_mut_ptr() as u64, src, dst.len() as u64) } {
        0 => Ok(()),
        _ => Err(Fault),
    }
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
    assert!(
        in_user_half(dst, src.len()),
        "unchecked user range reached copy_to_user"
    );
    // SAFETY: as in `copy_from_user`, with the roles exchanged; writes go only to the user half.
    match unsafe { copy_bytes(dst, src.as_ptr() as u64, src.len() as u64) } {
        0 => Ok(()),
        _ => Err(Fault),
    }
}
