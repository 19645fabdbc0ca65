//! The model memory of the interleaving checker: header words with the clocks that Release
//! stores leave in them, and slot bytes checked for data races with vector clocks.

use std::cell::Cell;
use std::panic;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use lux9_ring::layout::HEADER_SIZE;
use lux9_ring::{Memory, RingError};

use crate::schedule::{Aborted, Block, Run, State, Status, THREADS};

pub(crate) type Clock = [u64; THREADS];

pub(crate) fn join(into: &mut Clock, other: &Clock) {
    for (mine, theirs) in into.iter_mut().zip(other) {
        *mine = (*mine).max(*theirs);
    }
}

/// Memory orders to weaken, for the mutant tests.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Weaken {
    /// Release stores to these words act as Relaxed.
    pub(crate) release_stores: &'static [usize],
    /// Acquire loads of these words act as Relaxed.
    pub(crate) acquire_loads: &'static [usize],
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Word {
    pub(crate) value: u32,
    /// The clock a Release store left here (for Acquire loads to join).
    pub(crate) release: Clock,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Byte {
    pub(crate) value: u8,
    /// The last write: thread and its epoch. None: written before the threads started.
    pub(crate) write: Option<(usize, u64)>,
    /// Each thread's last read epoch since that write.
    pub(crate) reads: [Option<u64>; THREADS],
}

impl State {
    pub(crate) fn word(&mut self, at: usize) -> Result<&mut Word, RingError> {
        if at >= HEADER_SIZE || !at.is_multiple_of(4) {
            return Err(RingError::OutOfBounds { offset: at, len: 4 });
        }
        Ok(self.words.entry(at).or_insert(Word {
            value: 0,
            release: [0; THREADS],
        }))
    }

    /// The effects of a store (or the store half of a swap) by `thread` on happens-before.
    pub(crate) fn released(&mut self, thread: Option<usize>, at: usize, order: Ordering) -> Clock {
        let Some(thread) = thread else {
            return [0; THREADS];
        };
        let release = matches!(
            order,
            Ordering::Release | Ordering::AcqRel | Ordering::SeqCst
        ) && !self.weaken.release_stores.contains(&at);
        if release {
            self.clocks[thread]
        } else {
            self.fence_release[thread]
        }
    }

    /// The effects of a load (or the load half of a swap) by `thread` of a word whose release
    /// clock is `release`.
    pub(crate) fn acquired(
        &mut self,
        thread: Option<usize>,
        at: usize,
        order: Ordering,
        release: Clock,
    ) {
        let Some(thread) = thread else {
            return;
        };
        let acquire = matches!(
            order,
            Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst
        ) && !self.weaken.acquire_loads.contains(&at);
        if acquire {
            join(&mut self.clocks[thread], &release);
        } else {
            join(&mut self.pending_acquire[thread], &release);
        }
    }

    /// After any atomic operation of `thread`: a new epoch, and the other thread, if it waits
    /// for progress, may go on when this was a store.
    pub(crate) fn tick(&mut self, thread: Option<usize>, stored: bool) {
        if let Some(thread) = thread {
            self.clocks[thread][thread] += 1;
            if stored {
                for other in 0..THREADS {
                    if other != thread && self.status[other] == Status::Blocked(Block::Progress) {
                        self.status[other] = Status::Ready;
                    }
                }
            }
        }
    }

    /// Checks a slot access for races and records it.
    pub(crate) fn access(
        &mut self,
        thread: Option<usize>,
        at: usize,
        len: usize,
        write: bool,
    ) -> Result<std::ops::Range<usize>, RingError> {
        let bounds = RingError::OutOfBounds { offset: at, len };
        if at < HEADER_SIZE {
            return Err(bounds);
        }
        let start = at - HEADER_SIZE;
        let end = start.checked_add(len).ok_or(bounds)?;
        if end > self.bytes.len() {
            return Err(bounds);
        }
        let Some(thread) = thread else {
            return Ok(start..end);
        };
        let clock = self.clocks[thread];
        let epoch = clock[thread];
        for index in start..end {
            let byte = &mut self.bytes[index];
            let mut race = None;
            if let Some((writer, when)) = byte.write
                && writer != thread
                && when > clock[writer]
            {
                race = Some(("written", writer));
            }
            if write {
                for (reader, read) in byte.reads.iter().enumerate() {
                    if reader != thread && read.is_some_and(|when| when > clock[reader]) {
                        race = Some(("read", reader));
                    }
                }
            }
            if let Some((what, other)) = race {
                let verb = if write { "writes" } else { "reads" };
                let message = format!(
                    "data race: thread {thread} {verb} slot byte {:#x}, {what} by thread {other} \
                     with no happens-before between them",
                    index + HEADER_SIZE
                );
                self.fail(message);
                return Err(bounds);
            }
            if write {
                byte.write = Some((thread, epoch));
                byte.reads = [None; THREADS];
            } else {
                byte.reads[thread] = Some(epoch);
            }
        }
        Ok(start..end)
    }
}

/// The `Memory` the endpoints run on in the model: unbound (setting up, before the threads
/// start, with no scheduling and no race checks) or bound to a thread.
pub(crate) struct Model {
    pub(crate) run: Arc<Run>,
    pub(crate) thread: Cell<Option<usize>>,
    pub(crate) len: usize,
}

impl Model {
    /// Starts an atomic operation: a scheduling point once bound to a thread.
    pub(crate) fn operation(&self) -> MutexGuard<'_, State> {
        match self.thread.get() {
            Some(thread) => self.run.point(thread),
            None => self.run.lock(),
        }
    }

    /// Aborts the calling thread if the run has failed (a race found inside a copy).
    pub(crate) fn check(&self, state: MutexGuard<'_, State>) {
        if self.thread.get().is_some() && state.failure.is_some() {
            self.run.turn.notify_all();
            drop(state);
            panic::resume_unwind(Box::new(Aborted));
        }
    }
}

impl Memory for Model {
    fn len(&self) -> usize {
        self.len
    }

    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        let mut state = self.operation();
        let word = *state.word(at)?;
        state.acquired(self.thread.get(), at, order, word.release);
        state.tick(self.thread.get(), false);
        Ok(word.value)
    }

    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        let mut state = self.operation();
        state.word(at)?;
        let release = state.released(self.thread.get(), at, order);
        *state.word(at)? = Word { value, release };
        state.tick(self.thread.get(), true);
        Ok(())
    }

    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        let mut state = self.operation();
        let old = *state.word(at)?;
        state.acquired(self.thread.get(), at, order, old.release);
        // A read-modify-write continues the release sequence of the store before it.
        let mut release = state.released(self.thread.get(), at, order);
        join(&mut release, &old.release);
        *state.word(at)? = Word { value, release };
        state.tick(self.thread.get(), true);
        Ok(old.value)
    }

    fn fence_seq_cst(&self) {
        let mut state = self.operation();
        if let Some(thread) = self.thread.get() {
            // Acquire half: what Relaxed loads read becomes visible. Release half: later
            // Relaxed stores carry this clock. Fences are not made to synchronise with each
            // other, which makes this model stricter, never looser, than C11 about races.
            let pending = state.pending_acquire[thread];
            join(&mut state.clocks[thread], &pending);
            state.fence_release[thread] = state.clocks[thread];
        }
        state.tick(self.thread.get(), false);
    }

    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        let mut state = self.run.lock();
        let range = state.access(self.thread.get(), at, destination.len(), false);
        let Ok(range) = range else {
            self.check(state);
            return Err(RingError::OutOfBounds {
                offset: at,
                len: destination.len(),
            });
        };
        for (to, from) in destination.iter_mut().zip(&state.bytes[range]) {
            *to = from.value;
        }
        Ok(())
    }

    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        let mut state = self.run.lock();
        let range = state.access(self.thread.get(), at, source.len(), true);
        let Ok(range) = range else {
            self.check(state);
            return Err(RingError::OutOfBounds {
                offset: at,
                len: source.len(),
            });
        };
        for (to, from) in state.bytes[range].iter_mut().zip(source) {
            to.value = *from;
        }
        Ok(())
    }
}
