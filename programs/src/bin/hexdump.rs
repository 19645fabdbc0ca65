//! hexdump: bytes in hexadecimal and ASCII (lux9_programs::text::hexdump).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec;

use lux9_programs::cli;
use lux9_programs::text::hexdump::{Dumper, USAGE};
use lux9_programs::text::stdio::Session;
use lux9_programs::text::{self, PIECE};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut dumper = Dumper::new(!options.has('v'));
    let files = text::inputs(options.operands);
    let mut buf = vec![0u8; PIECE];
    let mut session = Session::new(USAGE.name);
    session.each_input(&files, |_, input, out| {
        dumper.feed_from(input, out, &mut buf)
    });
    if !session.broken() {
        let result = dumper.finish(&mut session.out);
        session.wrote(result);
    }
    session.status()
}
