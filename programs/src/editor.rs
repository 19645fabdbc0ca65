//! The shell's line editor: a state machine fed the bytes of a raw console, one at a time,
//! that says what to echo and when a line is done.
//!
//! Keys: printable characters (UTF-8) insert at the cursor; Backspace (DEL or BS) deletes
//! before it and Delete (`ESC [ 3 ~`) under it; Ctrl-U kills the line, Ctrl-W the word before
//! the cursor; Ctrl-C abandons the line (showing `^C`); Ctrl-D on an empty line ends input;
//! Enter (CR or LF; an LF right after a CR is ignored) submits. Left and right arrows move the
//! cursor, Home/End and Ctrl-A/Ctrl-E jump to the ends; up and down arrows walk the history
//! (`ESC [ A`/`B` or `ESC O A`/`B`). Other escape sequences are swallowed.
//!
//! The echo assumes a terminal where BS moves the cursor left without erasing (any serial
//! terminal); the editor never needs to know the prompt, because it only moves relative to
//! the cursor. Characters are taken to be one column wide.

use alloc::string::String;
use alloc::vec::Vec;

use crate::history::History;

/// What a fed byte completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line, without its newline.
    Line(String),
    /// Ctrl-C: the line was abandoned; show a fresh prompt.
    Cancel,
    /// Ctrl-D on an empty line.
    Eof,
}

const BS: char = '\x08';

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// After `ESC [`: the numeric parameter so far.
    Csi(u32),
    /// After `ESC O`.
    Ss3,
}

/// Collects the bytes of one UTF-8 character.
#[derive(Clone, Copy, Debug, Default)]
struct Utf8 {
    bytes: [u8; 4],
    len: usize,
    need: usize,
}

impl Utf8 {
    fn feed(&mut self, byte: u8) -> Option<char> {
        if self.need == 0 {
            self.need = match byte {
                0x00..=0x7f => return Some(char::from(byte)),
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => return None, // a stray continuation or invalid lead byte
            };
            self.len = 0;
        } else if byte & 0xc0 != 0x80 {
            // The character was cut short; start over with this byte.
            self.need = 0;
            return self.feed(byte);
        }
        self.bytes[self.len] = byte;
        self.len += 1;
        if self.len < self.need {
            return None;
        }
        self.need = 0;
        core::str::from_utf8(&self.bytes[..self.len])
            .ok()
            .and_then(|s| s.chars().next())
    }
}

#[derive(Clone, Debug)]
pub struct Editor {
    line: Vec<char>,
    cursor: usize,
    history: History,
    /// The history entry shown, while walking it.
    browsing: Option<usize>,
    /// The line being typed when the walk started, shown again past the newest entry.
    draft: Vec<char>,
    escape: Escape,
    after_cr: bool,
    utf8: Utf8,
}

impl Default for Editor {
    fn default() -> Self {
        Self::new(History::default())
    }
}

impl Editor {
    pub fn new(history: History) -> Self {
        Self {
            line: Vec::new(),
            cursor: 0,
            history,
            browsing: None,
            draft: Vec::new(),
            escape: Escape::None,
            after_cr: false,
            utf8: Utf8::default(),
        }
    }

    /// The line being edited.
    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// The cursor's position in characters from the start of the line.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Feeds one input byte; appends what to echo to `out`. Returns an event when the byte
    /// ended the line.
    pub fn feed(&mut self, byte: u8, out: &mut String) -> Option<Event> {
        let after_cr = core::mem::take(&mut self.after_cr);
        match self.escape {
            Escape::None => {}
            Escape::Start => {
                self.escape = match byte {
                    b'[' => Escape::Csi(0),
                    b'O' => Escape::Ss3,
                    0x1b => Escape::Start,
                    // Alt-key or a lone ESC: forget the ESC, keep the key.
                    _ => Escape::None,
                };
                if self.escape != Escape::None {
                    return None;
                }
            }
            Escape::Csi(param) => {
                self.escape = Escape::None;
                match byte {
                    b'0'..=b'9' => {
                        let digit = u32::from(byte - b'0');
                        self.escape = Escape::Csi(param.saturating_mul(10).saturating_add(digit));
                    }
                    // Further parameters and intermediates: keep reading, ignore them.
                    0x20..=0x3f => self.escape = Escape::Csi(param),
                    0x40..=0x7e => self.key(byte, param, out),
                    _ => {} // not a sequence after all: drop it
                }
                return None;
            }
            Escape::Ss3 => {
                self.escape = Escape::None;
                self.key(byte, 0, out);
                return None;
            }
        }
        match byte {
            b'\r' => {
                self.after_cr = true;
                Some(self.submit(out))
            }
            b'\n' if after_cr => None,
            b'\n' => Some(self.submit(out)),
            0x7f | 0x08 => {
                self.backspace(out);
                None
            }
            0x03 => {
                out.push_str("^C\n");
                self.reset();
                Some(Event::Cancel)
            }
            0x04 if self.line.is_empty() => {
                out.push('\n');
                self.reset();
                Some(Event::Eof)
            }
            0x15 => {
                self.redraw(Vec::new(), 0, out);
                None
            }
            0x17 => {
                self.erase_word(out);
                None
            }
            0x01 => {
                self.move_to(0, out);
                None
            }
            0x05 => {
                self.move_to(self.line.len(), out);
                None
            }
            0x1b => {
                self.escape = Escape::Start;
                None
            }
            0x00..=0x1f => None,
            _ => {
                if let Some(ch) = self.utf8.feed(byte) {
                    self.insert(ch, out);
                }
                None
            }
        }
    }

    /// Feeds several bytes; stops after the first event and returns it with how many bytes
    /// were consumed.
    pub fn feed_all(&mut self, bytes: &[u8], out: &mut String) -> (usize, Option<Event>) {
        for (index, &byte) in bytes.iter().enumerate() {
            if let Some(event) = self.feed(byte, out) {
                return (index + 1, Some(event));
            }
        }
        (bytes.len(), None)
    }

    /// The final byte of an escape sequence, with its numeric parameter.
    fn key(&mut self, byte: u8, param: u32, out: &mut String) {
        match (byte, param) {
            (b'A', _) => self.history_back(out),
            (b'B', _) => self.history_forward(out),
            (b'C', _) => self.move_to(self.cursor + 1, out),
            (b'D', _) => self.move_to(self.cursor.saturating_sub(1), out),
            (b'H', _) | (b'~', 1 | 7) => self.move_to(0, out),
            (b'F', _) | (b'~', 4 | 8) => self.move_to(self.line.len(), out),
            (b'~', 3) => self.delete(out),
            _ => {}
        }
    }

    fn submit(&mut self, out: &mut String) -> Event {
        out.push('\n');
        let line = self.line();
        self.history.push(&line);
        self.reset();
        Event::Line(line)
    }

    fn reset(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
    }

    fn insert(&mut self, ch: char, out: &mut String) {
        self.line.insert(self.cursor, ch);
        self.cursor += 1;
        out.push(ch);
        // Characters after the cursor shift right: rewrite them and come back.
        let tail = &self.line[self.cursor..];
        out.extend(tail);
        out.extend(core::iter::repeat_n(BS, tail.len()));
    }

    fn backspace(&mut self, out: &mut String) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        out.push(BS);
        self.delete(out);
    }

    /// Deletes the character under the cursor.
    fn delete(&mut self, out: &mut String) {
        if self.cursor == self.line.len() {
            return;
        }
        self.line.remove(self.cursor);
        // Shift the rest left, blank the last column, and come back.
        let tail = &self.line[self.cursor..];
        out.extend(tail);
        out.push(' ');
        out.extend(core::iter::repeat_n(BS, tail.len() + 1));
    }

    fn erase_word(&mut self, out: &mut String) {
        let mut start = self.cursor;
        while start > 0 && self.line[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.line[start - 1] != ' ' {
            start -= 1;
        }
        let mut line = self.line[..start].to_vec();
        line.extend_from_slice(&self.line[self.cursor..]);
        self.redraw(line, start, out);
    }

    fn move_to(&mut self, position: usize, out: &mut String) {
        let position = position.min(self.line.len());
        if position < self.cursor {
            out.extend(core::iter::repeat_n(BS, self.cursor - position));
        } else {
            out.extend(&self.line[self.cursor..position]);
        }
        self.cursor = position;
    }

    /// Replaces the line: back to its start, write the new one, blank what is left of the
    /// old, and put the cursor at `cursor`.
    fn redraw(&mut self, line: Vec<char>, cursor: usize, out: &mut String) {
        out.extend(core::iter::repeat_n(BS, self.cursor));
        out.extend(&line);
        let blank = self.line.len().saturating_sub(line.len());
        out.extend(core::iter::repeat_n(' ', blank));
        out.extend(core::iter::repeat_n(BS, line.len() + blank - cursor));
        self.line = line;
        self.cursor = cursor;
    }

    fn show_history(&mut self, index: Option<usize>, out: &mut String) {
        let line: Vec<char> = match index {
            Some(index) => self.history.get(index).unwrap_or("").chars().collect(),
            None => core::mem::take(&mut self.draft),
        };
        self.browsing = index;
        let end = line.len();
        self.redraw(line, end, out);
    }

    fn history_back(&mut self, out: &mut String) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.line.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(index) => index - 1,
        };
        self.show_history(Some(index), out);
    }

    fn history_forward(&mut self, out: &mut String) {
        match self.browsing {
            None => {}
            Some(index) if index + 1 < self.history.len() => {
                self.show_history(Some(index + 1), out)
            }
            Some(_) => self.show_history(None, out),
        }
    }
}

#[cfg(test)]
#[path = "editor_tests.rs"]
mod tests;
