//! lspci: lists the PCI functions the kernel found (`/sys/pci`), by name.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_programs::args::Usage;
use lux9_programs::{cli, output, pci};
use lux9_rt::ns;

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "lspci",
    synopsis: "[-nk]",
    about: "Lists every PCI function the kernel found at boot (/sys/pci), one per line: \
            address, class, vendor and device by name, and their IDs.",
    values: &[],
    flags: &[
        (
            'n',
            "numbers only: address, class and subclass, vendor:device",
        ),
        ('k', "the driver bound to each function, in brackets"),
    ],
};

const PCI: &str = "/sys/pci";

fn run(args: &str) -> i32 {
    let options = match cli::options_only(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let text = match ns::read(PCI) {
        Ok(text) => alloc::string::String::from_utf8_lossy(&text).into_owned(),
        Err(error) => return cli::fail("lspci", PCI, error),
    };
    let mut out = output::stdout();
    let mut status = 0;
    for line in text.lines() {
        let Some(function) = pci::parse_line(line) else {
            status = out.fail("lspci", PCI, alloc::format!("malformed line '{line}'"));
            continue;
        };
        let text = if options.has('n') {
            function.numeric()
        } else {
            function.describe()
        };
        match (&function.driver, options.has('k')) {
            (Some(driver), true) => writeln!(out, "{text} [{driver}]"),
            _ => writeln!(out, "{text}"),
        }
    }
    out.finish("lspci", status)
}
