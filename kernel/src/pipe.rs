//! Pipes: kernel objects that carry bytes from one process to another, with backpressure.
//!
//! `pipe_create()` makes a pipe ([`lux9_kernel_core::pipe_buffer`]: 64 KiB) and gives the caller
//! one hold on each end. `pipe_open(id, end)` takes one more hold on an end; a process may do
//! so if it or its parent holds that end, which is how a shell's children join the pipe it
//! made. `pipe_close(id, end)` lets a hold go, and a process that ends lets all of its go. A
//! pipe with no holder left is freed.
//!
//! `pipe_read(id, buf, len)` (the caller must hold the read end) takes what is there, up to
//! `len`; on an empty pipe it waits while anyone holds the write end, and returns 0 (end of
//! file) once nobody does. `pipe_write(id, buf, len)` (the caller must hold the write end)
//! copies everything, waiting while the pipe is full; once no process holds the read end it
//! fails with `BrokenPipe` (or returns the count written before that). The bytes are copied
//! straight between the caller's memory and the pipe, under the lock, so a pipe costs two
//! copies, as Linux's does, and a switch only when a reader or writer has to wait.
//!
//! A waiting reader or writer is woken by the other side's call (or a close, or an exit), and
//! `kill` ends its wait.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use lux9_abi::Error;
use lux9_kernel_core::pipe_buffer::{End, PipeBuffer, ReadState, WriteState};
use x86_64::instructions::interrupts;

use crate::arch::sync::IrqMutex;
use crate::process::{self, Pid};
use crate::sched::{self, Tid};
use crate::uaccess::UserSlice;

/// Pipes alive at once, system-wide (each holds 64 KiB of kernel heap).
pub const MAX_PIPES: usize = 256;
/// Most bytes one `pipe_read` or `pipe_write` moves before it returns or waits again.
const MAX_TRANSFER: usize = 1 << 30;

struct Pipe {
    buffer: PipeBuffer,
    /// Holds per process: (read end, write end).
    holds: BTreeMap<Pid, (u32, u32)>,
    /// Threads waiting for bytes, and for room.
    readers_waiting: Vec<Tid>,
    writers_waiting: Vec<Tid>,
}

impl Pipe {
    fn holds(&self, pid: Pid, end: End) -> u32 {
        let (read, write) = self.holds.get(&pid).copied().unwrap_or((0, 0));
        match end {
            End::Read => read,
            End::Write => write,
        }
    }

    fn hold(&mut self, pid: Pid, end: End) {
        let entry = self.holds.entry(pid).or_insert((0, 0));
        match end {
            End::Read => entry.0 += 1,
            End::Write => entry.1 += 1,
        }
        self.buffer.open(end);
    }

    /// Lets one of `pid`'s holds on `end` go; returns the threads to wake.
    fn release(&mut self, pid: Pid, end: End) -> Result<Vec<Tid>, Error> {
        let entry = self.holds.get_mut(&pid).ok_or(Error::NotFound)?;
        let count = match end {
            End::Read => &mut entry.0,
            End::Write => &mut entry.1,
        };
        if *count == 0 {
            return Err(Error::NotFound);
        }
        *count -= 1;
        if *entry == (0, 0) {
            self.holds.remove(&pid);
        }
        self.buffer.close(end);
        Ok(self.wake_for(end))
    }

    /// When the last holder of `end` goes, the other side's waiters learn it.
    fn wake_for(&mut self, closed: End) -> Vec<Tid> {
        if self.buffer.holders(closed) > 0 {
            return Vec::new();
        }
        match closed {
            End::Read => core::mem::take(&mut self.writers_waiting),
            End::Write => core::mem::take(&mut self.readers_waiting),
        }
    }
}

struct Pipes {
    pipes: BTreeMap<u64, Pipe>,
    next_id: u64,
}

static PIPES: IrqMutex<Pipes> = IrqMutex::new(Pipes {
    pipes: BTreeMap::new(),
    next_id: 1,
});

fn wake(tids: Vec<Tid>) {
    for tid in tids {
        sched::wake(tid);
    }
}

/// `pipe_create()`: a new pipe; the caller holds both ends.
pub fn create() -> Result<usize, Error> {
    let me = sched::current_pid();
    let mut pipes = PIPES.lock();
    if pipes.pipes.len() >= MAX_PIPES {
        return Err(Error::LimitReached);
    }
    let mut pipe = Pipe {
        buffer: PipeBuffer::new(),
        holds: BTreeMap::new(),
        readers_waiting: Vec::new(),
        writers_waiting: Vec::new(),
    };
    pipe.hold(me, End::Read);
    pipe.hold(me, End::Write);
    let id = pipes.next_id;
    pipes.next_id += 1;
    pipes.pipes.insert(id, pipe);
    Ok(id as usize)
}

/// `pipe_open(id, end)`: one more hold on `end` for the caller, who (or whose parent) holds it.
pub fn open(id: u64, end: usize) -> Result<usize, Error> {
    let end = End::from_number(end).ok_or(Error::InvalidArgument)?;
    let me = sched::current_pid();
    let parent = process::parent_of(me);
    let mut pipes = PIPES.lock();
    let pipe = pipes.pipes.get_mut(&id).ok_or(Error::NotFound)?;
    if pipe.holds(me, end) == 0 && parent.is_none_or(|p| pipe.holds(p, end) == 0) {
        return Err(Error::NotFound);
    }
    pipe.hold(me, end);
    Ok(0)
}

/// `pipe_close(id, end)`: lets one of the caller's holds on `end` go.
pub fn close(id: u64, end: usize) -> Result<usize, Error> {
    let end = End::from_number(end).ok_or(Error::InvalidArgument)?;
    let me = sched::current_pid();
    let woken = {
        let mut pipes = PIPES.lock();
        let pipe = pipes.pipes.get_mut(&id).ok_or(Error::NotFound)?;
        let woken = pipe.release(me, end)?;
        if pipe.holds.is_empty() {
            pipes.pipes.remove(&id);
        }
        woken
    };
    wake(woken);
    Ok(0)
}

/// Lets every hold of an ending process go.
pub fn process_exiting(pid: Pid) {
    let mut woken = Vec::new();
    {
        let mut pipes = PIPES.lock();
        pipes.pipes.retain(|_, pipe| {
            if let Some((read, write)) = pipe.holds.remove(&pid) {
                for _ in 0..read {
                    pipe.buffer.close(End::Read);
                }
                for _ in 0..write {
                    pipe.buffer.close(End::Write);
                }
                woken.extend(pipe.wake_for(End::Read));
                woken.extend(pipe.wake_for(End::Write));
            }
            !pipe.holds.is_empty()
        });
    }
    wake(woken);
}

/// Forgets a thread that ended (it may have been waiting).
pub fn thread_exiting(tid: Tid) {
    for pipe in PIPES.lock().pipes.values_mut() {
        pipe.readers_waiting.retain(|&t| t != tid);
        pipe.writers_waiting.retain(|&t| t != tid);
    }
}

/// The outcome of one look at a pipe, under its lock.
enum Step {
    Done(Result<usize, Error>),
    Wait,
}

/// Waits (interruptibly, interrupts still off from the look) after registering in a queue;
/// `false` if a kill ended the wait.
fn wait_here(id: u64, me: Tid, end: End) -> bool {
    if sched::block_current_interruptible() {
        return true;
    }
    if let Some(pipe) = PIPES.lock().pipes.get_mut(&id) {
        let queue = match end {
            End::Read => &mut pipe.readers_waiting,
            End::Write => &mut pipe.writers_waiting,
        };
        queue.retain(|&t| t != me);
    }
    false
}

/// `pipe_read(id, buf, len)`: see the module's documentation.
pub fn read(id: u64, ptr: usize, len: usize) -> Result<usize, Error> {
    let out = UserSlice::new(ptr, len.min(MAX_TRANSFER))?;
    let me = sched::current_pid();
    loop {
        let step = interrupts::without_interrupts(|| {
            let mut pipes = PIPES.lock();
            let pipe = pipes.pipes.get_mut(&id).ok_or(Error::NotFound)?;
            if pipe.holds(me, End::Read) == 0 {
                return Err(Error::NotFound);
            }
            if out.len() == 0 {
                return Ok(Step::Done(Ok(0)));
            }
            match pipe.buffer.read_state() {
                ReadState::EndOfFile => Ok(Step::Done(Ok(0))),
                ReadState::Data => {
                    let n = pipe.buffer.read_with(out.len(), |piece, done| {
                        let at = out.suffix(done).ok_or(Error::BadAddress)?;
                        at.prefix(piece.len())
                            .ok_or(Error::BadAddress)?
                            .write_from(piece)
                    });
                    let woken = core::mem::take(&mut pipe.writers_waiting);
                    drop(pipes);
                    wake(woken);
                    Ok(Step::Done(n))
                }
                ReadState::Wait => {
                    let tid = sched::current();
                    if !pipe.readers_waiting.contains(&tid) {
                        pipe.readers_waiting.push(tid);
                    }
                    drop(pipes);
                    if wait_here(id, tid, End::Read) {
                        Ok(Step::Wait)
                    } else {
                        Ok(Step::Done(Err(Error::PeerDead)))
                    }
                }
            }
        })?;
        if let Step::Done(result) = step {
            return result;
        }
    }
}

/// `pipe_write(id, buf, len)`: see the module's documentation.
pub fn write(id: u64, ptr: usize, len: usize) -> Result<usize, Error> {
    let from = UserSlice::new(ptr, len.min(MAX_TRANSFER))?;
    let me = sched::current_pid();
    let mut written = 0;
    loop {
        let step = interrupts::without_interrupts(|| {
            let mut pipes = PIPES.lock();
            let pipe = pipes.pipes.get_mut(&id).ok_or(Error::NotFound)?;
            if pipe.holds(me, End::Write) == 0 {
                return Err(Error::NotFound);
            }
            if written == from.len() {
                return Ok(Step::Done(Ok(written)));
            }
            match pipe.buffer.write_state() {
                WriteState::Broken if written > 0 => Ok(Step::Done(Ok(written))),
                WriteState::Broken => Ok(Step::Done(Err(Error::BrokenPipe))),
                WriteState::Room => {
                    let rest = from.suffix(written).ok_or(Error::BadAddress)?;
                    let n = pipe.buffer.write_with(rest.len(), |piece, done| {
                        let at = rest.suffix(done).ok_or(Error::BadAddress)?;
                        at.prefix(piece.len())
                            .ok_or(Error::BadAddress)?
                            .read_into(piece)
                    });
                    let woken = core::mem::take(&mut pipe.readers_waiting);
                    drop(pipes);
                    wake(woken);
                    match n {
                        Ok(n) => {
                            written += n;
                            Ok(Step::Wait)
                        }
                        Err(error) => Ok(Step::Done(Err(error))),
                    }
                }
                WriteState::Wait => {
                    let tid = sched::current();
                    if !pipe.writers_waiting.contains(&tid) {
                        pipe.writers_waiting.push(tid);
                    }
                    drop(pipes);
                    if wait_here(id, tid, End::Write) {
                        Ok(Step::Wait)
                    } else {
                        Ok(Step::Done(Err(Error::PeerDead)))
                    }
                }
            }
        })?;
        if let Step::Done(result) = step {
            return result;
        }
    }
}
