//! false: exits with status 1 at once.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "false",
    synopsis: "[ignored...]",
    about: "Does nothing and fails (exit status 1), for `&&`, `||` and scripts. Operands are \
            ignored.",
    flags: &[],
    values: &[],
};

fn run(args: &str) -> i32 {
    lux9_programs::cli::help_or(args, &USAGE, 1)
}
