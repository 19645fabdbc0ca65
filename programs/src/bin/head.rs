//! head: the first lines or bytes of files or standard input (lux9_programs::text::head).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec;

use lux9_programs::cli;
use lux9_programs::text::head::{self, USAGE};
use lux9_programs::text::stdio::Session;
use lux9_programs::text::{self, PIECE, Write, label};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let count = match head::count(&options) {
        Ok(count) => count,
        Err(error) => return cli::usage_error(&USAGE, error),
    };
    let files = text::inputs(options.operands);
    let headers = files.len() > 1;
    let mut buf = vec![0u8; PIECE];
    let mut first = true;
    let mut session = Session::new(USAGE.name);
    session.each_input(&files, |file, input, out| {
        if headers {
            out.write(head::header(label(file), first).as_bytes())?;
            first = false;
        }
        head::head(input, out, count, &mut buf)
    });
    session.status()
}
