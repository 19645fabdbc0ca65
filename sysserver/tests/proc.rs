//! `/proc`: process directories following the process list, and the system text files.

mod common;

use common::{FakeBackend, Raw, attach, cat, error_text, ls, process, rerror, root, stats};
use lib9pclient::codec::{Message, OREAD};
use lux9_abi::sysinfo::ProcInfo;

#[test]
fn ls_proc() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        ls(&fs, "/proc"),
        ["1", "2", "5", "ipcstats", "meminfo", "uptime", "mounts"]
    );
    assert_eq!(ls(&fs, "/proc/2"), ["status", "cmdline", "ipcstats"]);
    for d in fs.read_dir("/proc").unwrap() {
        let dir = d.name.bytes().all(|b| b.is_ascii_digit());
        let mode = if dir { 0x8000_0000 | 0o555 } else { 0o444 };
        assert_eq!(d.mode, mode, "{}", d.name);
        assert_eq!((d.uid.as_str(), d.gid.as_str()), ("lux9", "lux9"));
        assert_eq!((d.atime, d.mtime), (0, 0));
    }
}

#[test]
fn status_and_cmdline() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        cat(&fs, "/proc/2/status"),
        "name sh\nstate blocked\nparent 1\nswitches 20\nmemory 24 KiB\npriority 2\n"
    );
    assert_eq!(
        cat(&fs, "/proc/1/status"),
        "name init\nstate running\nparent 0\nswitches 10\nmemory 12 KiB\npriority 2\n"
    );
    assert!(cat(&fs, "/proc/5/status").contains("\nstate zombie\n"));
    assert_eq!(cat(&fs, "/proc/2/cmdline"), "sh -i\n");
    assert_eq!(cat(&fs, "/proc/5/cmdline"), "ls -l /proc\n");
    // The file lengths in a listing are those of the text a read gives.
    let lengths: Vec<u64> = fs
        .read_dir("/proc/2")
        .unwrap()
        .iter()
        .map(|d| d.length)
        .collect();
    assert_eq!(lengths, [68, 6, 184]);
}

#[test]
fn a_name_cannot_break_the_line_format() {
    let fake = FakeBackend::new();
    fake.state()
        .processes
        .push(process(8, 1, "evil\nstate running", 1));
    let fs = root(&fake);
    let status = cat(&fs, "/proc/8/status");
    assert!(status.starts_with("name evil?state running\nstate blocked\n"));
    assert_eq!(status.lines().count(), 6);
}

#[test]
fn process_directories_follow_the_process_list() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let before = fs.open("/proc/2/status", OREAD).unwrap();
    let (dir_fid, _) = fs.walk("/proc/2").unwrap();
    {
        let mut s = fake.state();
        s.processes.retain(|p| p.pid != 2);
        s.processes
            .push(process(9, 1, "cat", ProcInfo::STATE_RUNNING));
        s.cmdlines.insert(9, "cat /proc/uptime".into());
        s.stats.insert(9, stats(90));
    }
    assert_eq!(
        ls(&fs, "/proc"),
        ["1", "5", "9", "ipcstats", "meminfo", "uptime", "mounts"]
    );
    assert!(cat(&fs, "/proc/9/status").starts_with("name cat\nstate running\n"));
    assert_eq!(cat(&fs, "/proc/9/cmdline"), "cat /proc/uptime\n");
    // The dead process: walks fail, from the root and from its old directory.
    assert_eq!(
        error_text(fs.open("/proc/2/status", OREAD)),
        "'2' file does not exist"
    );
    assert_eq!(error_text(fs.stat("/proc/2")), "'2' file does not exist");
    let proc_only = attach(&fake, "proc").unwrap();
    assert_eq!(
        error_text(proc_only.open("2", OREAD)),
        "file does not exist"
    );
    let names = ["status"];
    let wnames = lib9pclient::codec::WalkNames::new(&names).unwrap();
    let stale = fs.client().call(&Message::Twalk {
        fid: dir_fid,
        newfid: 4000,
        wnames,
    });
    assert_eq!(rerror(stale), "file does not exist");
    let stale_stat = fs.client().call(&Message::Tstat { fid: dir_fid });
    assert_eq!(rerror(stale_stat), "file does not exist");
    // A file opened while the process lived is gone too, snapshot and all.
    let mut buf = [0u8; 64];
    assert_eq!(
        error_text(before.read_at(&mut buf, 0)),
        "file does not exist"
    );
    // The same pid coming back is a new directory with the same qid.
    fake.state()
        .processes
        .push(process(2, 1, "sh", ProcInfo::STATE_RUNNING));
    assert!(cat(&fs, "/proc/2/status").contains("state running"));
}

#[test]
fn ipcstats_system_wide_then_per_process() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let expected = "total_switches 101\nfastpath_hits 102\nslowpath_messages 103\n\
                    zero_copy_transfers 104\nbatched_operations 105\nbatches 106\n\
                    avg_batch_size 1.07\ncycles_per_switch 108\nfutex_skips 109\n\
                    futex_sleeps 110\ncolocated_calls 77\n";
    let system = cat(&fs, "/proc/ipcstats");
    assert_eq!(system, expected);
    // `grep total_switches` finds one line: each process's counters are in its directory.
    assert_eq!(
        system
            .lines()
            .filter(|l| l.contains("total_switches"))
            .count(),
        1
    );
    for (pid, base) in [(1, 10), (2, 20), (5, 50)] {
        let mut expected = String::new();
        for (i, name) in [
            "total_switches",
            "fastpath_hits",
            "slowpath_messages",
            "zero_copy_transfers",
            "batched_operations",
            "batches",
        ]
        .iter()
        .enumerate()
        {
            expected += &format!("{name} {}\n", base + i + 1);
        }
        // avg_batch_size_x100 is base + 7: 0.17, 0.27, 0.57.
        expected += &format!("avg_batch_size 0.{}\n", base + 7);
        expected += &format!("cycles_per_switch {}\n", base + 8);
        expected += &format!("futex_skips {}\n", base + 9);
        expected += &format!("futex_sleeps {}\n", base + 10);
        assert_eq!(cat(&fs, &format!("/proc/{pid}/ipcstats")), expected);
    }
    // The average keeps two decimals whatever its size.
    for (x100, shown) in [(5, "0.05"), (250, "2.50"), (12_345, "123.45")] {
        fake.state().stats.get_mut(&0).unwrap().avg_batch_size_x100 = x100;
        let line = format!("\navg_batch_size {shown}\n");
        assert!(cat(&fs, "/proc/ipcstats").contains(&line), "{line}");
    }
    // A process without statistics (exited between the list and the query) has none to read;
    // missing system-wide figures read as zeros.
    {
        let mut s = fake.state();
        s.stats.remove(&2);
        s.stats.remove(&0);
    }
    let text = cat(&fs, "/proc/ipcstats");
    assert!(text.starts_with("total_switches 0\n"));
    assert!(fs.open("/proc/2/ipcstats", OREAD).is_err());
    assert!(cat(&fs, "/proc/5/ipcstats").contains("cycles_per_switch 58\n"));
}

/// `cat /proc/ipcstats | grep total_switches` prints one line: the file holds the system's
/// counters alone, and each process's are in `/proc/<pid>/ipcstats`, without a `pid N` prefix.
#[test]
fn ipcstats_one_total_switches_line_and_a_file_per_process() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let system = cat(&fs, "/proc/ipcstats");
    let starting = |text: &str, word: &str| text.lines().filter(|l| l.starts_with(word)).count();
    assert_eq!(starting(&system, "total_switches"), 1, "{system}");
    assert_eq!(starting(&system, "pid "), 0, "{system}");
    assert_eq!(
        system.lines().count(),
        11,
        "ten counters and colocated_calls"
    );
    // Process 2's own counters (the fake's are 20 + the field's number).
    assert_eq!(ls(&fs, "/proc/2"), ["status", "cmdline", "ipcstats"]);
    let two = cat(&fs, "/proc/2/ipcstats");
    assert!(
        two.starts_with("total_switches 21\nfastpath_hits 22\n"),
        "{two}"
    );
    assert!(two.ends_with("futex_sleeps 30\n"), "{two}");
    assert_eq!(two.lines().count(), 10, "{two}");
    assert_eq!(starting(&two, "pid "), 0, "{two}");
    assert_eq!(starting(&two, "colocated_calls"), 0, "{two}");
    let listed = fs.read_dir("/proc/2").unwrap();
    let entry = listed.iter().find(|d| d.name == "ipcstats").unwrap();
    assert_eq!((entry.mode, entry.length), (0o444, two.len() as u64));
    // A pid that never existed has no directory; a live process whose statistics are gone
    // has a file that cannot be read; and the file goes with its process, open fids included.
    assert_eq!(
        error_text(fs.open("/proc/3/ipcstats", OREAD)),
        "'3' file does not exist"
    );
    let five = fs.open("/proc/5/ipcstats", OREAD).unwrap();
    fake.state().stats.remove(&2);
    assert_eq!(
        error_text(fs.open("/proc/2/ipcstats", OREAD)),
        "file does not exist"
    );
    fake.state().processes.retain(|p| p.pid != 5);
    let mut buf = [0u8; 64];
    assert_eq!(error_text(five.read_at(&mut buf, 0)), "file does not exist");
    assert_eq!(
        error_text(fs.open("/proc/5/ipcstats", OREAD)),
        "'5' file does not exist"
    );
    // The system's counters stay, one total_switches line whatever the processes do.
    assert_eq!(starting(&cat(&fs, "/proc/ipcstats"), "total_switches"), 1);
}

#[test]
fn meminfo_uptime_mounts() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    assert_eq!(
        cat(&fs, "/proc/meminfo"),
        "total 131072 KiB\nfree 97656 KiB\nkernel_heap 4096 KiB\nkernel_heap_in_use 1205 KiB\nreserved 2048 KiB\n"
    );
    assert_eq!(cat(&fs, "/proc/uptime"), "12.345\n");
    fake.state().uptime_ms = 5;
    assert_eq!(cat(&fs, "/proc/uptime"), "0.005\n");
    fake.state().uptime_ms = 3_600_000;
    assert_eq!(cat(&fs, "/proc/uptime"), "3600.000\n");
    // The backend's text gets the final newline it lacked.
    assert_eq!(
        cat(&fs, "/proc/mounts"),
        "/dev sysserver dev colocated\n/proc sysserver proc colocated\n"
    );
    assert_eq!(fs.stat("/proc/uptime").unwrap().length, 9);
    fake.state().mounts.clear();
    assert_eq!(cat(&fs, "/proc/mounts"), "");
}

#[test]
fn each_open_reads_one_snapshot() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    let calls = fake.state().uptime_calls;
    let f = fs.open("/proc/uptime", OREAD).unwrap();
    assert_eq!(fake.state().uptime_calls, calls + 1, "generated at open");
    let mut buf = [0u8; 3];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 3);
    assert_eq!(&buf, b"12.");
    fake.state().uptime_ms = 99_999;
    let mut rest = [0u8; 10];
    let n = f.read_at(&mut rest, 3).unwrap();
    assert_eq!(&rest[..n], b"345\n", "the rest of the same text");
    assert_eq!(f.read_at(&mut rest, 0).unwrap(), 7, "again from the start");
    assert_eq!(f.read_at(&mut rest, 7).unwrap(), 0, "at the end");
    assert_eq!(f.read_at(&mut rest, 1 << 40).unwrap(), 0, "past the end");
    assert_eq!(
        fake.state().uptime_calls,
        calls + 1,
        "reads do not regenerate"
    );
    assert_eq!(
        f.stat().unwrap().length,
        7,
        "an open fid's length is its snapshot's"
    );
    // Another open sees the new value; the first keeps its own.
    assert_eq!(cat(&fs, "/proc/uptime"), "99.999\n");
    let n = f.read_at(&mut rest, 0).unwrap();
    assert_eq!(&rest[..n], b"12.345\n");
}

#[test]
fn a_long_file_read_in_small_pieces_is_whole() {
    let fake = FakeBackend::new();
    let long: String = (0..2000).map(|i| format!("arg{i} ")).collect();
    fake.state().cmdlines.insert(2, long.trim_end().into());
    let fs = root(&fake);
    let whole = cat(&fs, "/proc/2/cmdline");
    assert!(whole.len() > 8192, "spans several full reads");
    assert!(whole.ends_with("arg1999\n"));
    let f = fs.open("/proc/2/cmdline", OREAD).unwrap();
    let mut pieces = Vec::new();
    let mut buf = [0u8; 97];
    loop {
        let n = f.read_at(&mut buf, pieces.len() as u64).unwrap();
        if n == 0 {
            break;
        }
        pieces.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8(pieces).unwrap(), whole);
}

#[test]
fn clunk_frees_the_snapshot() {
    let fake = FakeBackend::new();
    let mut raw = Raw::new(&fake);
    for fid in 1..=3 {
        raw.walk(fid, &["proc", "meminfo"]).unwrap();
        raw.ok(&Message::Topen { fid, mode: OREAD });
    }
    assert_eq!(raw.server.filesystem().snapshot_count(), 3);
    raw.ok(&Message::Tclunk { fid: 2 });
    assert_eq!(raw.server.filesystem().snapshot_count(), 2);
    // A Tversion clunks everything.
    raw.ok(&Message::Tversion {
        msize: 8192,
        version: "9P2000",
    });
    assert_eq!(raw.server.filesystem().snapshot_count(), 0);
}

#[test]
fn a_clone_that_loses_its_snapshot_gets_a_new_one() {
    // A zero-name walk clones a fid with its node: both share one snapshot slot.
    let fake = FakeBackend::new();
    let mut raw = Raw::new(&fake);
    raw.walk(1, &["proc", "uptime"]).unwrap();
    let wnames = lib9pclient::codec::WalkNames::new(&[]).unwrap();
    raw.ok(&Message::Twalk {
        fid: 1,
        newfid: 2,
        wnames,
    });
    raw.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    raw.ok(&Message::Tclunk { fid: 2 });
    fake.state().uptime_ms = 1_000;
    assert_eq!(raw.read(1, 0, 100).unwrap(), b"1.000\n");
    assert_eq!(raw.read(1, 2, 100).unwrap(), b"000\n");
}

#[test]
fn a_process_ending_between_walk_and_read() {
    let fake = FakeBackend::new();
    let mut raw = Raw::new(&fake);
    // fid 1: walked only; fid 2: open with a snapshot; fid 3: the directory itself.
    raw.walk(1, &["proc", "2", "status"]).unwrap();
    raw.walk(2, &["proc", "2", "cmdline"]).unwrap();
    raw.ok(&Message::Topen {
        fid: 2,
        mode: OREAD,
    });
    raw.walk(3, &["proc", "2"]).unwrap();
    assert_eq!(raw.read(2, 0, 100).unwrap(), b"sh -i\n");
    fake.state().processes.retain(|p| p.pid != 2);
    assert_eq!(
        raw.err(&Message::Topen {
            fid: 1,
            mode: OREAD
        }),
        "file does not exist"
    );
    assert_eq!(raw.read(2, 0, 100).unwrap_err(), "file does not exist");
    assert_eq!(raw.read(2, 3, 100).unwrap_err(), "file does not exist");
    assert_eq!(
        raw.err(&Message::Topen {
            fid: 3,
            mode: OREAD
        }),
        "file does not exist"
    );
    // A walk from the dead directory fails at its first name.
    let names = ["status"];
    assert_eq!(
        raw.err(&Message::Twalk {
            fid: 3,
            newfid: 4,
            wnames: lib9pclient::codec::WalkNames::new(&names).unwrap(),
        }),
        "file does not exist"
    );
    // From the root, the walk stops before `2` (a partial Rwalk with just `proc`'s qid).
    let partial = raw.walk(4, &["proc", "2"]).unwrap();
    assert_eq!(partial.matches("Qid").count(), 1, "{partial}");
    // The other processes are untouched.
    assert_eq!(raw.walk(5, &["proc", "1", "status"]).map(|_| ()), Ok(()));
}

/// Linux's v9fs reads a directory into a fixed buffer, each Tread asking for the space left: a
/// reply that stops short of an entry (0 bytes when even the first does not fit) must not be an
/// error, and the offset stays valid for the next read.
#[test]
fn a_client_with_a_fixed_buffer_lists_every_entry_of_proc() {
    let fake = FakeBackend::new();
    {
        let mut s = fake.state();
        for pid in 100..400 {
            s.processes
                .push(process(pid, 1, "worker", ProcInfo::STATE_RUNNING));
        }
    }
    let fs = root(&fake);
    let want = ls(&fs, "/proc");
    assert_eq!(want.len(), 307);
    for buf_len in [80, 100, 257, 4096] {
        let mut dir = fs.open("/proc", OREAD).unwrap();
        let names: Vec<String> = dir
            .read_dir_buffered(buf_len)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, want, "buffer of {buf_len} bytes");
    }
    // A count of 1 at offset 0 reads 0 bytes, through both entry points, and no error.
    let mut raw = Raw::new(&fake);
    raw.walk(1, &["proc"]).unwrap();
    raw.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    assert_eq!(raw.read(1, 0, 1), Ok(Vec::new()));
    assert_eq!(raw.read_deferrable(1, 0, 1), Some(Ok(Vec::new())));
    let first = raw.read(1, 0, 100).unwrap();
    assert!(!first.is_empty());
    assert_eq!(raw.read(1, first.len() as u64, 1), Ok(Vec::new()));
    assert!(!raw.read(1, first.len() as u64, 4000).unwrap().is_empty());
}
