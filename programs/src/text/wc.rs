//! wc: counts the lines, words and bytes of its inputs, in columns.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, Read};
use crate::args::{Options, Usage};

pub const USAGE: Usage = Usage {
    name: "wc",
    synopsis: "[-lwc] [file...]",
    about: "Counts the newlines, words (runs of bytes other than space, tab, newline, \
            vertical tab, form feed and carriage return) and bytes of each file, or of \
            standard input for `-` or no file. The counts are right-aligned in columns as \
            wide as the largest, followed by the file's name and, for several files, a \
            `total` line; standard input has no name, so a single count of it is just the \
            number. Without options all three are printed, always in that order.",
    flags: &[
        ('l', "count lines"),
        ('w', "count words"),
        ('c', "count bytes"),
    ],
    values: &[],
};

/// The counts of one input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub lines: u64,
    pub words: u64,
    pub bytes: u64,
}

impl core::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.lines += other.lines;
        self.words += other.words;
        self.bytes += other.bytes;
    }
}

/// Counts bytes fed in any pieces: a word cut between two pieces counts once.
#[derive(Clone, Debug, Default)]
pub struct Counter {
    counts: Counts,
    in_word: bool,
}

impl Counter {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.counts.bytes += bytes.len() as u64;
        for &byte in bytes {
            if byte == b'\n' {
                self.counts.lines += 1;
            }
            let space = matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
            if !space && !self.in_word {
                self.counts.words += 1;
            }
            self.in_word = !space;
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }
}

/// The counts of `input`, read through `buf`.
pub fn count(input: &mut impl Read, buf: &mut [u8]) -> Result<Counts, Error> {
    let mut counter = Counter::default();
    loop {
        match input.read(buf).map_err(Error::Read)? {
            0 => return Ok(counter.counts()),
            read => counter.feed(&buf[..read]),
        }
    }
}

/// Which columns to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns {
    pub lines: bool,
    pub words: bool,
    pub bytes: bool,
}

impl Columns {
    /// The options' columns; all three when none is asked for.
    pub fn from(options: &Options) -> Self {
        let (lines, words, bytes) = (options.has('l'), options.has('w'), options.has('c'));
        if lines || words || bytes {
            Self {
                lines,
                words,
                bytes,
            }
        } else {
            Self {
                lines: true,
                words: true,
                bytes: true,
            }
        }
    }

    fn pick(self, counts: Counts) -> impl Iterator<Item = u64> {
        [
            (self.lines, counts.lines),
            (self.words, counts.words),
            (self.bytes, counts.bytes),
        ]
        .into_iter()
        .filter_map(|(shown, count)| shown.then_some(count))
    }
}

/// The output: one row per input, the counts right-aligned in columns as wide as the widest
/// count, separated by a space, then the name (none for standard input given as no file).
/// Several rows get a `total` row.
pub fn table(rows: &[(Counts, Option<&str>)], columns: Columns) -> String {
    let mut all: Vec<(Counts, Option<&str>)> = rows.to_vec();
    if rows.len() > 1 {
        let mut total = Counts::default();
        for (counts, _) in rows {
            total += *counts;
        }
        all.push((total, Some("total")));
    }
    let width = all
        .iter()
        .flat_map(|(counts, _)| columns.pick(*counts))
        .map(digits)
        .max()
        .unwrap_or(1);
    let mut text = String::new();
    for (counts, name) in all {
        let cells: Vec<String> = columns
            .pick(counts)
            .map(|count| format!("{count:>width$}"))
            .collect();
        text += &cells.join(" ");
        if let Some(name) = name {
            text.push(' ');
            text += name;
        }
        text.push('\n');
    }
    text
}

fn digits(mut n: u64) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

#[cfg(test)]
#[path = "wc_tests.rs"]
mod tests;
