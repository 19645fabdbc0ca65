//! supervise: runs a server and starts it again when it dies abnormally.
//!
//! `supervise PROGRAM [ARGS]` spawns PROGRAM with ARGS and waits for it. When it is killed (by
//! a fault or by `kill`) it is started again, with a line on the console each time
//! (`supervise: ext4srv /dev/sd0/p1 (pid 12) killed; restarting (1)`). When it exits by
//! itself it is not: status 0 is a clean stop, and any other status means it cannot serve (an
//! ext4srv whose volume is not ext4 exits 1), which a restart would not change; supervise then
//! exits with that status. A server that dies within [`QUICK_DEATH_MS`] of starting
//! [`QUICK_DEATHS_MAX`] times in a row is given up (exit 1), as init gives up a shell.
//!
//! `mount ext4` runs each ext4srv under it, and `lux9_rt::ns::set_up_standard` (init) the
//! isolated sysserver; `mount -u` kills the supervisor first, then the server.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_programs::args::{self, Usage};
use lux9_programs::{cli, format};
use lux9_rt::abi::ExitStatus;
use lux9_rt::abi::syscall::{Info, KILL_VECTOR};
use lux9_rt::{eprintln, print, sys};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "supervise",
    synopsis: "PROGRAM [ARGS...]",
    about: "Runs PROGRAM with ARGS and starts it again each time it is killed (by a fault or \
            by kill), logging a line. It is not restarted when it exits by itself: supervise \
            then exits with its status. A program that dies within 1 s of starting 5 times in \
            a row is given up (exit 1).",
    flags: &[],
    values: &[],
};

/// A server that dies this soon after starting counts as dying at once.
const QUICK_DEATH_MS: u64 = 1000;
/// After this many quick deaths in a row, supervise stops restarting it.
const QUICK_DEATHS_MAX: u32 = 5;

fn run(args: &str) -> i32 {
    let words = match args::split(args) {
        Ok(words) => words,
        Err(error) => return cli::usage_error(&USAGE, format_args!("{error:?}")),
    };
    // Everything after PROGRAM is its own: only a leading --help is supervise's.
    let Some((program, rest)) = words.split_first() else {
        return cli::usage_error(&USAGE, "no program given");
    };
    if program == "--help" || program == "-h" {
        print!("{}", USAGE.help());
        return 0;
    }
    let program_args = args::join(rest);
    let what = if program_args.is_empty() {
        program.clone()
    } else {
        alloc::format!("{program} {program_args}")
    };
    let mut restarts = 0u32;
    let mut quick_deaths = 0u32;
    loop {
        let started = sys::info(Info::Ticks, 0).unwrap_or(0);
        let pid = match sys::spawn(program, &program_args) {
            Ok(pid) => pid,
            Err(error) => return cli::fail("supervise", program, error),
        };
        let status = match sys::wait(pid) {
            Ok(status) => status,
            Err(error) => return cli::fail("supervise", format_args!("wait for {what}"), error),
        };
        let ran_ms = sys::info(Info::Ticks, 0)
            .unwrap_or(0)
            .saturating_sub(started);
        let vector = match status {
            ExitStatus::Exited(code) => {
                if code != 0 {
                    eprintln!(
                        "supervise: {what} (pid {pid}) exited with status {code}; not restarting"
                    );
                }
                return code;
            }
            ExitStatus::Killed { vector } => vector,
        };
        quick_deaths = if ran_ms < QUICK_DEATH_MS {
            quick_deaths + 1
        } else {
            0
        };
        let how = if vector == KILL_VECTOR {
            alloc::string::String::from("killed")
        } else {
            alloc::format!("killed by a {}", format::fault_name(vector))
        };
        if quick_deaths >= QUICK_DEATHS_MAX {
            eprintln!(
                "supervise: {what} (pid {pid}) {how}; it died within {QUICK_DEATH_MS} ms of \
                 starting {quick_deaths} times in a row: not restarting"
            );
            return cli::FAILURE;
        }
        restarts += 1;
        eprintln!("supervise: {what} (pid {pid}) {how}; restarting ({restarts})");
    }
}
