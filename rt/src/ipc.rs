//! Message passing and shared rings: typed wrappers over the IPC system calls.

use core::sync::atomic::AtomicU32;

use lux9_abi::ipc::{IpcStats, KNOB_READ, Knob, MsgInfo, Words};
use lux9_abi::{Error, Syscall};

use crate::arch::syscall as raw;
use crate::arch::{ipc_syscall, syscall2};
use crate::shared::IpcBuffer;
use crate::sys::Result;

/// A received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The sender's pid.
    pub peer: usize,
    pub info: MsgInfo,
    /// The words of a short message (zero for a long one, whose bytes are in the IPC buffer).
    pub words: Words,
}

fn message_op(number: Syscall, peer: usize, info: MsgInfo, words: Words) -> Result<Message> {
    let (error, peer, info, words) = ipc_syscall(number as usize, peer, info.to_word(), words);
    if error != 0 {
        return Err(Error::of_code(error));
    }
    Ok(Message {
        peer,
        info: MsgInfo::from_word(info).unwrap_or_default(),
        words,
    })
}

/// Sends a message to `dest` and waits until it has taken it.
pub fn send(dest: usize, info: MsgInfo, words: Words) -> Result<()> {
    message_op(Syscall::Send, dest, info, words).map(|_| ())
}

/// Receives the next message, from anyone (`from` 0) or from process `from`.
pub fn receive(from: usize) -> Result<Message> {
    message_op(Syscall::Receive, from, MsgInfo::default(), [0; 8])
}

/// Sends a message to `dest` and waits for its reply.
pub fn call(dest: usize, info: MsgInfo, words: Words) -> Result<Message> {
    message_op(Syscall::Call, dest, info, words)
}

/// Answers `dest`, which is waiting in `call`.
pub fn reply(dest: usize, info: MsgInfo, words: Words) -> Result<()> {
    message_op(Syscall::Reply, dest, info, words).map(|_| ())
}

/// Answers `dest` (unless 0), then receives the next message from anyone.
pub fn reply_recv(dest: usize, info: MsgInfo, words: Words) -> Result<Message> {
    message_op(Syscall::ReplyRecv, dest, info, words)
}

/// Registers the buffer for long messages (see [`crate::shared::IpcBuffer`]).
pub(crate) fn register_buffer(addr: usize, len: usize) -> Result<()> {
    match raw(Syscall::IpcBuffer as usize, [addr, len, 0, 0, 0, 0]) {
        (0, _) => Ok(()),
        (code, _) => Err(Error::of_code(code)),
    }
}

/// Like [`call`] for a long message: its `info.len` bytes are taken from `buffer`, and a long
/// reply lands in it. The `&mut` borrow keeps the buffer still while the kernel uses it.
pub fn call_with(
    dest: usize,
    info: MsgInfo,
    words: Words,
    buffer: &mut IpcBuffer,
) -> Result<Message> {
    let _ = buffer;
    message_op(Syscall::Call, dest, info, words)
}

/// Like [`reply_recv`] with long messages in `buffer`.
pub fn reply_recv_with(
    dest: usize,
    info: MsgInfo,
    words: Words,
    buffer: &mut IpcBuffer,
) -> Result<Message> {
    let _ = buffer;
    message_op(Syscall::ReplyRecv, dest, info, words)
}

/// Like [`reply`] with a long message in `buffer`.
pub fn reply_with(dest: usize, info: MsgInfo, words: Words, buffer: &mut IpcBuffer) -> Result<()> {
    let _ = buffer;
    message_op(Syscall::Reply, dest, info, words).map(|_| ())
}

/// Like [`receive`], with a long message landing in `buffer`.
pub fn receive_with(from: usize, buffer: &mut IpcBuffer) -> Result<Message> {
    let _ = buffer;
    message_op(Syscall::Receive, from, MsgInfo::default(), [0; 8])
}

fn two(number: Syscall, args: [usize; 3]) -> Result<(usize, usize)> {
    match syscall2(number as usize, args) {
        (0, first, second) => Ok((first, second)),
        (code, _, _) => Err(Error::of_code(code)),
    }
}

/// Creates a ring of `pages` pages shared with `peer` (its server), for messages of up to
/// `max_message` bytes (0: 8192). Returns its id and address here.
pub fn ring_create(peer: usize, pages: usize, max_message: usize) -> Result<(u64, usize)> {
    two(Syscall::RingCreate, [peer, pages, max_message]).map(|(id, addr)| (id as u64, addr))
}

/// This process's address of ring `id`, and its size in pages.
pub fn ring_info(id: u64) -> Result<(usize, usize)> {
    two(Syscall::RingInfo, [id as usize, 0, 0])
}

/// Asks for a kernel notification (`NOTIFY_RING`, an IPC message from pid 0) whenever the
/// other side of ring `id` calls `notify`: for servers that sleep in `receive`.
pub fn ring_notify_by_ipc(id: u64) -> Result<()> {
    two(
        Syscall::RingInfo,
        [id as usize, lux9_abi::ipc::RING_NOTIFY_IPC, 0],
    )
    .map(|_| ())
}

/// Wakes the other side of ring `id` if it sleeps on the ring. Returns how many threads woke.
pub fn notify(id: u64) -> Result<usize> {
    two(Syscall::Notify, [id as usize, 0, 0]).map(|(woken, _)| woken)
}

/// Creates a block ring for partition `part` (0: the whole disk) of block device number `disk`
/// (the order of `SysInfo::Disks`), with `entries` slots each way and a data region of
/// `data_pages` pages right after the ring region. Returns its id and the ring's address here.
pub fn blk_ring_create(
    disk: usize,
    part: u32,
    entries: u32,
    data_pages: usize,
) -> Result<(u64, usize)> {
    two(
        Syscall::BlkRingCreate,
        [disk, part as usize, entries as usize | data_pages << 16],
    )
    .map(|(id, addr)| (id as u64, addr))
}

/// Runs every request waiting in block ring `id`; returns how many responses were published.
pub fn blk_ring_submit(id: u64) -> Result<usize> {
    two(Syscall::BlkRingSubmit, [id as usize, 0, 0]).map(|(n, _)| n)
}

/// Hands the requests waiting in block ring `id` to its worker and returns at once; the
/// responses appear in the ring as the device completes them (sleep on `server_waiting`).
pub fn blk_ring_submit_async(id: u64) -> Result<()> {
    two(
        Syscall::BlkRingSubmit,
        [id as usize, lux9_abi::syscall::BLK_RING_ASYNC, 0],
    )
    .map(|_| ())
}

/// Unmaps block ring `id` and its data region and frees them.
pub fn blk_ring_destroy(id: u64) -> Result<()> {
    two(Syscall::BlkRingDestroy, [id as usize, 0, 0]).map(|_| ())
}

/// Unmaps ring `id` from both sides and frees it.
pub fn ring_destroy(id: u64) -> Result<()> {
    two(Syscall::RingDestroy, [id as usize, 0, 0]).map(|_| ())
}

/// Sleeps while `word` holds `expected`, until woken or `timeout_ms` passes (0: no timeout).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout_ms: u64) -> Result<()> {
    match raw(
        Syscall::FutexWait as usize,
        [
            word.as_ptr() as usize,
            expected as usize,
            timeout_ms as usize,
            0,
            0,
            0,
        ],
    ) {
        (0, _) => Ok(()),
        (code, _) => Err(Error::of_code(code)),
    }
}

/// Wakes up to `count` threads waiting on `word`. Returns how many woke.
pub fn futex_wake(word: &AtomicU32, count: usize) -> Result<usize> {
    match raw(
        Syscall::FutexWake as usize,
        [word.as_ptr() as usize, count, 0, 0, 0, 0],
    ) {
        (0, woken) => Ok(woken),
        (code, _) => Err(Error::of_code(code)),
    }
}

/// The IPC statistics of process `pid`, or system-wide for 0.
pub fn stats(pid: usize) -> Result<IpcStats> {
    let mut words = [0u64; IpcStats::WORDS];
    match raw(
        Syscall::IpcStats as usize,
        [pid, words.as_mut_ptr() as usize, 0, 0, 0, 0],
    ) {
        (0, _) => Ok(IpcStats::from_words(words)),
        (code, _) => Err(Error::of_code(code)),
    }
}

/// Reads a knob.
pub fn knob(knob: Knob) -> Result<usize> {
    set_knob(knob, KNOB_READ)
}

/// Sets a knob; returns its previous value.
pub fn set_knob(knob: Knob, value: usize) -> Result<usize> {
    match raw(
        Syscall::IpcConfig as usize,
        [knob as usize, value, 0, 0, 0, 0],
    ) {
        (0, old) => Ok(old),
        (code, _) => Err(Error::of_code(code)),
    }
}

/// Any message system call `number` on raw registers, for tests that probe the kernel with
/// arbitrary arguments: returns the error code, and the sender, info and words the kernel left
/// in the message registers.
#[inline(always)]
pub fn raw_message(
    number: usize,
    peer: usize,
    info: u64,
    words: Words,
) -> (usize, usize, u64, Words) {
    ipc_syscall(number, peer, info, words)
}

/// `call` on raw registers, for tight loops: sends `words` with `info` to `dest` and leaves the
/// reply's words in `words`. Returns the error code (0 = success) and the reply's info.
#[inline(always)]
pub fn call_in_place(dest: usize, info: MsgInfo, words: &mut Words) -> (usize, u64) {
    let (error, _, info, reply) = ipc_syscall(Syscall::Call as usize, dest, info.to_word(), *words);
    *words = reply;
    (error, info)
}

/// `reply_recv` on raw registers: answers `*peer` with `*info`/`*words` and leaves the next
/// message's sender, info and words in their place. Returns the error code.
#[inline(always)]
pub fn reply_recv_in_place(peer: &mut usize, info: &mut u64, words: &mut Words) -> usize {
    let (error, sender, next_info, next) =
        ipc_syscall(Syscall::ReplyRecv as usize, *peer, *info, *words);
    *peer = sender;
    *info = next_info;
    *words = next;
    error
}
