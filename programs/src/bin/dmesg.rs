//! dmesg: prints the kernel log (`/dev/kmsg`).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_programs::args::Usage;
use lux9_programs::{cli, output};
use lux9_rt::ns;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "dmesg",
    synopsis: "",
    about: "Prints the kernel log as the kernel keeps it (its newest 64 KiB, from /dev/kmsg): \
            everything printed on the console since boot, oldest first.",
    values: &[],
    flags: &[],
};

const KMSG: &str = "/dev/kmsg";

fn run(args: &str) -> i32 {
    if let Err(code) = cli::options_only(args, &USAGE) {
        return code;
    }
    // One open is one snapshot (docs/sysserver.md), so what this prints, which the console
    // logs too, does not come back into what it reads.
    let log = match ns::read(KMSG) {
        Ok(log) => log,
        Err(error) => return cli::fail("dmesg", KMSG, error),
    };
    let mut out = output::stdout();
    out.write(&log);
    out.finish("dmesg", 0)
}
