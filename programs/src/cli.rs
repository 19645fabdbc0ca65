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

/// For programs that ignore their operands (`true`, `false`): prints the help and returns 0
/// if `args` is exactly `--help`, else returns `status`.
pub fn help_or(args: &str, usage: &Usage, status: i32) -> i32 {
    if args.trim() == "--help" {
        print!("{}", usage.help());
        0
    } else {
        status
    }
}

/// Parses the options of a program that takes no operands; an operand is a usage error.
pub fn options_only(args: &str, usage: &Usage) -> Result<Options, i32> {
    let options = options(args, usage)?;
    if options.operands.is_empty() {
        Ok(options)
    } else {
        Err(usage_error(usage, "no operands expected"))
    }
}

/// What `poweroff` and `reboot` share: no operands, say what is about to happen, ask the
/// kernel, and report why if the machine is still running afterwards.
pub fn power_command(args: &str, usage: &Usage, op: usize, doing: &str, failed: &str) -> i32 {
    if let Err(code) = options_only(args, usage) {
        return code;
    }
    lux9_rt::println!("{}: {doing}", usage.name);
    // Returns only if the machine could not do it.
    let error = lux9_rt::sys::power(op);
    fail(usage.name, failed, error)
}

/// Reports `NAME: what: why` on the console. A reason that starts by naming what failed
/// (lib9pclient's `'x' file does not exist`) drops the repetition.
pub fn report(name: &str, what: impl Display, why: impl Display) {
    let what = alloc::string::ToString::to_string(&what);
    let why = alloc::string::ToString::to_string(&why);
    eprintln!("{name}: {what}: {}", tidy(&what, &why));
}

/// `why` without a leading `'NAME' ` when `what` already ends with NAME.
pub fn tidy<'a>(what: &str, why: &'a str) -> &'a str {
    if let Some(rest) = why.strip_prefix('\'')
        && let Some((named, tail)) = rest.split_once("' ")
        && !named.is_empty()
        && what.ends_with(named)
    {
        return tail;
    }
    why
}

/// Reports `NAME: what: why`; returns [`FAILURE`].
pub fn fail(name: &str, what: impl Display, why: impl Display) -> i32 {
    report(name, what, why);
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn drops_a_repeated_name_only() {
        assert_eq!(
            tidy("/nonexistent", "'/nonexistent' file does not exist"),
            "file does not exist"
        );
        // A missing element in the middle of the path is worth naming.
        assert_eq!(
            tidy("/proc/99/status", "'99' file does not exist"),
            "'99' file does not exist"
        );
        assert_eq!(
            tidy("/dev/nope", "'nope' file does not exist"),
            "file does not exist"
        );
        assert_eq!(
            tidy("/dev/cons", "'other' file does not exist"),
            "'other' file does not exist"
        );
        assert_eq!(tidy("x", "permission denied"), "permission denied");
    }
}
