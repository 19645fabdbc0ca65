//! Random request sequences, with the fake's processes and knobs changing underneath, never
//! panic, always get a well-formed reply, and keep the server's bookkeeping bounded.

mod common;

use common::{FakeBackend, Raw, process};
use lib9pclient::Stat;
use lib9pclient::codec::{Message, WalkNames};
use lux9_abi::sysinfo::ProcInfo;
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "dev",
    "proc",
    "sys",
    "cons",
    "consctl",
    "null",
    "zero",
    "random",
    "kmsg",
    "1",
    "2",
    "5",
    "7",
    "01",
    "ipcstats",
    "meminfo",
    "uptime",
    "mounts",
    "status",
    "cmdline",
    "kernel",
    "version",
    "config",
    "isolation",
    "knobs",
    "fastpath",
    "poll_spins",
    "..",
    ".",
    "nope",
];

#[derive(Debug, Clone)]
enum Op {
    Walk(u32, u32, Vec<&'static str>),
    Open(u32, u8),
    Read(u32, u64, u32),
    Write(u32, u64, Vec<u8>),
    Clunk(u32),
    Stat(u32),
    Create(u32, &'static str, u32, u8),
    Remove(u32),
    Wstat(u32, u32),
    Attach(u32, &'static str),
    Version,
    /// Backend changes: a process exits or starts, a knob goes or comes, input arrives.
    Kill(u64),
    Spawn(u64),
    ToggleKnob,
    Type(Vec<u8>),
}

fn fid() -> impl Strategy<Value = u32> {
    0u32..6
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..64, any::<u64>()]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"5\n".to_vec()),
        Just(b"rawon".to_vec()),
        Just(b"rawoff\n".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        prop::collection::vec(any::<u8>(), 0..32),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let name = prop::sample::select(NAMES);
    prop_oneof![
        4 => (fid(), fid(), prop::collection::vec(name.clone(), 0..5))
            .prop_map(|(f, n, w)| Op::Walk(f, n, w)),
        3 => (fid(), any::<u8>()).prop_map(|(f, m)| Op::Open(f, m)),
        3 => (fid(), offset(), 0u32..10_000).prop_map(|(f, o, c)| Op::Read(f, o, c)),
        2 => (fid(), offset(), data()).prop_map(|(f, o, d)| Op::Write(f, o, d)),
        2 => fid().prop_map(Op::Clunk),
        1 => fid().prop_map(Op::Stat),
        1 => (fid(), name.clone(), any::<u32>(), any::<u8>())
            .prop_map(|(f, n, p, m)| Op::Create(f, n, p, m)),
        1 => fid().prop_map(Op::Remove),
        1 => (fid(), any::<u32>()).prop_map(|(f, m)| Op::Wstat(f, m)),
        1 => (fid(), prop::sample::select(&["", "dev", "proc", "sys", "bad"][..]))
            .prop_map(|(f, a)| Op::Attach(f, a)),
        1 => Just(Op::Version),
        1 => prop::sample::select(&[1u64, 2, 5, 7][..]).prop_map(Op::Kill),
        1 => prop::sample::select(&[2u64, 7][..]).prop_map(Op::Spawn),
        1 => Just(Op::ToggleKnob),
        1 => data().prop_map(Op::Type),
    ]
}

fn run(ops: &[Op], nonblocking: bool) {
    let fake = FakeBackend::new();
    fake.state().console_nonblocking = nonblocking;
    let mut raw = Raw::new(&fake);
    let mut deferred = 0;
    for op in ops {
        let reply = match op {
            Op::Walk(fid, newfid, names) => {
                let wnames = WalkNames::new(names).expect("at most 16 names");
                raw.rpc(&Message::Twalk {
                    fid: *fid,
                    newfid: *newfid,
                    wnames,
                })
            }
            Op::Open(fid, mode) => raw.rpc(&Message::Topen {
                fid: *fid,
                mode: *mode,
            }),
            Op::Read(fid, offset, count) => {
                // As the isolated adapter does: a deferred read is dropped here.
                match raw.read_deferrable(*fid, *offset, *count) {
                    Some(reply) => reply.map(|d| {
                        assert!(d.len() <= *count as usize);
                        format!("{} bytes", d.len())
                    }),
                    None => {
                        assert!(nonblocking, "{op:?} deferred on a blocking backend");
                        deferred += 1;
                        continue;
                    }
                }
            }
            Op::Write(fid, offset, data) => raw.rpc(&Message::Twrite {
                fid: *fid,
                offset: *offset,
                data,
            }),
            Op::Clunk(fid) => raw.rpc(&Message::Tclunk { fid: *fid }),
            Op::Stat(fid) => raw.rpc(&Message::Tstat { fid: *fid }),
            Op::Create(fid, name, perm, mode) => raw.rpc(&Message::Tcreate {
                fid: *fid,
                name,
                perm: *perm,
                mode: *mode,
            }),
            Op::Remove(fid) => raw.rpc(&Message::Tremove { fid: *fid }),
            Op::Wstat(fid, mode) => {
                let stat = Stat {
                    mode: *mode,
                    ..Stat::DONT_TOUCH
                };
                raw.rpc(&Message::Twstat { fid: *fid, stat })
            }
            Op::Attach(fid, aname) => raw.rpc(&Message::Tattach {
                fid: *fid,
                afid: lib9pclient::codec::NOFID,
                uname: "glenda",
                aname,
            }),
            Op::Version => raw.rpc(&Message::Tversion {
                msize: common::MSIZE,
                version: "9P2000",
            }),
            Op::Kill(pid) => {
                fake.state().processes.retain(|p| p.pid != *pid);
                continue;
            }
            Op::Spawn(pid) => {
                let mut s = fake.state();
                if !s.processes.iter().any(|p| p.pid == *pid) {
                    s.processes
                        .push(process(*pid, 1, "spawned", ProcInfo::STATE_RUNNING));
                    s.processes.sort_by_key(|p| p.pid);
                }
                continue;
            }
            Op::ToggleKnob => {
                let mut s = fake.state();
                if s.knobs.len() == 2 {
                    s.knobs.pop();
                } else {
                    s.knobs.push(("poll_spins".into(), 0));
                }
                continue;
            }
            Op::Type(line) => {
                fake.state().console_in.push_back(line.clone());
                continue;
            }
        };
        // Creating, removing and changing files are always refused.
        if matches!(op, Op::Create(..) | Op::Remove(_)) {
            assert!(reply.is_err(), "{op:?}: {reply:?}");
        }
        if let Op::Wstat(_, mode) = op
            && *mode != u32::MAX
        {
            assert!(reply.is_err(), "{op:?}: {reply:?}");
        }
        let snapshots = raw.server.filesystem().snapshot_count();
        assert!(
            snapshots <= raw.server.fid_count(),
            "{snapshots} snapshots for {} fids",
            raw.server.fid_count()
        );
    }
    if !nonblocking {
        assert_eq!(deferred, 0);
    }
    // Clunking every fid frees every snapshot.
    raw.ok(&Message::Tversion {
        msize: common::MSIZE,
        version: "9P2000",
    });
    assert_eq!(raw.server.filesystem().snapshot_count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_never_panic(
        ops in prop::collection::vec(op(), 0..60),
        nonblocking in any::<bool>(),
    ) {
        run(&ops, nonblocking);
    }
}

/// A fixed sequence through the interesting paths, so the property's shape is checked even
/// if the strategy drifts.
#[test]
fn a_scripted_sequence() {
    run(
        &[
            Op::Walk(0, 1, vec!["proc", "2", "status"]),
            Op::Open(1, 0),
            Op::Kill(2),
            Op::Read(1, 0, 100),
            Op::Walk(0, 2, vec!["dev", "cons"]),
            Op::Open(2, 2),
            Op::Read(2, 0, 100),
            Op::Type(b"hi\n".to_vec()),
            Op::Read(2, 0, 100),
            Op::Walk(0, 3, vec!["sys", "knobs", "poll_spins"]),
            Op::Open(3, 2),
            Op::ToggleKnob,
            Op::Write(3, 0, b"5\n".to_vec()),
            Op::Read(3, 0, 100),
            Op::Create(0, "x", 0o666, 1),
            Op::Remove(1),
        ],
        true,
    );
}
