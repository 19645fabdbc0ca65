//! Synchronous message passing between processes, addressed by pid.
//!
//! Operations: `send`, `receive` (from anyone or one peer), `call` (send, then wait for the
//! peer's reply), `reply`, and `reply_recv` (reply, then receive: a server's whole loop in one
//! system call). The register layout is in `lux9_abi::ipc`.
//!
//! A thread blocked in an IPC operation sits inside a system call, so its user registers are in
//! its syscall frame at the top of its kernel stack. Whoever completes the operation writes the
//! result straight into that frame: the message (sender, info and the eight words), a plain
//! success, or an error such as `PeerDead`. The woken thread only returns to user mode (and,
//! for a long message, copies the bytes kept in its inbox into its IPC buffer).
//!
//! **The slowpath defines the behaviour.** A sender whose receiver is not waiting queues at the
//! receiver with its message copied into the kernel (short ones inline, long ones in a heap
//! buffer); when the receiver is waiting it gets the message in its frame and becomes ready.
//! Either way the scheduler then runs whoever is next.
//!
//! **The fastpath is a guarded shortcut** (after seL4's `fastpath.c`): a `call` or `reply_recv`
//! with a short message (at most 64 bytes, in registers) whose peer is already blocked waiting
//! for exactly this message and is at least as urgent as the caller hands the message over and
//! switches straight to the peer: one scheduler-lock acquisition, no run-queue pass, no buffer.
//! It runs at system-call entry, before the dispatch ([`fastpath`]), and checks the same wait
//! predicates as the slowpath ([`Wait::accepts`], [`Wait::awaits_reply_from`],
//! [`ThreadIpc::has_pending`]). Any other case takes the slowpath; both leave the receiver's
//! registers the same. The `Fastpath` knob turns the shortcut off, which the equivalence test
//! uses.
//!
//! **Peer death.** When a thread ends, everyone blocked on it (senders in its queue, callers
//! waiting for its reply, receivers waiting for it by pid) wakes with `PeerDead`.

pub mod fastpath;
pub mod futex;
pub mod ring;
pub mod stats;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use lux9_abi::Error;
use lux9_abi::ipc::{LONG_MAX, MsgInfo, Words};

use crate::arch::syscall::{SyscallFrame, read_after_wake, with_blocked_frame};
use crate::process::Pid;
use crate::sched::{self, After, Scheduler, Tid};
use crate::uaccess::UserSlice;

/// How many times a ring server polls before it sleeps (the `PollSpins` knob; servers read it).
/// 0 by default: with one CPU the peer cannot make progress while the server spins.
static POLL_SPINS: AtomicU32 = AtomicU32::new(0);

pub fn poll_spins() -> u32 {
    POLL_SPINS.load(Ordering::Relaxed)
}

pub fn set_poll_spins(spins: u32) {
    POLL_SPINS.store(spins, Ordering::Relaxed);
}

/// A message in flight.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub sender: Pid,
    pub info: MsgInfo,
    pub words: Words,
    /// The bytes of a long message.
    pub long: Option<Vec<u8>>,
}

/// What a thread waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wait {
    #[default]
    None,
    /// Blocked in receive, from anyone (`None`) or one process.
    Receiving { from: Option<Pid> },
    /// Queued at `to`'s thread with a message; `call` also waits for the reply.
    Sending { to: Tid, call: bool },
    /// Waiting for `from`'s thread to reply.
    AwaitingReply { from: Tid },
    /// In `futex_wait` on the word at physical address `key`.
    Futex { key: u64 },
}

impl Wait {
    /// A thread in this wait takes a message from process `sender` the moment it is sent:
    /// it receives from anyone, or from `sender`.
    #[inline]
    pub fn accepts(self, sender: Pid) -> bool {
        match self {
            Wait::Receiving { from: None } => true,
            Wait::Receiving { from: Some(pid) } => pid == sender,
            _ => false,
        }
    }

    /// A thread in this wait takes thread `replier`'s reply.
    #[inline]
    pub fn awaits_reply_from(self, replier: Tid) -> bool {
        self == Wait::AwaitingReply { from: replier }
    }
}

/// Per-thread IPC state, kept in the scheduler's thread table.
#[derive(Debug, Default)]
pub struct ThreadIpc {
    pub wait: Wait,
    /// The bytes of a long message delivered while blocked, copied out when the thread runs.
    pub inbox: Option<Vec<u8>>,
    /// Why a futex wait ended early (the ring went away).
    pub error: Option<Error>,
    /// The message this thread is trying to send, while it waits in a queue.
    pub outgoing: Option<Message>,
    /// Threads blocked sending to this one, oldest first.
    pub senders: VecDeque<Tid>,
    /// The registered buffer for long messages.
    pub buffer: Option<UserSlice>,
    /// The last peer looked up, (pid, thread): saves the table lookup on repeated calls.
    pub(crate) peer_cache: Option<(Pid, Tid)>,
    pub stats: stats::ThreadCounters,
    /// Kernel notification bits not yet delivered (see [`notify`]).
    pub notifications: u64,
}

impl ThreadIpc {
    /// Whether a receive from anyone finds something at once: a queued sender or a
    /// notification.
    #[inline]
    pub fn has_pending(&self) -> bool {
        !self.senders.is_empty() || self.notifications != 0
    }
}

// ---- writing into blocked threads' frames ----

fn blocked_frame<R>(s: &mut Scheduler, tid: Tid, f: impl FnOnce(&mut SyscallFrame) -> R) -> R {
    let top = s
        .thread(tid)
        .stack_top()
        .expect("threads in IPC are user threads with a kernel stack");
    with_blocked_frame(top, f)
}

/// Delivers `message` to `tid`, blocked in a receive or awaiting a reply, and makes it ready
/// unless the caller is about to switch to it directly.
fn deliver_to(s: &mut Scheduler, tid: Tid, message: Message, wake: bool) {
    blocked_frame(s, tid, |frame| {
        frame.set_message(
            message.sender.raw() as u64,
            message.info.to_word(),
            &message.words,
        )
    });
    let ipc = &mut s.thread(tid).ipc;
    ipc.inbox = message.long;
    ipc.wait = Wait::None;
    if wake {
        s.unblock(tid);
    }
}

/// Ends `tid`'s blocking operation with `error` (0 = plain success) and makes it ready.
fn finish_blocked(s: &mut Scheduler, tid: Tid, error: usize) {
    blocked_frame(s, tid, |frame| frame.set_result(error, 0));
    let ipc = &mut s.thread(tid).ipc;
    ipc.wait = Wait::None;
    ipc.outgoing = None;
    s.unblock(tid);
}

/// After the running thread woke from a blocking IPC operation: the operation's outcome, as
/// the waker wrote it into this thread's frame. Copies a long message into the IPC buffer.
fn finish(frame: &mut SyscallFrame) -> Result<(), Error> {
    Error::check(read_after_wake(&frame.rax) as usize)?;
    let long = MsgInfo::from_word(read_after_wake(&frame.rsi)).is_some_and(|info| info.long);
    if long {
        let (bytes, buffer) = sched::with_state(|s| {
            let me = s.current();
            let ipc = &mut s.thread(me).ipc;
            (ipc.inbox.take(), ipc.buffer)
        });
        if let Some(bytes) = bytes {
            let slice = buffer
                .and_then(|b| b.prefix(bytes.len()))
                .ok_or(Error::MessageTooLong)?;
            slice.write_from(&bytes)?;
        }
    }
    Ok(())
}

/// The end of a `call` or `reply_recv` whose thread blocked in the fastpath and woke to a
/// result that needs more than the return to ring 3: a long message to copy into its IPC
/// buffer (see [`fastpath`]); the entry's generic path runs it, then the kill check. Runs with
/// interrupts enabled.
pub fn finish_woken(frame: &mut SyscallFrame) {
    if let Err(error) = finish(frame) {
        frame.rax = error as u64;
    }
}

/// Blocks the running thread (state already recorded) and returns its outcome when it wakes.
fn block_and_finish(frame: &mut SyscallFrame) -> Result<(), Error> {
    // The waker writes this frame while we sleep; make sure the compiler knows it escaped.
    core::hint::black_box(&mut *frame);
    let killed = sched::ipc_op(|s| {
        // The operation was recorded with interrupts enabled afterwards: a peer preempting us,
        // or an interrupt handler's notification, may have completed it already (and found
        // this thread not yet blocked, so did not wake it). Then there is nothing to wait for.
        let me = s.current();
        if s.thread(me).ipc.wait == Wait::None {
            return (false, After::Continue);
        }
        // Killed while it was recording the wait: it must not sleep now, since the kill has
        // already looked for it among the blocked.
        if s.thread(me).is_killed() {
            cancel_wait(s, me);
            return (true, After::Continue);
        }
        s.block_current_thread();
        (false, After::Block)
    });
    if killed {
        return Err(Error::PeerDead);
    }
    finish(frame)
}

/// Takes `tid` out of whatever it waits for: the queue of the receiver it sends to, or a
/// futex queue. Its peers see it as gone (a later reply to it is refused).
fn cancel_wait(s: &mut Scheduler, tid: Tid) {
    match s.thread(tid).ipc.wait {
        Wait::Sending { to, .. } => {
            if let Some(receiver) = s.thread_opt(to) {
                receiver.ipc.senders.retain(|&t| t != tid);
            }
        }
        Wait::Futex { .. } => futex::forget(tid),
        Wait::None | Wait::Receiving { .. } | Wait::AwaitingReply { .. } => {}
    }
    let ipc = &mut s.thread(tid).ipc;
    ipc.wait = Wait::None;
    ipc.outgoing = None;
}

/// Ends the IPC or futex wait of blocked thread `tid` (whose process is being killed) with
/// `error`, and makes it ready. Returns false if it was not in one.
pub(crate) fn interrupt(s: &mut Scheduler, tid: Tid, error: Error) -> bool {
    match s.thread(tid).ipc.wait {
        Wait::None => false,
        Wait::Futex { .. } => {
            cancel_wait(s, tid);
            s.thread(tid).ipc.error = Some(error);
            s.unblock(tid);
            true
        }
        _ => {
            cancel_wait(s, tid);
            finish_blocked(s, tid, error as usize);
            true
        }
    }
}

// ---- the operations ----

/// Reads the message the caller is sending from its registers (and IPC buffer, if long).
fn outgoing_message(frame: &SyscallFrame, sender: Pid) -> Result<Message, Error> {
    let info = MsgInfo::from_word(frame.rsi).ok_or(Error::InvalidArgument)?;
    if !info.long {
        return Ok(Message {
            sender,
            info,
            words: frame.message_words(),
            long: None,
        });
    }
    let buffer = sched::with_state(|s| {
        let me = s.current();
        s.thread(me).ipc.buffer
    });
    let slice = buffer
        .and_then(|b| b.prefix(info.len))
        .ok_or(Error::MessageTooLong)?;
    let bytes = slice.read_to_vec()?;
    Ok(Message {
        sender,
        info,
        words: [0; 8],
        long: Some(bytes),
    })
}

/// The live thread of process `pid`, found through thread `me`'s one-entry cache (checked
/// still to belong to `pid`) or else the scheduler's table, which then fills the cache. Both
/// paths look peers up here.
#[inline]
pub(crate) fn find_peer(s: &mut Scheduler, me: Tid, pid: Pid) -> Option<Tid> {
    if let Some((cached_pid, tid)) = s.thread(me).ipc.peer_cache
        && cached_pid == pid
        && s.thread_opt(tid)
            .is_some_and(|t| t.pid == pid && t.state != sched::ThreadState::Dead)
    {
        return Some(tid);
    }
    let tid = s.thread_of(pid)?;
    s.thread(me).ipc.peer_cache = Some((pid, tid));
    Some(tid)
}

/// Finds the thread of process `pid`, or why there is none.
fn peer(s: &mut Scheduler, pid: Pid) -> Result<Tid, Error> {
    let me = s.current();
    find_peer(s, me, pid).ok_or_else(|| {
        if crate::process::ever_existed(pid) {
            Error::PeerDead
        } else {
            Error::NotFound
        }
    })
}

/// Queues the running thread's `message` at `dest` (slowpath), or hands it over if `dest` is
/// waiting for it. With `call`, the running thread then waits for the reply. Returns whether
/// the running thread must block.
fn slow_send(s: &mut Scheduler, dest: Tid, message: Message, call: bool) -> bool {
    let me = s.current();
    s.thread(me).ipc.stats.slowpath += 1;
    if s.thread(dest).ipc.wait.accepts(message.sender) {
        deliver_to(s, dest, message, true);
        if call {
            s.thread(me).ipc.wait = Wait::AwaitingReply { from: dest };
        }
        return call;
    }
    let ipc = &mut s.thread(me).ipc;
    ipc.outgoing = Some(message);
    ipc.wait = Wait::Sending { to: dest, call };
    s.thread(dest).ipc.senders.push_back(me);
    true
}

fn check_not_self(pid: Pid) -> Result<(), Error> {
    if pid == sched::current_pid() {
        Err(Error::InvalidArgument)
    } else {
        Ok(())
    }
}

pub fn send(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.ipc_peer();
    check_not_self(dest_pid)?;
    let message = outgoing_message(frame, sched::current_pid())?;
    let blocked = sched::with_state(|s| -> Result<bool, Error> {
        let dest = peer(s, dest_pid)?;
        Ok(slow_send(s, dest, message, false))
    })?;
    if blocked {
        return block_and_finish(frame);
    }
    frame.set_result(0, 0);
    Ok(())
}

/// Takes the oldest queued sender that `from` accepts into the running thread's `frame`,
/// completing that send (or moving a caller on to waiting for the reply).
fn take_queued(
    s: &mut Scheduler,
    frame: &mut SyscallFrame,
    from: Option<Pid>,
) -> Option<Option<Vec<u8>>> {
    let me = s.current();
    let position = {
        let senders: Vec<Tid> = s.thread(me).ipc.senders.iter().copied().collect();
        senders
            .iter()
            .position(|&t| from.is_none_or(|pid| s.thread_opt(t).is_some_and(|t| t.pid == pid)))?
    };
    let sender = s.thread(me).ipc.senders.remove(position)?;
    let message = s.thread(sender).ipc.outgoing.take()?;
    frame.set_message(
        message.sender.raw() as u64,
        message.info.to_word(),
        &message.words,
    );
    match s.thread(sender).ipc.wait {
        Wait::Sending { call: true, .. } => {
            s.thread(sender).ipc.wait = Wait::AwaitingReply { from: me }
        }
        _ => finish_blocked(s, sender, 0),
    }
    Some(message.long)
}

/// The message that carries kernel notification `bits`.
fn notification(bits: u64) -> Message {
    let mut words = [0u64; 8];
    words[0] = bits;
    Message {
        sender: crate::process::KERNEL_PID,
        info: MsgInfo::short(8, lux9_abi::ipc::NOTIFICATION_LABEL),
        words,
        long: None,
    }
}

/// Sends kernel notification `bits` to thread `tid`: at once if it waits in `receive` from
/// anyone, otherwise when it next receives from anyone. Callable from interrupt handlers.
pub fn notify(tid: Tid, bits: u64) {
    sched::with_state(|s| {
        let Some(thread) = s.thread_opt(tid) else {
            return;
        };
        let pending = core::mem::take(&mut thread.ipc.notifications) | bits;
        // A thread receiving from anyone takes it now, like a sender's message: even if it
        // has not blocked yet (it then finds its receive complete and does not block).
        if thread.ipc.wait == (Wait::Receiving { from: None }) {
            deliver_to(s, tid, notification(pending), true);
        } else {
            s.thread(tid).ipc.notifications = pending;
        }
    });
}

/// Receives into the running thread's registers: a queued message, or blocks until one comes.
fn receive_into(frame: &mut SyscallFrame, from: Option<Pid>) -> Result<(), Error> {
    let queued = sched::with_state(|s| -> Result<Option<Option<Vec<u8>>>, Error> {
        if let Some(pid) = from {
            peer(s, pid)?;
        }
        let me = s.current();
        if from.is_none() && s.thread(me).ipc.notifications != 0 {
            let bits = core::mem::take(&mut s.thread(me).ipc.notifications);
            let message = notification(bits);
            frame.set_message(0, message.info.to_word(), &message.words);
            return Ok(Some(None));
        }
        match take_queued(s, frame, from) {
            Some(long) => Ok(Some(long)),
            None => {
                let me = s.current();
                s.thread(me).ipc.wait = Wait::Receiving { from };
                Ok(None)
            }
        }
    })?;
    match queued {
        None => block_and_finish(frame),
        Some(None) => Ok(()),
        Some(Some(bytes)) => {
            let buffer = sched::with_state(|s| {
                let me = s.current();
                s.thread(me).ipc.buffer
            });
            let slice = buffer
                .and_then(|b| b.prefix(bytes.len()))
                .ok_or(Error::MessageTooLong)?;
            slice.write_from(&bytes)
        }
    }
}

pub fn receive(frame: &mut SyscallFrame) -> Result<(), Error> {
    let from = Some(frame.ipc_peer()).filter(|pid| pid.raw() != 0);
    if let Some(pid) = from {
        check_not_self(pid)?; // nobody else could ever wake it
    }
    receive_into(frame, from)
}

pub fn call(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.ipc_peer();
    check_not_self(dest_pid)?;
    let message = outgoing_message(frame, sched::current_pid())?;
    sched::with_state(|s| -> Result<(), Error> {
        let dest = peer(s, dest_pid)?;
        slow_send(s, dest, message, true);
        Ok(())
    })?;
    block_and_finish(frame)
}

/// Answers `dest`, which waits for the running thread's reply (slowpath).
fn reply_to(s: &mut Scheduler, dest_pid: Pid, message: Message) -> Result<(), Error> {
    let dest = peer(s, dest_pid)?;
    let me = s.current();
    if !s.thread(dest).ipc.wait.awaits_reply_from(me) {
        // A caller killed while it waited (`kill`, Ctrl-C) no longer waits but may not have
        // ended yet: for the server that is a peer gone, not a mistake of its own.
        if s.thread(dest).is_killed() {
            return Err(Error::PeerDead);
        }
        return Err(Error::InvalidArgument);
    }
    s.thread(me).ipc.stats.slowpath += 1;
    deliver_to(s, dest, message, true);
    Ok(())
}

pub fn reply(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.ipc_peer();
    let message = outgoing_message(frame, sched::current_pid())?;
    sched::with_state(|s| reply_to(s, dest_pid, message))?;
    frame.set_result(0, 0);
    Ok(())
}

pub fn reply_recv(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.ipc_peer();
    if dest_pid.raw() == 0 {
        return receive_into(frame, None);
    }
    let message = outgoing_message(frame, sched::current_pid())?;
    sched::with_state(|s| reply_to(s, dest_pid, message))?;
    receive_into(frame, None)
}

/// Registers the caller's buffer for long messages (`len` 0 removes it).
pub fn set_buffer(addr: usize, len: usize) -> Result<(), Error> {
    let buffer = if len == 0 {
        None
    } else {
        Some(UserSlice::with_limit(addr, len, LONG_MAX)?)
    };
    sched::with_state(|s| {
        let me = s.current();
        s.thread(me).ipc.buffer = buffer;
    });
    Ok(())
}

/// Wakes everyone blocked on `dying`, which is about to end. Called under the scheduler lock.
pub fn thread_exiting(s: &mut Scheduler, dying: Tid) {
    futex::forget(dying);
    stats::retire(s.thread(dying).ipc.stats);
    let dying_pid = s.thread(dying).pid;
    // Its own send: leave the receiver's queue.
    if let Wait::Sending { to, .. } = s.thread(dying).ipc.wait
        && let Some(receiver) = s.thread_opt(to)
    {
        receiver.ipc.senders.retain(|&t| t != dying);
    }
    let senders: Vec<Tid> = s.thread(dying).ipc.senders.drain(..).collect();
    let waiting: Vec<Tid> = s
        .thread_ids()
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|&t| t != dying)
        .filter(|&t| {
            let wait = s.thread_opt(t).map(|t| t.ipc.wait);
            wait.is_some_and(|wait| {
                wait.awaits_reply_from(dying)
                    || wait
                        == (Wait::Receiving {
                            from: Some(dying_pid),
                        })
            })
        })
        .collect();
    for tid in senders.into_iter().chain(waiting) {
        finish_blocked(s, tid, Error::PeerDead as usize);
    }
}
