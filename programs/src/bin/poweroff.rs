//! poweroff: turns the machine off (ACPI S5).
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_rt::abi::syscall::power;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "poweroff",
    synopsis: "",
    about: "Turns the machine off (ACPI S5).",
    flags: &[],
    values: &[],
};

fn run(args: &str) -> i32 {
    cli::power_command(
        args,
        &USAGE,
        power::OFF,
        "turning the machine off",
        "cannot turn the machine off",
    )
}
