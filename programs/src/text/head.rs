//! head: the first lines or bytes of its inputs. It stops reading as soon as it has them, so
//! `head -c N` of an endless input ends.

use alloc::format;
use alloc::string::String;

use super::{Error, Read, Write};
use crate::args::{self, ArgError, Options, Usage};

pub const USAGE: Usage = Usage {
    name: "head",
    synopsis: "[-n N | -c N] [file...]",
    about: "Prints the first 10 lines of each file, or of standard input for `-` or no file. \
            With several files each starts with a `==> FILE <==` header. head reads no \
            further than what it prints.",
    flags: &[],
    values: &[
        ('n', "N", "print the first N lines"),
        ('c', "N", "print the first N bytes"),
    ],
};

/// How much of each input to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Lines(u64),
    Bytes(u64),
}

/// The count the options ask for: the last of `-n` and `-c` counts; 10 lines by default.
pub fn count(options: &Options) -> Result<Count, ArgError> {
    let mut count = Count::Lines(10);
    for (flag, value) in options.values() {
        let n = args::count(value).map_err(|why| ArgError::BadValue(flag, value.into(), why))?;
        count = if flag == 'c' {
            Count::Bytes(n)
        } else {
            Count::Lines(n)
        };
    }
    Ok(count)
}

/// The header before each input when there are several; a blank line separates it from
/// the input before.
pub fn header(name: &str, first: bool) -> String {
    let gap = if first { "" } else { "\n" };
    format!("{gap}==> {name} <==\n")
}

/// Copies the first `count` lines or bytes of `input` to `out`, reading through `buf` and
/// never past what it needs (a count of 0 reads nothing).
pub fn head(
    input: &mut impl Read,
    out: &mut impl Write,
    count: Count,
    buf: &mut [u8],
) -> Result<(), Error> {
    match count {
        Count::Bytes(mut left) => {
            while left > 0 {
                // No more than what is left, so that nothing past it is consumed.
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                let read = input.read(&mut buf[..want]).map_err(Error::Read)?;
                if read == 0 {
                    break;
                }
                out.write(&buf[..read])?;
                left -= read as u64;
            }
        }
        Count::Lines(mut left) => {
            while left > 0 {
                let read = input.read(buf).map_err(Error::Read)?;
                if read == 0 {
                    break;
                }
                let piece = &buf[..read];
                let (end, lines) = through_newlines(piece, left);
                out.write(&piece[..end])?;
                left -= lines;
            }
        }
    }
    Ok(())
}

/// How many bytes of `piece` hold its first `most` lines (all of it if it has fewer), and how
/// many newlines those bytes end.
fn through_newlines(piece: &[u8], most: u64) -> (usize, u64) {
    let mut lines = 0;
    for (at, _) in piece.iter().enumerate().filter(|(_, byte)| **byte == b'\n') {
        lines += 1;
        if lines == most {
            return (at + 1, lines);
        }
    }
    (piece.len(), lines)
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
