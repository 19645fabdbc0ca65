use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::args::{Parsed, parse};
use crate::text::{Failing, Pieces, run_pieces};

fn head_of(input: &[u8], count: Count) -> Vec<u8> {
    run_pieces(input, |input, out, buf| head(input, out, count, buf))
}

fn count_of(args: &str) -> Result<Count, ArgError> {
    match parse(args, &USAGE).unwrap() {
        Parsed::Run(options) => count(&options),
        Parsed::Help => panic!("help"),
    }
}

#[test]
fn lines() {
    let text: String = (1..=20).map(|n| alloc::format!("{n}\n")).collect();
    let first10: String = (1..=10).map(|n| alloc::format!("{n}\n")).collect();
    assert_eq!(
        head_of(text.as_bytes(), Count::Lines(10)),
        first10.as_bytes()
    );
    assert_eq!(head_of(b"a\nb\nc", Count::Lines(2)), b"a\nb\n");
    assert_eq!(
        head_of(b"a\nb\nc", Count::Lines(3)),
        b"a\nb\nc",
        "no final newline"
    );
    assert_eq!(head_of(b"a\nb\nc", Count::Lines(u64::MAX)), b"a\nb\nc");
    assert_eq!(head_of(b"", Count::Lines(10)), b"");
    assert_eq!(head_of(b"\n\n\n", Count::Lines(2)), b"\n\n");
    assert_eq!(head_of(b"abc", Count::Lines(0)), b"");
    assert_eq!(head_of(b"a\xff\n\xfe\n", Count::Lines(1)), b"a\xff\n");
}

#[test]
fn bytes() {
    assert_eq!(head_of(b"hello\nworld\n", Count::Bytes(7)), b"hello\nw");
    assert_eq!(head_of(b"hi", Count::Bytes(u64::MAX)), b"hi");
    assert_eq!(head_of(b"", Count::Bytes(5)), b"");
    assert_eq!(head_of(b"abc", Count::Bytes(0)), b"");
}

#[test]
fn reads_no_further_than_it_prints() {
    // An input of 100 lines in a single piece: the rest of the piece is read, no more.
    let input = alloc::vec![b'x'; 1_000_000];
    let mut source = Pieces::new(&input, 1000);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    head(&mut source, &mut out, Count::Bytes(2500), &mut buf).unwrap();
    assert_eq!(out.len(), 2500);
    assert_eq!(source.read, 2500, "-c consumes exactly N bytes");

    let lines = b"1\n2\n3\n4\n5\n".repeat(1000);
    let mut source = Pieces::new(&lines, 4);
    let mut out = Vec::new();
    head(&mut source, &mut out, Count::Lines(3), &mut buf).unwrap();
    assert_eq!(out, b"1\n2\n3\n");
    assert!(source.read <= 8, "read {} bytes for 3 lines", source.read);

    let mut source = Pieces::new(&lines, 4);
    head(&mut source, &mut Vec::new(), Count::Lines(0), &mut buf).unwrap();
    assert_eq!(source.read, 0, "-n 0 reads nothing");
}

#[test]
fn an_endless_input_ends() {
    /// Zeros for ever.
    struct Zero;
    impl Read for Zero {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            buf.fill(0);
            Ok(buf.len())
        }
    }
    let mut out = Vec::new();
    let mut buf = alloc::vec![0u8; 16 * 1024];
    head(&mut Zero, &mut out, Count::Bytes(1_000_000), &mut buf).unwrap();
    assert_eq!(out.len(), 1_000_000);
    // Lines of an endless input that has newlines.
    struct Newlines;
    impl Read for Newlines {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            buf.fill(b'\n');
            Ok(buf.len())
        }
    }
    let mut out = Vec::new();
    head(&mut Newlines, &mut out, Count::Lines(100_000), &mut buf).unwrap();
    assert_eq!(out.len(), 100_000);
}

#[test]
fn read_errors_and_headers() {
    let mut out = Vec::new();
    let mut buf = [0u8; 4];
    let result = head(&mut Failing(b"a\nb"), &mut out, Count::Lines(10), &mut buf);
    assert_eq!(result, Err(Error::Read("i/o error".into())));
    assert_eq!(out, b"a\nb", "what came before the error is printed");
    assert_eq!(header("a", true), "==> a <==\n");
    assert_eq!(header("b", false), "\n==> b <==\n");
}

#[test]
fn options() {
    assert_eq!(count_of(""), Ok(Count::Lines(10)));
    assert_eq!(count_of("-n 3"), Ok(Count::Lines(3)));
    assert_eq!(count_of("-n3 f"), Ok(Count::Lines(3)));
    assert_eq!(count_of("-c 1000000"), Ok(Count::Bytes(1_000_000)));
    assert_eq!(
        count_of("-n 3 -c 4"),
        Ok(Count::Bytes(4)),
        "the last counts"
    );
    assert_eq!(count_of("-c 4 -n 3"), Ok(Count::Lines(3)));
    assert_eq!(
        count_of("-n 99999999999999999999999"),
        Ok(Count::Lines(u64::MAX))
    );
    assert!(matches!(
        count_of("-n x"),
        Err(ArgError::BadValue('n', _, _))
    ));
    assert!(matches!(
        count_of("-c -1"),
        Err(ArgError::BadValue('c', _, _))
    ));
    assert_eq!(parse("-n", &USAGE), Err(ArgError::MissingValue('n')));
    assert!(matches!(
        parse("-q", &USAGE),
        Err(ArgError::UnknownOption(_))
    ));
}
