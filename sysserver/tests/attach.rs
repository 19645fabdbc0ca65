//! Attaching to the whole tree or one subtree, `..` at the attach root, qids and stats.

mod common;

use common::{FakeBackend, attach, cat, ls, root};
use lib9pclient::codec::{DMDIR, OREAD, QTDIR, QTFILE};

#[test]
fn each_aname_gives_its_tree() {
    let fake = FakeBackend::new();
    let all = root(&fake);
    assert_eq!(ls(&all, "/"), ["dev", "proc", "sys"]);
    assert_eq!(all.stat("/").unwrap().name, "/");
    for (aname, entries) in [
        (
            "dev",
            &["cons", "consctl", "null", "zero", "random", "kmsg"][..],
        ),
        (
            "proc",
            &["1", "2", "5", "ipcstats", "meminfo", "uptime", "mounts"][..],
        ),
        (
            "sys",
            &["kernel", "config", "isolation", "pci", "knobs"][..],
        ),
    ] {
        for spelling in [aname.to_string(), format!("/{aname}")] {
            let fs = attach(&fake, &spelling).unwrap();
            assert_eq!(ls(&fs, "/"), entries, "{spelling}");
            // The root of a subtree is the same file as the directory in the whole tree.
            assert_eq!(fs.root_qid(), all.stat(aname).unwrap().qid, "{spelling}");
            let st = fs.stat("/").unwrap();
            assert_eq!((st.name.as_str(), st.mode), (aname, DMDIR | 0o555));
        }
    }
    assert_eq!(
        ls(&attach(&fake, "/").unwrap(), "/"),
        ["dev", "proc", "sys"]
    );
    let proc_tree = attach(&fake, "proc").unwrap();
    assert_eq!(cat(&proc_tree, "uptime"), "12.345\n");
    assert!(cat(&proc_tree, "1/status").starts_with("name init\n"));
    let sys_tree = attach(&fake, "sys").unwrap();
    assert_eq!(cat(&sys_tree, "kernel/version"), "lux9 0.1.0\n");
}

#[test]
fn dotdot_stops_at_the_attach_root() {
    let fake = FakeBackend::new();
    let all = root(&fake);
    let root_qid = all.root_qid();
    assert_eq!(all.walk("..").unwrap().1, root_qid);
    assert_eq!(all.walk("dev/..").unwrap().1, root_qid);
    assert_eq!(
        all.walk("proc/1/..").unwrap().1,
        all.stat("proc").unwrap().qid
    );
    assert_eq!(
        cat(&all, "proc/1/../../sys/kernel/../config"),
        cat(&all, "sys/config")
    );
    let dev = attach(&fake, "dev").unwrap();
    assert_eq!(dev.walk("..").unwrap().1, dev.root_qid());
    assert_eq!(dev.walk("../..").unwrap().1, dev.root_qid());
    // There is no way out of the subtree: `../proc` is looked up in /dev.
    assert!(dev.open("../proc/uptime", OREAD).is_err());
    let mut zero = dev.open("../../zero", OREAD).unwrap();
    let mut buf = [1u8; 4];
    assert_eq!(zero.read(&mut buf).unwrap(), 4);
    assert_eq!(buf, [0; 4]);
}

#[test]
fn qids_are_stable_and_typed() {
    let fake = FakeBackend::new();
    let a = root(&fake);
    let b = attach(&fake, "dev").unwrap();
    assert_eq!(a.stat("dev/cons").unwrap().qid, b.stat("cons").unwrap().qid);
    let mut seen = Vec::new();
    for path in [
        "/",
        "dev",
        "dev/cons",
        "dev/consctl",
        "dev/null",
        "dev/zero",
        "dev/random",
        "dev/kmsg",
        "proc",
        "proc/1",
        "proc/2",
        "proc/1/status",
        "proc/2/status",
        "proc/1/cmdline",
        "proc/ipcstats",
        "proc/meminfo",
        "proc/uptime",
        "proc/mounts",
        "sys",
        "sys/kernel",
        "sys/kernel/version",
        "sys/kernel/cmdline",
        "sys/config",
        "sys/isolation",
        "sys/knobs",
        "sys/knobs/fastpath",
        "sys/knobs/poll_spins",
    ] {
        let st = a.stat(path).unwrap();
        let dir = st.mode & DMDIR != 0;
        assert_eq!(st.qid.typ, if dir { QTDIR } else { QTFILE }, "{path}");
        assert_eq!(st.qid.version, 0, "{path}");
        assert_eq!(a.stat(path).unwrap().qid, st.qid, "{path}: stable");
        assert_eq!(
            a.walk(path).unwrap().1,
            st.qid,
            "{path}: walk and stat agree"
        );
        assert!(!seen.contains(&st.qid.path), "{path}: unique");
        seen.push(st.qid.path);
        assert_eq!(
            (st.uid.as_str(), st.gid.as_str(), st.muid.as_str()),
            ("lux9", "lux9", "lux9")
        );
    }
    // A pid's files keep their qids while the uptime changes.
    let before = a.stat("proc/uptime").unwrap();
    fake.state().uptime_ms += 1000;
    assert_eq!(a.stat("proc/uptime").unwrap().qid, before.qid);
}

#[test]
fn a_server_over_a_send_backend_is_send() {
    fn check<T: Send>(_: &T) {}
    let server = lib9pclient::Server::new(sysserver::SysFs::new(FakeBackend::new()), 8192);
    check(&server);
}

#[test]
fn every_qid_in_the_whole_tree_is_unique() {
    let fake = FakeBackend::new();
    let fs = root(&fake);
    // Walk every directory from the root, as `du` would, taking the qids from the listings.
    let mut seen: Vec<(u64, String)> = vec![(fs.root_qid().path, "/".to_string())];
    let mut dirs = vec![String::from("/")];
    while let Some(dir) = dirs.pop() {
        for d in fs.read_dir(&dir).unwrap() {
            let path = format!("{}/{}", dir.trim_end_matches('/'), d.name);
            assert_eq!(
                fs.stat(&path).unwrap().qid,
                d.qid,
                "{path}: listing and stat"
            );
            if let Some((_, other)) = seen.iter().find(|(q, _)| *q == d.qid.path) {
                panic!("{path} and {other} share qid path {:#x}", d.qid.path);
            }
            seen.push((d.qid.path, path.clone()));
            if d.mode & DMDIR != 0 {
                dirs.push(path);
            }
        }
    }
    // root 1; /dev 1+6; /proc 1 + 3 processes × 4 (the directory, status, cmdline and
    // ipcstats) + 4; /sys 1 + kernel 3 + 3 + knobs 3.
    assert_eq!(seen.len(), 1 + 7 + 17 + 10, "{seen:?}");
}
