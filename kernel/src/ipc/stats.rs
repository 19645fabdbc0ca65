//! The `ipc_stats` counters, system-wide and per process.
//!
//! Each thread counts its own messages and ring transfers ([`ThreadCounters`]); a process's
//! figures are its live threads' plus those of its threads that ended, and the system-wide
//! figures are every thread's plus every ended thread's. Context switches come from the
//! scheduler, which also times its switch path for `cycles_per_switch`.

use core::ops::AddAssign;

use lux9_abi::ipc::IpcStats;

use crate::arch::sync::IrqMutex;
use crate::process::Pid;
use crate::sched;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadCounters {
    pub fastpath: u64,
    pub slowpath: u64,
    pub zero_copy: u64,
    pub batched: u64,
    pub batches: u64,
    /// Sleeps avoided because the work was already there: the ring sides' own checks (read
    /// from the ring header) and `futex_wait`s whose word had already changed.
    pub futex_skips: u64,
    /// `futex_wait`s that did put the thread to sleep.
    pub futex_sleeps: u64,
}

impl AddAssign for ThreadCounters {
    fn add_assign(&mut self, other: Self) {
        self.fastpath += other.fastpath;
        self.slowpath += other.slowpath;
        self.zero_copy += other.zero_copy;
        self.batched += other.batched;
        self.batches += other.batches;
        self.futex_skips += other.futex_skips;
        self.futex_sleeps += other.futex_sleeps;
    }
}

/// Counters of threads that have ended.
static RETIRED: IrqMutex<ThreadCounters> = IrqMutex::new(ThreadCounters {
    fastpath: 0,
    slowpath: 0,
    zero_copy: 0,
    batched: 0,
    batches: 0,
    futex_skips: 0,
    futex_sleeps: 0,
});

/// Adds an ending thread's counters to the system-wide total.
pub fn retire(counters: ThreadCounters) {
    *RETIRED.lock() += counters;
}

fn to_stats(counters: ThreadCounters, switches: u64) -> IpcStats {
    IpcStats {
        total_switches: switches,
        fastpath_hits: counters.fastpath,
        slowpath_messages: counters.slowpath,
        zero_copy_transfers: counters.zero_copy,
        batched_operations: counters.batched,
        batches: counters.batches,
        avg_batch_size_x100: (counters.batched * 100)
            .checked_div(counters.batches)
            .unwrap_or(0),
        cycles_per_switch: sched::cycles_per_switch(),
        futex_skips: counters.futex_skips,
        futex_sleeps: counters.futex_sleeps,
    }
}

/// System-wide statistics.
pub fn system() -> IpcStats {
    let mut total = *RETIRED.lock();
    total += sched::with_state(|s| {
        let mut sum = ThreadCounters::default();
        let ids: alloc::vec::Vec<_> = s.thread_ids().collect();
        for tid in ids {
            sum += s.thread(tid).ipc.stats;
        }
        sum
    });
    to_stats(total, sched::total_switches())
}

/// Statistics of process `pid` (its ended threads' counters included).
pub fn process(pid: Pid) -> Option<IpcStats> {
    let (retired, switches) = crate::process::retired_ipc(pid)?;
    let mut total = retired;
    total += sched::with_state(|s| {
        let mut sum = ThreadCounters::default();
        let ids: alloc::vec::Vec<_> = s.thread_ids().collect();
        for tid in ids {
            let thread = s.thread(tid);
            if thread.pid == pid {
                sum += thread.ipc.stats;
            }
        }
        sum
    });
    Some(to_stats(total, switches))
}
