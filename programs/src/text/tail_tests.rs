use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::args::{Parsed, parse};
use crate::text::{Failing, run_pieces};

fn tail_of(input: &[u8], start: Start) -> Vec<u8> {
    run_pieces(input, |input, out, buf| tail(input, out, start, buf))
}

fn start_of(args: &str) -> Result<Start, ArgError> {
    match parse(args, &USAGE).unwrap() {
        Parsed::Run(options) => start(&options),
        Parsed::Help => panic!("help"),
    }
}

fn numbered(lines: core::ops::RangeInclusive<u32>) -> String {
    lines.map(|n| alloc::format!("{n}\n")).collect()
}

#[test]
fn last_lines() {
    let text = numbered(1..=20);
    assert_eq!(
        tail_of(text.as_bytes(), Start::Last(10)),
        numbered(11..=20).as_bytes()
    );
    assert_eq!(
        tail_of(b"a\nb\nc", Start::Last(2)),
        b"b\nc",
        "no final newline"
    );
    assert_eq!(tail_of(b"a\nb\n", Start::Last(5)), b"a\nb\n");
    assert_eq!(tail_of(b"a\nb\n", Start::Last(u64::MAX)), b"a\nb\n");
    assert_eq!(tail_of(b"a\nb\n", Start::Last(0)), b"");
    assert_eq!(tail_of(b"", Start::Last(10)), b"");
    assert_eq!(tail_of(b"no newline", Start::Last(1)), b"no newline");
    assert_eq!(tail_of(b"\xff\n\xfe", Start::Last(1)), b"\xfe");
}

#[test]
fn from_a_line() {
    let text = numbered(1..=20);
    assert_eq!(
        tail_of(text.as_bytes(), Start::From(15)),
        numbered(15..=20).as_bytes()
    );
    assert_eq!(tail_of(text.as_bytes(), Start::From(1)), text.as_bytes());
    assert_eq!(tail_of(text.as_bytes(), Start::From(0)), text.as_bytes());
    assert_eq!(tail_of(text.as_bytes(), Start::From(21)), b"");
    assert_eq!(tail_of(text.as_bytes(), Start::From(u64::MAX)), b"");
    assert_eq!(tail_of(b"a\nb", Start::From(2)), b"b");
    assert_eq!(tail_of(b"", Start::From(2)), b"");
}

#[test]
fn holds_only_the_last_lines() {
    // 100,000 lines; the ring never holds more than 3 (checked through the result only, but
    // the buffers are reused, so this runs without growing).
    let text = numbered(1..=100_000);
    assert_eq!(
        tail_of(text.as_bytes(), Start::Last(3)),
        b"99998\n99999\n100000\n"
    );
}

#[test]
fn read_errors() {
    let mut out = Vec::new();
    let result = tail(
        &mut Failing(b"a\nb\n"),
        &mut out,
        Start::Last(1),
        &mut [0u8; 8],
    );
    assert_eq!(result, Err(Error::Read("i/o error".into())));
    assert_eq!(out, b"", "nothing is printed when the end was not reached");
}

#[test]
fn options() {
    assert_eq!(start_of(""), Ok(Start::Last(10)));
    assert_eq!(start_of("-n 3"), Ok(Start::Last(3)));
    assert_eq!(start_of("-n3"), Ok(Start::Last(3)));
    assert_eq!(start_of("-n +3"), Ok(Start::From(3)));
    assert_eq!(start_of("-n+3"), Ok(Start::From(3)));
    assert_eq!(start_of("-n 1 -n 2"), Ok(Start::Last(2)));
    assert_eq!(
        start_of("-n +99999999999999999999999"),
        Ok(Start::From(u64::MAX))
    );
    for bad in ["-n x", "-n -3", "-n ++3", "-n +", "-n ''"] {
        assert!(
            matches!(start_of(bad), Err(ArgError::BadValue('n', _, _))),
            "{bad}"
        );
    }
    assert_eq!(parse("-n", &USAGE), Err(ArgError::MissingValue('n')));
}
