//! Standard output through a 16 KiB buffer: a program that prints many short lines writes
//! them in a few large pieces, since each write to a redirected standard output is a 9P
//! message (and each write to the console a system call).

use alloc::vec::Vec;
use core::fmt::{self, Display};

use crate::cli;

/// Bytes held before they are written.
pub const CAPACITY: usize = 16 * 1024;

/// Buffered output to `sink`, which writes bytes and says whether it could. The buffer is
/// written when full, by [`Output::flush`], and when the `Output` is dropped. After a write
/// fails, the rest of the output is dropped: nothing more could be written.
pub struct Output<W: FnMut(&[u8]) -> bool> {
    buffer: Vec<u8>,
    sink: W,
    failed: bool,
}

/// The program's standard output, buffered.
pub type Stdout = Output<fn(&[u8]) -> bool>;

/// Standard output (the console, or the file the shell redirected it to), buffered.
pub fn stdout() -> Stdout {
    Output::new(lux9_rt::io::write_stdout)
}

impl<W: FnMut(&[u8]) -> bool> Output<W> {
    pub fn new(sink: W) -> Self {
        Self {
            buffer: Vec::with_capacity(CAPACITY),
            sink,
            failed: false,
        }
    }

    /// Appends bytes, writing out the buffer first if they do not fit (bytes of a buffer's
    /// size or more go straight to the sink).
    pub fn write(&mut self, bytes: &[u8]) {
        if self.buffer.len() + bytes.len() > CAPACITY {
            self.flush();
        }
        if bytes.len() >= CAPACITY {
            self.send(bytes);
        } else {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// Appends formatted text: what `write!` and `writeln!` call (this inherent method comes
    /// before `fmt::Write`'s, and there is no error to return).
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) {
        match args.as_str() {
            Some(text) => self.write(text.as_bytes()),
            None => {
                let _ = fmt::Write::write_fmt(&mut Adapter(self), args);
            }
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if !self.buffer.is_empty() {
            let buffer = core::mem::take(&mut self.buffer);
            self.send(&buffer);
            self.buffer = buffer;
            self.buffer.clear();
        }
    }

    /// Whether a write failed (and output was dropped).
    pub fn failed(&self) -> bool {
        self.failed
    }

    fn send(&mut self, bytes: &[u8]) {
        if !self.failed && !(self.sink)(bytes) {
            self.failed = true;
        }
    }

    /// Reports `NAME: what: why` after writing out what was printed before it (errors go to
    /// the console directly, and should come after the output that preceded them); returns
    /// [`cli::FAILURE`].
    pub fn fail(&mut self, name: &str, what: impl Display, why: impl Display) -> i32 {
        self.flush();
        cli::fail(name, what, why)
    }

    /// Writes out the rest at exit: returns `status`, or [`cli::FAILURE`] after reporting
    /// `NAME: standard output: write failed` if any write failed.
    pub fn finish(mut self, name: &str, status: i32) -> i32 {
        self.flush();
        if self.failed {
            cli::fail(name, "standard output", "write failed")
        } else {
            status
        }
    }
}

impl<W: FnMut(&[u8]) -> bool> Drop for Output<W> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `fmt::Write` for the formatting machinery, on an [`Output`].
struct Adapter<'a, W: FnMut(&[u8]) -> bool>(&'a mut Output<W>);

impl<W: FnMut(&[u8]) -> bool> fmt::Write for Adapter<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use core::cell::RefCell;

    /// An output whose writes land in `writes`, one entry per write.
    fn recording(writes: &RefCell<Vec<Vec<u8>>>) -> Output<impl FnMut(&[u8]) -> bool + '_> {
        Output::new(move |bytes: &[u8]| {
            writes.borrow_mut().push(bytes.to_vec());
            true
        })
    }

    #[test]
    fn many_lines_make_few_writes() {
        let writes = RefCell::new(Vec::new());
        let mut out = recording(&writes);
        for n in 0..1000 {
            writeln!(out, "line {n:05}");
        }
        assert!(
            writes.borrow().is_empty(),
            "nothing before the buffer fills"
        );
        for n in 1000..3000 {
            writeln!(out, "line {n:05}");
        }
        assert_eq!(writes.borrow().len(), 2, "a write each time it filled");
        drop(out);
        let writes = writes.into_inner();
        // 3000 lines of 11 bytes: 33,000 bytes, in pieces of at most 16 KiB.
        assert_eq!(writes.len(), 3);
        assert!(writes.iter().all(|w| w.len() <= CAPACITY));
        let all: Vec<u8> = writes.concat();
        let expected: String = (0..3000).map(|n| format!("line {n:05}\n")).collect();
        assert_eq!(all, expected.as_bytes());
    }

    #[test]
    fn flush_writes_what_is_held_and_big_writes_go_straight_through() {
        let writes = RefCell::new(Vec::new());
        let mut out = recording(&writes);
        out.write(b"abc");
        write!(out, "{}", 42);
        out.flush();
        out.flush();
        assert_eq!(*writes.borrow(), [b"abc42".to_vec()]);
        let big = vec![b'x'; CAPACITY + 1];
        out.write(b"head");
        out.write(&big);
        assert_eq!(
            writes.borrow().len(),
            3,
            "the held bytes, then the big piece"
        );
        assert_eq!(writes.borrow()[1], b"head");
        assert_eq!(writes.borrow()[2], big);
        assert_eq!(out.finish("t", 0), 0);
        assert_eq!(writes.borrow().len(), 3, "nothing left to write");
    }

    #[test]
    fn a_failed_write_drops_the_rest_and_fails_the_program() {
        let calls = RefCell::new(0);
        let mut out = Output::new(|_: &[u8]| {
            *calls.borrow_mut() += 1;
            false
        });
        out.write(b"lost");
        out.flush();
        assert!(out.failed());
        out.write(b"more");
        out.flush();
        assert_eq!(*calls.borrow(), 1, "no write after the failure");
        // (`finish` would now report through the runtime, which only runs inside Lux9.)
        assert!(out.failed());
    }
}
