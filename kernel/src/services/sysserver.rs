//! sysserver, colocated: the `sysserver` crate's file trees served by a direct call from the
//! `sys9p` system call (seed technique 9).
//!
//! A request travels: the caller's frames are copied into the kernel (SMAP-checked user copy);
//! the calling thread then *borrows* sysserver's address space (its CR3 changes, its privilege
//! does not), runs `Server::handle` for each frame on its own kernel stack, and switches back;
//! the replies are copied out. No other thread runs, no run queue is touched: each request
//! counts as a `colocated_call`, not a context switch.
//!
//! sysserver's address space has no user mappings: while its code runs, no process's memory is
//! reachable, so a bug in a handler cannot scribble on a client (and the user-copy routines are
//! never called from it). Its state (one `Server` per connection) lives on the kernel heap.
//!
//! The `sysserver` kernel thread owns that address space and does the deferred work: when a
//! process ends, its connections are reset there (every fid is clunked, which also ends
//! a raw-mode console the process left behind) and freed.
//!
//! A connection belongs to the process that opened it; a process may have [`CONNECTIONS_MAX`].

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use lib9pclient::Server;
use lux9_abi::Error;
use lux9_abi::ipc::{IpcStats, KNOB_READ, Knob};
use lux9_abi::sysinfo::{MemInfo, ProcInfo};
use sysserver::{Backend, KnobError, SysFs};
use x86_64::instructions::interrupts;

use crate::arch::address_space::{Activation, AddressSpace};
use crate::arch::sync::IrqMutex;
use crate::process::Pid;
use crate::sched::{self, SharedSpace, Tid};

/// Largest msize the colocated server negotiates.
pub const MAX_MSIZE: u32 = 64 * 1024;
/// Longest request submission (several frames) one `sys9p` takes.
pub const MAX_REQUEST: usize = 256 * 1024;
/// Connections one process may hold.
pub const CONNECTIONS_MAX: usize = 16;

static COLOCATED_CALLS: AtomicU64 = AtomicU64::new(0);
static NEXT_CONNECTION: AtomicUsize = AtomicUsize::new(1);

/// Requests served by direct calls since boot.
pub fn colocated_calls() -> u64 {
    COLOCATED_CALLS.load(Ordering::Relaxed)
}

/// Counts `n` requests served by a direct call to a colocated server (sysserver or an ext4
/// volume): `colocated_calls` covers them all.
pub fn count_colocated_calls(n: u64) {
    COLOCATED_CALLS.fetch_add(n, Ordering::Relaxed);
}

type Connection = super::Connection<SysFs<KernelBackend>>;

type Shared = Arc<spin::Mutex<Connection>>;

struct State {
    connections: BTreeMap<(Pid, usize), Shared>,
    /// Connections of ended processes, for the thread to reset and free.
    dead: Vec<Shared>,
}

static STATE: IrqMutex<State> = IrqMutex::new(State {
    connections: BTreeMap::new(),
    dead: Vec::new(),
});

/// sysserver's address space and its CR3 value.
static SPACE: spin::Once<(SharedSpace, Activation)> = spin::Once::new();
static THREAD: spin::Once<Tid> = spin::Once::new();

/// Creates sysserver's address space and thread.
pub fn start() {
    let space = match AddressSpace::new() {
        Ok(space) => space,
        Err(error) => {
            log::error!(
                "sysserver: no memory for its address space ({error:?}); /dev, /proc and /sys are unavailable"
            );
            return;
        }
    };
    let activation = space.activation();
    let space: SharedSpace = Arc::new(IrqMutex::new(space));
    SPACE.call_once(|| (space.clone(), activation));
    match sched::spawn_kernel(thread_main, 0, Some(space)) {
        Ok(tid) => {
            THREAD.call_once(|| tid);
        }
        Err(error) => log::error!("sysserver: cannot start its thread: {error:?}"),
    }
}

extern "C" fn thread_main(_: u64) {
    loop {
        let dead = core::mem::take(&mut STATE.lock().dead);
        if dead.is_empty() {
            interrupts::without_interrupts(|| {
                if STATE.lock().dead.is_empty() {
                    sched::block_current();
                }
            });
            continue;
        }
        for connection in dead {
            // Every fid ends, so the trees see it (a raw console the process left goes cooked).
            connection.lock().server.clunk_all();
        }
    }
}

/// Hands the connections of process `pid` (which is ending) to the thread.
pub fn process_exiting(pid: Pid) {
    let woke = {
        let mut state = STATE.lock();
        let keys: Vec<(Pid, usize)> = state
            .connections
            .range((pid, 0)..=(pid, usize::MAX))
            .map(|(key, _)| *key)
            .collect();
        for key in &keys {
            if let Some(connection) = state.connections.remove(key) {
                state.dead.push(connection);
            }
        }
        !keys.is_empty()
    };
    if woke && let Some(&tid) = THREAD.get() {
        sched::wake(tid);
    }
}

/// `sys9p(0, ...)`: opens a connection for the calling process.
pub fn open(pid: Pid) -> Result<usize, Error> {
    if SPACE.get().is_none() {
        return Err(Error::NotFound);
    }
    let mut state = STATE.lock();
    let held = state
        .connections
        .range((pid, 0)..=(pid, usize::MAX))
        .count();
    if held >= CONNECTIONS_MAX {
        return Err(Error::LimitReached);
    }
    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let connection = Connection::new(Server::new(SysFs::new(KernelBackend), MAX_MSIZE));
    state
        .connections
        .insert((pid, id), Arc::new(spin::Mutex::new(connection)));
    Ok(id)
}

/// `sys9p_close(conn)`.
pub fn close(pid: Pid, id: usize) -> Result<(), Error> {
    {
        let mut state = STATE.lock();
        let connection = state
            .connections
            .remove(&(pid, id))
            .ok_or(Error::NotFound)?;
        state.dead.push(connection);
    }
    if let Some(&tid) = THREAD.get() {
        sched::wake(tid);
    }
    Ok(())
}

/// `sys9p(conn, request, reply)` for sysserver ([`super::Connection::call`]).
pub fn call(
    pid: Pid,
    id: usize,
    request: (usize, usize),
    reply: (usize, usize),
) -> Result<usize, Error> {
    let (_, activation) = SPACE.get().ok_or(Error::NotFound)?;
    let shared = STATE
        .lock()
        .connections
        .get(&(pid, id))
        .cloned()
        .ok_or(Error::NotFound)?;
    let mut guard = shared.try_lock().ok_or(Error::InvalidArgument)?;
    guard.call(activation, request, reply)
}

/// The kernel's answers to sysserver's questions.
struct KernelBackend;

impl Backend for KernelBackend {
    fn processes(&mut self) -> Vec<ProcInfo> {
        crate::process::snapshot()
    }

    fn cmdline(&mut self, pid: u64) -> Option<String> {
        let raw = crate::process::args_of(Pid::from_raw(pid as usize))?;
        Some(lux9_abi::env::split(&raw).1.to_string())
    }

    fn ipc_stats(&mut self, pid: u64) -> Option<IpcStats> {
        if pid == 0 {
            Some(crate::ipc::stats::system())
        } else {
            crate::ipc::stats::process(Pid::from_raw(pid as usize))
        }
    }

    fn colocated_calls(&mut self) -> u64 {
        colocated_calls()
    }

    fn memory(&mut self) -> MemInfo {
        super::memory_info()
    }

    fn uptime_ms(&mut self) -> u64 {
        crate::time::uptime_ms()
    }

    fn kmsg(&mut self) -> sysserver::KernelLog {
        let (bytes, first) = crate::console::kmsg_kept();
        sysserver::KernelLog { bytes, first }
    }

    fn version(&mut self) -> String {
        alloc::format!("lux9 {} (x86_64)", crate::VERSION)
    }

    fn kernel_cmdline(&mut self) -> String {
        super::kernel_cmdline()
    }

    fn config(&mut self) -> String {
        super::config().text()
    }

    fn isolation(&mut self) -> String {
        super::config().isolation_text()
    }

    fn mounts(&mut self) -> String {
        super::mounts_text()
    }

    fn pci(&mut self) -> String {
        crate::pci_bus::text()
    }

    fn disks(&mut self) -> Vec<sysserver::DiskInfo> {
        crate::block::all()
            .iter()
            .map(|d| sysserver::DiskInfo {
                name: d.name.clone(),
                model: d.model.clone(),
                driver: d.driver.into(),
                sector_size: d.sector_size,
                sectors: d.sectors,
                read_only: d.read_only,
                partitions: d
                    .partitions
                    .iter()
                    .map(|(n, e)| (*n, e.first(), e.count()))
                    .collect(),
            })
            .collect()
    }

    fn disk_read(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        let disk = crate::block::find(name).ok_or_else(|| alloc::format!("no disk {name}"))?;
        disk.read_bytes(part, offset, buf)
            .map_err(|e| alloc::format!("{name}: {e:?}"))
    }

    fn disk_write(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<usize, String> {
        let disk = crate::block::find(name).ok_or_else(|| alloc::format!("no disk {name}"))?;
        disk.write_bytes(part, offset, data).map_err(|e| match e {
            crate::block::BlockError::ReadOnly => alloc::format!("{name}: read-only file system"),
            e => alloc::format!("{name}: {e:?}"),
        })
    }

    fn console_write(&mut self, data: &[u8]) {
        crate::console::write_bytes(data);
    }

    fn console_read(&mut self, buf: &mut [u8]) -> Option<usize> {
        // Colocated, the caller's thread simply blocks here (in sysserver's address space,
        // which it keeps across the switch).
        crate::console::input::read(buf, crate::console::input::Wait::Block).ok()
    }

    fn console_set_raw(&mut self, raw: bool) {
        crate::console::input::set_raw(raw);
    }

    fn random(&mut self, buf: &mut [u8]) {
        crate::random::fill(buf);
    }

    fn knobs(&mut self) -> Vec<(String, u64)> {
        knobs()
    }

    fn set_knob(&mut self, name: &str, value: u64) -> Result<(), KnobError> {
        set_knob(name, value)
    }
}

/// The knobs under `/sys/knobs`, read the way `ipc_config` reads them.
pub fn knobs() -> Vec<(String, u64)> {
    Knob::ALL
        .into_iter()
        .filter_map(|knob| {
            let value = crate::syscall::knob(knob, KNOB_READ).ok()?;
            Some((knob.name().to_string(), value as u64))
        })
        .collect()
}

/// Sets a knob of `/sys/knobs`, with `ipc_config`'s checks.
pub fn set_knob(name: &str, value: u64) -> Result<(), KnobError> {
    let knob = Knob::from_name(name).ok_or(KnobError::Unknown)?;
    let value = usize::try_from(value)
        .ok()
        .filter(|&v| v != KNOB_READ)
        .ok_or(KnobError::BadValue)?;
    crate::syscall::knob(knob, value)
        .map(|_| ())
        .map_err(|_| KnobError::BadValue)
}
