//! find: prints the paths below starting points that pass its tests.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_programs::args::{self, ArgError, Usage};
use lux9_programs::find::{self, Parsed};
use lux9_programs::tree::{self, Event, NameSpace};
use lux9_programs::{cli, output};
use lux9_rt::print;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "find",
    synopsis: "[path...] [-name GLOB] [-type f|d] [-maxdepth N] [-print]",
    about: "Walks each path (by default `.`) and the tree below it, depth first in name order, \
            and prints every path that passes all the tests: -name GLOB (the last element \
            matches GLOB: * any run of characters, ? one character, [a-z] or [!a-z] one of a \
            set, \\ quotes), -type f (not a directory) or -type d (a directory), -maxdepth N \
            (nothing deeper than N below the path). -print is what it does anyway.",
    values: &[],
    flags: &[],
};

fn run(args: &str) -> i32 {
    let words = match args::split(args) {
        Ok(words) => words,
        Err(error) => return cli::usage_error(&USAGE, ArgError::from(error)),
    };
    let query = match find::parse(words) {
        Ok(Parsed::Run(query)) => query,
        Ok(Parsed::Help) => {
            print!("{}", USAGE.help());
            return 0;
        }
        Err(error) => return cli::usage_error(&USAGE, error),
    };
    let mut out = output::stdout();
    let mut status = 0;
    for start in &query.paths {
        for event in tree::walk(&mut NameSpace, start, query.max_depth) {
            match event {
                Event::File { path, dir, .. } | Event::EnterDir { path, dir, .. } => {
                    if query.matches(&dir) {
                        writeln!(out, "{path}");
                    }
                }
                Event::LeaveDir { .. } => {}
                Event::Error { path, error } => status = out.fail("find", path, error),
            }
        }
    }
    out.finish("find", status)
}
