//! The IPC fastpath, taken at system-call entry (after seL4's `fastpath.c`).
//!
//! The entry code (`arch::syscall`) builds the caller's frame (its user registers: the frame is
//! the caller's saved state, which it needs while it waits) and, for `call` and `reply_recv`,
//! calls [`take_call`] or [`take_reply_recv`] with interrupts still disabled by `syscall`, before the generic dispatch, which
//! runs a short list of guards, each a [`FastpathGuard`], in the order below. If one fails it
//! counts it ([`fallbacks`]) and changes nothing, and the entry code goes on to the generic
//! dispatch, whose slowpath (`ipc::call`, `ipc::reply_recv`) defines what the operation does.
//! If all hold, it writes the message into the peer's frame, records both waits, and switches
//! straight to the peer, under one scheduler-lock acquisition and without a run-queue pass.
//!
//! 1. `NotShort`: the message fits in registers (at most 64 bytes, no long flag).
//! 2. `Disabled`: the `Fastpath` knob is on.
//! 3. `NoPeer`: the destination is another process with a live thread.
//! 4. `NotWaiting`: that thread is blocked waiting for exactly this message ([`Wait::accepts`]
//!    the caller for `call`, [`Wait::awaits_reply_from`] the caller for `reply_recv`), the same
//!    predicates the slowpath uses.
//! 5. `LessUrgent`: the peer is at least as urgent as the caller, so running it now is what
//!    the scheduler would do anyway.
//! 6. `Pending`: for `reply_recv`, nothing already waits for the caller ([`ThreadIpc::has_pending`]:
//!    a queued sender or a kernel notification), so its receive would block.
//!
//! Two conditions need no guard. Both threads are on this CPU (there is one). And the caller
//! is not marked killed: `kill` marks threads that are not running, and every way back to
//! ring 3 (the system-call return, the interrupt and exception return, a new thread's first
//! entry) ends a marked thread first, so a thread that executes `syscall` is never marked, and
//! interrupts stay off from `syscall` to the switch, so no kill can mark it meanwhile.
//!
//! [`ThreadIpc::has_pending`]: super::ThreadIpc::has_pending

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lux9_abi::ipc::{FastpathGuard, MsgInfo};

use super::{Wait, find_peer};
use crate::arch::context::EntrySwitch;
use crate::arch::syscall::{SyscallFrame, deliver_to_blocked};
use crate::process::Pid;
use crate::sched::{self, Scheduler, ThreadState, Tid};

/// Whether the fastpath may be taken (the `Fastpath` knob).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Fallbacks to the slowpath, by guard.
static FALLBACKS: [AtomicU64; FastpathGuard::COUNT] =
    [const { AtomicU64::new(0) }; FastpathGuard::COUNT];

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Times `guard` sent a `call` or `reply_recv` to the slowpath since boot.
pub fn fallbacks(guard: FastpathGuard) -> u64 {
    FALLBACKS[guard as usize].load(Ordering::Relaxed)
}

/// The fastpath for a `call` (see the module documentation), called by the system-call
/// entry with interrupts disabled and the caller's `frame` built. Returns the switch for the
/// entry code to make, or [`EntrySwitch::NONE`] (a guard failed, nothing changed) for the
/// generic dispatch.
pub extern "C" fn take_call(frame: &SyscallFrame) -> EntrySwitch {
    take::<CALL>(frame)
}

/// The fastpath for a `reply_recv`, as [`take_call`].
pub extern "C" fn take_reply_recv(frame: &SyscallFrame) -> EntrySwitch {
    take::<REPLY_RECV>(frame)
}

/// Which operation is being completed: `call` (the peer must be receiving from the caller or
/// anyone; the caller then awaits its reply) or `reply_recv` (the peer must await the caller's
/// reply; the caller then receives from anyone). A constant, so each entry is compiled for its
/// own operation.
type Kind = bool;
const CALL: Kind = true;
const REPLY_RECV: Kind = false;

#[inline(always)]
fn take<const KIND: Kind>(frame: &SyscallFrame) -> EntrySwitch {
    let guard = if !MsgInfo::is_short_word(frame.rsi) {
        FastpathGuard::NotShort
    } else if !enabled() {
        FastpathGuard::Disabled
    } else {
        match sched::with_state_interrupts_off(|s| hand_off::<KIND>(s, frame)) {
            Ok(switch) => return switch,
            Err(guard) => guard,
        }
    };
    FALLBACKS[guard as usize].fetch_add(1, Ordering::Relaxed);
    EntrySwitch::NONE
}

/// A peer not in the cache: the table lookup, kept out of line so that the usual path stays
/// short (and needs fewer registers).
#[cold]
#[inline(never)]
fn look_up_peer(s: &mut Scheduler, me: Tid, pid: Pid) -> Option<Tid> {
    find_peer(s, me, pid)
}

/// Runs the guards and, if they all hold, hands the message over and decides the switch.
#[inline(always)]
fn hand_off<const KIND: Kind>(
    s: &mut Scheduler,
    frame: &SyscallFrame,
) -> Result<EntrySwitch, FastpathGuard> {
    let dest_pid = frame.ipc_peer();
    let me = s.current();
    // The peer cache first (a pid check below confirms it), then the table.
    let dest = match s.thread(me).ipc.peer_cache {
        Some((pid, tid)) if pid == dest_pid => tid,
        _ => look_up_peer(s, me, dest_pid).ok_or(FastpathGuard::NoPeer)?,
    };
    // None also when `dest` is the caller itself.
    let hand_over = s.hand_over_to(dest).ok_or(FastpathGuard::NoPeer)?;
    let (mine, theirs) = (&mut *hand_over.prev, &mut *hand_over.next);
    if theirs.pid != dest_pid {
        // A stale cache entry (the thread id was reused): the slowpath looks it up again.
        return Err(FastpathGuard::NoPeer);
    }
    debug_assert!(!mine.is_killed(), "a killed thread entered a system call");
    let waiting = theirs.state == ThreadState::Blocked
        && if KIND == CALL {
            theirs.ipc.wait.accepts(mine.pid)
        } else {
            theirs.ipc.wait.awaits_reply_from(me)
        };
    if !waiting {
        return Err(FastpathGuard::NotWaiting);
    }
    if theirs.priority > mine.priority {
        return Err(FastpathGuard::LessUrgent);
    }
    if KIND == REPLY_RECV && mine.ipc.has_pending() {
        return Err(FastpathGuard::Pending);
    }
    // A thread blocked in IPC is a user thread, which has a kernel stack.
    let top = theirs.stack_top().ok_or(FastpathGuard::NoPeer)?;
    deliver_to_blocked(top, mine.pid.raw() as u64, frame);
    theirs.ipc.wait = Wait::None;
    mine.ipc.wait = if KIND == CALL {
        Wait::AwaitingReply { from: dest }
    } else {
        Wait::Receiving { from: None }
    };
    mine.ipc.stats.fastpath += 1;
    mine.state = ThreadState::Blocked;
    Ok(hand_over.switch().by_entry_code())
}
