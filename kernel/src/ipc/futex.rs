//! Futex waits on shared memory, keyed by physical address so that two address spaces mapping
//! the same frame meet on the same queue.
//!
//! `futex_wait(addr, expected, timeout)` checks the 32-bit word at `addr` and sleeps only if it
//! still holds `expected`; the check and the enqueue happen with interrupts disabled under the
//! scheduler lock, so a `futex_wake` cannot slip in between. Ring users sleep this way: set the
//! "waiting" flag, check the ring once more, then `futex_wait` on the flag.

use alloc::collections::{BTreeMap, VecDeque};

use lux9_abi::Error;

use crate::arch::paging;
use crate::arch::sync::IrqMutex;
use crate::ipc::Wait;
use crate::sched::{self, After, Tid};
use crate::uaccess::UserSlice;

/// Waiting threads by the physical address of their word.
static QUEUES: IrqMutex<BTreeMap<u64, VecDeque<Tid>>> = IrqMutex::new(BTreeMap::new());

/// The physical address of the caller's aligned u32 at `addr`.
fn physical_word(addr: usize) -> Result<u64, Error> {
    if !addr.is_multiple_of(4) {
        return Err(Error::InvalidArgument);
    }
    UserSlice::new(addr, 4)?;
    let space = sched::current_space().ok_or(Error::InvalidArgument)?;
    let translated = space.lock().translate(addr as u64);
    match translated {
        Some((phys, rights)) if rights.user => Ok(phys),
        _ => Err(Error::BadAddress),
    }
}

pub fn wait(addr: usize, expected: u32, timeout_ms: u64) -> Result<(), Error> {
    let phys = physical_word(addr)?;
    let deadline = (timeout_ms != 0).then(|| {
        crate::time::ticks() + (timeout_ms.min(86_400_000) * crate::time::HZ).div_ceil(1000) + 1
    });
    sched::ipc_op(|s| {
        // Interrupts are off and this CPU is the only one: the word cannot change between
        // this read and the enqueue except by this thread.
        let me = s.current();
        if paging::read_phys_u32(phys) != expected {
            s.thread(me).ipc.stats.futex_skips += 1;
            return (Err(Error::WouldBlock), After::Continue);
        }
        // Killed, or the word is in a ring whose other side has gone: nobody would wake it.
        if s.thread(me).is_killed() || crate::ipc::ring::page_orphaned(phys & !0xfff) {
            return (Err(Error::PeerDead), After::Continue);
        }
        QUEUES.lock().entry(phys).or_default().push_back(me);
        s.thread(me).ipc.wait = Wait::Futex { key: phys };
        if let Some(deadline) = deadline {
            s.sleep_current_until(deadline);
        }
        s.thread(me).ipc.stats.futex_sleeps += 1;
        s.block_current_thread();
        (Ok(()), After::Block)
    })?;
    sched::with_state(|s| {
        let me = s.current();
        let ipc = &mut s.thread(me).ipc;
        ipc.wait = Wait::None;
        if let Some(error) = ipc.error.take() {
            return Err(error);
        }
        // Still queued: the timer woke us, not a futex_wake.
        let mut queues = QUEUES.lock();
        if let Some(queue) = queues.get_mut(&phys)
            && let Some(at) = queue.iter().position(|&t| t == me)
        {
            queue.remove(at);
            if queue.is_empty() {
                queues.remove(&phys);
            }
            return Err(Error::TimedOut);
        }
        Ok(())
    })
}

/// Wakes up to `count` waiters on the caller's word at `addr`; returns how many woke.
pub fn wake(addr: usize, count: usize) -> Result<usize, Error> {
    let phys = physical_word(addr)?;
    Ok(wake_physical(phys, count, None))
}

/// Wakes up to `count` waiters on the word at physical `phys`, with `error` if given.
pub fn wake_physical(phys: u64, count: usize, error: Option<Error>) -> usize {
    sched::with_state(|s| {
        let woken: alloc::vec::Vec<Tid> = {
            let mut queues = QUEUES.lock();
            let Some(queue) = queues.get_mut(&phys) else {
                return 0;
            };
            let take = count.min(queue.len());
            let woken = queue.drain(..take).collect();
            if queue.is_empty() {
                queues.remove(&phys);
            }
            woken
        };
        for &tid in &woken {
            let ipc = &mut s.thread(tid).ipc;
            ipc.wait = Wait::None;
            ipc.error = error;
            s.unblock(tid);
        }
        woken.len()
    })
}

/// Wakes every waiter on a word in `[start, end)` with `error` (a ring going away).
pub fn wake_range(start: u64, end: u64, error: Error) {
    let keys: alloc::vec::Vec<u64> = QUEUES.lock().range(start..end).map(|(&k, _)| k).collect();
    for key in keys {
        wake_physical(key, usize::MAX, Some(error));
    }
}

/// Drops a thread that ends from every queue.
pub fn forget(tid: Tid) {
    let mut queues = QUEUES.lock();
    for queue in queues.values_mut() {
        queue.retain(|&t| t != tid);
    }
    queues.retain(|_, queue| !queue.is_empty());
}

/// Wakes every thread of process `owner` waiting on a word in `[start, end)` (a `notify`).
pub fn wake_owned_by(start: u64, end: u64, owner: crate::process::Pid) -> usize {
    sched::with_state(|s| {
        let woken: alloc::vec::Vec<Tid> = {
            let mut queues = QUEUES.lock();
            let mut woken = alloc::vec::Vec::new();
            for (_, queue) in queues.range_mut(start..end) {
                queue.retain(|&tid| {
                    let mine = s.thread_opt(tid).is_some_and(|t| t.pid == owner);
                    if mine {
                        woken.push(tid);
                    }
                    !mine
                });
            }
            queues.retain(|_, queue| !queue.is_empty());
            woken
        };
        for &tid in &woken {
            s.thread(tid).ipc.wait = crate::ipc::Wait::None;
            s.unblock(tid);
        }
        woken.len()
    })
}
