use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::text::{Failing, run_pieces};

fn dump(input: &[u8], squeeze: bool) -> String {
    let out = run_pieces(input, |input, out, buf| {
        let mut dumper = Dumper::new(squeeze);
        dumper.feed_from(input, out, buf)?;
        dumper.finish(out)
    });
    String::from_utf8(out).unwrap()
}

// The expected texts are what util-linux's `hexdump -C` prints for the same bytes.

#[test]
fn canonical_lines() {
    assert_eq!(
        dump(b"Hello\n", true),
        "00000000  48 65 6c 6c 6f 0a                                 |Hello.|\n00000006\n"
    );
    assert_eq!(
        dump(b"\x00\xff~ \x7f", true),
        "00000000  00 ff 7e 20 7f                                    |..~ .|\n00000005\n"
    );
    let bytes: Vec<u8> = (0u8..=33).collect();
    assert_eq!(
        dump(&bytes, true),
        "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n\
         00000010  10 11 12 13 14 15 16 17  18 19 1a 1b 1c 1d 1e 1f  |................|\n\
         00000020  20 21                                             | !|\n\
         00000022\n"
    );
    assert_eq!(
        dump(b"0123456789", true),
        "00000000  30 31 32 33 34 35 36 37  38 39                    |0123456789|\n0000000a\n"
    );
    assert_eq!(dump(b"", true), "", "nothing for an empty input");
}

#[test]
fn repeated_lines() {
    assert_eq!(
        dump(&[0; 64], true),
        "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
         *\n\
         00000040\n"
    );
    let mut bytes = alloc::vec![0u8; 40];
    bytes.extend_from_slice(b"ab");
    assert_eq!(
        dump(&bytes, true),
        "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
         *\n\
         00000020  00 00 00 00 00 00 00 00  61 62                    |........ab|\n\
         0000002a\n"
    );
    assert_eq!(
        dump(&[0; 32], false),
        "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
         00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
         00000020\n"
    );
    // A run, a different line, then the first line again: printed, not squeezed.
    let mut bytes = [b'a'; 48].to_vec();
    bytes.extend_from_slice(&[b'b'; 16]);
    bytes.extend_from_slice(&[b'a'; 16]);
    let text = dump(&bytes, true);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[1], "*");
    assert!(lines[2].starts_with("00000030  62"));
    assert!(lines[3].starts_with("00000040  61"));
    assert_eq!(lines[4], "00000050");
}

#[test]
fn long_offsets() {
    let mut text = [0u8; 17];
    let len = hex_offset(&mut text, 0x1_2345_6789);
    assert_eq!(&text[..len], b"123456789");
    let len = hex_offset(&mut text, u64::MAX);
    assert_eq!(&text[..len], b"ffffffffffffffff");
    let mut out = Vec::new();
    write_line(&mut out, u64::MAX - 15, &[b'x'; 16]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "fffffffffffffff0  78 78 78 78 78 78 78 78  78 78 78 78 78 78 78 78  |xxxxxxxxxxxxxxxx|\n"
    );
}

#[test]
fn several_inputs_are_one_stream() {
    let mut out = Vec::new();
    let mut dumper = Dumper::new(true);
    dumper.feed(b"a", &mut out).unwrap();
    dumper.feed(b"bc\n", &mut out).unwrap();
    dumper.finish(&mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "00000000  61 62 63 0a                                       |abc.|\n00000004\n"
    );
}

#[test]
fn read_errors() {
    let mut dumper = Dumper::new(true);
    assert_eq!(
        dumper.feed_from(&mut Failing(b"abc"), &mut Vec::new(), &mut [0u8; 8]),
        Err(Error::Read("i/o error".into()))
    );
}
