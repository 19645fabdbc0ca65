//! true: exits with status 0 at once (the process-lifecycle tests spawn it thousands of times).
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "true",
    synopsis: "[ignored...]",
    about: "Does nothing and succeeds (exit status 0), for `&&`, `||` and scripts. Operands are \
            ignored.",
    flags: &[],
    values: &[],
};

fn run(args: &str) -> i32 {
    lux9_programs::cli::help_or(args, &USAGE, 0)
}
