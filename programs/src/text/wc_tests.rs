use super::*;
use crate::args::{Parsed, parse};
use crate::text::{Failing, Pieces};

const ALL: Columns = Columns {
    lines: true,
    words: true,
    bytes: true,
};

fn counts_of(input: &[u8]) -> Counts {
    let whole = count(&mut Pieces::new(input, usize::MAX), &mut [0u8; 64]).unwrap();
    for size in 1..=7 {
        let pieces = count(&mut Pieces::new(input, size), &mut [0u8; 64]).unwrap();
        assert_eq!(pieces, whole, "pieces of {size}");
    }
    whole
}

fn counts(lines: u64, words: u64, bytes: u64) -> Counts {
    Counts {
        lines,
        words,
        bytes,
    }
}

fn columns(args: &str) -> Columns {
    match parse(args, &USAGE).unwrap() {
        Parsed::Run(options) => Columns::from(&options),
        Parsed::Help => panic!("help"),
    }
}

#[test]
fn counting() {
    assert_eq!(counts_of(b""), counts(0, 0, 0));
    assert_eq!(counts_of(b"abc\n"), counts(1, 1, 4));
    assert_eq!(counts_of(b"abc"), counts(0, 1, 3), "no final newline");
    assert_eq!(
        counts_of(b"  hello   world\n\tfoo\x0bbar\x0c\r\nx"),
        counts(2, 5, 28)
    );
    assert_eq!(counts_of(b"\n\n\n"), counts(3, 0, 3));
    assert_eq!(counts_of(b"\xff\xfe \xc3\xa9t\xc3\xa9\n"), counts(1, 2, 9));
    assert_eq!(
        counts_of(b"a-b,c.d"),
        counts(0, 1, 7),
        "punctuation is no space"
    );
    let big = b"word ".repeat(100_000);
    assert_eq!(counts_of(&big), counts(0, 100_000, 500_000));
}

#[test]
fn a_word_across_pieces_counts_once() {
    let mut counter = Counter::default();
    counter.feed(b"hel");
    counter.feed(b"lo wor");
    counter.feed(b"");
    counter.feed(b"ld\n");
    assert_eq!(counter.counts(), counts(1, 2, 12));
}

#[test]
fn read_errors() {
    assert_eq!(
        count(&mut Failing(b"abc"), &mut [0u8; 8]),
        Err(Error::Read("i/o error".into()))
    );
}

#[test]
fn tables() {
    let only_bytes = columns("-c");
    // `echo abc | wc -c`
    assert_eq!(table(&[(counts(1, 1, 4), None)], only_bytes), "4\n");
    assert_eq!(table(&[(counts(1, 1, 4), None)], ALL), "1 1 4\n");
    assert_eq!(table(&[(counts(1, 1, 4), Some("f"))], ALL), "1 1 4 f\n");
    assert_eq!(
        table(
            &[
                (counts(3, 20, 120), Some("a")),
                (counts(1, 1, 4), Some("b"))
            ],
            ALL
        ),
        "  3  20 120 a\n  1   1   4 b\n  4  21 124 total\n"
    );
    assert_eq!(
        table(
            &[
                (counts(3, 20, 120), Some("a")),
                (counts(1, 1, 4), Some("b"))
            ],
            columns("-l")
        ),
        "3 a\n1 b\n4 total\n",
        "only the shown counts set the width"
    );
    assert_eq!(
        table(&[(counts(u64::MAX, 0, 0), None)], columns("-lw")),
        "18446744073709551615                    0\n"
    );
    assert_eq!(table(&[], ALL), "");
}

#[test]
fn options() {
    assert_eq!(columns(""), ALL);
    assert_eq!(columns("-lwc"), ALL);
    assert_eq!(
        columns("-cl"),
        columns("-lc"),
        "the order is always lines, words, bytes"
    );
    let words = columns("-w");
    assert!(words.words && !words.lines && !words.bytes);
    assert!(matches!(
        parse("-m", &USAGE),
        Err(crate::args::ArgError::UnknownOption(_))
    ));
    assert_eq!(table(&[(counts(1, 2, 3), None)], columns("-cl")), "1 3\n");
}
