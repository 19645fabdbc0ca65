//! `/dev`: console input and output, consctl, null, zero, random and the disks (kmsg has
//! tests/kmsg.rs).

mod common;

use common::{FakeBackend, Raw, cat, error_text, fake_random, ls, root};
use lib9pclient::codec::{Message, ORDWR, OREAD, OWRITE};

#[test]
fn ls_dev() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        ls(&fs, "/dev"),
        ["cons", "consctl", "null", "zero", "random", "kmsg"]
    );
    let modes: Vec<(String, u32, u64)> = fs
        .read_dir("/dev")
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.mode, d.length))
        .collect();
    assert_eq!(
        modes,
        [
            ("cons".to_string(), 0o666, 0),
            ("consctl".to_string(), 0o222, 0),
            ("null".to_string(), 0o666, 0),
            ("zero".to_string(), 0o444, 0),
            ("random".to_string(), 0o444, 0),
            // The kept log's length (tests/kmsg.rs).
            ("kmsg".to_string(), 0o444, 23),
        ]
    );
}

#[test]
fn cons_write_prints() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let mut f = fs.open("/dev/cons", OWRITE).unwrap();
    f.write_all(b"hello, ").unwrap();
    assert_eq!(f.write(b"world\n").unwrap(), 6);
    assert_eq!(fake.state().console_out, b"hello, world\n");
}

#[test]
fn cons_read_gives_one_line_per_read() {
    let fake = FakeBackend::new();
    fake.state().console_in = [b"ls /proc\n".to_vec(), b"echo a longer line\n".to_vec()].into();
    let fs = root(&fake);
    let mut f = fs.open("/dev/cons", ORDWR).unwrap();
    let mut buf = [0u8; 100];
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ls /proc\n");
    // A line longer than the read comes in pieces.
    let mut small = [0u8; 8];
    let n = f.read(&mut small).unwrap();
    assert_eq!(&small[..n], b"echo a l");
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"onger line\n");
    // The fake's input is exhausted: end of file.
    assert_eq!(f.read(&mut buf).unwrap(), 0);
    assert_eq!(fake.state().console_reads, 4);
}

#[test]
fn cons_read_that_would_block_is_deferred() {
    let fake = FakeBackend::new();
    fake.state().console_nonblocking = true;
    let mut raw = Raw::new(&fake);
    raw.walk(1, &["dev", "cons"]).unwrap();
    raw.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    // The isolated adapter's path: no reply, keep the request.
    assert_eq!(raw.read_deferrable(1, 0, 100), None);
    assert_eq!(raw.read_deferrable(1, 0, 100), None);
    // Handed over again after input arrived, it gets the line.
    fake.state().console_in.push_back(b"typed\n".to_vec());
    assert_eq!(
        raw.read_deferrable(1, 0, 100),
        Some(Ok(b"typed\n".to_vec()))
    );
    // Through the plain path the refusal is an Rerror.
    assert_eq!(raw.read(1, 0, 100).unwrap_err(), "operation would block");
    // Other reads are never deferred, nor are errors.
    raw.walk(2, &["dev", "zero"]).unwrap();
    raw.ok(&Message::Topen {
        fid: 2,
        mode: OREAD,
    });
    assert_eq!(raw.read_deferrable(2, 0, 3), Some(Ok(vec![0; 3])));
    assert_eq!(
        raw.read_deferrable(1, 1 << 63, 3),
        Some(Err("bad offset: must be below 2^63".to_string()))
    );
}

#[test]
fn consctl_switches_raw_mode_until_closed() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    // A stat walks and clunks a fid that was never opened: no mode change.
    assert_eq!(fs.stat("/dev/consctl").unwrap().mode, 0o222);
    assert!(fake.state().raw_calls.is_empty());
    let mut ctl = fs.open("/dev/consctl", OWRITE).unwrap();
    ctl.write(b"rawon").unwrap();
    assert_eq!(fake.state().raw_calls, [true]);
    ctl.write(b"rawoff\n").unwrap();
    ctl.write(b"rawon\n").unwrap();
    assert_eq!(fake.state().raw_calls, [true, false, true]);
    assert_eq!(
        error_text(ctl.write(b"raw")),
        "consctl: unknown control message 'raw' (rawon or rawoff)"
    );
    // A second open consctl keeps raw mode when the first closes; the last close ends it.
    let other = fs.open("/dev/consctl", OWRITE).unwrap();
    ctl.close().unwrap();
    assert_eq!(fake.state().raw_calls, [true, false, true]);
    other.close().unwrap();
    assert_eq!(fake.state().raw_calls, [true, false, true, false]);
    assert_eq!(
        error_text(fs.open("/dev/consctl", OREAD)),
        "permission denied"
    );
}

#[test]
fn null_reads_eof_and_discards_writes() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(cat(&fs, "/dev/null"), "");
    let mut f = fs.open("/dev/null", ORDWR).unwrap();
    let mut buf = [7u8; 16];
    assert_eq!(f.read_at(&mut buf, 1 << 40).unwrap(), 0);
    f.write_all(&vec![b'x'; 20_000]).unwrap();
    assert!(fake.state().console_out.is_empty());
}

#[test]
fn zero_reads_zeros_at_any_offset() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let mut f = fs.open("/dev/zero", OREAD).unwrap();
    for offset in [0, 1, 4096, 1 << 40, i64::MAX as u64] {
        let mut buf = vec![0xAAu8; 4096];
        assert_eq!(f.read_at(&mut buf, offset).unwrap(), 4096, "at {offset}");
        assert!(buf.iter().all(|&b| b == 0), "at {offset}");
    }
    // The read is capped by msize, still all zeros.
    let mut big = vec![0xAAu8; 100_000];
    let n = f.read(&mut big).unwrap();
    assert_eq!(n, 8192);
    assert!(big[..n].iter().all(|&b| b == 0));
    // zero is read-only (0444).
    assert_eq!(
        error_text(fs.open("/dev/zero", OWRITE)),
        "permission denied"
    );
}

#[test]
fn random_reads_the_backend_bytes() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let f = fs.open("/dev/random", OREAD).unwrap();
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    assert_eq!(f.read_at(&mut a, 0).unwrap(), 64);
    assert_eq!(f.read_at(&mut b, 0).unwrap(), 64);
    assert_ne!(a, [0u8; 64]);
    assert_ne!(a, b, "each read draws fresh bytes");
    // The fake's generator: the bytes are the backend's, passed through unchanged.
    let mut state = 1;
    let expected: Vec<u8> = (0..64).map(|_| fake_random(&mut state)).collect();
    assert_eq!(a.to_vec(), expected);
    // A 4 KiB read at any offset is filled whole from the backend's stream.
    for _ in 0..64 {
        fake_random(&mut state); // `b`
    }
    let mut page = vec![0u8; 4096];
    assert_eq!(f.read_at(&mut page, 1 << 40).unwrap(), 4096);
    let expected: Vec<u8> = (0..4096).map(|_| fake_random(&mut state)).collect();
    assert_eq!(page, expected);
    assert_eq!(
        error_text(fs.open("/dev/random", OWRITE)),
        "permission denied"
    );
}

fn disk(name: &str, sectors: u64) -> (sysserver::DiskInfo, Vec<u8>) {
    let info = sysserver::DiskInfo {
        name: name.into(),
        model: "test\ndisk".into(),
        driver: "fake".into(),
        sector_size: 512,
        sectors,
        read_only: true,
        partitions: Vec::new(),
    };
    let bytes = (0..sectors * 512).map(|i| (i % 251) as u8).collect();
    (info, bytes)
}

/// Disks are directories of `/dev` with `ctl` and `data`, in the backend's order, and come and
/// go with the backend's list.
#[test]
fn disks_appear_with_ctl_and_data() {
    let fake = FakeBackend::new();
    fake.state().disks = vec![disk("rd0", 8), disk("sd0", 2)];
    let fs = root(&fake);
    assert_eq!(
        ls(&fs, "/dev"),
        [
            "cons", "consctl", "null", "zero", "random", "kmsg", "rd0", "sd0"
        ]
    );
    assert_eq!(ls(&fs, "/dev/rd0"), ["ctl", "data"]);
    let entries: Vec<(String, u32, u64)> = fs
        .read_dir("/dev/rd0")
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.mode, d.length))
        .collect();
    assert_eq!(entries[1], ("data".to_string(), 0o444, 4096));
    assert_eq!(fs.stat("/dev/rd0").unwrap().mode, 0x8000_0000 | 0o555);
    // A newline in the model cannot break the one-line-per-key format.
    assert_eq!(
        cat(&fs, "/dev/rd0/ctl"),
        "model test?disk\ndriver fake\nsector_size 512\nsectors 8\nsize 4096\nread_only yes\n"
    );
    assert_eq!(
        error_text(fs.open("/dev/sd1/ctl", OREAD)),
        "'sd1' file does not exist"
    );
    assert_eq!(
        error_text(fs.open("/dev/rd0/nothing", OREAD)),
        "'nothing' file does not exist"
    );
    fake.state().disks.remove(1);
    assert_eq!(ls(&fs, "/dev").last().map(String::as_str), Some("rd0"));
}

/// `data` reads at any offset, never past the end, and cannot be written.
#[test]
fn disk_data_reads_at_any_offset() {
    let fake = FakeBackend::new();
    fake.state().disks = vec![disk("rd0", 8)];
    let want: Vec<u8> = fake.state().disks[0].1.clone();
    let fs = root(&fake);
    let data = fs.open("/dev/rd0/data", OREAD).unwrap();
    for (offset, len) in [(0, 512), (511, 3), (1000, 3000), (4000, 500), (4095, 10)] {
        let mut buf = vec![0u8; len];
        let n = data.read_at(&mut buf, offset).unwrap();
        let end = (offset as usize + len).min(want.len());
        assert_eq!(&buf[..n], &want[offset as usize..end], "at {offset}");
    }
    let mut buf = [0u8; 16];
    assert_eq!(data.read_at(&mut buf, 4096).unwrap(), 0);
    assert_eq!(data.read_at(&mut buf, u64::MAX / 2).unwrap(), 0);
    assert_eq!(
        error_text(fs.open("/dev/rd0/data", OWRITE)),
        "permission denied"
    );
    // A disk that went away under an open fid: reads fail, nothing else breaks.
    fake.state().disks.clear();
    assert_eq!(error_text(data.read_at(&mut buf, 0)), "file does not exist");
}

/// Partitions are files `p<N>` numbered as in the table, each reading its own sectors only.
#[test]
fn partitions_are_files_of_their_own() {
    let fake = FakeBackend::new();
    let (mut info, bytes) = disk("rd0", 8);
    info.partitions = vec![(1, 2, 3), (5, 6, 2)];
    fake.state().disks = vec![(info, bytes.clone())];
    let fs = root(&fake);
    assert_eq!(ls(&fs, "/dev/rd0"), ["ctl", "data", "p1", "p5"]);
    assert_eq!(fs.stat("/dev/rd0/p1").unwrap().length, 3 * 512);
    assert_eq!(fs.stat("/dev/rd0/p5").unwrap().length, 2 * 512);
    let p1 = fs.open("/dev/rd0/p1", OREAD).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = p1.read_at(&mut buf, 100).unwrap();
    assert_eq!(&buf[..n], &bytes[2 * 512 + 100..5 * 512]);
    assert_eq!(p1.read_at(&mut buf, 3 * 512).unwrap(), 0);
    for missing in ["p2", "p0", "p01", "p", "px", "p1x"] {
        assert_eq!(
            error_text(fs.open(&format!("/dev/rd0/{missing}"), OREAD)),
            format!("'{missing}' file does not exist"),
            "{missing}"
        );
    }
    // Qids tell the partitions apart from each other and from the disk's other files.
    let qids: Vec<u64> = ["/dev/rd0", "/dev/rd0/data", "/dev/rd0/p1", "/dev/rd0/p5"]
        .iter()
        .map(|p| fs.stat(p).unwrap().qid.path)
        .collect();
    for (i, a) in qids.iter().enumerate() {
        assert!(!qids[i + 1..].contains(a), "{qids:?}");
    }
}

/// A writable disk's `data` and partitions take bytes at any offset (stat says 0644, a
/// read-only disk's 0444); a write stops at the end of its file, and a partition's write never
/// reaches another partition's sectors.
#[test]
fn writable_disks_take_writes_at_any_offset() {
    let fake = FakeBackend::new();
    let (mut info, bytes) = disk("sd0", 8);
    info.read_only = false;
    info.partitions = vec![(1, 2, 3)];
    fake.state().disks = vec![(info, bytes.clone()), disk("rd0", 2)];
    let fs = root(&fake);
    assert_eq!(fs.stat("/dev/sd0/data").unwrap().mode & 0o777, 0o644);
    assert_eq!(fs.stat("/dev/sd0/p1").unwrap().mode & 0o777, 0o644);
    assert_eq!(fs.stat("/dev/rd0/data").unwrap().mode & 0o777, 0o444);
    let data = fs.open("/dev/sd0/data", ORDWR).unwrap();
    assert_eq!(data.write_at(&[0xaa; 700], 300).unwrap(), 700);
    let mut want = bytes.clone();
    want[300..1000].fill(0xaa);
    // At the end: only what fits is written.
    assert_eq!(data.write_at(&[0xbb; 100], 4096 - 10).unwrap(), 10);
    want[4086..].fill(0xbb);
    assert_eq!(data.write_at(&[0xcc; 4], 4096).unwrap(), 0);
    let p1 = fs.open("/dev/sd0/p1", OWRITE).unwrap();
    assert_eq!(p1.write_at(&[0xdd; 2000], 1000).unwrap(), 3 * 512 - 1000);
    want[2 * 512 + 1000..5 * 512].fill(0xdd);
    assert_eq!(fake.state().disks[0].1, want);
    let mut back = vec![0u8; 4096];
    assert_eq!(data.read_at(&mut back, 0).unwrap(), 4096);
    assert_eq!(back, want);
    assert_eq!(
        error_text(fs.open("/dev/rd0/data", OWRITE)),
        "permission denied"
    );
}
