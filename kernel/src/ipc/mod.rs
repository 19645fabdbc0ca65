//! Synchronous message passing between processes, addressed by pid.
//!
//! Operations: `send`, `receive` (from anyone or one peer), `call` (send, then wait for the
//! peer's reply), `reply`, and `reply_recv` (reply, then receive: a server's whole loop in one
//! system call). The register layout is in `lux9_abi::ipc`.
//!
//! **The slowpath defines the behaviour.** A message is copied into the kernel (short ones into
//! the sending thread's state, long ones into a heap buffer); if the receiver is waiting it gets
//! the message and becomes ready, otherwise the sender waits in the receiver's queue; the
//! scheduler then runs whoever is next.
//!
//! **The fastpath is a guarded shortcut** (after seL4's `fastpath.c`): a `call` or `reply_recv`
//! with a short message (at most 64 bytes, in registers) whose peer is already blocked waiting
//! for exactly this message, and whose peer is at least as urgent as the caller, hands the
//! message over and switches straight to the peer, with no run-queue pass and no buffer. Any
//! other case takes the slowpath, and both give the receiver the same registers. The
//! `Fastpath` knob turns the shortcut off, which the equivalence test uses.
//!
//! **Peer death.** When a thread ends, everyone blocked on it (senders in its queue, callers
//! waiting for its reply, receivers waiting for it by pid) wakes with `PeerDead`.

pub mod futex;
pub mod ring;
pub mod stats;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use lux9_abi::Error;
use lux9_abi::ipc::{LONG_MAX, MsgInfo, Words};

use crate::arch::syscall::SyscallFrame;
use crate::process::Pid;
use crate::sched::{self, After, Scheduler, Tid};
use crate::uaccess::UserSlice;

/// Whether the fastpath may be taken (the `Fastpath` knob).
static FASTPATH: AtomicBool = AtomicBool::new(true);

pub fn fastpath_enabled() -> bool {
    FASTPATH.load(Ordering::Relaxed)
}

pub fn set_fastpath(enabled: bool) {
    FASTPATH.store(enabled, Ordering::Relaxed);
}

/// How many times a ring server polls before it sleeps (the `PollSpins` knob; servers read it).
static POLL_SPINS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(200);

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

/// Per-thread IPC state, kept in the scheduler's thread table.
#[derive(Debug, Default)]
pub struct ThreadIpc {
    pub wait: Wait,
    /// A message delivered while blocked, taken when the thread runs again.
    pub inbox: Option<Message>,
    /// Why the thread was woken without a message (a dead peer).
    pub error: Option<Error>,
    /// The message this thread is trying to send, while it waits in a queue.
    pub outgoing: Option<Message>,
    /// Threads blocked sending to this one, oldest first.
    pub senders: VecDeque<Tid>,
    /// The registered buffer for long messages.
    pub buffer: Option<UserSlice>,
    pub stats: stats::ThreadCounters,
}

/// Reads the message the caller is sending from its registers (and IPC buffer, if long).
fn outgoing_message(
    frame: &SyscallFrame,
    sender: Pid,
    buffer: Option<UserSlice>,
) -> Result<Message, Error> {
    let info = MsgInfo::from_word(frame.rsi).ok_or(Error::InvalidArgument)?;
    if !info.long {
        return Ok(Message {
            sender,
            info,
            words: frame.message_words(),
            long: None,
        });
    }
    let buffer = buffer.ok_or(Error::MessageTooLong)?;
    let slice = buffer.prefix(info.len).ok_or(Error::MessageTooLong)?;
    let bytes = slice.read_to_vec()?;
    Ok(Message {
        sender,
        info,
        words: [0; 8],
        long: Some(bytes),
    })
}

/// Writes a received message into the caller's registers (and IPC buffer, if long).
fn deliver(
    frame: &mut SyscallFrame,
    message: Message,
    buffer: Option<UserSlice>,
) -> Result<(), Error> {
    if let Some(bytes) = &message.long {
        let slice = buffer
            .and_then(|b| b.prefix(bytes.len()))
            .ok_or(Error::MessageTooLong)?;
        slice.write_from(bytes)?;
    }
    frame.set_message(
        message.sender as u64,
        message.info.to_word(),
        &message.words,
    );
    Ok(())
}

/// The calling thread's registered IPC buffer.
fn my_buffer() -> Option<UserSlice> {
    sched::with_state(|s| {
        let me = s.current();
        s.thread(me).ipc.buffer
    })
}

/// After the caller was woken: its delivered message, or the error it was woken with.
fn take_delivery(s: &mut Scheduler) -> Result<Message, Error> {
    let me = s.current();
    let ipc = &mut s.thread(me).ipc;
    ipc.wait = Wait::None;
    match (ipc.inbox.take(), ipc.error.take()) {
        (Some(message), _) => Ok(message),
        (None, Some(error)) => Err(error),
        (None, None) => Err(Error::PeerDead),
    }
}

/// Finds the thread of process `pid`, or why there is none.
fn peer(s: &Scheduler, pid: Pid) -> Result<Tid, Error> {
    s.thread_of(pid).ok_or_else(|| {
        if crate::process::ever_existed(pid) {
            Error::PeerDead
        } else {
            Error::NotFound
        }
    })
}

fn accepts(wait: Wait, sender: Pid) -> bool {
    matches!(wait, Wait::Receiving { from: None }) || wait == Wait::Receiving { from: Some(sender) }
}

/// Hands `message` to `receiver`, which is blocked in receive, and makes it ready.
fn hand_to_waiting_receiver(s: &mut Scheduler, receiver: Tid, message: Message) {
    let ipc = &mut s.thread(receiver).ipc;
    ipc.inbox = Some(message);
    ipc.wait = Wait::None;
    s.unblock(receiver);
}

/// Sends `message` from the running thread to `dest`, the slow way. With `call`, the running
/// thread then waits for the reply. Returns whether the running thread must block.
fn slow_send(s: &mut Scheduler, dest: Tid, message: Message, call: bool) -> After {
    let me = s.current();
    s.thread(me).ipc.stats.slowpath += 1;
    let sender = message.sender;
    if accepts(s.thread(dest).ipc.wait, sender) {
        hand_to_waiting_receiver(s, dest, message);
        if call {
            s.thread(me).ipc.wait = Wait::AwaitingReply { from: dest };
            s.block_current_thread();
            return After::Block;
        }
        return After::Continue;
    }
    let ipc = &mut s.thread(me).ipc;
    ipc.outgoing = Some(message);
    ipc.wait = Wait::Sending { to: dest, call };
    s.thread(dest).ipc.senders.push_back(me);
    s.block_current_thread();
    After::Block
}

pub fn send(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.rdi as Pid;
    if dest_pid == sched::current_pid() {
        return Err(Error::InvalidArgument);
    }
    let message = outgoing_message(frame, sched::current_pid(), my_buffer())?;
    let blocked = sched::ipc_op(|s| match peer(s, dest_pid) {
        Err(error) => (Err(error), After::Continue),
        Ok(dest) => {
            let after = slow_send(s, dest, message, false);
            let blocked = matches!(after, After::Block);
            (Ok(blocked), after)
        }
    })?;
    if blocked {
        // Woken when the receiver took the message, or when it died.
        sched::with_state(|s| {
            let me = s.current();
            let ipc = &mut s.thread(me).ipc;
            ipc.wait = Wait::None;
            ipc.error.take().map_or(Ok(()), Err)
        })?;
    }
    frame.set_result(0, 0);
    Ok(())
}

/// Takes the oldest queued sender that `from` accepts, completing its send (or moving a caller
/// to waiting for the reply).
fn take_queued(s: &mut Scheduler, from: Option<Pid>) -> Option<Message> {
    let me = s.current();
    let position = {
        let senders: Vec<Tid> = s.thread(me).ipc.senders.iter().copied().collect();
        senders
            .iter()
            .position(|&t| from.is_none_or(|pid| s.thread_opt(t).is_some_and(|t| t.pid == pid)))?
    };
    let sender = s.thread(me).ipc.senders.remove(position)?;
    let ipc = &mut s.thread(sender).ipc;
    let message = ipc.outgoing.take()?;
    match ipc.wait {
        Wait::Sending { call: true, .. } => ipc.wait = Wait::AwaitingReply { from: me },
        _ => {
            ipc.wait = Wait::None;
            s.unblock(sender);
        }
    }
    Some(message)
}

/// Receives into the caller's registers: a queued message, or blocks until one comes.
fn receive_into(frame: &mut SyscallFrame, from: Option<Pid>) -> Result<(), Error> {
    let queued = sched::ipc_op(|s| {
        if let Some(pid) = from
            && let Err(error) = peer(s, pid)
        {
            return (Err(error), After::Continue);
        }
        match take_queued(s, from) {
            Some(message) => (Ok(Some(message)), After::Continue),
            None => {
                let me = s.current();
                s.thread(me).ipc.wait = Wait::Receiving { from };
                s.block_current_thread();
                (Ok(None), After::Block)
            }
        }
    })?;
    let message = match queued {
        Some(message) => message,
        None => sched::with_state(take_delivery)?,
    };
    deliver(frame, message, my_buffer())
}

pub fn receive(frame: &mut SyscallFrame) -> Result<(), Error> {
    let from = match frame.rdi {
        0 => None,
        pid => Some(pid as Pid),
    };
    if from == Some(sched::current_pid()) {
        return Err(Error::InvalidArgument); // nobody else could ever wake it
    }
    receive_into(frame, from)
}

pub fn call(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.rdi as Pid;
    if dest_pid == sched::current_pid() {
        return Err(Error::InvalidArgument);
    }
    let message = outgoing_message(frame, sched::current_pid(), my_buffer())?;
    sched::ipc_op(|s| {
        let dest = match peer(s, dest_pid) {
            Ok(dest) => dest,
            Err(error) => return (Err(error), After::Continue),
        };
        let me = s.current();
        // The fastpath's preconditions; anything else goes the slow way.
        let fast = fastpath_enabled()
            && message.long.is_none()
            && accepts(s.thread(dest).ipc.wait, message.sender)
            && s.thread(dest).priority <= s.thread(me).priority;
        if fast {
            let ipc = &mut s.thread(dest).ipc;
            ipc.inbox = Some(message);
            ipc.wait = Wait::None;
            let mine = &mut s.thread(me).ipc;
            mine.wait = Wait::AwaitingReply { from: dest };
            mine.stats.fastpath += 1;
            s.block_current_thread();
            return (Ok(()), After::SwitchTo(dest));
        }
        (Ok(()), slow_send(s, dest, message, true))
    })?;
    let reply = sched::with_state(take_delivery)?;
    deliver(frame, reply, my_buffer())
}

/// Answers `dest`, which waits for the running thread's reply. Returns the thread to switch to
/// on the fastpath, if the caller asked for it and the preconditions hold.
fn reply_to(
    s: &mut Scheduler,
    dest_pid: Pid,
    message: Message,
    may_switch: bool,
) -> Result<Option<Tid>, Error> {
    let dest = peer(s, dest_pid)?;
    let me = s.current();
    if s.thread(dest).ipc.wait != (Wait::AwaitingReply { from: me }) {
        return Err(Error::InvalidArgument);
    }
    let fast = may_switch
        && fastpath_enabled()
        && message.long.is_none()
        && s.thread(me).ipc.senders.is_empty()
        && s.thread(dest).priority <= s.thread(me).priority;
    let ipc = &mut s.thread(dest).ipc;
    ipc.inbox = Some(message);
    ipc.wait = Wait::None;
    if fast {
        s.thread(me).ipc.stats.fastpath += 1;
        Ok(Some(dest))
    } else {
        s.thread(me).ipc.stats.slowpath += 1;
        s.unblock(dest);
        Ok(None)
    }
}

pub fn reply(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.rdi as Pid;
    let message = outgoing_message(frame, sched::current_pid(), my_buffer())?;
    sched::with_state(|s| reply_to(s, dest_pid, message, false))?;
    frame.set_result(0, 0);
    Ok(())
}

pub fn reply_recv(frame: &mut SyscallFrame) -> Result<(), Error> {
    let dest_pid = frame.rdi as Pid;
    if dest_pid != 0 {
        let message = outgoing_message(frame, sched::current_pid(), my_buffer())?;
        let switched = sched::ipc_op(|s| match reply_to(s, dest_pid, message, true) {
            Err(error) => (Err(error), After::Continue),
            Ok(None) => (Ok(false), After::Continue),
            Ok(Some(dest)) => {
                // Fastpath: wait for the next message, and run the caller right away.
                let me = s.current();
                s.thread(me).ipc.wait = Wait::Receiving { from: None };
                s.block_current_thread();
                (Ok(true), After::SwitchTo(dest))
            }
        })?;
        if switched {
            let message = sched::with_state(take_delivery)?;
            return deliver(frame, message, my_buffer());
        }
    }
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
            wait == Some(Wait::AwaitingReply { from: dying })
                || wait
                    == Some(Wait::Receiving {
                        from: Some(dying_pid),
                    })
        })
        .collect();
    for tid in senders.into_iter().chain(waiting) {
        let ipc = &mut s.thread(tid).ipc;
        ipc.outgoing = None;
        ipc.wait = Wait::None;
        ipc.error = Some(Error::PeerDead);
        s.unblock(tid);
    }
}
