//! The text tools (`head`, `tail`, `wc`, `grep`, `sort`, `uniq`, `hexdump`): what they share
//! and, in one module each, their pure logic over any byte source and sink, so that the host
//! tests run it on slices. [`stdio`] connects them to Lux9's files and standard streams.
//!
//! Every tool works on bytes: a file that is not UTF-8 goes through unchanged. Input is read
//! [`PIECE`] bytes at a time and output is buffered ([`Buffered`]); only `sort` (which must)
//! and `tail -n N` (the last N lines) hold more than a line of their input.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::ControlFlow;

pub mod grep;
pub mod head;
pub mod hexdump;
pub mod sort;
pub mod stdio;
pub mod tail;
pub mod uniq;
pub mod wc;

/// Bytes read at a time, and the size of the output buffer: one 9P message's worth.
pub const PIECE: usize = 16 * 1024;

/// Why a tool stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Reading the input failed, for this reason.
    Read(String),
    /// Standard output could not be written: nothing more can be done.
    Write,
}

/// A source of bytes: a file or standard input. `read` returns 0 at the end.
pub trait Read {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, String>;
}

/// A sink of bytes: standard output (through [`Buffered`]) or, in tests, a `Vec<u8>`.
pub trait Write {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error>;
}

impl Write for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Gathers small writes and hands them to `sink` in pieces of up to `capacity` bytes (a
/// write as large as that goes through at once): every write to a file on Lux9 is a 9P
/// message. [`flush`](Self::flush) before exiting.
pub struct Buffered<F: FnMut(&[u8]) -> bool> {
    buffer: Vec<u8>,
    capacity: usize,
    /// Writes all the bytes or says it could not (false).
    sink: F,
}

impl<F: FnMut(&[u8]) -> bool> Buffered<F> {
    pub fn new(sink: F) -> Self {
        Self::with_capacity(PIECE, sink)
    }

    pub fn with_capacity(capacity: usize, sink: F) -> Self {
        Self {
            buffer: Vec::with_capacity(capacity),
            capacity: capacity.max(1),
            sink,
        }
    }

    /// Flushes, then buffers up to `capacity` bytes from now on (1: every write goes
    /// straight to the sink).
    pub fn set_capacity(&mut self, capacity: usize) -> Result<(), Error> {
        self.flush()?;
        self.capacity = capacity.max(1);
        Ok(())
    }

    /// Hands what is buffered to the sink.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let written = (self.sink)(&self.buffer);
        self.buffer.clear();
        if written { Ok(()) } else { Err(Error::Write) }
    }
}

impl<F: FnMut(&[u8]) -> bool> Write for Buffered<F> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.buffer.len() + bytes.len() > self.capacity {
            self.flush()?;
        }
        if bytes.len() >= self.capacity {
            return if (self.sink)(bytes) {
                Ok(())
            } else {
                Err(Error::Write)
            };
        }
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }
}

/// The inputs a tool reads: its operands, or standard input (`-`) when there are none.
pub fn inputs(operands: Vec<String>) -> Vec<String> {
    if operands.is_empty() {
        alloc::vec!["-".into()]
    } else {
        operands
    }
}

/// What an input is called in messages and headers: `standard input` for `-`.
pub fn label(file: &str) -> &str {
    if file == "-" { "standard input" } else { file }
}

/// Reads `input` through `buf` and calls `each` with every line, newline included (the last
/// line may lack one). A line within one piece is passed where it lies; only a line that
/// spans pieces is gathered (and then held whole, however long). `each` may stop early:
/// nothing more is read.
pub fn for_each_line(
    input: &mut impl Read,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> Result<ControlFlow<()>, Error>,
) -> Result<(), Error> {
    let mut pending = Vec::new();
    loop {
        let read = input.read(buf).map_err(Error::Read)?;
        if read == 0 {
            if !pending.is_empty() {
                // The last line: stopping after it changes nothing.
                let _ = each(&pending)?;
            }
            return Ok(());
        }
        let mut rest = &buf[..read];
        while let Some(at) = newline(rest) {
            let (line, tail) = rest.split_at(at + 1);
            let flow = if pending.is_empty() {
                each(line)?
            } else {
                pending.extend_from_slice(line);
                let flow = each(&pending)?;
                pending.clear();
                flow
            };
            if flow.is_break() {
                return Ok(());
            }
            rest = tail;
        }
        pending.extend_from_slice(rest);
    }
}

/// Where the first newline of `bytes` is.
pub fn newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b'\n')
}

/// A line without its newline.
pub fn content(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Writes a line's content and a newline, adding the newline a last line may lack.
pub fn write_line(out: &mut impl Write, line: &[u8]) -> Result<(), Error> {
    out.write(line)?;
    if line.last() == Some(&b'\n') {
        Ok(())
    } else {
        out.write(b"\n")
    }
}

/// A source over bytes in memory that yields them in pieces of at most `size` bytes, and
/// counts how much was read: the tests' input.
#[cfg(test)]
pub struct Pieces<'a> {
    pub rest: &'a [u8],
    pub size: usize,
    pub read: usize,
}

#[cfg(test)]
impl<'a> Pieces<'a> {
    pub fn new(bytes: &'a [u8], size: usize) -> Self {
        Self {
            rest: bytes,
            size,
            read: 0,
        }
    }
}

#[cfg(test)]
impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        let n = self.rest.len().min(buf.len()).min(self.size);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        self.read += n;
        Ok(n)
    }
}

/// A source that fails after yielding its bytes.
#[cfg(test)]
pub struct Failing<'a>(pub &'a [u8]);

#[cfg(test)]
impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        if self.0.is_empty() {
            return Err("i/o error".into());
        }
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Runs a tool's function on `input` read in pieces of every size from 1 to 7 and in whole;
/// checks each gives the same output and returns it.
#[cfg(test)]
pub fn run_pieces(
    input: &[u8],
    mut tool: impl FnMut(&mut Pieces<'_>, &mut Vec<u8>, &mut [u8]) -> Result<(), Error>,
) -> Vec<u8> {
    let mut first: Option<Vec<u8>> = None;
    for size in [1, 2, 3, 5, 7, PIECE] {
        for buf_len in [4, PIECE] {
            let mut out = Vec::new();
            let mut buf = alloc::vec![0u8; buf_len];
            tool(&mut Pieces::new(input, size), &mut out, &mut buf).unwrap();
            match &first {
                None => first = Some(out),
                Some(first) => assert_eq!(&out, first, "piece {size}, buffer {buf_len}"),
            }
        }
    }
    first.unwrap_or_default()
}

#[cfg(test)]
mod tests;
