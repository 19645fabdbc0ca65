use alloc::vec::Vec;

use super::*;
use crate::args::{Parsed, parse};
use crate::text::{Failing, Pieces};

fn sorted(inputs: &[&[u8]], flags: &str) -> Vec<u8> {
    let options = match parse(flags, &USAGE).unwrap() {
        Parsed::Run(options) => options,
        Parsed::Help => panic!("help"),
    };
    let mut first = None;
    for size in [1, 3, 1000] {
        let mut lines = Lines::default();
        for input in inputs {
            lines
                .read(&mut Pieces::new(input, size), &mut [0u8; 16])
                .unwrap();
        }
        let mut out = Vec::new();
        lines.write_sorted(&mut out, Order::from(&options)).unwrap();
        match &first {
            None => first = Some(out),
            Some(first) => assert_eq!(&out, first),
        }
    }
    first.unwrap()
}

#[test]
fn by_bytes() {
    assert_eq!(sorted(&[b"b\na\nc\n"], ""), b"a\nb\nc\n");
    assert_eq!(
        sorted(&[b"b\nB\na\n_\n"], ""),
        b"B\n_\na\nb\n",
        "as in the C locale"
    );
    assert_eq!(
        sorted(&[b"b\na"], ""),
        b"a\nb\n",
        "the last line gets a newline"
    );
    assert_eq!(sorted(&[b""], ""), b"");
    assert_eq!(sorted(&[b"\n\n"], ""), b"\n\n");
    assert_eq!(sorted(&[b"ab\na\n\n"], ""), b"\na\nab\n");
    assert_eq!(sorted(&[b"\xff\n\x01\na\n"], ""), b"\x01\na\n\xff\n");
    assert_eq!(
        sorted(&[b"c\na", b"b"], ""),
        b"a\nb\nc\n",
        "inputs do not join"
    );
    assert_eq!(sorted(&[b"b\na\nc\n"], "-r"), b"c\nb\na\n");
    assert_eq!(sorted(&[b"b\na\nb\na\n"], "-u"), b"a\nb\n");
    assert_eq!(sorted(&[b"b\na\nb\na\n"], "-ru"), b"b\na\n");
}

#[test]
fn by_number() {
    assert_eq!(sorted(&[b"10\n9\n100\n-1\n"], "-n"), b"-1\n9\n10\n100\n");
    assert_eq!(sorted(&[b"10\n9\n100\n-1\n"], ""), b"-1\n10\n100\n9\n");
    assert_eq!(sorted(&[b"10\n9\n100\n-1\n"], "-rn"), b"100\n10\n9\n-1\n");
    assert_eq!(
        sorted(&[b"1.5\n1.25\n 2\n-0.5\n-2.75\n0\n"], "-n"),
        b"-2.75\n-0.5\n0\n1.25\n1.5\n 2\n"
    );
    // No number counts as 0, and equal numbers are ordered by their bytes.
    assert_eq!(sorted(&[b"b\n0\na\n-0\n1\n"], "-n"), b"-0\n0\na\nb\n1\n");
    assert_eq!(sorted(&[b"b\n0\na\n-0\n1\n"], "-nr"), b"1\nb\na\n0\n-0\n");
    // Under -u the first of the lines with an equal number is kept.
    assert_eq!(sorted(&[b"b\n0\na\n-0\n1\n"], "-nu"), b"b\n1\n");
    assert_eq!(sorted(&[b"007x\n7y\n"], "-nu"), b"007x\n");
    // Longer than any machine integer.
    assert_eq!(
        sorted(
            &[b"123456789012345678901234567890\n99999999999999999999999\n"],
            "-n"
        ),
        b"99999999999999999999999\n123456789012345678901234567890\n"
    );
}

#[test]
fn numbers_compare_exactly() {
    use core::cmp::Ordering::*;
    for (a, b, order) in [
        ("1", "1.0", Equal),
        ("0.5", "0.50", Equal),
        ("0.05", "0.5", Less),
        ("-0", "0", Equal),
        ("", "0", Equal),
        ("abc", "-0.0", Equal),
        ("2", "10", Less),
        ("-2", "-10", Greater),
        ("  3", "3", Equal),
        ("3abc", "3", Equal),
        ("+3", "0", Equal),
        ("1.", "1", Equal),
        (".5", "0.5", Equal),
        ("-.5", "0", Less),
    ] {
        assert_eq!(numeric(a.as_bytes(), b.as_bytes()), order, "{a} vs {b}");
        assert_eq!(
            numeric(b.as_bytes(), a.as_bytes()),
            order.reverse(),
            "{b} vs {a}"
        );
    }
}

#[test]
fn stable_for_equal_keys() {
    let text = b"2 b\n1 z\n2 a\n1 y\n";
    // -n without -u breaks ties by bytes, so the order is fully determined.
    assert_eq!(sorted(&[text], "-n"), b"1 y\n1 z\n2 a\n2 b\n");
}

#[test]
fn read_errors() {
    let mut lines = Lines::default();
    assert_eq!(
        lines.read(&mut Failing(b"a\n"), &mut [0u8; 8]),
        Err(Error::Read("i/o error".into()))
    );
}
