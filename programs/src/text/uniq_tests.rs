use alloc::vec::Vec;

use super::*;
use crate::args::{Parsed, parse};
use crate::text::{Failing, run_pieces};

fn uniq_of(input: &[u8], flags: &str) -> Vec<u8> {
    let select = match parse(flags, &USAGE).unwrap() {
        Parsed::Run(options) => Select::from(&options),
        Parsed::Help => panic!("help"),
    };
    run_pieces(input, |input, out, buf| uniq(input, out, select, buf))
}

const TEXT: &[u8] = b"a\na\nb\nc\nc\nc\na\n";

#[test]
fn runs() {
    assert_eq!(uniq_of(TEXT, ""), b"a\nb\nc\na\n");
    assert_eq!(
        uniq_of(TEXT, "-c"),
        b"      2 a\n      1 b\n      3 c\n      1 a\n"
    );
    assert_eq!(uniq_of(TEXT, "-d"), b"a\nc\n");
    assert_eq!(uniq_of(TEXT, "-u"), b"b\na\n");
    assert_eq!(uniq_of(TEXT, "-du"), b"", "nothing is both");
    assert_eq!(uniq_of(TEXT, "-cd"), b"      2 a\n      3 c\n");
}

#[test]
fn edges() {
    assert_eq!(uniq_of(b"", ""), b"");
    assert_eq!(uniq_of(b"x", ""), b"x\n", "the last line gets a newline");
    assert_eq!(
        uniq_of(b"x\nx", "-c"),
        b"      2 x\n",
        "with or without newline"
    );
    assert_eq!(uniq_of(b"\n\n\n", "-c"), b"      3 \n");
    assert_eq!(uniq_of(b"A\na\n", ""), b"A\na\n", "case matters");
    assert_eq!(uniq_of(b"\xff\n\xff\n\xfe\n", ""), b"\xff\n\xfe\n");
    let many = b"same\n".repeat(12_345);
    assert_eq!(uniq_of(&many, "-c"), b"  12345 same\n");
    let mut out = Vec::new();
    let select = Select {
        count: true,
        ..Select::default()
    };
    select.write(&mut out, b"x", 123_456_789).unwrap();
    assert_eq!(out, b"123456789 x\n", "a count wider than 7 digits widens");
    let mut long = b"y".repeat(40_000);
    long.push(b'\n');
    let twice = [long.clone(), long.clone()].concat();
    assert_eq!(uniq_of(&twice, ""), long, "lines longer than a piece");
}

#[test]
fn read_errors() {
    let mut out = Vec::new();
    let result = uniq(
        &mut Failing(b"a\na\n"),
        &mut out,
        Select::default(),
        &mut [0u8; 8],
    );
    assert_eq!(result, Err(Error::Read("i/o error".into())));
}
