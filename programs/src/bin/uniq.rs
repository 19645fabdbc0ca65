//! uniq: adjacent repeated lines once (lux9_programs::text::uniq).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec;

use lux9_programs::cli;
use lux9_programs::text::stdio::Session;
use lux9_programs::text::uniq::{self, Select, USAGE};
use lux9_programs::text::{self, PIECE};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if options.operands.len() > 1 {
        return cli::usage_error(&USAGE, "at most one file");
    }
    let select = Select::from(&options);
    let files = text::inputs(options.operands);
    let mut buf = vec![0u8; PIECE];
    let mut session = Session::new(USAGE.name);
    session.each_input(&files, |_, input, out| {
        uniq::uniq(input, out, select, &mut buf)
    });
    session.status()
}
