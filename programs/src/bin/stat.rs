//! stat: prints every field of the directory entries of files.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;
use lux9_programs::{cli, format};
use lux9_rt::{ns, print, println};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "stat",
    synopsis: "path...",
    about: "Prints each file's directory entry, one `name value` line per field: name, qid \
            (path, version, type), mode (octal and as ls -l shows it), length, owner, group, \
            last modifier (muid), access and modification times, server type and device.",
    flags: &[],
    values: &[],
};

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if options.operands.is_empty() {
        return cli::usage_error(&USAGE, "no path given");
    }
    let mut status = 0;
    for (index, path) in options.operands.iter().enumerate() {
        match ns::stat(path) {
            Ok(dir) => {
                if index > 0 {
                    println!();
                }
                print!("{}", format::aligned_pairs(&format::stat_fields(&dir)));
            }
            Err(error) => status = cli::fail("stat", path, error),
        }
    }
    status
}
