//! Processes: the table, spawning programs from the initial archive, exit, wait and kill.
//!
//! A process owns an address space and (for now) one user thread. Pid 0 is the kernel itself:
//! it owns the kernel threads and adopts the children of processes that exit before them.
//! When a process ends it becomes a zombie holding its exit status until its parent waits for
//! it; a zombie whose parent is gone is freed at once.

pub mod archive;
pub mod elf;
pub mod interrupt;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use lux9_abi::{Error, ExitStatus};
use x86_64::instructions::interrupts;

use crate::arch::address_space::AddressSpace;
use crate::arch::sync::IrqMutex;
use crate::sched::{self, SharedSpace, Tid};
use lux9_kernel_core::units::PAGE_SIZE;

/// A process id: what user space names a process by (the pid arguments and results of the
/// system calls). A type of its own, so that it cannot be mixed up with a thread id
/// ([`crate::sched::Tid`], the scheduler's table index) or with a count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(usize);

impl Pid {
    /// The pid a system-call argument names (any value: lookups decide whether it exists).
    pub const fn from_raw(raw: usize) -> Self {
        Self(raw)
    }

    /// The pid as system calls and `/proc` show it.
    pub const fn raw(self) -> usize {
        self.0
    }
}

impl core::fmt::Display for Pid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

/// The kernel's own pseudo-process.
pub const KERNEL_PID: Pid = Pid(0);
/// The first user process.
pub const INIT_PID: Pid = Pid(1);
/// Room for this many live processes (including zombies).
pub const MAX_PROCESSES: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Alive,
    Zombie(ExitStatus),
}

pub struct Process {
    pub pid: Pid,
    pub parent: Pid,
    pub name: String,
    /// The argument string it was started with (environment block included).
    pub args: String,
    pub state: State,
    pub space: Option<SharedSpace>,
    pub threads: Vec<Tid>,
    /// A thread of this process blocked in `wait`.
    waiter: Option<Tid>,
    /// Switches into threads that have ended.
    retired_switches: u64,
    /// IPC counters of threads that have ended.
    retired_ipc: crate::ipc::stats::ThreadCounters,
    /// Where the next anonymous mapping without a fixed address goes.
    pub next_map: u64,
    /// Pages of anonymous memory mapped now.
    pub mapped_pages: u64,
    /// Pages of the program image and stack.
    pub image_pages: u64,
    /// Pages of shared rings mapped now.
    pub ring_pages: u64,
    /// `kill` asked for its end: whatever ends it, its status is
    /// [`ExitStatus::KILLED_BY_REQUEST`].
    killed: bool,
    /// Its parent ended first and the kernel took it over: nobody will `wait` for it, so it is
    /// freed when it ends instead of staying a zombie (a `supervise` whose `mount` ended, an
    /// ext4srv whose supervisor was killed).
    adopted: bool,
    /// Its process group (the pid that names it): what Ctrl-C interrupts together.
    group: Pid,
    /// Where it asked to be told of Ctrl-C (`interrupt_word`): a user address.
    interrupt_word: Option<u64>,
    /// Ctrl-C ended it ([`ExitStatus::INTERRUPTED`]) rather than `kill`.
    interrupted: bool,
    /// Told of Ctrl-C at this tick: killed if still alive [`INTERRUPT_GRACE_MS`] later.
    ///
    /// [`INTERRUPT_GRACE_MS`]: lux9_abi::syscall::INTERRUPT_GRACE_MS
    told_at: Option<u64>,
}

struct Table {
    processes: BTreeMap<Pid, Process>,
    next_pid: Pid,
}

/// A copy of the next pid, readable without the table lock (from the scheduler's lock).
static NEXT_PID: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(INIT_PID.raw());

static TABLE: IrqMutex<Table> = IrqMutex::new(Table {
    processes: BTreeMap::new(),
    next_pid: INIT_PID,
});

/// Called when a process with no parent left to wait for it (or init) ends.
static ON_INIT_EXIT: spin::Once<fn(ExitStatus)> = spin::Once::new();

/// Registers what happens when init (pid 1) ends: the test harness exits QEMU, a normal boot
/// logs it.
pub fn on_init_exit(hook: fn(ExitStatus)) {
    ON_INIT_EXIT.call_once(|| hook);
}

/// Base of the anonymous-mapping region.
pub const MAP_BASE: u64 = 0x0000_1000_0000_0000;
/// End of the mapping region, well below the stack.
pub const MAP_END: u64 = 0x0000_7000_0000_0000;

/// Starts program `name` from the initial archive with `args` as a child of `parent`.
pub fn spawn(parent: Pid, name: &str, args: &str) -> Result<Pid, Error> {
    let image = archive::program(name).ok_or(Error::NotFound)?;
    let mut space = AddressSpace::new().map_err(|_| Error::NoMemory)?;
    let loaded = elf::load(&mut space, image, args.as_bytes())?;
    let space: SharedSpace = Arc::new(IrqMutex::new(space));

    let pid = {
        let mut table = TABLE.lock();
        if table.processes.len() >= MAX_PROCESSES {
            return Err(Error::LimitReached);
        }
        if parent != KERNEL_PID && !table.processes.contains_key(&parent) {
            return Err(Error::InvalidArgument);
        }
        let pid = table.next_pid;
        table.next_pid = Pid(pid.0 + 1);
        NEXT_PID.store(table.next_pid.raw(), core::sync::atomic::Ordering::Relaxed);
        // A child starts in its parent's group; the kernel's children start their own.
        let group = table.processes.get(&parent).map_or(pid, |p| p.group);
        table.processes.insert(
            pid,
            Process {
                pid,
                parent,
                name: name.to_string(),
                args: args.to_string(),
                state: State::Alive,
                space: Some(space.clone()),
                threads: Vec::new(),
                waiter: None,
                retired_switches: 0,
                retired_ipc: Default::default(),
                next_map: MAP_BASE,
                mapped_pages: 0,
                image_pages: loaded.pages,
                ring_pages: 0,
                killed: false,
                adopted: false,
                group,
                interrupt_word: None,
                told_at: None,
                interrupted: false,
            },
        );
        pid
    };
    match sched::spawn_user(pid, space, loaded.entry, loaded.stack_pointer, loaded.args) {
        Ok(tid) => {
            log::debug!("pid {pid} ({name}): {} pages, thread {tid}", loaded.pages);
            // The thread may already have run and exited; record it only if the process lives.
            let killed = match TABLE.lock().processes.get_mut(&pid) {
                Some(process) if process.state == State::Alive => {
                    process.threads.push(tid);
                    process.killed
                }
                _ => false,
            };
            // Killed before its thread was on the list: mark the thread now.
            if killed {
                sched::kill_threads(&[tid]);
            }
            Ok(pid)
        }
        Err(error) => {
            TABLE.lock().processes.remove(&pid);
            Err(match error {
                sched::SpawnError::NoMemory => Error::NoMemory,
                sched::SpawnError::TooManyThreads => Error::LimitReached,
            })
        }
    }
}

/// Ends the calling process with `status`. Never returns.
pub fn exit_current(status: ExitStatus) -> ! {
    let pid = sched::current_pid();
    assert_ne!(
        pid, KERNEL_PID,
        "a kernel thread called process::exit_current"
    );
    let tid = sched::current();
    let ipc_counters = sched::with_state(|s| s.thread(tid).ipc.stats);
    let (space, init_ended, status) = interrupts::without_interrupts(|| {
        let mut table = TABLE.lock();
        let switches = sched::thread_switches(tid);
        let Some(process) = table.processes.get_mut(&pid) else {
            unreachable!("the running process {pid} is not in the table")
        };
        // A kill that came first decides the status, whatever the thread was doing since.
        let status = if process.killed && process.interrupted {
            ExitStatus::INTERRUPTED
        } else if process.killed {
            ExitStatus::KILLED_BY_REQUEST
        } else {
            status
        };
        process.state = State::Zombie(status);
        process.retired_switches += switches;
        process.retired_ipc += ipc_counters;
        process.threads.retain(|&t| t != tid);
        let space = process.space.take();
        let parent = process.parent;
        let adopted = process.adopted;
        // Orphans go to the kernel; orphaned zombies are freed now.
        let children: Vec<Pid> = table
            .processes
            .values()
            .filter(|p| p.parent == pid)
            .map(|p| p.pid)
            .collect();
        for child in children {
            let zombie = table
                .processes
                .get(&child)
                .is_some_and(|c| matches!(c.state, State::Zombie(_)));
            if zombie {
                table.processes.remove(&child);
            } else if let Some(c) = table.processes.get_mut(&child) {
                c.parent = KERNEL_PID;
                c.adopted = true;
            }
        }
        let parent_alive = parent == KERNEL_PID || table.processes.contains_key(&parent);
        if adopted {
            // Nobody waits for an orphan: no zombie is kept.
            table.processes.remove(&pid);
        } else if parent_alive {
            if let Some(waiter) = table
                .processes
                .get_mut(&parent)
                .and_then(|p| p.waiter.take())
            {
                sched::wake(waiter);
            } else if parent == KERNEL_PID
                && let Some(waiter) = KERNEL_WAITERS.lock().take()
            {
                sched::wake(waiter);
            }
        } else {
            table.processes.remove(&pid);
        }
        (space, pid == INIT_PID, status)
    });
    // Rings go first: their frames are unmapped from the peer and freed.
    crate::ipc::ring::process_exiting(pid);
    crate::blkring::process_exiting(pid);
    crate::pipe::process_exiting(pid);
    crate::pipe::thread_exiting(tid);
    crate::services::process_exiting(pid);
    crate::console::input::thread_exiting(tid);
    // Leave the address space, then free it (unless a kernel thread still holds a reference).
    sched::leave_address_space();
    drop(space);
    if init_ended && let Some(hook) = ON_INIT_EXIT.get() {
        hook(status);
    }
    sched::exit_current()
}

/// A kernel thread waiting in [`wait`] for a child of the kernel.
static KERNEL_WAITERS: IrqMutex<Option<Tid>> = IrqMutex::new(None);

/// Waits for child `pid` of `parent` (or any child if `pid` is `None`) to end; returns its pid
/// and status, and frees it.
pub fn wait(parent: Pid, pid: Option<Pid>) -> Result<(Pid, ExitStatus), Error> {
    loop {
        let outcome = interrupts::without_interrupts(|| {
            let mut table = TABLE.lock();
            let matches =
                |p: &Process| p.parent == parent && pid.is_none_or(|wanted| p.pid == wanted);
            let zombie = table
                .processes
                .values()
                .find(|p| matches(p) && matches!(p.state, State::Zombie(_)))
                .map(|p| p.pid);
            if let Some(child) = zombie {
                let process = table.processes.remove(&child).expect("found above");
                let State::Zombie(status) = process.state else {
                    unreachable!()
                };
                return Some(Ok((child, status)));
            }
            if !table.processes.values().any(matches) {
                return Some(Err(Error::NoChild));
            }
            let me = sched::current();
            if parent == KERNEL_PID {
                *KERNEL_WAITERS.lock() = Some(me);
            } else if let Some(process) = table.processes.get_mut(&parent) {
                process.waiter = Some(me);
            }
            drop(table);
            if sched::block_current_interruptible() {
                return None;
            }
            // Killed: the caller ends on its way out; no child wakes this thread any more.
            let mut table = TABLE.lock();
            if let Some(process) = table.processes.get_mut(&parent)
                && process.waiter == Some(me)
            {
                process.waiter = None;
            }
            Some(Err(Error::PeerDead))
        });
        if let Some(result) = outcome {
            return result;
        }
    }
}

/// Kills the calling process after CPU exception `vector` in ring 3, logging one line.
pub fn kill_current(vector: u8, description: core::fmt::Arguments<'_>) -> ! {
    let pid = sched::current_pid();
    let name = TABLE
        .lock()
        .processes
        .get(&pid)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    crate::println!("pid {pid} ({name}) killed: {description}");
    exit_current(ExitStatus::Killed { vector })
}

/// Ends process `pid` at the request of process `by` (`kill`): marks it so that its threads
/// end on their way back to ring 3 with [`ExitStatus::KILLED_BY_REQUEST`], and wakes those
/// that wait (see `sched::kill_threads`). Its resources go as when it exits. The kernel and
/// init cannot be killed: init's end would end the machine's user space.
pub fn kill(pid: Pid, by: Pid) -> Result<(), Error> {
    if pid == KERNEL_PID || pid == INIT_PID {
        return Err(Error::InvalidArgument);
    }
    let (threads, name) = {
        let mut table = TABLE.lock();
        let process = table
            .processes
            .get_mut(&pid)
            .filter(|p| p.state == State::Alive)
            .ok_or(Error::NotFound)?;
        let first = !process.killed;
        process.killed = true;
        (process.threads.clone(), first.then(|| process.name.clone()))
    };
    if let Some(name) = name {
        crate::println!("pid {pid} ({name}) killed by pid {by}");
    }
    sched::kill_threads(&threads);
    Ok(())
}

/// Marks process `pid` (alive, killed or not) killed by Ctrl-C and ends its threads' waits;
/// quietly, since the console shows `^C`.
fn kill_interrupted(table: &mut Table, pid: Pid) -> Vec<Tid> {
    match table.processes.get_mut(&pid) {
        Some(process) if process.state == State::Alive && !process.killed => {
            process.killed = true;
            process.interrupted = true;
            process.threads.clone()
        }
        _ => Vec::new(),
    }
}

/// The parent of live process `pid`.
pub fn parent_of(pid: Pid) -> Option<Pid> {
    TABLE
        .lock()
        .processes
        .get(&pid)
        .filter(|p| p.state == State::Alive)
        .map(|p| p.parent)
}

/// Ends the running thread's process if it was killed: called on every return to ring 3.
#[inline]
pub fn exit_if_killed() {
    if sched::current_killed() {
        exit_current(ExitStatus::KILLED_BY_REQUEST);
    }
}

/// Switches into the threads of process `pid` so far.
pub fn switches(pid: Pid) -> Option<u64> {
    let (retired, threads) = {
        let table = TABLE.lock();
        let process = table.processes.get(&pid)?;
        (process.retired_switches, process.threads.clone())
    };
    Some(
        retired
            + threads
                .iter()
                .map(|&t| sched::thread_switches(t))
                .sum::<u64>(),
    )
}

/// A record of every process (zombies included), in pid order, for `/proc`.
pub fn snapshot() -> Vec<lux9_abi::sysinfo::ProcInfo> {
    use lux9_abi::sysinfo::ProcInfo;
    // The table lock, then the scheduler's (the order `exit_current` uses too).
    let table = TABLE.lock();
    table
        .processes
        .values()
        .map(|p| {
            let mut info = ProcInfo {
                pid: p.pid.raw() as u64,
                parent: p.parent.raw() as u64,
                pages: p.mapped_pages + p.image_pages + p.ring_pages,
                priority: lux9_abi::syscall::DEFAULT_PRIORITY as u64,
                switches: p.retired_switches,
                state: match p.state {
                    State::Alive => ProcInfo::STATE_BLOCKED,
                    State::Zombie(_) => ProcInfo::STATE_ZOMBIE,
                },
                ..Default::default()
            };
            info.set_name(&p.name);
            for &tid in &p.threads {
                if let Some((state, priority, switches)) = sched::thread_summary(tid) {
                    info.switches += switches;
                    info.priority = priority as u64;
                    if matches!(
                        state,
                        sched::ThreadState::Ready | sched::ThreadState::Running
                    ) {
                        info.state = ProcInfo::STATE_RUNNING;
                    }
                }
            }
            info
        })
        .collect()
}

/// The argument string process `pid` was started with.
pub fn args_of(pid: Pid) -> Option<String> {
    TABLE.lock().processes.get(&pid).map(|p| p.args.clone())
}

/// Counts ring pages mapped into process `pid` (`delta` pages more, or fewer if negative).
pub fn add_ring_pages(pid: Pid, delta: i64) {
    if let Some(p) = TABLE.lock().processes.get_mut(&pid) {
        p.ring_pages = p.ring_pages.saturating_add_signed(delta);
    }
}

/// Live processes and zombies.
pub fn count() -> usize {
    TABLE.lock().processes.len()
}

/// Runs `f` on the calling process's table entry.
pub fn with_current<R>(f: impl FnOnce(&mut Process) -> R) -> Option<R> {
    let pid = sched::current_pid();
    TABLE.lock().processes.get_mut(&pid).map(f)
}

/// Whether a process with this pid was ever created (pids are never reused).
pub fn ever_existed(pid: Pid) -> bool {
    pid != KERNEL_PID && pid.raw() < NEXT_PID.load(core::sync::atomic::Ordering::Relaxed)
}

/// The IPC counters of process `pid`'s ended threads, and its switch count.
pub fn retired_ipc(pid: Pid) -> Option<(crate::ipc::stats::ThreadCounters, u64)> {
    let retired = TABLE.lock().processes.get(&pid).map(|p| p.retired_ipc)?;
    Some((retired, switches(pid)?))
}

/// The address space of live process `pid`.
pub fn space_of(pid: Pid) -> Option<SharedSpace> {
    TABLE
        .lock()
        .processes
        .get(&pid)
        .filter(|p| p.state == State::Alive)
        .and_then(|p| p.space.clone())
}

/// Reserves `len` bytes of process `pid`'s mapping region (for a ring), with a guard page
/// after it. Returns the start.
pub fn reserve_region(pid: Pid, len: u64) -> Option<u64> {
    let mut table = TABLE.lock();
    let process = table
        .processes
        .get_mut(&pid)
        .filter(|p| p.state == State::Alive)?;
    let start = process.next_map;
    let end = start.checked_add(len + PAGE_SIZE)?;
    if end > MAP_END {
        return None;
    }
    process.next_map = end;
    Some(start)
}
