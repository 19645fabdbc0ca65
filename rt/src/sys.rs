//! Typed wrappers for every Lux9 system call.

use lux9_abi::syscall::{ANY_CHILD, Info};
use lux9_abi::{Error, ExitStatus, Syscall};

use crate::arch::syscall;

/// A system call's result: the value, or the kernel's error code.
pub type Result<T> = core::result::Result<T, Error>;

fn call(number: Syscall, args: [usize; 6]) -> Result<usize> {
    let (code, value) = syscall(number as usize, args);
    match code {
        0 => Ok(value),
        code => Err(Error::from_code(code).unwrap_or(Error::InvalidArgument)),
    }
}

/// Issues raw system call `number`; for tests that probe the kernel with arbitrary arguments.
pub fn raw(number: usize, args: [usize; 6]) -> (usize, usize) {
    syscall(number, args)
}

/// The cheapest system call: enters and leaves the kernel.
#[inline(always)]
pub fn null() -> Result<usize> {
    call(Syscall::Null, [0; 6])
}

/// Writes bytes to the kernel console.
pub fn debug_write(bytes: &[u8]) -> Result<usize> {
    call(
        Syscall::DebugWrite,
        [bytes.as_ptr() as usize, bytes.len(), 0, 0, 0, 0],
    )
}

/// Ends the process with `code`.
pub fn exit(code: i32) -> ! {
    let _ = call(Syscall::Exit, [code as u32 as usize, 0, 0, 0, 0, 0]);
    unreachable!("exit returned")
}

/// Starts program `name` from the initial archive with the argument string `args`.
pub fn spawn(name: &str, args: &str) -> Result<usize> {
    call(
        Syscall::Spawn,
        [
            name.as_ptr() as usize,
            name.len(),
            args.as_ptr() as usize,
            args.len(),
            0,
            0,
        ],
    )
}

/// Waits for child `pid` to end; returns its status.
pub fn wait(pid: usize) -> Result<ExitStatus> {
    let mut word = 0u64;
    call(Syscall::Wait, [pid, &raw mut word as usize, 0, 0, 0, 0])?;
    Ok(ExitStatus::from_word(word))
}

/// Waits for any child; returns its pid and status.
pub fn wait_any() -> Result<(usize, ExitStatus)> {
    let mut word = 0u64;
    let pid = call(
        Syscall::Wait,
        [ANY_CHILD, &raw mut word as usize, 0, 0, 0, 0],
    )?;
    Ok((pid, ExitStatus::from_word(word)))
}

pub fn getpid() -> usize {
    call(Syscall::GetPid, [0; 6]).unwrap_or(0)
}

/// Gives the CPU to another ready thread.
pub fn yield_now() {
    let _ = call(Syscall::Yield, [0; 6]);
}

/// Sleeps at least `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    let _ = call(Syscall::Sleep, [ms as usize, 0, 0, 0, 0, 0]);
}

/// Maps `len` bytes of zeroed memory at `addr` (0: anywhere). Returns the address.
pub fn map(addr: usize, len: usize, flags: usize) -> Result<usize> {
    call(Syscall::Map, [addr, len, flags, 0, 0, 0])
}

/// Unmaps whole pages.
pub fn unmap(addr: usize, len: usize) -> Result<()> {
    call(Syscall::Unmap, [addr, len, 0, 0, 0, 0]).map(|_| ())
}

/// Reads a kernel counter.
pub fn info(what: Info, arg: usize) -> Result<u64> {
    call(Syscall::Info, [what as usize, arg, 0, 0, 0, 0]).map(|v| v as u64)
}

/// Sets the caller's scheduling priority (0 is the highest).
pub fn set_priority(level: usize) -> Result<()> {
    call(Syscall::SetPriority, [level, 0, 0, 0, 0, 0]).map(|_| ())
}

/// The time-stamp counter (ticks under `-icount`).
#[inline(always)]
pub fn rdtsc() -> u64 {
    crate::arch::rdtsc()
}
