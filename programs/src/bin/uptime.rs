//! uptime: how long the system has been running, from /proc/uptime.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;
use lux9_programs::{cli, procfs};
use lux9_rt::{ns, println};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "uptime",
    synopsis: "",
    about: "Prints how long the system has been running, as H:MM:SS.mmm and in seconds.",
    flags: &[],
    values: &[],
};

const PATH: &str = "/proc/uptime";

fn run(args: &str) -> i32 {
    if let Err(code) = cli::options_only(args, &USAGE) {
        return code;
    }
    let text = match ns::read(PATH) {
        Ok(bytes) => bytes,
        Err(error) => return cli::fail("uptime", PATH, error),
    };
    let text = core::str::from_utf8(&text).unwrap_or("");
    match procfs::parse_uptime(text) {
        Some(ms) => {
            println!("{}", procfs::format_uptime(ms));
            0
        }
        None => cli::fail(
            "uptime",
            PATH,
            format_args!("unreadable: {:?}", text.trim()),
        ),
    }
}
