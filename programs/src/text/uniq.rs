//! uniq: its input with adjacent repeated lines shown once, counted, or picked out.

use alloc::format;
use alloc::vec::Vec;
use core::ops::ControlFlow;

use super::{Error, Read, Write, content, for_each_line};
use crate::args::{Options, Usage};

pub const USAGE: Usage = Usage {
    name: "uniq",
    synopsis: "[-cdu] [file]",
    about: "Prints the file, or standard input for `-` or no file, with each run of \
            adjacent equal lines shown once (sort first to gather equal lines). A last line \
            without a newline equals the same line with one, and is printed with one.",
    flags: &[
        ('c', "put before each line how many times it came"),
        ('d', "print only the lines that came more than once"),
        ('u', "print only the lines that came once"),
    ],
    values: &[],
};

/// Which runs to print, and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Select {
    pub count: bool,
    pub repeated: bool,
    pub unique: bool,
}

impl Select {
    pub fn from(options: &Options) -> Self {
        Self {
            count: options.has('c'),
            repeated: options.has('d'),
            unique: options.has('u'),
        }
    }

    fn write(self, out: &mut impl Write, line: &[u8], times: u64) -> Result<(), Error> {
        if (self.repeated && times < 2) || (self.unique && times > 1) {
            return Ok(());
        }
        if self.count {
            out.write(format!("{times:>7} ").as_bytes())?;
        }
        out.write(line)?;
        out.write(b"\n")
    }
}

/// Reads `input` through `buf` and prints its runs of equal lines as `select` says. Only
/// the current line is held.
pub fn uniq(
    input: &mut impl Read,
    out: &mut impl Write,
    select: Select,
    buf: &mut [u8],
) -> Result<(), Error> {
    let mut current: Vec<u8> = Vec::new();
    let mut times = 0u64;
    for_each_line(input, buf, |line| {
        let line = content(line);
        if times > 0 && line == current.as_slice() {
            times += 1;
        } else {
            if times > 0 {
                select.write(out, &current, times)?;
            }
            current.clear();
            current.extend_from_slice(line);
            times = 1;
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if times > 0 {
        select.write(out, &current, times)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "uniq_tests.rs"]
mod tests;
