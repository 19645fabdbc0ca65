//! System-call numbers, error codes and the layouts their arguments use.

use core::fmt;

/// System-call numbers (`rax` on entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(usize)]
pub enum Syscall {
    /// Does nothing and returns 0: the floor of syscall cost, for measurement.
    Null = 0,
    /// `debug_write(ptr, len)`: writes bytes to the kernel console. Returns the count.
    DebugWrite = 1,
    /// `exit(code)`: ends the calling process. Does not return.
    Exit = 2,
    /// `spawn(name_ptr, name_len, args_ptr, args_len)`: starts the program `name` from the
    /// initial archive as a child, with the argument string `args`. Returns its pid.
    Spawn = 3,
    /// `wait(pid, status_ptr)`: waits for the child `pid` (or any child if `pid` is
    /// [`ANY_CHILD`]) to end, stores its [`ExitStatus`] word at `status_ptr` (if not null) and
    /// returns its pid.
    Wait = 4,
    /// `getpid()`: the caller's pid.
    GetPid = 5,
    /// `yield()`: gives the CPU to the next ready thread of the same or higher priority.
    Yield = 6,
    /// `sleep(ms)`: blocks at least `ms` milliseconds.
    Sleep = 7,
    /// `map(addr, len, flags)`: maps `len` bytes (rounded up to pages) of zeroed anonymous
    /// memory at `addr`, or where the kernel chooses if `addr` is 0. Returns the address.
    Map = 8,
    /// `unmap(addr, len)`: unmaps whole pages of anonymous memory.
    Unmap = 9,
    /// `info(what, arg)`: reads a kernel counter, see [`Info`].
    Info = 10,
    /// `set_priority(level)`: sets the caller's scheduling priority (0 = highest).
    SetPriority = 11,
    /// IPC `send(dest, info, words...)`: see [`crate::ipc`] for the register layout.
    Send = 12,
    /// IPC `receive(from)`: `from` 0 accepts any sender.
    Receive = 13,
    /// IPC `call(dest, info, words...)`: send, then wait for `dest`'s reply.
    Call = 14,
    /// IPC `reply(dest, info, words...)`: answers a caller blocked in `call`.
    Reply = 15,
    /// IPC `reply_recv(dest, info, words...)`: reply (unless `dest` is 0), then receive from
    /// anyone; the server loop's single system call.
    ReplyRecv = 16,
    /// `ipc_buffer(addr, len)`: registers the caller's buffer for long (over 64-byte) messages.
    IpcBuffer = 17,
    /// `ring_create(peer, pages, max_message)`: creates a shared ring (the `lux9-ring` layout)
    /// with `peer` as its server, for messages of up to `max_message` bytes (0: 8192); returns
    /// its id, and its address in the caller's address space in `rsi`.
    RingCreate = 18,
    /// `ring_info(id, flags)`: the caller's address of ring `id` (in `rdx`) and its page count
    /// (`rsi`). With [`crate::ipc::RING_NOTIFY_IPC`] in `flags`, the other side's `notify` also
    /// sends the caller an IPC notification from then on.
    RingInfo = 19,
    /// `notify(id)`: wakes the peer of ring `id` if it sleeps on the ring.
    Notify = 20,
    /// `futex_wait(addr, expected, timeout_ms)`: sleeps while the u32 at `addr` equals
    /// `expected`, until woken or (if `timeout_ms` is not 0) the time passes.
    FutexWait = 21,
    /// `futex_wake(addr, count)`: wakes up to `count` threads waiting on `addr`; returns how many.
    FutexWake = 22,
    /// `ipc_stats(pid, out_ptr)`: copies the [`crate::ipc::IpcStats`] of `pid` (0: system-wide).
    IpcStats = 23,
    /// `ipc_config(key, value)`: reads (value `usize::MAX`) or sets a knob, see
    /// [`crate::ipc::Knob`]; returns the previous value.
    IpcConfig = 24,
    /// `ring_destroy(id)`: unmaps ring `id` from both sides and frees it.
    RingDestroy = 25,
    /// `console_read(buf, len, flags)`: reads console input (see [`console`]); in cooked mode
    /// one line, in raw mode the bytes that have arrived. Blocks unless `flags` has
    /// [`console::NONBLOCK`], when it fails with [`Error::WouldBlock`] if nothing is ready.
    ConsoleRead = 26,
    /// `console_mode(mode)`: sets cooked (0) or raw (1) input, or only reads the mode
    /// ([`crate::ipc::KNOB_READ`]); returns the previous mode.
    ConsoleMode = 27,
    /// `sysinfo(what, arg, buf, len)`: copies out a [`crate::sysinfo::SysInfo`] record.
    SysInfo = 28,
    /// `service(op, name_ptr, name_len)`: looks up or registers a file server, see [`service`].
    Service = 29,
    /// `sys9p(conn, request_ptr, request_len, reply_ptr, reply_len)`: hands whole 9P request
    /// frames to the colocated sysserver and copies its reply frames back; returns the reply
    /// bytes. `conn` 0 opens a new connection and returns its id instead.
    Sys9p = 30,
    /// `sys9p_close(conn)`: ends a colocated sysserver connection, clunking its fids.
    Sys9pClose = 31,
    /// `mount(path_ptr, path_len, spec_ptr, spec_len)`: sets the standard name space entry for
    /// `path` to `spec` (`service aname`); an empty spec removes it.
    Mount = 32,
    /// `power(op)`: [`power::OFF`] (ACPI S5) or [`power::REBOOT`]. Returns only on failure.
    Power = 33,
    /// `disk_read(disk, part, offset, buf, len)`: reads up to `len` bytes of partition `part`
    /// (0: the whole disk) of block device number `disk` (in the order of
    /// [`crate::sysinfo::SysInfo::Disks`]) at byte `offset`; returns the count, 0 at or past
    /// the end. At most [`DISK_READ_MAX`] bytes a call.
    DiskRead = 34,
    /// `disk_write(disk, part, offset, buf, len)`: writes up to `len` bytes (at most
    /// [`DISK_READ_MAX`]) to partition `part` (0: the whole disk) of block device number `disk`
    /// at byte `offset` (partial sectors are read, patched and written back); returns the count,
    /// 0 at or past the end. A read-only device refuses with [`Error::ReadOnly`].
    DiskWrite = 35,
    /// `blk_ring_create(disk, part, entries | data_pages << 16)`: a block ring for partition
    /// `part` (0: the whole disk) of block device number `disk`, with `entries` request and
    /// response slots (a power of two up to 1024) and a data region of `data_pages` pages (at
    /// most 1024), mapped one after the other into the caller. Returns the ring's id, and its
    /// address in `rsi` (the data region starts `lux9_blk::ring::Geometry::pages()` pages later).
    BlkRingCreate = 36,
    /// `blk_ring_submit(id, flags)`: runs every request waiting in the ring and publishes their
    /// responses; returns how many. A corrupt ring fails with [`Error::InvalidArgument`] (and so
    /// does every later call on it). With [`BLK_RING_ASYNC`] it returns 0 at once and the ring's
    /// worker runs them, waking a server that sleeps on `server_waiting`.
    BlkRingSubmit = 37,
    /// `blk_ring_destroy(id)`: unmaps the ring and its data region and frees them.
    BlkRingDestroy = 38,
    /// `kill(pid)`: ends process `pid` with [`ExitStatus::KILLED_BY_REQUEST`]
    /// ([`ExitStatus::Killed`] with vector [`KILL_VECTOR`]) whatever its threads are doing;
    /// its resources are reclaimed as when it exits. [`Error::NotFound`] for a pid that is not
    /// a live process (a zombie included), [`Error::InvalidArgument`] for 0 (the kernel) and 1
    /// (init). A process may kill itself (the call then does not return).
    Kill = 39,
    /// `pipe_create()`: a new pipe (64 KiB); the caller holds both its ends. Returns its id.
    /// See docs/shell.md for how the shell uses pipes and docs/syscalls.md for the rules.
    PipeCreate = 40,
    /// `pipe_open(id, end)`: one more hold on end [`pipe::READ`] or [`pipe::WRITE`] of pipe
    /// `id`, for a caller that holds it already or whose parent does ([`Error::NotFound`]
    /// otherwise).
    PipeOpen = 41,
    /// `pipe_read(id, buf, len)`: takes up to `len` bytes; waits while the pipe is empty and
    /// someone holds the write end; 0 is the end of file. The caller must hold the read end.
    PipeRead = 42,
    /// `pipe_write(id, buf, len)`: writes all `len` bytes, waiting while the pipe is full;
    /// [`Error::BrokenPipe`] once nobody holds the read end (or the count written before).
    /// The caller must hold the write end.
    PipeWrite = 43,
    /// `pipe_close(id, end)`: lets one of the caller's holds on `end` go (an ending process
    /// lets all of its go). A pipe nobody holds is freed.
    PipeClose = 44,
    /// `set_group(pid, group)`: puts the caller or its child `pid` (0: the caller) in process
    /// group `group` (0: a new group named after `pid`). A group must be `pid`'s own or that
    /// of a process with the same parent (one that has ended but is not yet waited for
    /// counts). Children start in their parent's group.
    SetGroup = 45,
    /// `console_foreground(group)`: the process group Ctrl-C on the console interrupts (0:
    /// none; [`crate::ipc::KNOB_READ`]: only read it). Returns the previous one.
    ConsoleForeground = 46,
    /// `interrupt_word(addr)`: asks to be told of Ctrl-C instead of being killed at once: the
    /// kernel stores 1 in the u32 at `addr` (0 withdraws) and wakes `futex_wait`s on it; the
    /// process then has [`INTERRUPT_GRACE_MS`] to end before it is killed.
    InterruptWord = 47,
}

/// Ends of a pipe, for `pipe_open` and `pipe_close`.
pub mod pipe {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
}

/// How long a process told of Ctrl-C (see [`Syscall::InterruptWord`]) has to end before it is
/// killed.
pub const INTERRUPT_GRACE_MS: u64 = 500;

/// Number of system calls; numbers at or above this are [`Error::UnknownSyscall`].
pub const SYSCALL_COUNT: usize = 48;

/// `blk_ring_submit`'s flag: the ring's worker runs the requests; the call returns at once.
pub const BLK_RING_ASYNC: usize = 1;

/// The most bytes one `disk_read` copies.
pub const DISK_READ_MAX: usize = 64 * 1024;

impl Syscall {
    pub const ALL: [Syscall; SYSCALL_COUNT] = [
        Syscall::Null,
        Syscall::DebugWrite,
        Syscall::Exit,
        Syscall::Spawn,
        Syscall::Wait,
        Syscall::GetPid,
        Syscall::Yield,
        Syscall::Sleep,
        Syscall::Map,
        Syscall::Unmap,
        Syscall::Info,
        Syscall::SetPriority,
        Syscall::Send,
        Syscall::Receive,
        Syscall::Call,
        Syscall::Reply,
        Syscall::ReplyRecv,
        Syscall::IpcBuffer,
        Syscall::RingCreate,
        Syscall::RingInfo,
        Syscall::Notify,
        Syscall::FutexWait,
        Syscall::FutexWake,
        Syscall::IpcStats,
        Syscall::IpcConfig,
        Syscall::RingDestroy,
        Syscall::ConsoleRead,
        Syscall::ConsoleMode,
        Syscall::SysInfo,
        Syscall::Service,
        Syscall::Sys9p,
        Syscall::Sys9pClose,
        Syscall::Mount,
        Syscall::Power,
        Syscall::DiskRead,
        Syscall::DiskWrite,
        Syscall::BlkRingCreate,
        Syscall::BlkRingSubmit,
        Syscall::BlkRingDestroy,
        Syscall::Kill,
        Syscall::PipeCreate,
        Syscall::PipeOpen,
        Syscall::PipeRead,
        Syscall::PipeWrite,
        Syscall::PipeClose,
        Syscall::SetGroup,
        Syscall::ConsoleForeground,
        Syscall::InterruptWord,
    ];

    pub fn from_number(number: usize) -> Option<Self> {
        Self::ALL.get(number).copied()
    }
}

/// Error codes (`rax` on return). 0 means success and is no `Error`, so `Err(success)` cannot
/// be written; [`Error::check`] decodes a code, the same way in the kernel and in user space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(usize)]
pub enum Error {
    /// No such system call.
    UnknownSyscall = 1,
    /// An argument is out of range or malformed.
    InvalidArgument = 2,
    /// A pointer or length names memory the caller may not use.
    BadAddress = 3,
    /// Not enough memory.
    NoMemory = 4,
    /// No program or object by that name.
    NotFound = 5,
    /// `wait` with no matching child.
    NoChild = 6,
    /// The program image is not a valid x86_64 ELF executable for Lux9.
    BadExecutable = 7,
    /// A limit was reached (processes, mappings).
    LimitReached = 8,
    /// The peer of an IPC operation or ring ended (before or while the caller waited).
    PeerDead = 9,
    /// `futex_wait`: the word no longer held the expected value.
    WouldBlock = 10,
    /// A wait ran out of time.
    TimedOut = 11,
    /// A long message did not fit the receiver's IPC buffer (or no buffer was registered).
    MessageTooLong = 12,
    /// A write to a read-only device or file system.
    ReadOnly = 13,
    /// A write to a pipe that nobody reads any more.
    BrokenPipe = 14,
    /// The machine cannot do it (a power-off or restart that did not happen).
    Unsupported = 15,
    /// A code this ABI does not know (never returned by the kernel; what [`Error::check`]
    /// makes of a code from a newer kernel or a corrupted word).
    Unrecognised = 16,
}

impl Error {
    pub const ALL: [Error; 16] = [
        Error::UnknownSyscall,
        Error::InvalidArgument,
        Error::BadAddress,
        Error::NoMemory,
        Error::NotFound,
        Error::NoChild,
        Error::BadExecutable,
        Error::LimitReached,
        Error::PeerDead,
        Error::WouldBlock,
        Error::TimedOut,
        Error::MessageTooLong,
        Error::ReadOnly,
        Error::BrokenPipe,
        Error::Unsupported,
        Error::Unrecognised,
    ];

    /// The error for a raw code; 0 (success) and unknown codes map to `None`.
    pub fn from_code(code: usize) -> Option<Self> {
        Self::ALL.get(code.checked_sub(1)?).copied()
    }

    /// The error a code other than 0 stands for: its own, or [`Error::Unrecognised`] for a code
    /// this ABI does not know (0, which is success, included).
    pub fn of_code(code: usize) -> Error {
        Self::from_code(code).unwrap_or(Error::Unrecognised)
    }

    /// A result code as a `Result`: 0 is success, any other code [`Error::of_code`].
    pub fn check(code: usize) -> Result<(), Error> {
        match code {
            0 => Ok(()),
            code => Err(Self::of_code(code)),
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Error::UnknownSyscall => "unknown system call",
            Error::InvalidArgument => "invalid argument",
            Error::BadAddress => "bad address",
            Error::NoMemory => "out of memory",
            Error::NotFound => "not found",
            Error::NoChild => "no such child",
            Error::BadExecutable => "bad executable",
            Error::LimitReached => "limit reached",
            Error::PeerDead => "peer is dead",
            Error::WouldBlock => "value changed",
            Error::TimedOut => "timed out",
            Error::MessageTooLong => "message too long",
            Error::ReadOnly => "read-only file system",
            Error::BrokenPipe => "broken pipe",
            Error::Unsupported => "not supported by this machine",
            Error::Unrecognised => "unrecognised error code",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// `wait` on any child.
pub const ANY_CHILD: usize = usize::MAX;

/// How a process ended, as the word `wait` stores.
///
/// Encoding: bits 0-31 the exit code or the CPU exception vector; bit 32 set when the kernel
/// killed the process, for a fault or (with vector [`KILL_VECTOR`]) because `kill` asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The process called `exit(code)`.
    Exited(i32),
    /// The kernel killed the process after CPU exception `vector` in ring 3, or, with vector
    /// [`KILL_VECTOR`], because another process called `kill` on it.
    Killed { vector: u8 },
}

/// The vector of [`ExitStatus::Killed`] that means "killed by `kill`". Exceptions are vectors
/// 0-31, so no fault can be mistaken for it; 255 is also what a shell's `128 + vector` turns
/// into an unmistakable 383.
pub const KILL_VECTOR: u8 = 255;

/// The vector of [`ExitStatus::Killed`] that means "ended by Ctrl-C on the console" (the
/// foreground group's interrupt, see [`Syscall::ConsoleForeground`]).
pub const INTERRUPT_VECTOR: u8 = 254;

const KILLED_BIT: u64 = 1 << 32;

impl ExitStatus {
    pub fn to_word(self) -> u64 {
        match self {
            ExitStatus::Exited(code) => u64::from(code as u32),
            ExitStatus::Killed { vector } => KILLED_BIT | u64::from(vector),
        }
    }

    pub fn from_word(word: u64) -> Self {
        if word & KILLED_BIT != 0 {
            ExitStatus::Killed { vector: word as u8 }
        } else {
            ExitStatus::Exited(word as u32 as i32)
        }
    }

    /// How a process ends that `kill` ended.
    pub const KILLED_BY_REQUEST: ExitStatus = ExitStatus::Killed {
        vector: KILL_VECTOR,
    };

    /// How a process ends that Ctrl-C ended.
    pub const INTERRUPTED: ExitStatus = ExitStatus::Killed {
        vector: INTERRUPT_VECTOR,
    };

    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// Whether the process died abnormally: killed by a fault or by `kill`.
    pub fn killed(self) -> bool {
        matches!(self, ExitStatus::Killed { .. })
    }
}

/// What `info(what, arg)` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Info {
    /// Free physical frames.
    FreeFrames = 0,
    /// Context switches since boot (all CPUs).
    TotalSwitches = 1,
    /// Times a thread of process `arg` (0 = the caller) was switched in.
    ProcessSwitches = 2,
    /// Timer ticks since boot.
    Ticks = 3,
    /// Live processes.
    Processes = 4,
    /// TSC counts per millisecond, as calibrated at boot.
    TscPerMs = 5,
    /// Shared rings alive.
    Rings = 6,
    /// Requests served by colocated servers through direct calls (no context switch).
    ColocatedCalls = 7,
    /// Microseconds by the ACPI PM timer, a clock independent of the tick and the TSC (both are
    /// calibrated against the PIT); `NotFound` on a machine without one.
    ReferenceMicros = 8,
    /// Times the IPC fastpath fell back to the slowpath at guard `arg` (a
    /// [`crate::ipc::FastpathGuard`]), system-wide since boot; `InvalidArgument` for an unknown
    /// guard.
    FastpathFallbacks = 9,
}

impl Info {
    pub fn from_number(number: usize) -> Option<Self> {
        [
            Info::FreeFrames,
            Info::TotalSwitches,
            Info::ProcessSwitches,
            Info::Ticks,
            Info::Processes,
            Info::TscPerMs,
            Info::Rings,
            Info::ColocatedCalls,
            Info::ReferenceMicros,
            Info::FastpathFallbacks,
        ]
        .get(number)
        .copied()
    }
}

/// `console_read` flags and modes.
pub mod console {
    /// Fail with `WouldBlock` instead of waiting for input.
    pub const NONBLOCK: usize = 1 << 0;
    /// With `NONBLOCK`: when nothing is ready, ask for a kernel notification
    /// ([`crate::ipc::NOTIFY_CONSOLE`]) when input arrives. For servers that must not block.
    pub const NOTIFY: usize = 1 << 1;
    /// Every flag `console_read` understands.
    pub const ALL: usize = NONBLOCK | NOTIFY;
    /// Lines are echoed and edited (backspace, Ctrl-U) before a reader sees them.
    pub const COOKED: usize = 0;
    /// Bytes reach the reader as they arrive, unechoed.
    pub const RAW: usize = 1;
}

/// `service` operations and results.
pub mod service {
    /// Looks `name` up: returns its placement in `rdx` and, when isolated, its pid in `rsi`.
    pub const LOOKUP: usize = 0;
    /// Registers the caller as the isolated server for `name` (the configuration must place it
    /// there, and nobody else may have registered it).
    pub const REGISTER: usize = 1;
    /// Where the configuration runs server `name` (`sysserver` or `ext4srv`): `COLOCATED` or
    /// `ISOLATED` in `rdx`.
    pub const PLACEMENT: usize = 2;
    /// Serves the ext4 volume named `"DISK PART"` (`"sd0 1"`; part 0: the whole disk)
    /// colocated, as `ext4.<DISK>[p<PART>]`. On failure the reason in words is written to the
    /// buffer in the 4th and 5th arguments (as much as fits).
    pub const START_VOLUME: usize = 3;
    /// Stops serving the colocated volume `name` and removes its mounts.
    pub const STOP_VOLUME: usize = 4;
    /// The server runs colocated: reach it with `sys9p`.
    pub const COLOCATED: usize = 0;
    /// The server runs in its own process: reach it with IPC `call`.
    pub const ISOLATED: usize = 1;
    /// The placement is isolated but the server has not registered yet.
    pub const STARTING: usize = 2;
    /// The name of sysserver's service.
    pub const SYSSERVER: &str = "sys";
}

/// `power` operations.
pub mod power {
    pub const OFF: usize = 0;
    pub const REBOOT: usize = 1;
}

/// `map` flags.
pub mod map_flags {
    /// The pages are writable.
    pub const WRITE: usize = 1 << 0;
    /// The pages are executable.
    pub const EXECUTE: usize = 1 << 1;
    /// Every bit `map` understands.
    pub const ALL: usize = WRITE | EXECUTE;
}

/// Scheduling priorities: 0 is the highest.
pub const PRIORITY_LEVELS: usize = 4;
/// The priority new processes start with.
pub const DEFAULT_PRIORITY: usize = 2;

/// The lowest address of the user half that processes may use (below is a null guard).
pub const USER_MIN: u64 = 0x40_0000;
/// One past the highest user address (the canonical lower half ends here).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for (number, call) in Syscall::ALL.iter().enumerate() {
            assert_eq!(*call as usize, number);
            assert_eq!(Syscall::from_number(number), Some(*call));
        }
        assert_eq!(Syscall::from_number(SYSCALL_COUNT), None);
        for (index, error) in Error::ALL.iter().enumerate() {
            let code = index + 1;
            assert_eq!(*error as usize, code);
            assert_eq!(Error::from_code(code), Some(*error));
            assert_eq!(Error::check(code), Err(*error));
        }
        assert_eq!(Error::from_code(0), None, "0 means success");
        assert_eq!(Error::check(0), Ok(()));
        let past = Error::ALL.len() + 1;
        assert_eq!(Error::from_code(past), None);
        assert_eq!(Error::check(past), Err(Error::Unrecognised));
        assert_eq!(Error::check(usize::MAX), Err(Error::Unrecognised));
    }

    #[test]
    fn exit_status_words() {
        for status in [
            ExitStatus::Exited(0),
            ExitStatus::Exited(-1),
            ExitStatus::Exited(i32::MAX),
            ExitStatus::Killed { vector: 14 },
            ExitStatus::Killed { vector: 0 },
            ExitStatus::KILLED_BY_REQUEST,
        ] {
            assert_eq!(ExitStatus::from_word(status.to_word()), status);
        }
        assert!(ExitStatus::Exited(0).success());
        assert!(!ExitStatus::Killed { vector: 0 }.success());
    }
}
