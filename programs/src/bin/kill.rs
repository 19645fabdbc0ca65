//! kill: ends processes by pid (the `kill` system call).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_rt::abi::Error;
use lux9_rt::sys;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "kill",
    synopsis: "PID...",
    about: "Ends each process PID, whatever it is doing; its parent's wait sees it killed \
            (vector 255). Pid 0 (the kernel) and 1 (init) cannot be killed. Exit status 1 if \
            any pid could not be killed.",
    flags: &[],
    values: &[],
};

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if options.operands.is_empty() {
        return cli::usage_error(&USAGE, "no pid given");
    }
    // Every operand is checked before anything is killed: a typo kills nothing.
    let mut pids = alloc::vec::Vec::new();
    for operand in &options.operands {
        match operand.parse::<usize>() {
            Ok(pid) => pids.push(pid),
            Err(_) => return cli::usage_error(&USAGE, format_args!("bad pid '{operand}'")),
        }
    }
    let mut status = 0;
    for pid in pids {
        let why = match sys::kill(pid) {
            Ok(()) => continue,
            Err(Error::NotFound) => "no such process",
            Err(Error::InvalidArgument) => "cannot be killed",
            Err(_) => "not killed",
        };
        status = cli::fail("kill", pid, why);
    }
    status
}
