//! tail: the last lines of its inputs (`-n N`, holding only those N lines), or everything
//! from a line on (`-n +N`, streamed).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::ops::ControlFlow;

use super::{Error, Read, Write, for_each_line};
use crate::args::{self, ArgError, Options, Usage};

pub const USAGE: Usage = Usage {
    name: "tail",
    synopsis: "[-n [+]N] [file...]",
    about: "Prints the last 10 lines of each file, or of standard input for `-` or no file; \
            `-n +N` prints from line N on. With several files each starts with a \
            `==> FILE <==` header. Only the lines to print are held in memory.",
    flags: &[],
    values: &[(
        'n',
        "N",
        "print the last N lines; with +N, from line N to the end",
    )],
};

/// Where the printing starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The last N lines.
    Last(u64),
    /// From line N (counted from 1; +0 is taken as +1, as GNU does).
    From(u64),
}

/// The start the options ask for; the last 10 lines by default.
pub fn start(options: &Options) -> Result<Start, ArgError> {
    let Some(value) = options.value('n') else {
        return Ok(Start::Last(10));
    };
    let bad = |why| ArgError::BadValue('n', value.into(), why);
    match value.strip_prefix('+') {
        Some(from) => args::count(from).map(Start::From).map_err(bad),
        None => args::count(value).map(Start::Last).map_err(bad),
    }
}

/// Copies the lines of `input` from `start` on to `out`, reading through `buf`.
pub fn tail(
    input: &mut impl Read,
    out: &mut impl Write,
    start: Start,
    buf: &mut [u8],
) -> Result<(), Error> {
    match start {
        Start::Last(count) => last(input, out, count, buf),
        Start::From(line) => from(input, out, line.saturating_sub(1), buf),
    }
}

/// The last `count` lines: a ring of at most `count` lines, whose buffers are reused.
fn last(
    input: &mut impl Read,
    out: &mut impl Write,
    count: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    let mut lines: VecDeque<Vec<u8>> = VecDeque::new();
    for_each_line(input, buf, |line| {
        if count == 0 {
            return Ok(ControlFlow::Continue(()));
        }
        let mut kept = if lines.len() as u64 == count {
            lines.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        kept.clear();
        kept.extend_from_slice(line);
        lines.push_back(kept);
        Ok(ControlFlow::Continue(()))
    })?;
    for line in &lines {
        out.write(line)?;
    }
    Ok(())
}

/// Everything after the first `skip` lines, copied piece by piece.
fn from(
    input: &mut impl Read,
    out: &mut impl Write,
    mut skip: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    loop {
        let read = input.read(buf).map_err(Error::Read)?;
        if read == 0 {
            return Ok(());
        }
        let mut piece = &buf[..read];
        while skip > 0 {
            match super::newline(piece) {
                Some(at) => {
                    piece = &piece[at + 1..];
                    skip -= 1;
                }
                None => {
                    piece = &[];
                    break;
                }
            }
        }
        if !piece.is_empty() {
            out.write(piece)?;
        }
    }
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
