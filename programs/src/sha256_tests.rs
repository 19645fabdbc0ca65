//! Tests of sha256sum's pure half: published vectors, streams cut into odd pieces, argument
//! handling, and the same files hashed by the host's coreutils `sha256sum`.

use super::*;
use crate::args::{self, ArgError, Parsed};
use alloc::string::ToString;
use alloc::vec;
use std::process::Command;

/// FIPS 180-2's examples and the empty string.
const VECTORS: [(&[u8], &str); 3] = [
    (
        b"",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        b"abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
];

/// Bytes that look random: a xorshift sequence from `seed`.
fn generated(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Hashes `data` through [`sum_stream`] with a buffer of `buf_len` bytes and a reader that
/// hands out at most the next of `pieces` (cycling) per call.
fn sum_in_pieces(data: &[u8], buf_len: usize, pieces: &[usize]) -> Sum {
    let mut buf = vec![0u8; buf_len];
    let mut at = 0;
    let mut calls = 0;
    let result: Result<Sum, ()> = sum_stream(&mut buf, |buf| {
        let want = pieces[calls % pieces.len()].min(buf.len());
        calls += 1;
        let n = want.min(data.len() - at);
        buf[..n].copy_from_slice(&data[at..at + n]);
        at += n;
        Ok(n)
    });
    assert_eq!(at, data.len(), "the whole stream was read");
    result.expect("the reader never fails")
}

#[test]
fn published_vectors() {
    for (input, expected) in VECTORS {
        assert_eq!(hex(&sum(input)), expected, "{:?}", input);
        assert_eq!(
            hex(&sum_in_pieces(input, 16 * 1024, &[16 * 1024])),
            expected
        );
    }
    // A million times `a`, read 16 KiB at a time as sha256sum does.
    let million = vec![b'a'; 1_000_000];
    assert_eq!(
        hex(&sum_in_pieces(&million, 16 * 1024, &[16 * 1024])),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

#[test]
fn odd_pieces_give_the_same_sum() {
    // Lengths around SHA-256's 64-byte block and its 55/56-byte padding boundary.
    for len in [0, 1, 55, 56, 57, 63, 64, 65, 127, 128, 129, 1000, 70_001] {
        let data = generated(len, len as u64);
        let whole = sum(&data);
        for (buf_len, pieces) in [
            (1, &[1][..]),
            (7, &[3, 7, 1, 5][..]),
            (100, &[1, 63, 64, 65, 99, 100][..]),
            (16 * 1024, &[16 * 1024, 13, 4097][..]),
        ] {
            assert_eq!(
                sum_in_pieces(&data, buf_len, pieces),
                whole,
                "{len} bytes, buffer {buf_len}, pieces {pieces:?}"
            );
        }
    }
    // Different data gives a different sum (the comparisons above are not vacuous).
    assert_ne!(sum(&generated(64, 1)), sum(&generated(64, 2)));
}

#[test]
fn a_read_error_ends_the_stream() {
    let mut buf = [0u8; 8];
    let mut calls = 0;
    let result = sum_stream(&mut buf, |buf| {
        calls += 1;
        if calls < 3 {
            buf.fill(b'x');
            Ok(buf.len())
        } else {
            Err("device gone")
        }
    });
    assert_eq!(result, Err("device gone"));
    assert_eq!(calls, 3, "no read after the error");
}

#[test]
fn lines_are_coreutils_lines() {
    let abc = sum(b"abc");
    let hex_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(line(&abc, "-"), format!("{hex_abc}  -\n"));
    assert_eq!(
        line(&abc, "/sys/config"),
        format!("{hex_abc}  /sys/config\n")
    );
    assert_eq!(line(&abc, "a b"), format!("{hex_abc}  a b\n"));
    assert_eq!(line(&abc, "a\\b"), format!("\\{hex_abc}  a\\\\b\n"));
    assert_eq!(line(&abc, "a\nb\r"), format!("\\{hex_abc}  a\\nb\\r\n"));
    let digits = hex(&abc);
    assert_eq!(digits.len(), 64);
    assert!(digits.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
}

fn parse(args: &str) -> Result<Parsed, ArgError> {
    args::parse(args, &USAGE)
}

#[test]
fn arguments() {
    let run = |args: &str| match parse(args) {
        Ok(Parsed::Run(options)) => files(options),
        other => panic!("{args:?}: {other:?}"),
    };
    assert_eq!(run(""), ["-"]);
    assert_eq!(run("-"), ["-"]);
    assert_eq!(run("/sys/config - 'a b'"), ["/sys/config", "-", "a b"]);
    assert_eq!(run("-- -b"), ["-b"]);
    assert_eq!(parse("--help"), Ok(Parsed::Help));
    assert_eq!(
        parse("-b /sys/config"),
        Err(ArgError::UnknownOption("-b".to_string()))
    );
    let help = USAGE.help();
    assert!(help.starts_with("usage: sha256sum [file...]\n"), "{help}");
    assert!(help.contains("--help"), "{help}");
}

/// The same files, hashed here and by the host's coreutils: the whole output must be equal,
/// byte for byte, names with awkward characters included.
#[test]
fn output_matches_the_host_sha256sum() {
    let dir = std::env::temp_dir().join(format!("lux9-sha256-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let files: [(&str, usize); 8] = [
        ("empty", 0),
        ("one", 1),
        ("block", 64),
        ("padding edge", 56),
        ("piece", 16 * 1024),
        ("odd", 100_003),
        ("back\\slash", 77),
        ("new\nline", 300),
    ];
    let mut ours = String::new();
    for (index, (name, len)) in files.iter().enumerate() {
        let data = generated(*len, 1000 + index as u64);
        std::fs::write(dir.join(name), &data).expect("write a test file");
        ours += &line(&sum_in_pieces(&data, 4099, &[4099, 17, 1]), name);
    }
    let host = Command::new("sha256sum")
        .args(files.iter().map(|(name, _)| name))
        .current_dir(&dir)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let host = host.expect("the host's sha256sum (coreutils) runs");
    assert!(host.status.success(), "{host:?}");
    assert_eq!(ours, String::from_utf8(host.stdout).expect("UTF-8"));
}
