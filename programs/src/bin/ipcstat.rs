//! ipcstat: the IPC counters of /proc/ipcstats, system-wide, and of one process from
//! /proc/PID/ipcstats.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use lux9_programs::args::Usage;
use lux9_programs::procfs::{self, IpcStats};
use lux9_programs::{cli, format};
use lux9_rt::{ns, print, println};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "ipcstat",
    synopsis: "[pid]",
    about: "Prints the system-wide IPC counters of /proc/ipcstats (context switches, fastpath \
            hits, slowpath messages, zero-copy transfers, batches...), and with a pid that \
            process's counters too (/proc/PID/ipcstats).",
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
            Err(_) => return cli::usage_error(&USAGE, alloc::format!("bad pid '{pid}'")),
        },
        _ => return cli::usage_error(&USAGE, "at most one pid"),
    };
    let stats = match ns::read(PATH) {
        Ok(bytes) => IpcStats::parse(&String::from_utf8_lossy(&bytes)),
        Err(error) => return cli::fail("ipcstat", PATH, error),
    };
    let process = match pid {
        Some(pid) => match ns::read(&alloc::format!("/proc/{pid}/ipcstats")) {
            Ok(bytes) => Some((
                pid,
                IpcStats::parse(&String::from_utf8_lossy(&bytes)).system,
            )),
            Err(_) => {
                return cli::fail("ipcstat", alloc::format!("pid {pid}"), "no such process");
            }
        },
        None => None,
    };
    print!("{}", counters(&stats.system));
    if let Some((pid, process)) = process {
        println!();
        println!("pid {pid}:");
        print!("{}", counters(&process));
    }
    0
}

fn counters(counters: &procfs::Counters) -> String {
    let readable: Vec<(String, String)> = counters
        .iter()
        .map(|(key, value)| procfs::readable_counter(key, value))
        .collect();
    format::aligned_pairs(&readable)
}
