//! Typed wrappers for every Lux9 system call.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use lux9_abi::syscall::{ANY_CHILD, Info, service};
use lux9_abi::sysinfo::{MemInfo, ProcInfo, SysInfo};
use lux9_abi::{Error, ExitStatus, Syscall};

use crate::arch::syscall;

/// A system call's result: the value, or the kernel's error code.
pub type Result<T> = core::result::Result<T, Error>;

pub(crate) fn call(number: Syscall, args: [usize; 6]) -> Result<usize> {
    let (code, value) = syscall(number as usize, args);
    match code {
        0 => Ok(value),
        code => Err(Error::of_code(code)),
    }
}

/// Issues raw system call `number`; for tests that probe the kernel with arbitrary arguments.
///
/// # Safety
/// Arbitrary arguments can unmap or remap this process's own memory (`unmap`, `map`), write
/// through any pointer the kernel accepts, or be a message operation that delivers a message
/// into registers this call does not declare (use [`crate::ipc::raw_message`] for those). The
/// caller must know that the call it makes leaves the memory Rust uses alone.
#[allow(
    unsafe_code,
    reason = "a system call whose effects on memory the caller answers for"
)]
pub unsafe fn raw(number: usize, args: [usize; 6]) -> (usize, usize) {
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

/// Ends process `pid` (`ExitStatus::KILLED_BY_REQUEST`), whatever it is doing. `NotFound` if
/// it is not alive; `InvalidArgument` for the kernel (0) and init (1).
pub fn kill(pid: usize) -> Result<()> {
    call(Syscall::Kill, [pid, 0, 0, 0, 0, 0]).map(|_| ())
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
///
/// # Safety
/// Nothing may use the pages afterwards: no reference, allocation or stack may live in them.
#[allow(
    unsafe_code,
    reason = "unmapping memory is only sound if nothing uses it"
)]
pub unsafe fn unmap(addr: usize, len: usize) -> Result<()> {
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

/// TSC ticks across ten `nop`s and across nothing, measured back to back (see
/// `bench`'s `calibration_nop10`).
pub fn tsc_across_ten_nops() -> (u64, u64) {
    crate::arch::tsc_across_ten_nops()
}

/// Reads console input (see `lux9_abi::syscall::console` for the flags). Cooked mode gives one
/// line; raw mode the bytes that have arrived.
pub fn console_read(buf: &mut [u8], flags: usize) -> Result<usize> {
    call(
        Syscall::ConsoleRead,
        [buf.as_mut_ptr() as usize, buf.len(), flags, 0, 0, 0],
    )
}

/// Sets raw (`true`) or cooked console input; returns whether it was raw.
pub fn console_set_raw(raw: bool) -> Result<bool> {
    call(Syscall::ConsoleMode, [usize::from(raw), 0, 0, 0, 0, 0]).map(|old| old == 1)
}

/// Copies sysinfo record `what` for `arg` into `buf`; returns the record's full size (see
/// `lux9_abi::sysinfo::SysInfo`).
pub fn sysinfo(what: SysInfo, arg: usize, buf: &mut [u8]) -> Result<usize> {
    sysinfo_call(what, arg, buf.as_mut_ptr() as usize, buf.len()).map(|(value, _)| value)
}

/// `sysinfo` that also gives the second value the kernel returns (in `rsi`): for
/// [`SysInfo::Kmsg`], the bytes logged since boot.
pub fn sysinfo2(what: SysInfo, arg: usize, buf: &mut [u8]) -> Result<(usize, usize)> {
    sysinfo_call(what, arg, buf.as_mut_ptr() as usize, buf.len())
}

/// The `sysinfo` system call into `len` bytes at `ptr`. The kernel sets `rsi` on every
/// successful `sysinfo`, so it goes through `syscall2_full`, which declares that register
/// written (a plain `syscall` would let the compiler assume `rsi` still holds `arg`).
fn sysinfo_call(what: SysInfo, arg: usize, ptr: usize, len: usize) -> Result<(usize, usize)> {
    match crate::arch::syscall2_full(
        Syscall::SysInfo as usize,
        [what as usize, arg, ptr, len, 0, 0],
    ) {
        (0, value, second) => Ok((value, second)),
        (code, _, _) => Err(Error::of_code(code)),
    }
}

/// A text record of `sysinfo`, however long.
pub fn sysinfo_text(what: SysInfo, arg: usize) -> Result<String> {
    let mut buf = vec![0u8; 512];
    loop {
        let len = sysinfo(what, arg, &mut buf)?;
        if len <= buf.len() {
            buf.truncate(len);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        buf.resize(len, 0);
    }
}

/// Every live process, in pid order.
pub fn processes() -> Result<Vec<ProcInfo>> {
    let mut words = vec![0u64; 64 * ProcInfo::WORDS];
    loop {
        let bytes = words.len() * 8;
        let (count, _) = sysinfo_call(SysInfo::Processes, 0, words.as_mut_ptr() as usize, bytes)?;
        if count * ProcInfo::WORDS <= words.len() {
            return Ok(words
                .chunks_exact(ProcInfo::WORDS)
                .take(count)
                .map(|chunk| ProcInfo::from_words(chunk.try_into().expect("exact chunks")))
                .collect());
        }
        words.resize((count + 16) * ProcInfo::WORDS, 0);
    }
}

/// The kernel's memory figures.
pub fn memory() -> Result<MemInfo> {
    let mut words = [0u64; MemInfo::WORDS];
    sysinfo_call(
        SysInfo::Memory,
        0,
        words.as_mut_ptr() as usize,
        words.len() * 8,
    )?;
    Ok(MemInfo::from_words(&words))
}

/// Fills `buf` with random bytes from the kernel.
pub fn random(buf: &mut [u8]) -> Result<()> {
    sysinfo(SysInfo::Random, 0, buf).map(|_| ())
}

/// Where a file server runs, as `service` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Reached with `sys9p`.
    Colocated,
    /// The process to `call`.
    Isolated { pid: usize },
    /// Isolated, but the server has not registered yet.
    Starting,
}

/// Looks up file server `name`.
pub fn service_lookup(name: &str) -> Result<Placement> {
    match crate::arch::syscall2(
        Syscall::Service as usize,
        [service::LOOKUP, name.as_ptr() as usize, name.len()],
    ) {
        (0, service::COLOCATED, _) => Ok(Placement::Colocated),
        (0, service::ISOLATED, pid) => Ok(Placement::Isolated { pid }),
        (0, _, _) => Ok(Placement::Starting),
        (code, _, _) => Err(Error::of_code(code)),
    }
}

/// Registers the caller as the isolated server for `name`.
pub fn service_register(name: &str) -> Result<()> {
    service_call(service::REGISTER, name, [0, 0]).map(|_| ())
}

/// `service(op, name, extra...)`: every `service` call sets `rsi` as well as `rdx`, so this
/// goes through `syscall2_full`, which knows. Returns (`rdx`, `rsi`).
fn service_call(op: usize, name: &str, extra: [usize; 2]) -> Result<(usize, usize)> {
    match crate::arch::syscall2_full(
        Syscall::Service as usize,
        [
            op,
            name.as_ptr() as usize,
            name.len(),
            extra[0],
            extra[1],
            0,
        ],
    ) {
        (0, first, second) => Ok((first, second)),
        (code, _, _) => Err(Error::of_code(code)),
    }
}

/// Opens a connection to colocated file server `service` (`sys`, or a volume's
/// `ext4.sd0p1`); returns its id.
pub fn sys9p_open(service: &str) -> Result<usize> {
    call(
        Syscall::Sys9p,
        [0, service.as_ptr() as usize, service.len(), 0, 0, 0],
    )
}

/// Where the configuration runs server `name` (`sysserver` or `ext4srv`): `Colocated`, or
/// `Starting` for isolated (the configuration names no process).
pub fn configured_placement(name: &str) -> Result<Placement> {
    match crate::arch::syscall2(
        Syscall::Service as usize,
        [service::PLACEMENT, name.as_ptr() as usize, name.len()],
    ) {
        (0, service::COLOCATED, _) => Ok(Placement::Colocated),
        (0, _, _) => Ok(Placement::Starting),
        (code, _, _) => Err(Error::of_code(code)),
    }
}

/// Serves the ext4 volume on partition `part` (0: the whole disk) of disk `disk` colocated,
/// in the kernel. On failure: the error and the kernel's reason in words.
pub fn start_volume(disk: &str, part: u32) -> core::result::Result<(), (Error, String)> {
    let text = alloc::format!("{disk} {part}");
    let mut why = [0u8; 256];
    let error = match service_call(
        service::START_VOLUME,
        &text,
        [why.as_mut_ptr() as usize, why.len()],
    ) {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    let len = why.iter().position(|&b| b == 0).unwrap_or(why.len());
    let text = String::from_utf8_lossy(&why[..len]).into_owned();
    Err((
        error,
        if text.is_empty() {
            alloc::string::ToString::to_string(&error)
        } else {
            text
        },
    ))
}

/// Stops serving colocated volume `service` and removes its mounts.
pub fn stop_volume(service: &str) -> Result<()> {
    service_call(service::STOP_VOLUME, service, [0, 0]).map(|_| ())
}

/// Hands 9P request frames to the colocated sysserver on connection `conn`; its replies land
/// in `replies`. Returns the reply bytes.
pub fn sys9p(conn: usize, requests: &[u8], replies: &mut [u8]) -> Result<usize> {
    call(
        Syscall::Sys9p,
        [
            conn,
            requests.as_ptr() as usize,
            requests.len(),
            replies.as_mut_ptr() as usize,
            replies.len(),
            0,
        ],
    )
}

/// Ends colocated sysserver connection `conn`.
pub fn sys9p_close(conn: usize) -> Result<()> {
    call(Syscall::Sys9pClose, [conn, 0, 0, 0, 0, 0]).map(|_| ())
}

/// Sets the standard name-space entry for `path` to `spec` (`service aname`; empty removes it).
pub fn mount(path: &str, spec: &str) -> Result<()> {
    call(
        Syscall::Mount,
        [
            path.as_ptr() as usize,
            path.len(),
            spec.as_ptr() as usize,
            spec.len(),
            0,
            0,
        ],
    )
    .map(|_| ())
}

/// Turns the machine off (ACPI S5) or restarts it; returns only if that failed.
/// Writes up to `data.len()` bytes (at most `DISK_READ_MAX` a call) to partition `part` (0: the
/// whole disk) of block device number `disk` at byte `offset`; 0 at or past the end.
pub fn disk_write(disk: usize, part: u32, offset: u64, data: &[u8]) -> Result<usize> {
    call(
        Syscall::DiskWrite,
        [
            disk,
            part as usize,
            offset as usize,
            data.as_ptr() as usize,
            data.len(),
            0,
        ],
    )
}

/// Reads up to `buf.len()` bytes (at most `DISK_READ_MAX` a call) of partition `part` (0: the
/// whole disk) of block device number `disk` (the order of `SysInfo::Disks`) at byte
/// `offset`; 0 at or past the end.
pub fn disk_read(disk: usize, part: u32, offset: u64, buf: &mut [u8]) -> Result<usize> {
    call(
        Syscall::DiskRead,
        [
            disk,
            part as usize,
            offset as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
        ],
    )
}

pub fn power(op: usize) -> Error {
    match call(Syscall::Power, [op, 0, 0, 0, 0, 0]) {
        Ok(_) => Error::InvalidArgument,
        Err(error) => error,
    }
}

/// Puts this process (`pid` 0) or its child `pid` in process group `group` (0: a new group
/// named after `pid`); returns the group. See `lux9_abi::Syscall::SetGroup`.
pub fn set_group(pid: usize, group: usize) -> Result<usize> {
    call(Syscall::SetGroup, [pid, group, 0, 0, 0, 0])
}

/// Makes `group` the one Ctrl-C on the console interrupts (0: none); returns the previous one.
pub fn console_foreground(group: usize) -> Result<usize> {
    call(Syscall::ConsoleForeground, [group, 0, 0, 0, 0, 0])
}

/// Asks to be told of Ctrl-C in `word` (the kernel stores 1 there and wakes `futex_wait`s on
/// it) instead of being killed at once; the process then has
/// `lux9_abi::syscall::INTERRUPT_GRACE_MS` to end. The word must live as long as the process
/// (a `static`).
pub fn interrupt_word(word: &'static core::sync::atomic::AtomicU32) -> Result<()> {
    call(
        Syscall::InterruptWord,
        [word.as_ptr() as usize, 0, 0, 0, 0, 0],
    )
    .map(|_| ())
}
