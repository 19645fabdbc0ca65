//! The waiting flags: a side sleeps only where the peer will see it sleeping, and the peer makes
//! a notify system call only when the side sleeps.
//!
//! Each side has a flag word in the header (`server_waiting`, `client_waiting`), which is also
//! the futex word it sleeps on.
//!
//! - **Sleeper** (the consumer of a ring with nothing to read): store 1 in its flag, SeqCst
//!   fence, Acquire-load the ring's tail. Entries there: store 0 and do not sleep. None: sleep
//!   with `futex_wait(flag, 1)`; after waking (or timing out), store 0 and look again.
//! - **Waker** (the producer, after publishing with its Release tail store): SeqCst fence, load
//!   the peer's flag. Zero: done, no system call. Nonzero: swap in 0 and, if the swap returned
//!   nonzero, make the notify system call (a futex wake on the flag's physical address).
//!
//! Why no wake-up is lost: the sleeper does *store flag; fence; load tail* and the waker does
//! *store tail; fence; load flag*. With both fences sequentially consistent, one fence comes
//! first in their single total order, and the side whose fence comes second sees the other's
//! store. So either the sleeper sees the new tail and stays awake, or the waker sees the flag
//! and notifies (and `futex_wait(flag, 1)` returns at once if the waker's swap got there
//! first). Without the fences x86 may complete each load before the other side's store, its
//! own store still sitting in the store buffer, and both would miss each other.
//!
//! The cost when the peer is awake is one fence and one load of a cache line nobody is writing:
//! tens of cycles, no system call. A notify may still reach a peer that is already awake (it
//! cleared its flag after finding work); that costs a system call, never correctness, because
//! a sleeper always looks at the ring again after waking. The flags are only hints: a peer
//! that writes garbage into them gains nothing but extra or missing wake-ups of itself.

use core::sync::atomic::Ordering::Relaxed;

use crate::error::RingError;
use crate::memory::Memory;

/// Announces that we are about to sleep: store 1 in `flag`, then a SeqCst fence. The caller
/// then looks at its ring once more before sleeping.
pub(crate) fn announce_sleep<M: Memory + ?Sized>(memory: &M, flag: usize) -> Result<(), RingError> {
    memory.store_u32(flag, 1, Relaxed)?;
    memory.fence_seq_cst();
    Ok(())
}

/// Counts one sleep avoided in the side's own `skips` word (it alone writes it).
pub(crate) fn count_skip<M: Memory + ?Sized>(memory: &M, skips: usize) -> Result<(), RingError> {
    let count = memory.load_u32(skips, Relaxed)?;
    memory.store_u32(skips, count.wrapping_add(1), Relaxed)
}

/// Withdraws the announcement: we found work, or woke up.
pub(crate) fn clear<M: Memory + ?Sized>(memory: &M, flag: usize) -> Result<(), RingError> {
    memory.store_u32(flag, 0, Relaxed)
}

/// After publishing: whether the peer sleeps (or is about to) on `flag` and must be notified.
/// Takes the flag (swaps in 0), so one publication makes at most one notify per sleep.
pub(crate) fn take_peer_waiting<M: Memory + ?Sized>(
    memory: &M,
    flag: usize,
) -> Result<bool, RingError> {
    memory.fence_seq_cst();
    if memory.load_u32(flag, Relaxed)? == 0 {
        return Ok(false);
    }
    Ok(memory.swap_u32(flag, 0, Relaxed)? != 0)
}
