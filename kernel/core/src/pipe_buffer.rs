//! A pipe's bytes and its ends, without the blocking: what [`PipeBuffer::write_with`] and
//! [`PipeBuffer::read_with`] may do at this moment. The kernel's `pipe` module adds the wait
//! queues and the system calls; this part is tested on the host.
//!
//! A pipe holds up to [`CAPACITY`] bytes in a ring. Its ends are counted: every process
//! holding the read end counts as a reader, every holder of the write end as a writer. A read
//! of an empty pipe with no writer left is the end of file; a write with no reader left is a
//! broken pipe.

use alloc::boxed::Box;
use alloc::vec;

/// Bytes a pipe holds before writers wait: 64 KiB, as Linux's default.
pub const CAPACITY: usize = 64 * 1024;

/// What a read may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadState {
    /// Bytes are there: a read takes them.
    Data,
    /// Empty, and no writer is left: end of file.
    EndOfFile,
    /// Empty, but a writer may still write: wait.
    Wait,
}

/// What a write may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteState {
    /// There is room.
    Room,
    /// No reader is left: the bytes could never be read.
    Broken,
    /// Full: wait for a reader to take some.
    Wait,
}

/// The two ends of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Read,
    Write,
}

impl End {
    /// `0` is the read end, `1` the write end (the system calls' encoding).
    pub fn from_number(number: usize) -> Option<Self> {
        match number {
            0 => Some(Self::Read),
            1 => Some(Self::Write),
            _ => None,
        }
    }
}

/// The bytes in flight and how many holders each end has.
pub struct PipeBuffer {
    data: Box<[u8]>,
    /// Index of the oldest byte.
    start: usize,
    /// Bytes held.
    len: usize,
    readers: usize,
    writers: usize,
}

impl Default for PipeBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl PipeBuffer {
    /// An empty pipe with no holders yet.
    pub fn new() -> Self {
        Self {
            data: vec![0u8; CAPACITY].into_boxed_slice(),
            start: 0,
            len: 0,
            readers: 0,
            writers: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Holders of `end`.
    pub fn holders(&self, end: End) -> usize {
        match end {
            End::Read => self.readers,
            End::Write => self.writers,
        }
    }

    /// One more holder of `end`.
    pub fn open(&mut self, end: End) {
        match end {
            End::Read => self.readers += 1,
            End::Write => self.writers += 1,
        }
    }

    /// One holder of `end` fewer (never below zero).
    pub fn close(&mut self, end: End) {
        match end {
            End::Read => self.readers = self.readers.saturating_sub(1),
            End::Write => self.writers = self.writers.saturating_sub(1),
        }
    }

    pub fn read_state(&self) -> ReadState {
        if self.len > 0 {
            ReadState::Data
        } else if self.writers == 0 {
            ReadState::EndOfFile
        } else {
            ReadState::Wait
        }
    }

    pub fn write_state(&self) -> WriteState {
        if self.readers == 0 {
            WriteState::Broken
        } else if self.len < CAPACITY {
            WriteState::Room
        } else {
            WriteState::Wait
        }
    }

    /// Appends up to `max` bytes, as many as there is room for: `fill(piece, done)` must fill
    /// `piece` with the bytes at offset `done` of what is being written (at most two pieces,
    /// where the ring wraps). Returns the count; on `fill`'s error nothing of that piece is
    /// kept.
    pub fn write_with<E>(
        &mut self,
        max: usize,
        mut fill: impl FnMut(&mut [u8], usize) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut done = 0;
        let count = max.min(CAPACITY - self.len);
        while done < count {
            let at = (self.start + self.len) % CAPACITY;
            let piece = (count - done).min(CAPACITY - at);
            fill(&mut self.data[at..at + piece], done)?;
            self.len += piece;
            done += piece;
        }
        Ok(done)
    }

    /// Takes up to `max` bytes, oldest first: `drain(piece, done)` receives them in at most two
    /// pieces with their offset in what is being read. Returns the count; on `drain`'s error
    /// the bytes of that piece stay in the pipe.
    pub fn read_with<E>(
        &mut self,
        max: usize,
        mut drain: impl FnMut(&[u8], usize) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut done = 0;
        let count = max.min(self.len);
        while done < count {
            let piece = (count - done).min(CAPACITY - self.start);
            drain(&self.data[self.start..self.start + piece], done)?;
            self.start = (self.start + piece) % CAPACITY;
            self.len -= piece;
            done += piece;
        }
        if self.len == 0 {
            // An empty ring starts over at 0: the next large write is one piece.
            self.start = 0;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn write(pipe: &mut PipeBuffer, bytes: &[u8]) -> usize {
        pipe.write_with(bytes.len(), |piece, done| {
            piece.copy_from_slice(&bytes[done..done + piece.len()]);
            Ok::<(), ()>(())
        })
        .unwrap()
    }

    fn read(pipe: &mut PipeBuffer, max: usize) -> Vec<u8> {
        let mut out = alloc::vec![0u8; max];
        let n = pipe
            .read_with(max, |piece, done| {
                out[done..done + piece.len()].copy_from_slice(piece);
                Ok::<(), ()>(())
            })
            .unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn bytes_come_out_in_order_across_the_wrap() {
        let mut pipe = PipeBuffer::new();
        pipe.open(End::Read);
        pipe.open(End::Write);
        let pattern: Vec<u8> = (0..CAPACITY * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut sent = 0;
        let mut received = Vec::new();
        // Uneven pieces so that the ring wraps in the middle of reads and writes.
        while received.len() < pattern.len() {
            sent += write(
                &mut pipe,
                &pattern[sent..(sent + 40_000).min(pattern.len())],
            );
            received.extend(read(&mut pipe, 25_000));
        }
        assert_eq!(received, pattern);
        assert!(pipe.is_empty());
    }

    #[test]
    fn a_full_pipe_takes_no_more_and_says_wait() {
        let mut pipe = PipeBuffer::new();
        pipe.open(End::Read);
        pipe.open(End::Write);
        assert_eq!(write(&mut pipe, &[1; CAPACITY + 10]), CAPACITY);
        assert_eq!(pipe.write_state(), WriteState::Wait);
        assert_eq!(write(&mut pipe, &[2; 5]), 0);
        assert_eq!(read(&mut pipe, 3), [1, 1, 1]);
        assert_eq!(pipe.write_state(), WriteState::Room);
        assert_eq!(write(&mut pipe, &[2; 5]), 3);
    }

    #[test]
    fn end_of_file_only_when_empty_and_every_writer_closed() {
        let mut pipe = PipeBuffer::new();
        pipe.open(End::Read);
        assert_eq!(pipe.read_state(), ReadState::EndOfFile, "no writer at all");
        pipe.open(End::Write);
        pipe.open(End::Write);
        assert_eq!(pipe.read_state(), ReadState::Wait);
        write(&mut pipe, b"abc");
        pipe.close(End::Write);
        pipe.close(End::Write);
        assert_eq!(
            pipe.read_state(),
            ReadState::Data,
            "what was written is still read"
        );
        assert_eq!(read(&mut pipe, 10), b"abc");
        assert_eq!(pipe.read_state(), ReadState::EndOfFile);
        pipe.close(End::Write);
        assert_eq!(pipe.holders(End::Write), 0, "never below zero");
    }

    #[test]
    fn a_pipe_without_readers_is_broken() {
        let mut pipe = PipeBuffer::new();
        pipe.open(End::Write);
        assert_eq!(pipe.write_state(), WriteState::Broken);
        pipe.open(End::Read);
        assert_eq!(pipe.write_state(), WriteState::Room);
        pipe.close(End::Read);
        assert_eq!(pipe.write_state(), WriteState::Broken);
    }

    #[test]
    fn a_failed_copy_keeps_nothing_of_its_piece() {
        let mut pipe = PipeBuffer::new();
        pipe.open(End::Read);
        pipe.open(End::Write);
        assert_eq!(pipe.write_with(10, |_, _| Err("fault")), Err("fault"));
        assert!(pipe.is_empty());
        write(&mut pipe, b"xyz");
        assert_eq!(pipe.read_with(3, |_, _| Err("fault")), Err("fault"));
        assert_eq!(read(&mut pipe, 3), b"xyz");
        assert_eq!(End::from_number(0), Some(End::Read));
        assert_eq!(End::from_number(1), Some(End::Write));
        assert_eq!(End::from_number(2), None);
    }
}
