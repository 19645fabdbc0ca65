//! grep: the lines that match a regular expression (lux9_programs::text::grep).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec;

use lux9_programs::args::quote;
use lux9_programs::cli;
use lux9_programs::text::grep::{self, NONE_SELECTED, Output, USAGE};
use lux9_programs::text::stdio::Session;
use lux9_programs::text::{self, PIECE};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let mut options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut matcher = match grep::matcher(&options) {
        None => return cli::usage_error(&USAGE, "no pattern"),
        Some(Ok(matcher)) => matcher,
        Some(Err(why)) => {
            let pattern = quote(&options.operands[0]);
            cli::report(USAGE.name, format_args!("pattern {pattern}"), why);
            return cli::USAGE_ERROR;
        }
    };
    let files = text::inputs(options.operands.split_off(1));
    let several = files.len() > 1;
    let mut buf = vec![0u8; PIECE];
    let mut selected = 0u64;
    let mut session = Session::new(USAGE.name);
    session.each_input(&files, |file, input, out| {
        let output = Output {
            count: options.has('c'),
            numbers: options.has('n'),
            name: several.then_some(text::label(file)),
        };
        selected += grep::grep(input, out, &mut matcher, output, &mut buf)?;
        Ok(())
    });
    // POSIX: 2 for an error even if lines were selected.
    match (session.finish(), selected) {
        (false, _) => cli::USAGE_ERROR,
        (true, 0) => NONE_SELECTED,
        (true, _) => 0,
    }
}
