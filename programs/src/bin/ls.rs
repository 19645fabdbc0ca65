//! ls: lists directories (sorted by name) and files.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;

use lib9pclient::codec::{DMDIR, Dir};
use lux9_programs::args::Usage;
use lux9_programs::{cli, format, output};
use lux9_rt::ns;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "ls",
    synopsis: "[-lh] [path...]",
    about: "Lists each directory's entries sorted by name, or the file itself; by default the \
            working directory.",
    flags: &[
        (
            'l',
            "long format: mode, owner, group, length, modification time (UTC), name",
        ),
        ('h', "long format with human sizes (1.5K, 12M)"),
    ],
    values: &[],
};

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let human = options.has('h');
    let long = options.has('l') || human;
    let mut paths = options.operands;
    if paths.is_empty() {
        paths.push(".".into());
    }
    let headers = paths.len() > 1;
    let mut out = output::stdout();
    let mut status = 0;
    let mut first = true;
    for path in &paths {
        let listing = match list(path) {
            Ok(listing) => listing,
            Err(error) => {
                status = out.fail("ls", path, error);
                continue;
            }
        };
        if headers && listing.is_directory {
            if !first {
                writeln!(out);
            }
            writeln!(out, "{path}:");
        }
        first = false;
        if long {
            for line in format::long_listing(&listing.entries, human) {
                writeln!(out, "{line}");
            }
        } else {
            for entry in &listing.entries {
                writeln!(out, "{}", entry.name);
            }
        }
    }
    out.finish("ls", status)
}

struct Listing {
    is_directory: bool,
    entries: alloc::vec::Vec<Dir>,
}

fn list(path: &str) -> Result<Listing, lib9pclient::Error> {
    let mut dir = ns::stat(path)?;
    if dir.mode & DMDIR == 0 {
        // A file lists itself, under the name it was given.
        dir.name = String::from(path);
        return Ok(Listing {
            is_directory: false,
            entries: vec![dir],
        });
    }
    let mut entries = ns::read_dir(path)?;
    entries.sort_by(|a, b| format::natural_cmp(&a.name, &b.name));
    Ok(Listing {
        is_directory: true,
        entries,
    })
}
