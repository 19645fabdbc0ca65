//! sha256sum's pure half: its usage, which files it hashes, hashing a stream read in pieces,
//! and coreutils' output line (`HEX  NAME`, with coreutils' escaping of awkward names).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use sha2::{Digest, Sha256};

use crate::args::{Options, Usage};

pub const USAGE: Usage = Usage {
    name: "sha256sum",
    synopsis: "[file...]",
    about: "Prints the SHA-256 sum of each file, or of standard input for `-` or no file, \
            as `HEX  FILE` lines in the format of coreutils' sha256sum.",
    flags: &[],
    values: &[],
};

/// A SHA-256 sum.
pub type Sum = [u8; 32];

/// The operands to hash: standard input (`-`) when there are none, as coreutils does.
pub fn files(options: Options) -> Vec<String> {
    let mut files = options.operands;
    if files.is_empty() {
        files.push("-".into());
    }
    files
}

/// Hashes what `read` yields into `buf` until it returns 0 (the end), whatever the sizes of
/// its pieces; only `buf` is held in memory. The first error ends it and is returned.
pub fn sum_stream<E>(
    buf: &mut [u8],
    mut read: impl FnMut(&mut [u8]) -> Result<usize, E>,
) -> Result<Sum, E> {
    let mut hasher = Sha256::new();
    loop {
        match read(buf)? {
            0 => return Ok(hasher.finalize().into()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// The sum of `bytes` held in memory (for tests and small texts).
pub fn sum(bytes: &[u8]) -> Sum {
    Sha256::digest(bytes).into()
}

/// The sum as 64 lowercase hexadecimal digits.
pub fn hex(sum: &Sum) -> String {
    let mut text = String::with_capacity(2 * sum.len());
    for byte in sum {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// coreutils' line for one file: `HEX  NAME` and a newline. A name holding a backslash, a
/// newline or a carriage return is written with those escaped (`\\`, `\n`, `\r`) and the line
/// starts with a backslash, so that every line stays one line and `sha256sum -c` can read it.
pub fn line(sum: &Sum, name: &str) -> String {
    let awkward = |ch: char| matches!(ch, '\\' | '\n' | '\r');
    let mut text = String::new();
    if name.contains(awkward) {
        text.push('\\');
    }
    text += &hex(sum);
    text += "  ";
    for ch in name.chars() {
        match ch {
            '\\' => text += "\\\\",
            '\n' => text += "\\n",
            '\r' => text += "\\r",
            ch => text.push(ch),
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
#[path = "sha256_tests.rs"]
mod tests;
