//! grep: the lines of its inputs that match a regular expression. Matching is
//! regex-automata's, on bytes: lines need not be UTF-8.

use alloc::format;
use alloc::string::{String, ToString};
use core::ops::ControlFlow;

use regex_automata::Input;
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;

use super::{Error, Read, Write, content, for_each_line, write_line};
use crate::args::{Options, Usage};

pub const USAGE: Usage = Usage {
    name: "grep",
    synopsis: "[-vicn] pattern [file...]",
    about: "Prints the lines of each file, or of standard input for `-` or no file, that \
            match the regular expression PATTERN (Rust regex syntax, as egrep's: `a|b`, \
            `(ab)+`, `[0-9]{3}`, `^`, `$`, `\\d`, `\\w`, `\\b`). With several files each \
            line starts with `FILE:`. Exit status 0 if a line was selected, 1 if none, 2 on \
            an error.",
    flags: &[
        ('v', "select the lines that do not match"),
        ('i', "ignore case"),
        ('c', "print only how many lines were selected"),
        ('n', "put the line number before each line"),
    ],
    values: &[],
};

/// Exit status when no line was selected.
pub const NONE_SELECTED: i32 = 1;

/// A compiled pattern and the scratch memory its searches use.
pub struct Matcher {
    regex: Regex,
    cache: meta::Cache,
    invert: bool,
}

impl Matcher {
    /// Compiles `pattern`; on a syntax error, says what is wrong and where.
    pub fn new(pattern: &str, ignore_case: bool, invert: bool) -> Result<Self, String> {
        let regex = Regex::builder()
            // Patterns may match bytes that are not UTF-8 (`(?-u:\xff)`), and `.` matches
            // one character of a UTF-8 line; only whether a line matches is asked.
            .syntax(
                syntax::Config::new()
                    .case_insensitive(ignore_case)
                    .utf8(false),
            )
            .configure(meta::Config::new().utf8_empty(false))
            .build(pattern)
            .map_err(|error| explain(&error))?;
        let cache = regex.create_cache();
        Ok(Self {
            regex,
            cache,
            invert,
        })
    }

    /// Whether grep prints `line` (given without its newline).
    pub fn selects(&mut self, line: &[u8]) -> bool {
        self.regex.is_match_with(&mut self.cache, &Input::new(line)) != self.invert
    }
}

/// A build error in one line: the syntax error's kind and where, without the pattern
/// drawn over several lines as regex-syntax's own message has it.
fn explain(error: &meta::BuildError) -> String {
    let (kind, span) = match error.syntax_error() {
        Some(regex_syntax::Error::Parse(error)) => (error.kind().to_string(), error.span()),
        Some(regex_syntax::Error::Translate(error)) => (error.kind().to_string(), error.span()),
        _ => return error.to_string(),
    };
    format!("{kind} (at character {})", span.start.column)
}

/// The matcher the options ask for, or the usage error: no pattern.
pub fn matcher(options: &Options) -> Option<Result<Matcher, String>> {
    let pattern = options.operands.first()?;
    Some(Matcher::new(pattern, options.has('i'), options.has('v')))
}

/// How the selected lines are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output<'a> {
    /// Only how many (`-c`).
    pub count: bool,
    /// Line numbers (`-n`).
    pub numbers: bool,
    /// The file's name before each line (several files).
    pub name: Option<&'a str>,
}

/// Prints the lines of `input` that `matcher` selects, as `output` says; returns how many
/// were selected. A last line without a newline is printed with one.
pub fn grep(
    input: &mut impl Read,
    out: &mut impl Write,
    matcher: &mut Matcher,
    output: Output<'_>,
    buf: &mut [u8],
) -> Result<u64, Error> {
    let mut number = 0u64;
    let mut selected = 0u64;
    for_each_line(input, buf, |line| {
        number += 1;
        if matcher.selects(content(line)) {
            selected += 1;
            if !output.count {
                if let Some(name) = output.name {
                    out.write(name.as_bytes())?;
                    out.write(b":")?;
                }
                if output.numbers {
                    out.write(format!("{number}:").as_bytes())?;
                }
                write_line(out, line)?;
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if output.count {
        let count = match output.name {
            Some(name) => format!("{name}:{selected}\n"),
            None => format!("{selected}\n"),
        };
        out.write(count.as_bytes())?;
    }
    Ok(selected)
}

#[cfg(test)]
#[path = "grep_tests.rs"]
mod tests;
