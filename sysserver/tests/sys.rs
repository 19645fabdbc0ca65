//! `/sys`: kernel facts, configuration, isolation, and knobs read and written.

mod common;

use common::{FakeBackend, cat, error_text, ls, root};
use lib9pclient::codec::{ORDWR, OREAD, OTRUNC, OWRITE};

#[test]
fn ls_sys() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        ls(&fs, "/sys"),
        ["kernel", "config", "isolation", "pci", "knobs"]
    );
    assert_eq!(ls(&fs, "/sys/kernel"), ["version", "cmdline"]);
    assert_eq!(ls(&fs, "/sys/knobs"), ["fastpath", "poll_spins"]);
    let modes: Vec<u32> = fs
        .read_dir("/sys")
        .unwrap()
        .iter()
        .map(|d| d.mode)
        .collect();
    assert_eq!(
        modes,
        [
            0x8000_0000 | 0o555,
            0o444,
            0o444,
            0o444,
            0x8000_0000 | 0o555
        ]
    );
    for d in fs.read_dir("/sys/knobs").unwrap() {
        assert_eq!((d.mode, d.length), (0o644, 2), "{}", d.name);
    }
}

#[test]
fn kernel_config_isolation() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(cat(&fs, "/sys/kernel/version"), "lux9 0.1.0\n");
    assert_eq!(
        cat(&fs, "/sys/kernel/cmdline"),
        "isolation=hybrid log=info\n"
    );
    assert_eq!(
        cat(&fs, "/sys/config"),
        "isolation = hybrid\nsysserver = colocated\n"
    );
    assert_eq!(
        cat(&fs, "/sys/isolation"),
        "preset hybrid\nsysserver colocated\next4srv isolated\n"
    );
    fake.state().isolation = "preset strict\nsysserver isolated\next4srv isolated".into();
    assert_eq!(
        cat(&fs, "/sys/isolation"),
        "preset strict\nsysserver isolated\next4srv isolated\n"
    );
    fake.state().kernel_cmdline.clear();
    assert_eq!(cat(&fs, "/sys/kernel/cmdline"), "");
}

#[test]
fn pci_lists_the_backends_functions() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        cat(&fs, "/sys/pci"),
        "0000:00:00.0 8086:29c0 06.00.00 bridge/host -\n"
    );
    // Each open reads the backend anew; a backend without a trailing newline gets one.
    fake.state().pci = "0000:00:00.0 8086:1237 06.00.00 bridge/host -\n\
                        0000:00:01.1 8086:7010 01.01.80 storage/ide -"
        .into();
    assert_eq!(
        cat(&fs, "/sys/pci"),
        "0000:00:00.0 8086:1237 06.00.00 bridge/host -\n0000:00:01.1 8086:7010 01.01.80 storage/ide -\n"
    );
    let error = fs
        .open("/sys/pci", lib9pclient::codec::OWRITE)
        .err()
        .map(|e| e.to_string());
    assert!(error.is_some(), "/sys/pci is read-only");
}

#[test]
fn knobs_read_and_write() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(cat(&fs, "/sys/knobs/fastpath"), "1\n");
    assert_eq!(cat(&fs, "/sys/knobs/poll_spins"), "0\n");
    let mut f = fs.open("/sys/knobs/poll_spins", OWRITE).unwrap();
    assert_eq!(f.write(b"500").unwrap(), 3);
    assert_eq!(cat(&fs, "/sys/knobs/poll_spins"), "500\n");
    // The value is one write at offset 0: the file's offset is now 3, so the next write
    // through `f` is refused and changes nothing.
    assert_eq!(
        error_text(f.write(b"17\n")),
        "knob poll_spins: write the value at offset 0"
    );
    assert_eq!(fake.state().knobs[1], ("poll_spins".to_string(), 500));
    // Whitespace around the digits (echo 17 > knob sends "17\n") is trimmed.
    for (text, value) in [
        (&b"17\n"[..], 17),
        (b" 18 ", 18),
        (b"\t19\r\n", 19),
        (b"17\n", 17),
    ] {
        assert_eq!(f.write_at(text, 0).unwrap(), text.len());
        assert_eq!(fake.state().knobs[1], ("poll_spins".to_string(), value));
    }
    // The shell's `>` opens with OTRUNC.
    let mut t = fs.open("/sys/knobs/fastpath", OWRITE | OTRUNC).unwrap();
    t.write_all(b"0\n").unwrap();
    assert_eq!(fake.state().knobs[0].1, 0);
    // An ORDWR fid reads back what it wrote.
    let rw = fs.open("/sys/knobs/poll_spins", ORDWR).unwrap();
    let mut buf = [0u8; 16];
    let n = rw.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"17\n");
    rw.write_at(b"1000000\n", 0).unwrap();
    let n = rw.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"1000000\n");
    fake.state().knob_max = u64::MAX;
    rw.write_at(b"18446744073709551615", 0).unwrap();
    assert_eq!(fake.state().knobs[1].1, u64::MAX);
}

#[test]
fn bad_knob_values_are_refused() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let f = fs.open("/sys/knobs/poll_spins", OWRITE).unwrap();
    for bad in [
        &b"abc"[..],
        b"",
        b"\n",
        b" \n\t ",
        b"-1",
        b"+5",
        b"5 5",
        b"5\n6",
        b"0x10",
        b"1e3",
        b"18446744073709551616",
        b"\xff\xfe",
    ] {
        assert_eq!(
            error_text(f.write_at(bad, 0)),
            "knob poll_spins: not a number",
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        error_text(f.write_at(b"2000000\n", 0)),
        "knob poll_spins: value out of range"
    );
    for offset in [1, 3, 4096] {
        assert_eq!(
            error_text(f.write_at(b"5", offset)),
            "knob poll_spins: write the value at offset 0"
        );
    }
    assert_eq!(fake.state().knobs[1].1, 0, "unchanged");
}

#[test]
fn knobs_follow_the_backend_list() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let qid = fs.stat("/sys/knobs/fastpath").unwrap().qid;
    let f = fs.open("/sys/knobs/fastpath", OWRITE).unwrap();
    fake.state().knobs.reverse();
    assert_eq!(ls(&fs, "/sys/knobs"), ["poll_spins", "fastpath"]);
    assert_eq!(
        fs.stat("/sys/knobs/fastpath").unwrap().qid,
        qid,
        "a knob's qid comes from its name"
    );
    fake.state().knobs.retain(|(n, _)| n != "fastpath");
    assert_eq!(ls(&fs, "/sys/knobs"), ["poll_spins"]);
    assert_eq!(
        error_text(fs.open("/sys/knobs/fastpath", OREAD)),
        "'fastpath' file does not exist"
    );
    // A fid opened before the knob went away.
    assert_eq!(error_text(f.write_at(b"1", 0)), "file does not exist");
    assert_eq!(error_text(f.stat()), "file does not exist");
}
