use alloc::vec::Vec;

use super::*;
use crate::args::{Parsed, parse};
use crate::text::{Failing, run_pieces};

fn grep_of(input: &[u8], pattern: &str, flags: &str, name: Option<&str>) -> (Vec<u8>, u64) {
    let options = match parse(&alloc::format!("{flags} -- {pattern}"), &USAGE).unwrap() {
        Parsed::Run(options) => options,
        Parsed::Help => panic!("help"),
    };
    let output = Output {
        count: options.has('c'),
        numbers: options.has('n'),
        name,
    };
    let mut selected = 0;
    let out = run_pieces(input, |input, out, buf| {
        let mut matcher = matcher(&options).unwrap().unwrap();
        selected = grep(input, out, &mut matcher, output, buf)?;
        Ok(())
    });
    (out, selected)
}

fn lines(input: &[u8], pattern: &str, flags: &str) -> Vec<u8> {
    grep_of(input, pattern, flags, None).0
}

const TEXT: &[u8] = b"apple\nBanana\ncherry\nbanana split\n\ndate";

#[test]
fn selects_matching_lines() {
    assert_eq!(lines(TEXT, "an", ""), b"Banana\nbanana split\n");
    assert_eq!(lines(TEXT, "^b", ""), b"banana split\n");
    assert_eq!(
        lines(TEXT, "a$", ""),
        b"Banana\n",
        "$ is the end of the line"
    );
    assert_eq!(lines(TEXT, "'^$'", ""), b"\n", "the empty line");
    assert_eq!(
        lines(TEXT, "date", ""),
        b"date\n",
        "a last line gets its newline"
    );
    assert_eq!(lines(TEXT, "'(ch|d)[a-z]+'", ""), b"cherry\ndate\n");
    assert_eq!(lines(TEXT, "'p{2}'", ""), b"apple\n");
    assert_eq!(lines(TEXT, "zzz", ""), b"");
    assert_eq!(
        grep_of(TEXT, "''", "", None).1,
        6,
        "the empty pattern selects every line"
    );
    assert_eq!(lines(b"", "x", ""), b"");
    assert_eq!(lines(b"a.c\nabc\n", "'a\\.c'", ""), b"a.c\n");
    assert_eq!(lines(b"x 12 y\nxy\n", "'\\d+'", ""), b"x 12 y\n");
}

#[test]
fn options() {
    assert_eq!(lines(TEXT, "banana", "-i"), b"Banana\nbanana split\n");
    assert_eq!(lines(TEXT, "BANANA", "-i"), b"Banana\nbanana split\n");
    assert_eq!(lines(TEXT, "a", "-v"), b"cherry\n\n");
    assert_eq!(lines(TEXT, "an", "-n"), b"2:Banana\n4:banana split\n");
    assert_eq!(lines(TEXT, "an", "-c"), b"2\n");
    assert_eq!(lines(TEXT, "an", "-cv"), b"4\n");
    assert_eq!(lines(TEXT, "zzz", "-c"), b"0\n");
    assert_eq!(
        lines(TEXT, "an", "-vin"),
        b"1:apple\n3:cherry\n5:\n6:date\n"
    );
    assert_eq!(
        grep_of(TEXT, "an", "-n", Some("f")).0,
        b"f:2:Banana\nf:4:banana split\n"
    );
    assert_eq!(grep_of(TEXT, "an", "-c", Some("f")).0, b"f:2\n");
    assert_eq!(grep_of(TEXT, "an", "", None).1, 2);
    assert_eq!(grep_of(TEXT, "zzz", "", None).1, 0);
    assert!(matches!(
        parse("-x a", &USAGE),
        Err(crate::args::ArgError::UnknownOption(_))
    ));
}

#[test]
fn bytes_that_are_not_utf8() {
    let input = b"caf\xe9\nok\n\xff\xfe\n";
    assert_eq!(lines(input, "caf", ""), b"caf\xe9\n", "printed as they are");
    assert_eq!(lines(input, "'^ok$'", ""), b"ok\n");
    assert_eq!(lines(input, "'(?-u:\\xff)'", ""), b"\xff\xfe\n");
    assert_eq!(
        lines(input, "'^.+$'", "-c"),
        b"1\n",
        "only `ok` is characters"
    );
    assert_eq!(lines("é\nE\n".as_bytes(), "É", "-i"), "é\n".as_bytes());
}

#[test]
fn long_lines_across_pieces() {
    let mut input = b"x".repeat(50_000);
    input.extend_from_slice(b"needle");
    input.extend_from_slice(&b"y".repeat(50_000));
    input.push(b'\n');
    input.extend_from_slice(b"hay\n");
    let (out, selected) = grep_of(&input, "needle", "-n", None);
    assert_eq!(selected, 1);
    assert_eq!(&out[..2], b"1:");
    assert_eq!(out.len(), 2 + 100_007);
}

#[test]
fn bad_patterns_are_explained() {
    for (pattern, why) in [
        ("(abc", "unclosed group (at character 1)"),
        ("a{2,1}", "invalid repetition count range"),
        ("[z-a]", "invalid character class range"),
        (
            "*",
            "repetition operator missing expression (at character 1)",
        ),
        ("\\p{Nope}", "Unicode property not found"),
    ] {
        let error = Matcher::new(pattern, false, false).err().unwrap();
        assert!(error.starts_with(why), "{pattern}: {error}");
        assert!(!error.contains('\n'), "{pattern}: one line");
    }
    let no_pattern = match parse("-i", &USAGE).unwrap() {
        Parsed::Run(options) => options,
        Parsed::Help => panic!("help"),
    };
    assert!(matcher(&no_pattern).is_none());
}

#[test]
fn read_errors() {
    let mut matcher = Matcher::new("a", false, false).unwrap();
    let mut out = Vec::new();
    let result = grep(
        &mut Failing(b"a\nb\n"),
        &mut out,
        &mut matcher,
        Output::default(),
        &mut [0u8; 8],
    );
    assert_eq!(result, Err(Error::Read("i/o error".into())));
    assert_eq!(out, b"a\n");
}
