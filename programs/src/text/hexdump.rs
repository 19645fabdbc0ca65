//! hexdump: bytes as hexadecimal and ASCII in the canonical (`-C`) layout of util-linux and
//! the BSDs, with repeated lines squeezed to `*`.

use super::{Error, Read, Write};
use crate::args::Usage;

pub const USAGE: Usage = Usage {
    name: "hexdump",
    synopsis: "[-Cv] [file...]",
    about: "Prints the files, or standard input for `-` or no file, one input after the \
            other, in the canonical layout: each line an 8-digit hexadecimal offset, 16 \
            bytes in hexadecimal and the same bytes as ASCII between bars (`.` for what is \
            not printable). A line equal to the one before is shown as one `*` line for the \
            whole run; the last line is the offset at the end. This is the only layout, with \
            or without -C.",
    flags: &[
        ('C', "canonical hex+ASCII layout (the default and only one)"),
        ('v', "print every line: no `*` for repeated lines"),
    ],
    values: &[],
};

/// Bytes per line.
const WIDTH: usize = 16;

/// The longest line: a 16-digit offset, two spaces, the hexadecimal columns (a space after
/// each and one more in the middle), a space, the ASCII between bars, a newline.
const LINE: usize = 16 + 2 + (3 * WIDTH + 1) + 1 + (1 + WIDTH + 1) + 1;

/// Dumps bytes fed in any pieces; [`finish`](Self::finish) prints the last partial line and
/// the final offset.
pub struct Dumper {
    offset: u64,
    line: [u8; WIDTH],
    filled: usize,
    /// The last full line, once there is one, to squeeze the lines equal to it.
    previous: Option<[u8; WIDTH]>,
    /// A `*` was printed for the current run of equal lines.
    squeezing: bool,
    squeeze: bool,
}

impl Dumper {
    /// `squeeze`: print `*` for repeated lines (no `-v`).
    pub fn new(squeeze: bool) -> Self {
        Self {
            offset: 0,
            line: [0; WIDTH],
            filled: 0,
            previous: None,
            squeezing: false,
            squeeze,
        }
    }

    pub fn feed(&mut self, mut bytes: &[u8], out: &mut impl Write) -> Result<(), Error> {
        while !bytes.is_empty() {
            let take = (WIDTH - self.filled).min(bytes.len());
            self.line[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled == WIDTH {
                self.full_line(out)?;
            }
        }
        Ok(())
    }

    /// Feeds all of `input`, read through `buf`.
    pub fn feed_from(
        &mut self,
        input: &mut impl Read,
        out: &mut impl Write,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        loop {
            match input.read(buf).map_err(Error::Read)? {
                0 => return Ok(()),
                read => self.feed(&buf[..read], out)?,
            }
        }
    }

    fn full_line(&mut self, out: &mut impl Write) -> Result<(), Error> {
        if self.squeeze && self.previous == Some(self.line) {
            if !self.squeezing {
                out.write(b"*\n")?;
                self.squeezing = true;
            }
        } else {
            self.squeezing = false;
            write_line(out, self.offset, &self.line)?;
            self.previous = Some(self.line);
        }
        self.offset += WIDTH as u64;
        self.filled = 0;
        Ok(())
    }

    /// Prints what is left: a partial line, then the offset at the end (nothing at all for
    /// an empty input, as util-linux does).
    pub fn finish(mut self, out: &mut impl Write) -> Result<(), Error> {
        if self.filled > 0 {
            write_line(out, self.offset, &self.line[..self.filled])?;
            self.offset += self.filled as u64;
        }
        if self.offset > 0 {
            let mut text = [0u8; 17];
            let len = hex_offset(&mut text, self.offset);
            text[len] = b'\n';
            out.write(&text[..=len])?;
        }
        Ok(())
    }
}

/// One line: `OFFSET  hh hh ... hh  hh ... hh  |ASCII|`, the hexadecimal columns padded for a
/// short last line.
fn write_line(out: &mut impl Write, offset: u64, bytes: &[u8]) -> Result<(), Error> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b' '; LINE];
    let mut at = hex_offset(&mut text, offset) + 2;
    for column in 0..WIDTH {
        if let Some(&byte) = bytes.get(column) {
            text[at] = DIGITS[usize::from(byte >> 4)];
            text[at + 1] = DIGITS[usize::from(byte & 0xf)];
        }
        at += 3;
        if column == WIDTH / 2 - 1 {
            at += 1;
        }
    }
    at += 1;
    text[at] = b'|';
    at += 1;
    for &byte in bytes {
        text[at] = if byte == b' ' || byte.is_ascii_graphic() {
            byte
        } else {
            b'.'
        };
        at += 1;
    }
    text[at] = b'|';
    text[at + 1] = b'\n';
    out.write(&text[..at + 2])
}

/// Writes `offset` in at least 8 hexadecimal digits at the start of `text`; returns how many.
fn hex_offset(text: &mut [u8], offset: u64) -> usize {
    let digits = (16 - offset.leading_zeros() as usize / 4).max(8);
    for (place, slot) in text[..digits].iter_mut().rev().enumerate() {
        *slot = b"0123456789abcdef"[((offset >> (4 * place)) & 0xf) as usize];
    }
    digits
}

#[cfg(test)]
#[path = "hexdump_tests.rs"]
mod tests;
