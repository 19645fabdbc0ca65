//! The glue every program shares for its command line and its errors, printing through the
//! runtime: `--help` to standard output, errors to the console as `NAME: what: why`.

use core::fmt::Display;

use lux9_rt::{eprintln, print};

use crate::args::{self, Options, Parsed, Usage};

/// Exit status of an operational failure (a file that cannot be read, ...).
pub const FAILURE: i32 = 1;
/// Exit status of a usage error (an unknown option, missing operands).
pub const USAGE_ERROR: i32 = 2;

/// Parses `args` against `usage`. `--help` prints the help and gives `Err(0)`; a usage error
/// is reported and gives `Err(2)`: return the `Err` value as the exit status.
pub fn options(args: &str, usage: &Usage) -> Result<Options, i32> {
    match args::parse(args, usage) {
        Ok(Parsed::Run(options)) => Ok(options),
        Ok(Parsed::Help) => {
            print!("{}", usage.help());
            Err(0)
        }
        Err(error) => Err(usage_error(usage, error)),
    }
}

/// Reports a usage error with the usage line; returns [`USAGE_ERROR`].
pub fn usage_error(usage: &Usage, what: impl Display) -> i32 {
    eprintln!("{}: {what}", usage.name);
    eprintln!("{}", usage.line());
    USAGE_ERROR
}

/// Reports `NAME: what: why` on the console.
pub fn report(name: &str, what: impl Display, why: impl Display) {
    eprintln!("{name}: {what}: {why}");
}

/// Reports `NAME: what: why`; returns [`FAILURE`].
pub fn fail(name: &str, what: impl Display, why: impl Display) -> i32 {
    report(name, what, why);
    FAILURE
}
