//! The environment a parent hands its child: a few `KEY=VALUE` pairs (working directory,
//! standard input and output redirections) ahead of the argument string, in the one string
//! `spawn` passes.
//!
//! Encoding: `\x01` `KEY=VALUE` (`\x02` `KEY=VALUE`)* `\x03` then the arguments. A string that
//! does not start with `\x01` has no environment. Keys and values may not contain the three
//! control bytes; [`encode`] refuses them.

use alloc::string::String;
use alloc::vec::Vec;

const START: char = '\x01';
const SEPARATOR: char = '\x02';
const END: char = '\x03';

/// The working directory.
pub const PWD: &str = "PWD";
/// A file that replaces the console as standard input.
pub const STDIN: &str = "STDIN";
/// A file that replaces the console as standard output (created or truncated).
pub const STDOUT: &str = "STDOUT";
/// Like [`STDOUT`], but appending.
pub const STDOUT_APPEND: &str = "STDOUT_APPEND";
/// A pipe (its id, in decimal) whose read end replaces the console as standard input.
pub const STDIN_PIPE: &str = "STDIN_PIPE";
/// A pipe (its id, in decimal) whose write end replaces the console as standard output.
pub const STDOUT_PIPE: &str = "STDOUT_PIPE";

fn clean(text: &str) -> bool {
    !text.contains([START, SEPARATOR, END])
}

/// Packs `vars` ahead of `args`. `None` if a key or value holds a control byte or a key holds
/// `=`.
pub fn encode(vars: &[(&str, &str)], args: &str) -> Option<String> {
    if vars.is_empty() {
        return clean(args).then(|| String::from(args));
    }
    let mut out = String::new();
    out.push(START);
    for (index, (key, value)) in vars.iter().enumerate() {
        if !clean(key) || !clean(value) || key.contains('=') || key.is_empty() {
            return None;
        }
        if index > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out.push(END);
    out.push_str(args);
    Some(out)
}

/// Splits a spawn string into its environment block (without the markers) and the arguments.
/// A string with a damaged block (no end marker) is all arguments.
pub fn split(raw: &str) -> (&str, &str) {
    match raw
        .strip_prefix(START)
        .and_then(|rest| rest.split_once(END))
    {
        Some((block, args)) => (block, args),
        None => ("", raw),
    }
}

/// The `KEY=VALUE` pairs of an environment block.
pub fn vars(block: &str) -> Vec<(&str, &str)> {
    block
        .split(SEPARATOR)
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let raw = encode(&[(PWD, "/proc"), (STDOUT, "/dev/null")], "-l a b").unwrap();
        let (block, args) = split(&raw);
        assert_eq!(args, "-l a b");
        assert_eq!(vars(block), [(PWD, "/proc"), (STDOUT, "/dev/null")]);
        assert_eq!(encode(&[], "plain").unwrap(), "plain");
        assert_eq!(split("plain args"), ("", "plain args"));
        assert_eq!(split("\x01PWD=/ no end"), ("", "\x01PWD=/ no end"));
    }

    #[test]
    fn refuses_control_bytes() {
        assert!(encode(&[(PWD, "a\x03b")], "").is_none());
        assert!(encode(&[("A=B", "c")], "").is_none());
        assert!(encode(&[], "x\x01").is_none());
    }
}
