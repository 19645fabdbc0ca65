//! `/dev/kmsg`: each open reads a snapshot of the kernel log as the ring keeps it at the open,
//! at offsets from 0, so a sequential reader gets every kept byte once and then end of file.

mod common;

use common::{FakeBackend, cat, root};
use lib9pclient::codec::OREAD;

/// `count` numbered lines, `line 0000\n` on.
fn lines(first: usize, count: usize) -> Vec<u8> {
    (first..first + count)
        .flat_map(|n| format!("line {n:04}\n").into_bytes())
        .collect()
}

/// A log ring that has wrapped: 100,000 bytes were logged before the `kept` ones.
fn wrapped(fake: &FakeBackend, kept: Vec<u8>) {
    let mut s = fake.state();
    s.kmsg_dropped = 100_000;
    s.kmsg = kept;
}

/// Reads an open file from offset 0 in `piece`-byte Treads until end of file (or `limit`
/// bytes, so a reader that never ends fails the test instead of hanging it).
fn read_in_pieces(fs: &common::Tree, path: &str, piece: usize, limit: usize) -> Vec<u8> {
    let mut f = fs.open(path, OREAD).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece];
    while out.len() < limit {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn a_sequential_reader_of_a_wrapped_log_gets_each_line_once() {
    let fake = FakeBackend::new();
    // The ring cut the oldest line it keeps: `ne 0099\n` is the tail of `line 0099\n`.
    let mut kept = b"ne 0099\n".to_vec();
    kept.extend(lines(100, 400));
    wrapped(&fake, kept);
    let fs = root(&fake);
    let all = read_in_pieces(&fs, "/dev/kmsg", 64, 1 << 20);
    assert_eq!(
        String::from_utf8(all).unwrap(),
        String::from_utf8(lines(100, 400)).unwrap(),
        "every whole line once, in order, without the cut one"
    );
    // Through read_to_end's pipelined reads too.
    assert_eq!(cat(&fs, "/dev/kmsg").into_bytes(), lines(100, 400));
}

#[test]
fn a_log_that_never_wrapped_is_read_whole_from_its_first_byte() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        read_in_pieces(&fs, "/dev/kmsg", 5, 1000),
        b"lux9 booting\nmemory ok\n"
    );
}

#[test]
fn a_wrapped_log_without_a_newline_is_kept_whole() {
    let fake = FakeBackend::new();
    wrapped(&fake, b"one very long line".to_vec());
    let fs = root(&fake);
    assert_eq!(cat(&fs, "/dev/kmsg"), "one very long line");
}

#[test]
fn an_open_file_reads_the_log_as_it_was_at_the_open() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let mut before = fs.open("/dev/kmsg", OREAD).unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(before.read(&mut buf).unwrap(), 5);
    // The kernel logs more, and the ring wraps under the open file.
    wrapped(&fake, lines(0, 50));
    let mut rest = Vec::new();
    before.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"booting\nmemory ok\n", "the open file's snapshot");
    assert_eq!(before.stat().unwrap().length, 23, "its length");
    // A new open sees the new log.
    assert_eq!(cat(&fs, "/dev/kmsg").into_bytes(), lines(1, 49));
}

#[test]
fn reads_at_any_offset_are_slices_of_the_snapshot() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let f = fs.open("/dev/kmsg", OREAD).unwrap();
    let mut buf = [0u8; 100];
    let n = f.read_at(&mut buf, 5).unwrap();
    assert_eq!(&buf[..n], b"booting\nmemory ok\n");
    let n = f.read_at(&mut buf[..4], 13).unwrap();
    assert_eq!(&buf[..n], b"memo");
    let n = f.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"lux9 booting\nmemory ok\n", "back to the start");
    assert_eq!(f.read_at(&mut buf, 23).unwrap(), 0, "at the end");
    assert_eq!(f.read_at(&mut buf, 100_000).unwrap(), 0, "past the end");
}

#[test]
fn stat_gives_the_length_of_the_kept_log() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(fs.stat("/dev/kmsg").unwrap().length, 23);
    let mut kept = b"ut\n".to_vec();
    kept.extend(lines(0, 10));
    wrapped(&fake, kept);
    assert_eq!(
        fs.stat("/dev/kmsg").unwrap().length,
        100,
        "without the cut line"
    );
    let dev = fs.read_dir("/dev").unwrap();
    let kmsg = dev.iter().find(|d| d.name == "kmsg").unwrap();
    assert_eq!(kmsg.length, 100, "in a directory listing too");
}

#[test]
fn an_empty_log_reads_nothing() {
    let fake = FakeBackend::new();
    fake.state().kmsg.clear();
    let fs = root(&fake);
    assert_eq!(cat(&fs, "/dev/kmsg"), "");
    assert_eq!(fs.stat("/dev/kmsg").unwrap().length, 0);
}
