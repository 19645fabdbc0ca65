//! Every refusal, with its exact Rerror text.

mod common;

use common::{FakeBackend, Raw, attach, error_text, root};
use lib9pclient::Dir;
use lib9pclient::codec::{DMDIR, Message, OEXEC, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, WalkNames};

const BAD_OFFSET: &str = "bad offset: must be below 2^63";

#[test]
fn walks_to_missing_names() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        error_text(fs.open("/nonexistent", OREAD)),
        "file does not exist"
    );
    for (path, name) in [
        ("/dev/nothing", "nothing"),
        ("/proc/3", "3"),
        ("/proc/3/status", "3"),
        ("/proc/01/status", "01"),
        ("/proc/1/environ", "environ"),
        ("/sys/knobs/colour", "colour"),
        ("/sys/kernel/version/x", "x"),
        ("/dev/zero/x", "x"),
    ] {
        assert_eq!(
            error_text(fs.open(path, OREAD)),
            format!("'{name}' file does not exist"),
            "{path}"
        );
    }
    let mut raw = Raw::new(&fake);
    assert_eq!(
        raw.walk(1, &["nonexistent"]).unwrap_err(),
        "file does not exist"
    );
    assert_eq!(raw.walk(1, &["."]).unwrap_err(), "bad file name");
    raw.walk(1, &["dev", "zero"]).unwrap();
    let wnames = WalkNames::new(&["x"]).unwrap();
    assert_eq!(
        raw.err(&Message::Twalk {
            fid: 1,
            newfid: 2,
            wnames
        }),
        "walk in non-directory"
    );
}

#[test]
fn writes_to_read_only_files() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    for path in [
        "/proc/uptime",
        "/proc/ipcstats",
        "/proc/meminfo",
        "/proc/mounts",
        "/proc/1/status",
        "/proc/1/cmdline",
        "/sys/config",
        "/sys/isolation",
        "/sys/kernel/version",
        "/sys/kernel/cmdline",
        "/dev/kmsg",
        "/dev/random",
        "/dev/zero",
    ] {
        for mode in [OWRITE, ORDWR, OREAD | OTRUNC] {
            assert_eq!(
                error_text(fs.open(path, mode)),
                "permission denied",
                "{path} mode {mode}"
            );
        }
    }
    // A fid opened for reading cannot be written.
    let f = fs.open("/dev/null", OREAD).unwrap();
    assert_eq!(
        error_text(f.write_at(b"x", 0)),
        "file not open for this access"
    );
    // Nor can a write-only file be read.
    assert_eq!(
        error_text(fs.open("/dev/consctl", OREAD)),
        "permission denied"
    );
    let ctl = fs.open("/dev/consctl", OWRITE).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(
        error_text(ctl.read_at(&mut buf, 0)),
        "file not open for this access"
    );
}

#[test]
fn nothing_is_executable_or_removable_on_close() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    for path in ["/dev/null", "/proc/uptime", "/sys/knobs/fastpath"] {
        assert_eq!(
            error_text(fs.open(path, OEXEC)),
            "permission denied",
            "{path}"
        );
        assert_eq!(
            error_text(fs.open(path, OREAD | ORCLOSE)),
            "permission denied",
            "{path}"
        );
    }
}

#[test]
fn directories_cannot_be_opened_for_writing() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    for path in [
        "/",
        "/dev",
        "/proc",
        "/proc/1",
        "/sys",
        "/sys/kernel",
        "/sys/knobs",
    ] {
        for mode in [OWRITE, ORDWR, OREAD | OTRUNC, OEXEC] {
            assert_eq!(
                error_text(fs.open(path, mode)),
                "is a directory",
                "{path} mode {mode}"
            );
        }
    }
}

#[test]
fn create_remove_and_wstat_are_refused() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    for path in ["/new", "/dev/new", "/proc/7", "/sys/knobs/new"] {
        assert_eq!(
            error_text(fs.create(path, 0o666, OWRITE)),
            "permission denied",
            "{path}"
        );
        assert_eq!(
            error_text(fs.create(path, DMDIR | 0o777, OREAD)),
            "permission denied",
            "{path}"
        );
    }
    // Creating "inside" a file is refused by the framework.
    assert_eq!(
        error_text(fs.create("/dev/null/x", 0o666, OWRITE)),
        "not a directory"
    );
    for path in [
        "/dev/null",
        "/proc",
        "/proc/1",
        "/proc/1/status",
        "/sys/knobs/fastpath",
    ] {
        assert_eq!(error_text(fs.remove(path)), "permission denied", "{path}");
        let mut d = Dir::dont_touch();
        d.mode = 0o777;
        assert_eq!(
            error_text(fs.wstat(path, &d)),
            "permission denied",
            "{path}"
        );
        let mut d = Dir::dont_touch();
        d.name = "renamed".into();
        assert_eq!(
            error_text(fs.wstat(path, &d)),
            "permission denied",
            "{path}"
        );
        // A wstat that changes nothing is a sync request: nothing to do, so it succeeds.
        fs.wstat(path, &Dir::dont_touch()).unwrap();
    }
    assert!(fs.stat("/dev/null").is_ok(), "still there");
}

#[test]
fn bad_offsets() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let mut buf = [0u8; 8];
    for path in [
        "/proc/uptime",
        "/dev/zero",
        "/dev/kmsg",
        "/dev/null",
        "/dev/random",
        "/sys/knobs/fastpath",
    ] {
        let f = fs.open(path, OREAD).unwrap();
        for offset in [1 << 63, u64::MAX] {
            assert_eq!(
                error_text(f.read_at(&mut buf, offset)),
                BAD_OFFSET,
                "{path}"
            );
        }
    }
    for path in ["/dev/null", "/dev/cons", "/sys/knobs/fastpath"] {
        let f = fs.open(path, OWRITE).unwrap();
        assert_eq!(error_text(f.write_at(b"1", 1 << 63)), BAD_OFFSET, "{path}");
    }
    assert_eq!(fake.state().knobs[0].1, 1, "not written");
    assert!(fake.state().console_out.is_empty(), "not printed");
    // Directory reads continue where the last one ended, or start over at 0.
    let mut raw = Raw::new(&fake);
    raw.walk(1, &["proc"]).unwrap();
    raw.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    assert_eq!(
        raw.read(1, 5, 1000).unwrap_err(),
        "bad offset in directory read"
    );
    let first = raw.read(1, 0, 200).unwrap();
    assert_eq!(
        raw.read(1, first.len() as u64 + 1, 1000).unwrap_err(),
        "bad offset in directory read"
    );
    assert!(!raw.read(1, first.len() as u64, 1000).unwrap().is_empty());
}

#[test]
fn unknown_attach_names() {
    let fake = FakeBackend::new();
    for aname in ["etc", "dev/cons", "proc/1", "//dev"] {
        assert_eq!(
            error_text(attach(&fake, aname)),
            format!("no such tree: {aname}")
        );
    }
}
