//! ipcstat: the IPC counters of /proc/ipcstats (system-wide) and of one process
//! (/proc/PID/ipcstats).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lib9pclient::Error;
use lux9_programs::args::Usage;
use lux9_programs::procfs::{self, Counters};
use lux9_programs::{cli, format};
use lux9_rt::{ns, print, println};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "ipcstat",
    synopsis: "[pid]",
    about: "Prints the system-wide IPC counters of /proc/ipcstats (context switches, fastpath \
            hits, slowpath messages, zero-copy transfers, batches...), and with a pid that \
            process's counters too, from /proc/PID/ipcstats.",
    flags: &[],
    values: &[],
};

const PATH: &str = "/proc/ipcstats";

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let pid = match options.operands.as_slice() {
        [] => None,
        [pid] => match pid.parse::<u64>() {
            Ok(pid) => Some(pid),
            Err(_) => return cli::usage_error(&USAGE, format!("bad pid '{pid}'")),
        },
        _ => return cli::usage_error(&USAGE, "at most one pid"),
    };
    let system = match ns::read(PATH) {
        Ok(bytes) => procfs::counters(&String::from_utf8_lossy(&bytes)),
        Err(error) => return cli::fail("ipcstat", PATH, error),
    };
    // Read before printing anything, so an unknown pid prints nothing but the error.
    let process = match pid {
        None => None,
        Some(pid) => {
            let path = format!("/proc/{pid}/ipcstats");
            match ns::read(&path) {
                Ok(bytes) => Some((pid, procfs::counters(&String::from_utf8_lossy(&bytes)))),
                Err(error) if is_missing(&error) => {
                    return cli::fail("ipcstat", format!("pid {pid}"), "no such process");
                }
                Err(error) => return cli::fail("ipcstat", path, error),
            }
        }
    };
    print!("{}", aligned(&system));
    if let Some((pid, process)) = process {
        println!();
        println!("pid {pid}:");
        print!("{}", aligned(&process));
    }
    0
}

/// Whether a read failed because the file is not there: no such process directory, or a
/// process whose statistics are gone.
fn is_missing(error: &Error) -> bool {
    match error {
        Error::NotFound { .. } => true,
        Error::Server(text) => text == "file does not exist",
        _ => false,
    }
}

fn aligned(counters: &Counters) -> String {
    let readable: Vec<(String, String)> = counters
        .iter()
        .map(|(key, value)| procfs::readable_counter(key, value))
        .collect();
    format::aligned_pairs(&readable)
}
