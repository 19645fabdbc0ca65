//! System-call dispatch: decodes the number and arguments of a [`SyscallFrame`], runs the call
//! and stores the error code and value. The numbers, error codes and argument layouts are those
//! of `lux9_abi`; every pointer goes through [`UserSlice`] first.

use alloc::string::String;
use alloc::vec::Vec;

use lux9_abi::ipc::{IpcStats, KNOB_READ, Knob};
use lux9_abi::syscall::{ANY_CHILD, Info, map_flags};
use lux9_abi::{Error, ExitStatus, Syscall};

use crate::arch::address_space::PageRights;
use crate::arch::paging::{self, MapError};
use crate::arch::syscall::SyscallFrame;
use crate::console::input;
use crate::memory::frames;
use crate::process::{self, Pid, elf};
use crate::uaccess::UserSlice;
use crate::{ipc, sched, services, time};
use lux9_kernel_core::units::{PAGE_BYTES, PAGE_SIZE};

/// Longest write accepted by one `debug_write`.
const DEBUG_WRITE_MAX: usize = 4096;
/// Longest program name.
const NAME_MAX: usize = lux9_abi::archive::NAME_LEN;
/// Anonymous memory one process may have mapped.
const MAX_ANON_PAGES: u64 = 64 * 1024;
/// Longest sleep: one day.
const SLEEP_MAX_MS: u64 = 24 * 3600 * 1000;

type SysResult<T = usize> = Result<T, Error>;

/// What a system call leaves in its caller's registers on success (`rax` is 0).
enum Reply {
    /// One value, in `rdx`.
    Value(usize),
    /// Two values, in `rdx` and `rsi`.
    Pair(usize, usize),
    /// The handler wrote the frame itself, errors included: a message operation, whose result
    /// the peer may write while the caller sleeps (`ipc`).
    InFrame,
}

/// The generic entry from `arch::syscall`, for every call but the null call (answered by the
/// entry code) and the `call` or `reply_recv` that took the fastpath (`ipc::fastpath`): every
/// call returns a `SysResult<Reply>`, written into the frame here.
pub fn dispatch(frame: &mut SyscallFrame) {
    let outcome = match Syscall::from_number(frame.number()) {
        Some(call) => handle(call, frame),
        None => Err(Error::UnknownSyscall),
    };
    match outcome {
        Ok(Reply::Value(value)) => frame.set_result(0, value),
        Ok(Reply::Pair(first, second)) => {
            frame.set_result(0, first);
            frame.rsi = second as u64;
        }
        Ok(Reply::InFrame) => {}
        Err(error) => frame.set_result(error as usize, 0),
    }
}

/// A message operation: it writes its results (or, on failure, the error in `rax`, leaving
/// the other registers as the operation left them) into the frame.
fn message(call: Syscall, frame: &mut SyscallFrame) -> Reply {
    let result = match call {
        Syscall::Send => ipc::send(frame),
        Syscall::Receive => ipc::receive(frame),
        Syscall::Call => ipc::call(frame),
        Syscall::Reply => ipc::reply(frame),
        Syscall::ReplyRecv => ipc::reply_recv(frame),
        _ => Err(Error::UnknownSyscall),
    };
    if let Err(error) = result {
        frame.rax = error as u64;
    }
    Reply::InFrame
}

#[inline(always)]
fn handle(call: Syscall, frame: &mut SyscallFrame) -> SysResult<Reply> {
    let args = frame.args();
    let pair = |(first, second)| Reply::Pair(first, second);
    let value = match call {
        Syscall::Null => Ok(0),
        Syscall::DebugWrite => debug_write(args[0], args[1]),
        Syscall::Exit => process::exit_current(ExitStatus::Exited(args[0] as u32 as i32)),
        Syscall::Spawn => spawn(args),
        Syscall::Wait => wait(args[0], args[1]),
        Syscall::GetPid => Ok(sched::current_pid().raw()),
        Syscall::Yield => {
            sched::yield_now();
            Ok(0)
        }
        Syscall::Sleep => sleep(args[0] as u64),
        Syscall::Map => map(args[0], args[1], args[2]),
        Syscall::Unmap => unmap(args[0], args[1]),
        Syscall::Info => info(args[0], args[1]),
        Syscall::SetPriority => {
            if sched::set_current_priority(args[0]) {
                Ok(0)
            } else {
                Err(Error::InvalidArgument)
            }
        }
        Syscall::Send | Syscall::Receive | Syscall::Call | Syscall::Reply | Syscall::ReplyRecv => {
            return Ok(message(call, frame));
        }
        Syscall::IpcBuffer => ipc::set_buffer(args[0], args[1]).map(|()| 0),
        Syscall::FutexWait => ipc::futex::wait(args[0], args[1] as u32, args[2] as u64).map(|()| 0),
        Syscall::FutexWake => ipc::futex::wake(args[0], args[1]),
        Syscall::IpcStats => ipc_stats(args[0], args[1]),
        Syscall::IpcConfig => ipc_config(args[0], args[1]),
        Syscall::ConsoleRead => console_read(args[0], args[1], args[2]),
        Syscall::ConsoleMode => console_mode(args[0]),
        Syscall::SysInfo => return sysinfo(args[0], args[1], args[2], args[3]).map(pair),
        Syscall::Service => return service(args).map(pair),
        Syscall::Sys9p => sys9p(args),
        Syscall::Sys9pClose => {
            let pid = sched::current_pid();
            if args[0] & services::ext4::CONNECTION_BIT != 0 {
                services::ext4::close(pid, args[0]).map(|()| 0)
            } else {
                services::sysserver::close(pid, args[0]).map(|()| 0)
            }
        }
        Syscall::Mount => mount(args),
        Syscall::Power => power(args[0]),
        Syscall::Kill => process::kill(Pid::from_raw(args[0]), sched::current_pid()).map(|()| 0),
        Syscall::PipeCreate => crate::pipe::create(),
        Syscall::PipeOpen => crate::pipe::open(args[0] as u64, args[1]),
        Syscall::PipeRead => crate::pipe::read(args[0] as u64, args[1], args[2]),
        Syscall::PipeWrite => crate::pipe::write(args[0] as u64, args[1], args[2]),
        Syscall::PipeClose => crate::pipe::close(args[0] as u64, args[1]),
        Syscall::SetGroup => process::interrupt::set_group(
            sched::current_pid(),
            Pid::from_raw(args[0]),
            Pid::from_raw(args[1]),
        ),
        Syscall::ConsoleForeground => {
            Ok(process::interrupt::set_foreground(Pid::from_raw(args[0])))
        }
        Syscall::InterruptWord => process::interrupt::set_word(sched::current_pid(), args[0]),
        Syscall::DiskRead => disk_read(args),
        Syscall::DiskWrite => disk_write(args),
        Syscall::BlkRingCreate => return crate::blkring::create_call(args).map(pair),
        Syscall::BlkRingSubmit => crate::blkring::submit_call(args),
        Syscall::BlkRingDestroy => crate::blkring::destroy_call(args),
        Syscall::RingCreate => return ipc::ring::create_call(args).map(pair),
        Syscall::RingInfo => return ipc::ring::info_call(args).map(pair),
        Syscall::Notify => ipc::ring::notify_call(args),
        Syscall::RingDestroy => ipc::ring::destroy_call(args),
    };
    value.map(Reply::Value)
}

fn debug_write(ptr: usize, len: usize) -> SysResult {
    let len = len.min(DEBUG_WRITE_MAX);
    let bytes = UserSlice::new(ptr, len)?.read_to_vec()?;
    crate::print!("{}", String::from_utf8_lossy(&bytes));
    Ok(len)
}

fn read_string(ptr: usize, len: usize, max: usize) -> Result<String, Error> {
    let bytes = UserSlice::with_limit(ptr, len, max)?.read_to_vec()?;
    String::from_utf8(bytes).map_err(|_| Error::InvalidArgument)
}

fn spawn(args: [usize; 6]) -> SysResult {
    let name = read_string(args[0], args[1], NAME_MAX)?;
    let arguments = read_string(args[2], args[3], elf::MAX_ARGS)?;
    process::spawn(sched::current_pid(), &name, &arguments).map(Pid::raw)
}

fn wait(pid: usize, status_ptr: usize) -> SysResult {
    let status_slot = if status_ptr == 0 {
        None
    } else {
        Some(UserSlice::new(status_ptr, 8)?)
    };
    // Probe the slot first: a bad pointer must not cost the caller its child's status.
    if let Some(slot) = status_slot {
        slot.write_from(&0u64.to_le_bytes())?;
    }
    let wanted = if pid == ANY_CHILD {
        None
    } else {
        Some(Pid::from_raw(pid))
    };
    let (child, status) = process::wait(sched::current_pid(), wanted)?;
    if let Some(slot) = status_slot {
        slot.write_from(&status.to_word().to_le_bytes())?;
    }
    Ok(child.raw())
}

fn sleep(ms: u64) -> SysResult {
    let ms = ms.min(SLEEP_MAX_MS);
    let ticks = (ms * time::HZ).div_ceil(1000);
    sched::sleep_until_interruptible(time::ticks() + ticks + 1);
    Ok(0)
}

fn page_range(addr: usize, len: usize) -> Result<(u64, u64), Error> {
    if len == 0 || !(addr as u64).is_multiple_of(PAGE_SIZE) {
        return Err(Error::InvalidArgument);
    }
    let len = (len as u64)
        .checked_next_multiple_of(PAGE_SIZE)
        .ok_or(Error::InvalidArgument)?;
    let end = (addr as u64)
        .checked_add(len)
        .ok_or(Error::InvalidArgument)?;
    Ok((addr as u64, end))
}

fn map(addr: usize, len: usize, flags: usize) -> SysResult {
    if flags & !map_flags::ALL != 0 {
        return Err(Error::InvalidArgument);
    }
    let write = flags & map_flags::WRITE != 0;
    let execute = flags & map_flags::EXECUTE != 0;
    if write && execute {
        return Err(Error::InvalidArgument); // W^X
    }
    let pages = (len as u64).div_ceil(PAGE_SIZE);
    if len == 0 || pages > MAX_ANON_PAGES {
        return Err(Error::InvalidArgument);
    }
    let space = sched::current_space().ok_or(Error::InvalidArgument)?;
    let start = process::with_current(|p| -> Result<u64, Error> {
        if p.mapped_pages + pages > MAX_ANON_PAGES {
            return Err(Error::NoMemory);
        }
        if addr == 0 {
            let start = p.next_map;
            // One unmapped guard page between automatic mappings.
            p.next_map = start + (pages + 1) * PAGE_SIZE;
            if p.next_map > process::MAP_END {
                return Err(Error::NoMemory);
            }
            Ok(start)
        } else {
            Ok(addr as u64)
        }
    })
    .ok_or(Error::InvalidArgument)??;
    let (start, end) = page_range(start as usize, len)?;
    if start < process::MAP_BASE || end > process::MAP_END {
        return Err(Error::InvalidArgument);
    }
    if (start..end)
        .step_by(PAGE_BYTES)
        .any(|page| space.lock().translate(page).is_some())
    {
        return Err(Error::InvalidArgument);
    }
    let rights = PageRights {
        write,
        execute,
        user: true,
    };
    for page in (start..end).step_by(PAGE_BYTES) {
        let mapped = paging::alloc_zeroed_frame()
            .ok_or(Error::NoMemory)
            .and_then(|frame| {
                space.lock().map(page, frame, rights).map_err(|error| {
                    frames::free(frame);
                    match error {
                        MapError::OutOfMemory => Error::NoMemory,
                        _ => Error::InvalidArgument,
                    }
                })
            });
        if let Err(error) = mapped {
            for undo in (start..page).step_by(PAGE_BYTES) {
                if let Ok(frame) = space.lock().unmap(undo) {
                    frames::free(frame);
                }
            }
            return Err(error);
        }
    }
    process::with_current(|p| {
        p.mapped_pages += pages;
        // Automatic placements (`map(0, ..)`, rings) go after fixed ones, with a guard page,
        // so a heap that grows in place never meets them.
        p.next_map = p.next_map.max(end + PAGE_SIZE);
    });
    Ok(start as usize)
}

fn unmap(addr: usize, len: usize) -> SysResult {
    let (start, end) = page_range(addr, len)?;
    if end > lux9_abi::syscall::USER_END {
        return Err(Error::InvalidArgument);
    }
    let space = sched::current_space().ok_or(Error::InvalidArgument)?;
    let mut anon_pages = 0;
    for page in (start..end).step_by(PAGE_BYTES) {
        if let Ok(frame) = space.lock().unmap(page) {
            frames::free(frame);
            if (process::MAP_BASE..process::MAP_END).contains(&page) {
                anon_pages += 1;
            }
        }
    }
    process::with_current(|p| p.mapped_pages = p.mapped_pages.saturating_sub(anon_pages));
    Ok(0)
}

fn ipc_stats(pid: usize, out: usize) -> SysResult {
    let stats = if pid == 0 {
        ipc::stats::system()
    } else {
        ipc::stats::process(Pid::from_raw(pid)).ok_or(Error::NotFound)?
    };
    let mut bytes = [0u8; IpcStats::WORDS * 8];
    for (chunk, word) in bytes.chunks_mut(8).zip(stats.to_words()) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    UserSlice::new(out, bytes.len())?.write_from(&bytes)?;
    Ok(0)
}

fn ipc_config(key: usize, value: usize) -> SysResult {
    knob(Knob::from_number(key).ok_or(Error::InvalidArgument)?, value)
}

/// Reads (`value` [`KNOB_READ`]) or sets a knob; returns its previous value.
pub fn knob(knob: Knob, value: usize) -> SysResult {
    let write = value != KNOB_READ;
    Ok(match knob {
        Knob::Fastpath => {
            let old = usize::from(ipc::fastpath::enabled());
            if write {
                if value > 1 {
                    return Err(Error::InvalidArgument);
                }
                ipc::fastpath::set_enabled(value == 1);
            }
            old
        }
        Knob::PollSpins => {
            let old = ipc::poll_spins();
            if write {
                ipc::set_poll_spins(u32::try_from(value).map_err(|_| Error::InvalidArgument)?);
            }
            old as usize
        }
    })
}

fn info(what: usize, arg: usize) -> SysResult {
    let value = match Info::from_number(what).ok_or(Error::InvalidArgument)? {
        Info::FreeFrames => frames::free_count(),
        Info::TotalSwitches => sched::total_switches(),
        Info::ProcessSwitches => {
            let pid = if arg == 0 {
                sched::current_pid()
            } else {
                Pid::from_raw(arg)
            };
            process::switches(pid).ok_or(Error::NotFound)?
        }
        Info::Ticks => time::ticks(),
        Info::Processes => process::count() as u64,
        Info::TscPerMs => time::tsc_per_ms(),
        Info::Rings => ipc::ring::count() as u64,
        Info::ColocatedCalls => services::sysserver::colocated_calls(),
        Info::ReferenceMicros => crate::arch::pm_timer::micros().ok_or(Error::NotFound)?,
        Info::FastpathFallbacks => ipc::fastpath::fallbacks(
            lux9_abi::ipc::FastpathGuard::from_number(arg).ok_or(Error::InvalidArgument)?,
        ),
    };
    Ok(value as usize)
}

/// Longest console read one call returns.
const CONSOLE_READ_MAX: usize = 4096;

fn console_read(ptr: usize, len: usize, flags: usize) -> SysResult {
    use lux9_abi::syscall::console;
    if flags & !console::ALL != 0
        || (flags & console::NOTIFY != 0 && flags & console::NONBLOCK == 0)
    {
        return Err(Error::InvalidArgument);
    }
    let out = UserSlice::new(ptr, len.min(CONSOLE_READ_MAX))?;
    let wait = if flags & console::NOTIFY != 0 {
        input::Wait::Notify
    } else if flags & console::NONBLOCK != 0 {
        input::Wait::Poll
    } else {
        input::Wait::Block
    };
    let mut buf = alloc::vec![0u8; out.len()];
    let n = input::read(&mut buf, wait)?;
    out.prefix(n)
        .ok_or(Error::BadAddress)?
        .write_from(&buf[..n])?;
    Ok(n)
}

fn console_mode(mode: usize) -> SysResult {
    use lux9_abi::syscall::console;
    match mode {
        KNOB_READ => Ok(usize::from(input::is_raw())),
        console::COOKED | console::RAW => Ok(usize::from(input::set_raw(mode == console::RAW))),
        _ => Err(Error::InvalidArgument),
    }
}

/// Copies `data` (or as much as fits) to the user buffer; returns the full length.
fn copy_text(data: &[u8], ptr: usize, len: usize) -> Result<(usize, usize), Error> {
    let out = UserSlice::new(ptr, len)?;
    let n = data.len().min(len);
    if n > 0 {
        out.prefix(n)
            .ok_or(Error::BadAddress)?
            .write_from(&data[..n])?;
    }
    Ok((data.len(), 0))
}

fn words_to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Longest `sysinfo` buffer.
const SYSINFO_MAX: usize = 1 << 20;

/// `disk_read(disk, part, offset, buf, len)`: bytes of partition `part` (0: all) of block
/// device number `disk` at `offset`.
fn disk_read(args: [usize; 6]) -> Result<usize, Error> {
    let [disk, part, offset, ptr, len, _] = args;
    let part = u32::try_from(part).map_err(|_| Error::NotFound)?;
    let device = crate::block::all()
        .get(disk)
        .cloned()
        .ok_or(Error::NotFound)?;
    let out = UserSlice::new(ptr, len.min(lux9_abi::syscall::DISK_READ_MAX))?;
    let mut buf = alloc::vec![0u8; out.len()];
    device.extent(part).ok_or(Error::NotFound)?;
    let n = device
        .read_bytes(part, offset as u64, &mut buf)
        .map_err(|_| Error::InvalidArgument)?;
    if n > 0 {
        out.prefix(n)
            .ok_or(Error::BadAddress)?
            .write_from(&buf[..n])?;
    }
    Ok(n)
}

/// `disk_write(disk, part, offset, buf, len)`: bytes written to partition `part` (0: all) of
/// block device number `disk` at `offset`.
fn disk_write(args: [usize; 6]) -> Result<usize, Error> {
    let [disk, part, offset, ptr, len, _] = args;
    let part = u32::try_from(part).map_err(|_| Error::NotFound)?;
    let device = crate::block::all()
        .get(disk)
        .cloned()
        .ok_or(Error::NotFound)?;
    let from = UserSlice::new(ptr, len.min(lux9_abi::syscall::DISK_READ_MAX))?;
    device.extent(part).ok_or(Error::NotFound)?;
    if device.read_only {
        return Err(Error::ReadOnly);
    }
    let mut buf = alloc::vec![0u8; from.len()];
    from.read_into(&mut buf)?;
    device
        .write_bytes(part, offset as u64, &buf)
        .map_err(|e| match e {
            crate::block::BlockError::ReadOnly => Error::ReadOnly,
            _ => Error::InvalidArgument,
        })
}

fn sysinfo(what: usize, arg: usize, ptr: usize, len: usize) -> Result<(usize, usize), Error> {
    use lux9_abi::sysinfo::{ProcInfo, SysInfo};
    let len = len.min(SYSINFO_MAX);
    let kind = SysInfo::from_number(what).ok_or(Error::InvalidArgument)?;
    match kind {
        SysInfo::Processes => {
            let all = process::snapshot();
            let fit = (len / (ProcInfo::WORDS * 8)).min(all.len());
            let words: Vec<u64> = all[..fit].iter().flat_map(|p| p.to_words()).collect();
            copy_text(&words_to_bytes(&words), ptr, len)?;
            Ok((all.len(), 0))
        }
        SysInfo::Cmdline => {
            let raw = process::args_of(Pid::from_raw(arg)).ok_or(Error::NotFound)?;
            copy_text(lux9_abi::env::split(&raw).1.as_bytes(), ptr, len)
        }
        SysInfo::Memory => {
            let info = services::memory_info();
            copy_text(&words_to_bytes(&info.to_words()), ptr, len)
        }
        SysInfo::Kmsg => {
            let out = UserSlice::new(ptr, len)?;
            let mut buf = alloc::vec![0u8; len.min(crate::console::KMSG_SIZE)];
            let (n, total) = crate::console::kmsg_read(arg as u64, &mut buf);
            if n > 0 {
                out.prefix(n)
                    .ok_or(Error::BadAddress)?
                    .write_from(&buf[..n])?;
            }
            Ok((n, total as usize))
        }
        SysInfo::Version => copy_text(
            alloc::format!("lux9 {} (x86_64)", crate::VERSION).as_bytes(),
            ptr,
            len,
        ),
        SysInfo::KernelCmdline => copy_text(services::kernel_cmdline().as_bytes(), ptr, len),
        SysInfo::Config => copy_text(services::config().text().as_bytes(), ptr, len),
        SysInfo::Isolation => copy_text(services::config().isolation_text().as_bytes(), ptr, len),
        SysInfo::Mounts => copy_text(services::mounts_text().as_bytes(), ptr, len),
        SysInfo::Pci => copy_text(crate::pci_bus::text().as_bytes(), ptr, len),
        SysInfo::Disks => copy_text(crate::block::text().as_bytes(), ptr, len),
        SysInfo::Random => {
            let out = UserSlice::new(ptr, len)?;
            let mut buf = alloc::vec![0u8; len];
            crate::random::fill(&mut buf);
            out.write_from(&buf)?;
            Ok((len, 0))
        }
        SysInfo::Programs => {
            let names: Vec<&str> = process::archive::archive()
                .map(|archive| archive.entries().map(|(name, _)| name).collect())
                .unwrap_or_default();
            let mut text = names.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            copy_text(text.as_bytes(), ptr, len)
        }
    }
}

fn service(args: [usize; 6]) -> Result<(usize, usize), Error> {
    use lux9_abi::syscall::service;
    let [op, ptr, len, why_ptr, why_len, _] = args;
    let name = read_string(ptr, len, 64)?;
    match op {
        service::LOOKUP => services::lookup(&name),
        service::REGISTER => services::register(&name, sched::current_pid()).map(|()| (0, 0)),
        service::PLACEMENT => services::configured_placement(&name).map(|p| (p, 0)),
        service::START_VOLUME => match services::start_volume(&name) {
            Ok(()) => Ok((service::COLOCATED, 0)),
            Err((error, why)) => {
                // The reason in words, cut to the caller's buffer (none if it gave none).
                if why_len > 0
                    && let Ok(out) = UserSlice::new(why_ptr, why_len)
                {
                    let n = why.len().min(why_len);
                    if let Some(out) = out.prefix(n) {
                        let _ = out.write_from(&why.as_bytes()[..n]);
                    }
                }
                Err(error)
            }
        },
        service::STOP_VOLUME => services::stop_volume(&name).map(|()| (0, 0)),
        _ => Err(Error::InvalidArgument),
    }
}

fn sys9p(args: [usize; 6]) -> SysResult {
    let pid = sched::current_pid();
    if args[0] == 0 {
        // Which server: none named is sysserver; else a colocated volume's service.
        if args[2] == 0 {
            return services::sysserver::open(pid);
        }
        let name = read_string(args[1], args[2], 64)?;
        if name == lux9_abi::syscall::service::SYSSERVER {
            return services::sysserver::open(pid);
        }
        return services::ext4::open(pid, &name);
    }
    if args[0] & services::ext4::CONNECTION_BIT != 0 {
        return services::ext4::call(pid, args[0], (args[1], args[2]), (args[3], args[4]));
    }
    services::sysserver::call(pid, args[0], (args[1], args[2]), (args[3], args[4]))
}

fn mount(args: [usize; 6]) -> SysResult {
    let path = read_string(args[0], args[1], services::MOUNT_TEXT_MAX)?;
    let spec = read_string(args[2], args[3], services::MOUNT_TEXT_MAX)?;
    services::mount(&path, &spec).map(|()| 0)
}

fn power(op: usize) -> SysResult {
    use lux9_abi::syscall::power;
    let why = match op {
        power::OFF => {
            log::info!("power off requested by pid {}", sched::current_pid());
            crate::arch::power::power_off()
        }
        power::REBOOT => {
            log::info!("restart requested by pid {}", sched::current_pid());
            crate::arch::power::reboot()
        }
        _ => return Err(Error::InvalidArgument),
    };
    log::error!("{why}");
    Err(Error::Unsupported)
}
