//! Process groups and Ctrl-C.
//!
//! Every process is in a group, named after the pid that started it; a child starts in its
//! parent's. The shell puts each job (a whole pipeline) in a group of its own (`set_group`) and
//! names it the console's foreground (`console_foreground`). Ctrl-C typed on the console in
//! cooked mode then interrupts every process of that group:
//!
//! - a process that asked to be told (`interrupt_word`, in the spirit of a Plan 9 note) finds
//!   1 in its word, and a `futex_wait` on the word ends: it may clean up and exit. If it is
//!   still alive [`INTERRUPT_GRACE_MS`] later, it is killed;
//! - any other process is killed at once.
//!
//! A killed process ends with [`ExitStatus::INTERRUPTED`](lux9_abi::ExitStatus::INTERRUPTED).
//! The shell is in no job's group, so it survives. In raw mode Ctrl-C is an ordinary byte for
//! the program reading the console.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use lux9_abi::Error;
use lux9_abi::syscall::INTERRUPT_GRACE_MS;

use super::{KERNEL_PID, Pid, State, TABLE, kill_interrupted};
use crate::arch::paging;
use crate::sched::{self, Tid};
use crate::time;

/// The group Ctrl-C interrupts (0: none), as a raw pid.
static FOREGROUND: AtomicUsize = AtomicUsize::new(0);
/// The thread that kills told processes whose grace has run out (started on first need).
static REAPER: spin::Once<Option<Tid>> = spin::Once::new();

/// `set_group(pid, group)`: see `lux9_abi::Syscall::SetGroup`.
pub fn set_group(caller: Pid, pid: Pid, group: Pid) -> Result<usize, Error> {
    let mut table = TABLE.lock();
    let target = if pid.raw() == 0 { caller } else { pid };
    let process = table
        .processes
        .get(&target)
        .filter(|p| p.state == State::Alive)
        .ok_or(Error::NotFound)?;
    if target != caller && process.parent != caller {
        return Err(Error::NotFound);
    }
    let parent = process.parent;
    let group = if group.raw() == 0 { target } else { group };
    // A sibling already in the group may have ended (a zombie, not yet waited for): the
    // shell joins the rest of a pipeline to the first command's group even when that command
    // was quick.
    let allowed = group == target
        || table
            .processes
            .values()
            .any(|p| p.parent == parent && p.group == group);
    if !allowed {
        return Err(Error::InvalidArgument);
    }
    table.processes.get_mut(&target).expect("found above").group = group;
    Ok(group.raw())
}

/// `console_foreground(group)`: sets the group Ctrl-C interrupts; returns the previous one.
pub fn set_foreground(group: Pid) -> usize {
    if group.raw() == lux9_abi::ipc::KNOB_READ {
        FOREGROUND.load(Ordering::Relaxed)
    } else {
        FOREGROUND.swap(group.raw(), Ordering::Relaxed)
    }
}

/// `interrupt_word(addr)`: where the caller is told of Ctrl-C (0: nowhere, killed at once).
pub fn set_word(caller: Pid, addr: usize) -> Result<usize, Error> {
    if addr != 0 {
        if !addr.is_multiple_of(4) {
            return Err(Error::InvalidArgument);
        }
        crate::uaccess::UserSlice::new(addr, 4)?;
    }
    let mut table = TABLE.lock();
    let process = table.processes.get_mut(&caller).ok_or(Error::NotFound)?;
    process.interrupt_word = (addr != 0).then_some(addr as u64);
    Ok(0)
}

/// Ctrl-C on the console: interrupts the foreground group (from the input interrupt).
pub fn interrupt_foreground() {
    let group = Pid::from_raw(FOREGROUND.load(Ordering::Relaxed));
    if group.raw() == 0 {
        return;
    }
    let now = time::ticks();
    let mut kill = Vec::new();
    let mut told = Vec::new();
    {
        let mut table = TABLE.lock();
        let members: Vec<Pid> = table
            .processes
            .values()
            .filter(|p| p.state == State::Alive && p.group == group && p.pid != KERNEL_PID)
            .map(|p| p.pid)
            .collect();
        for pid in members {
            let process = table.processes.get_mut(&pid).expect("listed above");
            // Told once already (a second Ctrl-C): no more patience.
            let word = process.interrupt_word.filter(|_| process.told_at.is_none());
            match word.and_then(|addr| tell(process.space.as_ref(), addr)) {
                Some(phys) => {
                    process.told_at = Some(now);
                    told.push(phys);
                }
                None => kill.extend(kill_interrupted(&mut table, pid)),
            }
        }
    }
    sched::kill_threads(&kill);
    for phys in &told {
        crate::ipc::futex::wake_physical(*phys, usize::MAX, None);
    }
    if !told.is_empty() {
        start_reaper();
    }
}

/// Stores 1 in a process's interrupt word; returns its physical address, or `None` if the word
/// is no longer writable user memory (the process is then killed instead).
fn tell(space: Option<&sched::SharedSpace>, addr: u64) -> Option<u64> {
    let (phys, rights) = space?.lock().translate(addr)?;
    if !rights.user || !rights.write {
        return None;
    }
    paging::write_phys_u32(phys, 1);
    Some(phys)
}

fn start_reaper() {
    let reaper = REAPER.call_once(|| sched::spawn_kernel(reaper_main, 0, None).ok());
    if let Some(tid) = *reaper {
        sched::wake(tid);
    }
}

/// Kills told processes once their grace has run out; sleeps while none is waiting.
extern "C" fn reaper_main(_: u64) {
    let grace = (INTERRUPT_GRACE_MS * time::HZ).div_ceil(1000);
    loop {
        let now = time::ticks();
        let (overdue, next) = {
            let mut table = TABLE.lock();
            let mut overdue = Vec::new();
            let mut next: Option<u64> = None;
            let told: Vec<(Pid, u64)> = table
                .processes
                .values()
                .filter(|p| p.state == State::Alive)
                .filter_map(|p| p.told_at.map(|at| (p.pid, at)))
                .collect();
            for (pid, at) in told {
                if now >= at + grace {
                    overdue.extend(kill_interrupted(&mut table, pid));
                    if let Some(p) = table.processes.get_mut(&pid) {
                        p.told_at = None;
                    }
                } else {
                    next = Some(next.map_or(at + grace, |n| n.min(at + grace)));
                }
            }
            (overdue, next)
        };
        sched::kill_threads(&overdue);
        match next {
            Some(tick) => sched::sleep_until(tick),
            // Looked again with interrupts off: a Ctrl-C's wake-up cannot come in between.
            None => x86_64::instructions::interrupts::without_interrupts(|| {
                let waiting = TABLE
                    .lock()
                    .processes
                    .values()
                    .any(|p| p.state == State::Alive && p.told_at.is_some());
                if !waiting {
                    sched::block_current();
                }
            }),
        }
    }
}
