//! Damaged images: random byte flips in the superblock, the group
//! descriptors, the inode table and directory blocks. Every mutation must give
//! errors or correct data through the 9P server, never a panic or a hang.
//!
//! With metadata_csum on, ext4-view checks every structure mutated here, so
//! the test can demand that whatever succeeds is exactly what the undamaged
//! image gives. Without checksums a flip can change data silently, so there
//! the test demands only that every request is answered, in time, without a
//! panic. Set EXT4SRV_CORRUPT_SEED to vary the mutations. The tree, the
//! metadata regions and the mutations are `lux9_tests::ext4_damage`'s, shared
//! with the in-QEMU `ext4-faults` scenario's damaged disk.

mod common;

use common::*;
use ext4srv::Ext4Fs;
use ext4srv::device::MemoryDevice;
use lib9pclient::codec::{Dir, OREAD};
use lib9pclient::{Fs, Loopback};
use lux9_tests::ext4_damage::{self, Rng};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most time one mutated image may take to open and traverse (debug build).
const CASE_LIMIT: Duration = Duration::from_secs(10);
/// Most bytes read of one file.
const READ_CAP: usize = 128 << 10;

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Listing(Vec<Dir>),
    Stat(Dir),
    Data(Vec<u8>),
}

type Log = BTreeMap<String, Result<Outcome, String>>;

/// Lists, stats and reads everything reachable, recording each result.
fn traverse(bytes: Vec<u8>) -> Result<Log, String> {
    let fs = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 64 << 10).map_err(|e| e.to_string())?;
    let client =
        lib9pclient::Client::connect(Loopback::new(fs, 2048), 2048).map_err(|e| e.to_string())?;
    let fs = client.attach("u", "").map_err(|e| e.to_string())?;
    let mut log = Log::new();
    visit(&fs, "/", &mut log);
    Ok(log)
}

fn visit(fs: &Fs<Loopback<ext4srv::Ext4Fs>>, dir: &str, log: &mut Log) {
    let listing = fs.read_dir(dir).map_err(|e| e.to_string());
    log.insert(format!("ls {dir}"), listing.clone().map(Outcome::Listing));
    let Ok(entries) = listing else { return };
    for d in entries {
        let path = if dir == "/" {
            format!("/{}", d.name)
        } else {
            format!("{dir}/{}", d.name)
        };
        log.insert(
            format!("stat {path}"),
            fs.stat(&path).map(Outcome::Stat).map_err(|e| e.to_string()),
        );
        if d.is_dir() {
            // Symlinked directories are listed, but not descended into twice.
            if !log.contains_key(&format!("ls {path}")) && path.matches('/').count() < 6 {
                visit(fs, &path, log);
            }
        } else {
            // At most READ_CAP bytes: a flipped size byte can make a sparse file of
            // gigabytes of zeros, which is correct but slow to read in full.
            let data = fs.open(&path, OREAD).and_then(|f| {
                let mut v = Vec::new();
                let mut chunk = [0u8; 2048];
                while v.len() < READ_CAP {
                    match f.read_at(&mut chunk, v.len() as u64)? {
                        0 => break,
                        k => v.extend_from_slice(&chunk[..k]),
                    }
                }
                Ok(v)
            });
            log.insert(
                format!("read {path}"),
                data.map(Outcome::Data).map_err(|e| e.to_string()),
            );
        }
    }
}

fn run_mutations(options: &[&str], cases: usize, exact: bool) {
    let dir = TempDir::new("corrupt");
    let root = dir.path().join("tree");
    ext4_damage::write_tree(&root).unwrap();
    let img = dir.path().join("img");
    mkfs(&root, &img, 2, options);
    let base = std::fs::read(&img).unwrap();
    let regions =
        ext4_damage::regions(&img, 1024, &ext4_damage::TREE_DIRS).unwrap_or_else(|e| panic!("{e}"));
    let expected = traverse(base.clone()).expect("the undamaged image opens");
    assert!(expected.values().all(|r| r.is_ok()
        || r.as_ref().unwrap_err().contains("loop")
        || r.as_ref().unwrap_err().contains("symbolic")
        || r.as_ref().unwrap_err().contains("exist")));
    assert!(
        expected.len() > 100,
        "the traversal covers the tree ({} results)",
        expected.len()
    );

    let seed = std::env::var("EXT4SRV_CORRUPT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_u64);
    let mut rng = Rng::new(seed);
    // One worker runs the cases; this thread enforces the time limit.
    let (work_tx, work_rx) = mpsc::channel::<Vec<u8>>();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for bytes in work_rx {
            let r = catch_unwind(AssertUnwindSafe(|| traverse(bytes)));
            if done_tx.send(r.map_err(|_| ())).is_err() {
                return;
            }
        }
    });
    let (mut refused, mut partial, mut intact) = (0, 0, 0);
    let start = Instant::now();
    for case in 0..cases {
        let mut bytes = base.clone();
        let (kind, flips) = ext4_damage::mutate(&mut bytes, &regions, case, &mut rng);
        let what = format!("case {case} (seed {seed}): {kind}, flips {flips:?}");
        if let Some(dump) = std::env::var_os("EXT4SRV_CORRUPT_DUMP") {
            std::fs::write(Path::new(&dump).join(format!("case-{case}.img")), &bytes).unwrap();
        }
        work_tx.send(bytes).unwrap();
        let result = match done_rx.recv_timeout(CASE_LIMIT) {
            Ok(Ok(r)) => r,
            Ok(Err(())) => panic!("{what}: ext4srv panicked (message above)"),
            Err(_) => panic!("{what}: no answer within {CASE_LIMIT:?}: a hang"),
        };
        match result {
            Err(_) => refused += 1,
            Ok(log) => {
                let mut all_same = true;
                for (op, got) in &log {
                    match (got, expected.get(op)) {
                        (Ok(v), Some(Ok(want))) => {
                            if exact {
                                assert_eq!(v, want, "{what}: {op} succeeded with wrong data");
                            }
                        }
                        (Ok(v), other) => {
                            if exact {
                                panic!(
                                    "{what}: {op} succeeded ({v:?}) where the undamaged image gives {other:?}"
                                );
                            }
                        }
                        (Err(_), Some(Ok(_))) => all_same = false,
                        (Err(_), _) => {}
                    }
                }
                if all_same && log.len() == expected.len() {
                    intact += 1;
                } else {
                    partial += 1;
                }
            }
        }
    }
    eprintln!(
        "{cases} mutations ({}) in {:.1?}: {refused} refused at open, {partial} served with errors, {intact} served intact",
        options.join(" "),
        start.elapsed()
    );
    assert!(
        refused > 0 && partial > 0,
        "the mutations reach both the open and the traversal"
    );
}

#[test]
fn checksummed_image_gives_errors_or_correct_data() {
    run_mutations(
        &["-b", "1024", "-O", "metadata_csum,^has_journal"],
        1200,
        true,
    );
}

#[test]
fn unchecksummed_image_never_panics_or_hangs() {
    run_mutations(
        &[
            "-b",
            "1024",
            "-O",
            "^metadata_csum,^metadata_csum_seed,^has_journal",
        ],
        400,
        false,
    );
}
