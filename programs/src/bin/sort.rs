//! sort: sorts the lines of files or standard input (lux9_programs::text::sort).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec;

use lux9_programs::cli;
use lux9_programs::text::sort::{Lines, Order, USAGE};
use lux9_programs::text::stdio::Session;
use lux9_programs::text::{self, PIECE};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let order = Order::from(&options);
    let files = text::inputs(options.operands);
    let mut buf = vec![0u8; PIECE];
    let mut lines = Lines::default();
    let mut session = Session::new(USAGE.name);
    session.each_input(&files, |_, input, _| lines.read(input, &mut buf));
    // As GNU sort: an input that cannot be read leaves nothing to sort.
    if !session.failed() {
        let result = lines.write_sorted(&mut session.out, order);
        session.wrote(result);
    }
    session.status()
}
