//! reboot: restarts the machine.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_rt::abi::syscall::power;
use lux9_rt::{println, sys};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "reboot",
    synopsis: "",
    about: "Restarts the machine.",
    flags: &[],
};

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if !options.operands.is_empty() {
        return cli::usage_error(&USAGE, "no operands expected");
    }
    println!("reboot: restarting");
    // Returns only if the machine could not do it.
    let error = sys::power(power::REBOOT);
    cli::fail("reboot", "cannot restart", error)
}
