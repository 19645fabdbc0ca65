//! ps: one row per process, from /proc.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_programs::format::Table;
use lux9_programs::procfs::{self, PS_HEADER, PS_RIGHT, ProcStatus};
use lux9_rt::{ns, print};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "ps",
    synopsis: "",
    about: "Lists the processes: pid, parent, state, context switches, memory, name and \
            arguments, from /proc/PID/status and /proc/PID/cmdline.",
    flags: &[],
    values: &[],
};

fn text(path: &str) -> Option<String> {
    ns::read(path)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn run(args: &str) -> i32 {
    if let Err(code) = cli::options_only(args, &USAGE) {
        return code;
    }
    let names: Vec<String> = match ns::read_dir("/proc") {
        Ok(entries) => entries.into_iter().map(|d| d.name).collect(),
        Err(error) => return cli::fail("ps", "/proc", error),
    };
    let mut table = Table::new(&PS_HEADER, &PS_RIGHT);
    for pid in procfs::pids(&names) {
        // A process that ended since the listing has no status any more: leave it out.
        let Some(status) = text(&format!("/proc/{pid}/status")) else {
            continue;
        };
        let status = ProcStatus::parse(&status);
        let cmdline = text(&format!("/proc/{pid}/cmdline")).unwrap_or_default();
        table.row(procfs::ps_row(pid, &status, &cmdline));
    }
    print!("{}", table.render());
    0
}
