//! The console's line discipline: turns typed bytes into what readers of `/dev/cons` see.
//!
//! **Cooked** (the default): input is collected into a line, echoed as it is typed, and edited
//! before anyone reads it: backspace (DEL or BS) removes the last character, Ctrl-U the whole
//! line, Ctrl-C abandons it and the lines typed ahead (showing `^C`) and raises an interrupt
//! ([`LineDiscipline::take_interrupt`]: the kernel interrupts the console's foreground job).
//! Enter (CR or LF; an LF right after a CR is dropped) completes the line, which readers then
//! get with its newline. Ctrl-D on an empty
//! line is end of file (a read returns 0); on a partial line it hands over the line so far.
//! Escape sequences (arrow keys) are swallowed. A line is at most [`LINE_MAX`] bytes; extra
//! bytes are dropped.
//!
//! **Raw**: bytes reach readers exactly as they arrive, unechoed (the shell edits for itself).
//!
//! Switching from cooked to raw hands what was typed ahead (complete lines and the partial
//! one) to raw readers, so nothing typed is lost.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Longest cooked line.
pub const LINE_MAX: usize = 4096;
/// Raw bytes kept for readers before new ones are dropped.
pub const RAW_MAX: usize = 16 * 1024;
/// Complete lines kept for readers before new ones are dropped.
pub const LINES_MAX: usize = 64;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// After ESC [ or ESC O: parameters until a final byte.
    Sequence,
}

#[derive(Debug, Default)]
pub struct LineDiscipline {
    raw: bool,
    /// The line being typed (cooked).
    editing: Vec<u8>,
    /// Complete lines for readers; an empty one is an end of file.
    lines: VecDeque<Vec<u8>>,
    /// Bytes of the front line already read.
    consumed: usize,
    /// Raw bytes for readers.
    bytes: VecDeque<u8>,
    after_cr: bool,
    escape: Escape,
    /// Ctrl-C was typed (cooked) since the last [`LineDiscipline::take_interrupt`].
    interrupt: bool,
}

impl LineDiscipline {
    pub const fn new() -> Self {
        Self {
            raw: false,
            editing: Vec::new(),
            lines: VecDeque::new(),
            consumed: 0,
            interrupt: false,
            bytes: VecDeque::new(),
            after_cr: false,
            escape: Escape::None,
        }
    }

    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Switches modes. Going raw, typed-ahead cooked input becomes raw bytes.
    pub fn set_raw(&mut self, raw: bool) {
        if raw && !self.raw {
            while let Some(line) = self.lines.pop_front() {
                let start = core::mem::take(&mut self.consumed).min(line.len());
                if line.is_empty() {
                    self.bytes.push_back(0x04); // the Ctrl-D that made the end of file
                }
                self.bytes.extend(&line[start..]);
            }
            self.bytes.extend(self.editing.drain(..));
        }
        self.raw = raw;
        self.after_cr = false;
        self.escape = Escape::None;
    }

    /// Whether a read would return at once (with data or an end of file).
    pub fn ready(&self) -> bool {
        if self.raw {
            !self.bytes.is_empty()
        } else {
            !self.lines.is_empty()
        }
    }

    /// Takes one typed byte; appends what should be echoed to `echo`.
    /// Whether Ctrl-C was typed in cooked mode since the last call (which clears it).
    pub fn take_interrupt(&mut self) -> bool {
        core::mem::take(&mut self.interrupt)
    }

    pub fn input(&mut self, byte: u8, echo: &mut Vec<u8>) {
        if self.raw {
            if self.bytes.len() < RAW_MAX {
                self.bytes.push_back(byte);
            }
            return;
        }
        match self.escape {
            Escape::Start => {
                self.escape = if byte == b'[' || byte == b'O' {
                    Escape::Sequence
                } else {
                    Escape::None
                };
                return;
            }
            Escape::Sequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return;
            }
            Escape::None => {}
        }
        let after_cr = core::mem::take(&mut self.after_cr);
        match byte {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                self.editing.push(b'\n');
                echo.push(b'\n');
                self.complete();
            }
            0x7f | 0x08 if self.pop_char() => echo.extend_from_slice(b"\x08 \x08"),
            0x15 => {
                while self.pop_char() {
                    echo.extend_from_slice(b"\x08 \x08");
                }
            }
            0x03 => {
                self.editing.clear();
                // Typed ahead for the job being interrupted: gone with it, as POSIX's flush.
                self.lines.clear();
                self.consumed = 0;
                self.interrupt = true;
                echo.extend_from_slice(b"^C\n");
            }
            0x04 => self.complete(),
            0x1b => self.escape = Escape::Start,
            b'\t' | 0x20..=0x7e | 0x80..=0xff if self.editing.len() < LINE_MAX - 1 => {
                self.editing.push(byte);
                echo.push(byte);
            }
            // Other control characters, backspace on an empty line, bytes past the limit.
            _ => {}
        }
    }

    /// Hands the line being typed to readers (empty: an end of file).
    fn complete(&mut self) {
        if self.lines.len() < LINES_MAX {
            self.lines.push_back(core::mem::take(&mut self.editing));
        } else {
            self.editing.clear();
        }
    }

    /// Removes the last character (a whole UTF-8 sequence) of the line being typed.
    fn pop_char(&mut self) -> bool {
        let Some(mut last) = self.editing.pop() else {
            return false;
        };
        while last & 0xc0 == 0x80 {
            match self.editing.pop() {
                Some(byte) => last = byte,
                None => break,
            }
        }
        true
    }

    /// Copies available input into `buf`: in cooked mode at most one line (a long line comes in
    /// pieces), in raw mode whatever has arrived. `None` when nothing is ready; `Some(0)` is an
    /// end of file.
    pub fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        if buf.is_empty() {
            return Some(0);
        }
        if self.raw {
            if self.bytes.is_empty() {
                return None;
            }
            let n = buf.len().min(self.bytes.len());
            for (slot, byte) in buf.iter_mut().zip(self.bytes.drain(..n)) {
                *slot = byte;
            }
            return Some(n);
        }
        let line = self.lines.front()?;
        let rest = &line[self.consumed..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.consumed += n;
        if self.consumed >= line.len() {
            self.lines.pop_front();
            self.consumed = 0;
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(ld: &mut LineDiscipline, bytes: &[u8]) -> Vec<u8> {
        let mut echo = Vec::new();
        for &b in bytes {
            ld.input(b, &mut echo);
        }
        echo
    }

    fn read_all(ld: &mut LineDiscipline) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        while let Some(n) = ld.read(&mut buf) {
            if n == 0 {
                out.extend_from_slice(b"<EOF>");
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn cooked_lines_are_echoed_and_edited() {
        let mut ld = LineDiscipline::new();
        let echo = feed(&mut ld, b"lx\x7fs /dev\r\n");
        assert_eq!(echo, b"lx\x08 \x08s /dev\n");
        assert!(ld.ready());
        let mut buf = [0u8; 64];
        assert_eq!(ld.read(&mut buf), Some(8));
        assert_eq!(&buf[..8], b"ls /dev\n");
        assert_eq!(
            ld.read(&mut buf),
            None,
            "the LF after CR is not a second line"
        );
    }

    #[test]
    fn nothing_is_readable_until_enter() {
        let mut ld = LineDiscipline::new();
        feed(&mut ld, b"partial");
        assert!(!ld.ready());
        assert_eq!(ld.read(&mut [0u8; 16]), None);
        feed(&mut ld, b"\n");
        assert_eq!(read_all(&mut ld), b"partial\n");
    }

    #[test]
    fn kill_cancel_and_end_of_file() {
        let mut ld = LineDiscipline::new();
        let echo = feed(&mut ld, b"abc\x15x\x03yz\n\x04");
        assert_eq!(echo, b"abc\x08 \x08\x08 \x08\x08 \x08x^C\nyz\n");
        assert_eq!(read_all(&mut ld), b"yz\n<EOF>");
        // Ctrl-D on a partial line hands it over without a newline.
        feed(&mut ld, b"ab\x04");
        assert_eq!(read_all(&mut ld), b"ab");
    }

    #[test]
    fn ctrl_c_raises_one_interrupt_and_drops_what_was_typed_ahead() {
        let mut ld = LineDiscipline::new();
        assert!(!ld.take_interrupt());
        feed(&mut ld, b"typed ahead\npart");
        feed(&mut ld, b"\x03");
        assert!(ld.take_interrupt());
        assert!(!ld.take_interrupt(), "taken once");
        assert!(!ld.ready(), "the line typed ahead went with the job");
        feed(&mut ld, b"after\n");
        assert_eq!(read_all(&mut ld), b"after\n");
        // Raw, Ctrl-C is a byte for the reader.
        ld.set_raw(true);
        feed(&mut ld, b"\x03");
        assert!(!ld.take_interrupt());
        assert_eq!(read_all(&mut ld), b"\x03");
    }

    #[test]
    fn long_lines_come_in_pieces_and_are_bounded() {
        let mut ld = LineDiscipline::new();
        feed(&mut ld, &[b'a'; LINE_MAX + 100]);
        feed(&mut ld, b"\n");
        let line = read_all(&mut ld);
        assert_eq!(line.len(), LINE_MAX);
        assert_eq!(line.last(), Some(&b'\n'));
    }

    #[test]
    fn backspace_removes_whole_utf8_characters_and_escapes_are_swallowed() {
        let mut ld = LineDiscipline::new();
        feed(&mut ld, "aé\x7f\x1b[Ab\x1bOBc\n".as_bytes());
        assert_eq!(read_all(&mut ld), b"abc\n");
    }

    #[test]
    fn raw_mode_passes_bytes_through_and_keeps_typed_ahead_input() {
        let mut ld = LineDiscipline::new();
        feed(&mut ld, b"one\ntw");
        ld.set_raw(true);
        let echo = feed(&mut ld, b"o\x7f\x1b[A");
        assert!(echo.is_empty(), "raw input is not echoed");
        assert_eq!(read_all(&mut ld), b"one\ntwo\x7f\x1b[A");
        ld.set_raw(false);
        feed(&mut ld, b"x\n");
        assert_eq!(read_all(&mut ld), b"x\n");
    }
}
