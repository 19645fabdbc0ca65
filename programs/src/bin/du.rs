//! du: disk usage, the sum of the file lengths below each path.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_programs::args::Usage;
use lux9_programs::du::{self, Options};
use lux9_programs::tree::{self, NameSpace};
use lux9_programs::{cli, output};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "du",
    synopsis: "[-s] [-h] [-a] [path...]",
    about: "Prints the usage of each directory below each path (by default `.`) after its \
            entries: the sum of the lengths of the files below it, in KiB rounded up.",
    values: &[],
    flags: &[
        ('s', "only each path's total"),
        ('h', "human sizes (1.5K, 12M) instead of KiB"),
        ('a', "files too, not only directories"),
    ],
};

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let settings = Options {
        summary: options.has('s'),
        all: options.has('a'),
        human: options.has('h'),
    };
    if settings.summary && settings.all {
        return cli::usage_error(&USAGE, "-s and -a cannot go together");
    }
    let mut paths = options.operands;
    if paths.is_empty() {
        paths.push(".".into());
    }
    let out = core::cell::RefCell::new(output::stdout());
    let mut status = 0;
    for path in &paths {
        du::sums(
            tree::walk(&mut NameSpace, path, None),
            settings,
            |bytes, path| {
                let line = du::line_text(bytes, path, settings.human);
                writeln!(out.borrow_mut(), "{line}");
            },
            |path, error| status = out.borrow_mut().fail("du", path, error),
        );
    }
    out.into_inner().finish("du", status)
}
