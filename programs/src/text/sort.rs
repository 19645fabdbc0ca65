//! sort: the lines of all its inputs, sorted by their bytes or as numbers. It must hold
//! them all: one buffer for the text and one range per line.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::ops::Range;

use super::{Error, Read, Write};
use crate::args::{Options, Usage};

pub const USAGE: Usage = Usage {
    name: "sort",
    synopsis: "[-rnu] [file...]",
    about: "Prints the lines of all the files, or of standard input for `-` or no file, \
            sorted by their bytes (as in the C locale). Lines that sort equal keep their \
            order. A last line without a newline gets one. The whole input is held in \
            memory.",
    flags: &[
        ('r', "reverse the order"),
        (
            'n',
            "compare the numbers the lines start with (blanks, an optional -, digits, an \
             optional fraction; none counts as 0), then the lines' bytes",
        ),
        ('u', "print only the first of the lines that compare equal"),
    ],
    values: &[],
};

/// How to compare and what to keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Order {
    pub reverse: bool,
    pub numeric: bool,
    pub unique: bool,
}

impl Order {
    pub fn from(options: &Options) -> Self {
        Self {
            reverse: options.has('r'),
            numeric: options.has('n'),
            unique: options.has('u'),
        }
    }

    /// The key comparison: bytes, or numbers. Under `-u` lines with equal keys are one.
    fn key(self, a: &[u8], b: &[u8]) -> Ordering {
        let order = if self.numeric {
            numeric(a, b)
        } else {
            a.cmp(b)
        };
        if self.reverse { order.reverse() } else { order }
    }

    /// The full comparison: the key, then (as GNU's last resort, except under `-u`) the
    /// bytes, so that `-n` orders lines with equal numbers by their text.
    fn full(self, a: &[u8], b: &[u8]) -> Ordering {
        let order = self.key(a, b);
        if order.is_ne() || self.unique || !self.numeric {
            return order;
        }
        if self.reverse { b.cmp(a) } else { a.cmp(b) }
    }
}

/// The text of all inputs, as lines.
#[derive(Debug, Default)]
pub struct Lines {
    text: Vec<u8>,
    /// Each line's bytes in `text`, without its newline.
    lines: Vec<Range<usize>>,
}

impl Lines {
    /// Reads all of `input` through `buf` and adds its lines.
    pub fn read(&mut self, input: &mut impl Read, buf: &mut [u8]) -> Result<(), Error> {
        let start = self.text.len();
        loop {
            match input.read(buf).map_err(Error::Read)? {
                0 => break,
                read => self.text.extend_from_slice(&buf[..read]),
            }
        }
        // The next input's first line must not join this one's last.
        if self.text.len() > start && self.text.last() != Some(&b'\n') {
            self.text.push(b'\n');
        }
        let mut line_start = start;
        for (at, _) in self.text[start..]
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'\n')
        {
            self.lines.push(line_start..start + at);
            line_start = start + at + 1;
        }
        Ok(())
    }

    /// Writes the lines in `order`, each with a newline.
    pub fn write_sorted(&mut self, out: &mut impl Write, order: Order) -> Result<(), Error> {
        let text = &self.text;
        // A stable sort: equal lines keep the order they came in.
        self.lines
            .sort_by(|a, b| order.full(&text[a.clone()], &text[b.clone()]));
        let mut previous: Option<&[u8]> = None;
        for range in &self.lines {
            let line = &text[range.start..=range.end];
            let key = &line[..line.len() - 1];
            if order.unique && previous.is_some_and(|previous| order.key(previous, key).is_eq()) {
                continue;
            }
            out.write(line)?;
            previous = Some(key);
        }
        Ok(())
    }
}

/// Compares the numbers two lines start with, as `sort -n` does: leading blanks, an optional
/// minus sign, digits and an optional `.` and fraction; anything else ends the number, and a
/// line without one counts as 0. Numbers of any length compare exactly.
pub fn numeric(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (Number::parse(a), Number::parse(b));
    match (a.negative, b.negative) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => a.magnitude(&b),
        (true, true) => b.magnitude(&a),
    }
}

/// A number's digits, without leading zeros in the integer part or trailing zeros in the
/// fraction; a zero is never negative.
struct Number<'a> {
    negative: bool,
    integer: &'a [u8],
    fraction: &'a [u8],
}

impl<'a> Number<'a> {
    fn parse(line: &'a [u8]) -> Self {
        let mut rest = line.trim_ascii_start();
        let negative = rest.first() == Some(&b'-');
        if negative {
            rest = &rest[1..];
        }
        let digits = |bytes: &'a [u8]| {
            let end = bytes
                .iter()
                .position(|byte| !byte.is_ascii_digit())
                .unwrap_or(bytes.len());
            (&bytes[..end], &bytes[end..])
        };
        let (integer, rest) = digits(rest);
        let fraction = match rest.strip_prefix(b".") {
            Some(rest) => digits(rest).0,
            None => &[],
        };
        let integer = &integer[integer.iter().take_while(|d| **d == b'0').count()..];
        let fraction =
            &fraction[..fraction.len() - fraction.iter().rev().take_while(|d| **d == b'0').count()];
        let zero = integer.is_empty() && fraction.is_empty();
        Self {
            negative: negative && !zero,
            integer,
            fraction,
        }
    }

    /// Compares the absolute values.
    fn magnitude(&self, other: &Self) -> Ordering {
        self.integer
            .len()
            .cmp(&other.integer.len())
            .then_with(|| self.integer.cmp(other.integer))
            .then_with(|| self.fraction.cmp(other.fraction))
    }
}

#[cfg(test)]
#[path = "sort_tests.rs"]
mod tests;
