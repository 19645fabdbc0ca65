//! The runtime's unsafe code: the `syscall` instruction, reading the entry arguments, the heap
//! and the panic handler.

use core::arch::asm;

/// Issues system call `number` with up to six arguments; returns (`rax`, `rdx`).
#[inline(always)]
pub fn syscall(number: usize, args: [usize; 6]) -> (usize, usize) {
    let error: usize;
    let value: usize;
    // SAFETY: the Lux9 syscall ABI clobbers only rcx and r11 (by the instruction) and returns in
    // rax and rdx; the kernel validates every pointer argument before use, so a bad argument
    // is an error code, never memory unsafety in this process beyond what the call promises.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => error,
            in("rdi") args[0],
            in("rsi") args[1],
            inlateout("rdx") args[2] => value,
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (error, value)
}

/// # Safety
/// `ptr` and `len` must be what the kernel passed at entry (or null/0), see
/// [`crate::args_from_entry`].
pub unsafe fn entry_args(ptr: *const u8, len: usize) -> &'static str {
    if ptr.is_null() || len == 0 {
        return "";
    }
    // SAFETY: the caller passes what the kernel passed at entry: the argument string copied
    // onto the top of the new stack, which is never unmapped while the process lives.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    core::str::from_utf8(bytes).unwrap_or("")
}

#[cfg(target_os = "none")]
mod heap {
    use core::alloc::Layout;
    use core::ptr::NonNull;

    use talc::base::Talc;
    use talc::base::binning::Binning;
    use talc::source::Source;

    use crate::sys;

    /// Grows the heap with anonymous mappings placed right after each other.
    #[derive(Debug)]
    pub struct MapSource {
        end: Option<NonNull<u8>>,
    }

    // SAFETY: the pointer is only used under talc's lock.
    unsafe impl Send for MapSource {}

    const GROW_MIN: usize = 256 * 1024;

    // SAFETY: acquire only touches talc through its argument and makes system calls.
    unsafe impl Source for MapSource {
        fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
            let grow = (layout.size() + layout.align() + 64 * 1024)
                .max(GROW_MIN)
                .next_multiple_of(4096);
            match talc.source.end {
                None => {
                    let base =
                        sys::map(0, grow, lux9_abi::syscall::map_flags::WRITE).map_err(|_| ())?;
                    // SAFETY: the kernel just mapped `grow` zeroed, writable bytes at `base`
                    // for this process; nothing else uses them.
                    let end = unsafe { talc.claim(base as *mut u8, grow) }.ok_or(())?;
                    talc.source.end = Some(end);
                }
                Some(end) => {
                    // Map right after the current end, where the heap can extend in place.
                    let at = (end.as_ptr() as usize).next_multiple_of(4096);
                    match sys::map(at, grow, lux9_abi::syscall::map_flags::WRITE) {
                        Ok(mapped) if mapped == at => {
                            // SAFETY: the new pages continue the heap and were just mapped
                            // for it.
                            let new_end = unsafe { talc.extend(end, (at + grow) as *mut u8) };
                            talc.source.end = Some(new_end);
                        }
                        _ => {
                            // Something else (a ring) lives right after the heap: start a new
                            // region wherever the kernel puts it.
                            let base = sys::map(0, grow, lux9_abi::syscall::map_flags::WRITE)
                                .map_err(|_| ())?;
                            // SAFETY: the kernel just mapped `grow` zeroed, writable bytes at
                            // `base` for this process; nothing else uses them.
                            let new_end = unsafe { talc.claim(base as *mut u8, grow) }.ok_or(())?;
                            talc.source.end = Some(new_end);
                        }
                    }
                }
            }
            Ok(())
        }
    }

    #[global_allocator]
    static ALLOCATOR: talc::TalcLock<spin::Mutex<()>, MapSource> =
        talc::TalcLock::new(MapSource { end: None });
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::eprintln!("panic: {}", info);
    crate::sys::exit(crate::PANIC_EXIT_CODE)
}

#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is allowed in ring 3 (Lux9 never sets CR4.TSD) and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Reads the TSC twice around ten `nop`s, then twice around nothing, with the same arithmetic
/// between the reads in both; returns the two differences. Their difference is what ten
/// instructions cost on the TSC: 10 ticks under QEMU's `-icount shift=0` (BENCHMARKS.md).
#[inline(never)]
pub fn tsc_across_ten_nops() -> (u64, u64) {
    let with: u64;
    let without: u64;
    // SAFETY: RDTSC is allowed in ring 3 and the rest is register arithmetic and `nop`s; no
    // memory or stack is touched.
    unsafe {
        core::arch::asm!(
            "rdtsc", "shl rdx, 32", "or rax, rdx", "mov {start}, rax",
            "nop", "nop", "nop", "nop", "nop", "nop", "nop", "nop", "nop", "nop",
            "rdtsc", "shl rdx, 32", "or rax, rdx", "sub rax, {start}",
            start = out(reg) _,
            out("rax") with,
            out("rdx") _,
            options(nostack, nomem),
        );
        core::arch::asm!(
            "rdtsc", "shl rdx, 32", "or rax, rdx", "mov {start}, rax",
            "rdtsc", "shl rdx, 32", "or rax, rdx", "sub rax, {start}",
            start = out(reg) _,
            out("rax") without,
            out("rdx") _,
            options(nostack, nomem),
        );
    }
    (with, without)
}

/// Issues an IPC message system call: peer in `rdi`, info in `rsi`, eight words in `rdx`, `r10`,
/// `r8`, `r9`, `r12`-`r15`. Returns (error, peer, info, words).
#[inline(always)]
pub fn ipc_syscall(
    number: usize,
    peer: usize,
    info: u64,
    words: [u64; 8],
) -> (usize, usize, u64, [u64; 8]) {
    let error: usize;
    let (mut peer, mut info) = (peer, info);
    let mut w = words;
    // SAFETY: the Lux9 IPC ABI reads and writes exactly these registers and clobbers rcx and r11;
    // it touches no memory of this process except the registered IPC buffer, which the caller
    // of a long-message operation has set up (see `sys::ipc_buffer`).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => error,
            inout("rdi") peer,
            inout("rsi") info,
            inout("rdx") w[0],
            inout("r10") w[1],
            inout("r8") w[2],
            inout("r9") w[3],
            inout("r12") w[4],
            inout("r13") w[5],
            inout("r14") w[6],
            inout("r15") w[7],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (error, peer, info, w)
}

/// Issues a system call that returns two values (`rdx`, `rsi`), with all six arguments.
#[inline(always)]
pub fn syscall2_full(number: usize, args: [usize; 6]) -> (usize, usize, usize) {
    let error: usize;
    let value: usize;
    let second: usize;
    // SAFETY: as in `syscall`; this variant also reads `rsi` back.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => error,
            in("rdi") args[0],
            inlateout("rsi") args[1] => second,
            inlateout("rdx") args[2] => value,
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (error, value, second)
}

/// Issues a system call with three arguments (the others 0) that returns two values (`rdx`,
/// `rsi`).
#[inline(always)]
pub fn syscall2(number: usize, args: [usize; 3]) -> (usize, usize, usize) {
    syscall2_full(number, [args[0], args[1], args[2], 0, 0, 0])
}
