//! echo: prints its arguments, separated by spaces, and a newline unless `-n`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::{self, Usage};
use lux9_programs::cli;
use lux9_rt::{io, print};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "echo",
    synopsis: "[-n] [word...]",
    about: "Prints the words separated by spaces, then a newline.",
    flags: &[('n', "no newline at the end")],
    values: &[],
};

fn run(args: &str) -> i32 {
    // Unlike the other programs, echo prints a word that looks like an option (`echo -x`):
    // only a leading `-n` and a lone `--help` are options.
    let words = match args::split(args) {
        Ok(words) => words,
        Err(error) => return cli::usage_error(&USAGE, args::ArgError::Split(error)),
    };
    if words.len() == 1 && words[0] == "--help" {
        print!("{}", USAGE.help());
        return 0;
    }
    let newline = words.first().map(|word| word.as_str()) != Some("-n");
    let words = if newline { &words[..] } else { &words[1..] };
    let mut text = words.join(" ");
    if newline {
        text.push('\n');
    }
    if io::write_stdout(text.as_bytes()) {
        0
    } else {
        cli::fail("echo", "standard output", "write failed")
    }
}
