//! sha256sum: prints the SHA-256 sum of each file (or of standard input) as coreutils does.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec;

use lib9pclient::codec::OREAD;
use lux9_programs::cli;
use lux9_programs::sha256::{self, Sum, USAGE};
use lux9_rt::{io, ns};

lux9_rt::entry!(run);

/// Bytes read at a time: one 9P message's worth (the name space's msize), so a file streams
/// through this buffer and is never held whole.
const PIECE: usize = 16 * 1024;

fn run(args: &str) -> i32 {
    let files = match cli::options(args, &USAGE) {
        Ok(options) => sha256::files(options),
        Err(code) => return code,
    };
    let mut buf = vec![0u8; PIECE];
    let mut status = 0;
    for file in &files {
        match sum_file(file, &mut buf) {
            Ok(sum) => {
                if !io::write_stdout(sha256::line(&sum, file).as_bytes()) {
                    return cli::fail(USAGE.name, "standard output", "write failed");
                }
            }
            Err(why) => {
                let what = if file == "-" { "standard input" } else { file };
                status = cli::fail(USAGE.name, what, why);
            }
        }
    }
    status
}

/// The sum of one file (`-`: standard input), or why it could not be read.
fn sum_file(file: &str, buf: &mut [u8]) -> Result<Sum, String> {
    if file == "-" {
        return sha256::sum_stream(buf, io::read_stdin).map_err(|e| e.to_string());
    }
    let mut opened = ns::open(file, OREAD).map_err(|e| e.to_string())?;
    if opened.qid().is_dir() {
        return Err("is a directory".into());
    }
    sha256::sum_stream(buf, |buf| opened.read(buf)).map_err(|e| e.to_string())
}
