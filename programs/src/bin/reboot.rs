//! reboot: restarts the machine.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_rt::abi::syscall::power;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "reboot",
    synopsis: "",
    about: "Restarts the machine.",
    flags: &[],
    values: &[],
};

fn run(args: &str) -> i32 {
    cli::power_command(args, &USAGE, power::REBOOT, "restarting", "cannot restart")
}
