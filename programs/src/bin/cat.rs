//! cat: copies files (or standard input) to standard output.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec;

use lib9pclient::codec::OREAD;
use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_rt::{io, ns};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "cat",
    synopsis: "[file...]",
    about: "Copies each file, or standard input for `-` or no file, to standard output.",
    flags: &[],
    values: &[],
};

/// Bytes copied per read: one 9P message's worth.
const PIECE: usize = 16 * 1024;

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut files = options.operands;
    if files.is_empty() {
        files.push("-".into());
    }
    let mut buf = vec![0u8; PIECE];
    let mut status = 0;
    for file in &files {
        if let Err((what, why)) = copy(file, &mut buf) {
            status = cli::fail("cat", what, why);
            if what == "standard output" {
                break; // nothing more can be written
            }
        }
    }
    status
}

/// Copies one file; on failure says what failed (the file or standard output) and why.
fn copy<'a>(file: &'a str, buf: &mut [u8]) -> Result<(), (&'a str, alloc::string::String)> {
    use alloc::string::ToString;
    let mut source = if file == "-" {
        None
    } else {
        let opened = ns::open(file, OREAD).map_err(|e| (file, e.to_string()))?;
        if opened.qid().is_dir() {
            return Err((file, "is a directory".into()));
        }
        Some(opened)
    };
    loop {
        let read = match source.as_mut() {
            Some(source) => source.read(buf),
            None => io::read_stdin(buf),
        };
        let what = if file == "-" { "standard input" } else { file };
        match read.map_err(|e| (what, e.to_string()))? {
            0 => return Ok(()),
            n if io::write_stdout(&buf[..n]) => {}
            _ => return Err(("standard output", "write failed".into())),
        }
    }
}
