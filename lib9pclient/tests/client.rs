//! Client tests over the in-memory loopback: file API, batching, async
//! completion, flush, long walks, I/O splitting and the mount table.

use lib9pclient::client::{DEFAULT_MSIZE, SeekFrom};
use lib9pclient::codec::{DMDIR, Message, ORDWR, OREAD, OTRUNC, OWRITE, WalkNames};
use lib9pclient::{Client, Error, Fs, Loopback, MemFs, MountTable};
use std::cell::RefCell;
use std::rc::Rc;

type Lb = Loopback<MemFs>;

fn client_with(fs: MemFs, msize: u32) -> Client<Lb> {
    Client::connect(Loopback::new(fs, 64 * 1024), msize).expect("version")
}

fn seeded() -> MemFs {
    let mut fs = MemFs::new("glenda");
    fs.add_file("/etc/motd", 0o664, b"hello, 9P\n").unwrap();
    fs.add_file("/etc/ro", 0o444, b"read only").unwrap();
    fs.add_file("/usr/glenda/notes", 0o664, b"notes").unwrap();
    fs
}

fn mount() -> Fs<Lb> {
    client_with(seeded(), DEFAULT_MSIZE)
        .attach("glenda", "")
        .expect("attach")
}

#[test]
fn version_negotiates_the_smaller_msize() {
    let c = Client::connect(Loopback::new(MemFs::default(), 4096), 1 << 20).unwrap();
    assert_eq!(c.msize(), 4096);
    assert_eq!(c.max_io(), 4096 - 24);
}

#[test]
fn open_read_write_seek_stat() {
    let fs = mount();
    let mut f = fs.open("/etc/motd", OREAD).unwrap();
    let mut buf = [0u8; 64];
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello, 9P\n");
    assert_eq!(f.read(&mut buf).unwrap(), 0, "end of file reads 0");
    assert_eq!(f.seek(SeekFrom::Start(7)).unwrap(), 7);
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"9P\n");
    assert_eq!(f.seek(SeekFrom::End(-3)).unwrap(), 7);
    assert!(f.seek(SeekFrom::Current(-100)).is_err());
    let st = f.stat().unwrap();
    assert_eq!(st.name, "motd");
    assert_eq!(st.length, 10);
    assert_eq!(st.uid, "glenda");
    f.close().unwrap();

    let mut w = fs.open("etc/motd", OWRITE | OTRUNC).unwrap();
    w.write_all(b"new").unwrap();
    drop(w);
    assert_eq!(fs.stat("/etc/motd").unwrap().length, 3);
}

#[test]
fn errors_carry_the_server_text() {
    let fs = mount();
    match fs.open("/nothere", OREAD) {
        Err(Error::Server(s)) => assert_eq!(s, "file does not exist"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("opened a missing file"),
    }
    // Partial walk: /etc exists, nothere does not.
    match fs.open("/etc/nothere/deeper", OREAD) {
        Err(Error::NotFound { name }) => assert_eq!(name, "nothere"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("opened a missing file"),
    }
    match fs.open("/etc/ro", OWRITE) {
        Err(Error::Server(s)) => assert_eq!(s, "permission denied"),
        other => panic!("unexpected {:?}", other.map(|f| f.fid())),
    }
    assert!(matches!(fs.open("/etc", OWRITE), Err(Error::Server(s)) if s == "is a directory"));
    // Nothing leaked: only the root fid remains.
    fs.client().submit().unwrap();
    fs.client().run_until_idle().unwrap();
    assert_eq!(fs.client().fids_in_use(), 1);
}

#[test]
fn create_read_dir_remove() {
    let fs = mount();
    fs.create("/tmp", DMDIR | 0o775, OREAD).unwrap();
    for name in ["b", "a", "c"] {
        let mut f = fs.create(&format!("/tmp/{name}"), 0o664, ORDWR).unwrap();
        f.write_all(name.as_bytes()).unwrap();
    }
    let mut names: Vec<String> = fs
        .read_dir("/tmp")
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(
        matches!(fs.create("/tmp/a", 0o664, OWRITE), Err(Error::Server(s)) if s == "file already exists")
    );
    assert!(matches!(fs.remove("/tmp"), Err(Error::Server(s)) if s == "directory not empty"));
    for name in ["a", "b", "c"] {
        fs.remove(&format!("/tmp/{name}")).unwrap();
    }
    fs.remove("/tmp").unwrap();
    assert!(fs.stat("/tmp").is_err());
    assert!(fs.remove("/tmp").is_err());
    fs.client().run_until_idle().unwrap();
    assert_eq!(
        fs.client().fids_in_use(),
        1,
        "remove clunks the fid even when it fails"
    );
}

#[test]
fn read_dir_spans_many_reads() {
    let mut mem = MemFs::default();
    for i in 0..200 {
        mem.add_file(&format!("/d/file-with-a-longish-name-{i:04}"), 0o664, b"x")
            .unwrap();
    }
    // A small msize forces many directory reads, each with whole entries.
    let fs = client_with(mem, 512).attach("u", "").unwrap();
    let entries = fs.read_dir("/d").unwrap();
    assert_eq!(entries.len(), 200);
    assert!(fs.client().stats().messages > 20);
}

#[test]
fn large_io_is_split_by_msize_and_pipelined() {
    let fs = client_with(MemFs::default(), 1024).attach("u", "").unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut f = fs.create("/big", 0o664, ORDWR).unwrap();
    let before = fs.client().stats();
    f.write_all(&data).unwrap();
    let after = fs.client().stats();
    let writes = after.messages - before.messages;
    assert_eq!(
        writes,
        data.len().div_ceil(1000) as u64,
        "one Twrite per msize-24 chunk"
    );
    assert!(
        after.submissions - before.submissions < writes / 4,
        "writes were batched: {before:?} {after:?}"
    );
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut back = Vec::new();
    assert_eq!(f.read_to_end(&mut back).unwrap(), data.len());
    assert_eq!(back, data);
    assert_eq!(fs.stat("/big").unwrap().length, data.len() as u64);
}

#[test]
fn walks_longer_than_16_elements() {
    let mut mem = MemFs::default();
    let deep: Vec<String> = (0..40).map(|i| format!("d{i}")).collect();
    let path = format!("/{}/leaf", deep.join("/"));
    mem.add_file(&path, 0o664, b"deep").unwrap();
    let fs = client_with(mem, DEFAULT_MSIZE).attach("u", "").unwrap();
    let mut f = fs.open(&path, OREAD).unwrap();
    let mut buf = [0u8; 8];
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"deep");
    drop(f);
    // Failing in the third Twalk reports the missing element and leaks no fid.
    let bad = path.replace("d35", "nope");
    assert!(matches!(fs.stat(&bad), Err(Error::NotFound { name }) if name == "nope"));
    fs.client().run_until_idle().unwrap();
    assert_eq!(fs.client().fids_in_use(), 1);
}

/// Queues a walk to `/etc/motd` on a new fid and its open for reading; returns the fid.
fn walk_and_open_motd(fs: &Fs<Lb>, b: &mut lib9pclient::client::Batch<Lb>) -> u32 {
    let fid = b.alloc_fid().unwrap();
    let wnames = WalkNames::new(&["etc", "motd"]).unwrap();
    b.push(&Message::Twalk {
        fid: fs.root_fid(),
        newfid: fid,
        wnames,
    })
    .unwrap();
    b.push(&Message::Topen { fid, mode: OREAD }).unwrap();
    fid
}

#[test]
fn batch_sends_n_requests_in_one_submission() {
    let fs = mount();
    let c = fs.client().clone();
    c.run_until_idle().unwrap();
    let before = c.stats();
    let mut b = c.batch();
    let fid = walk_and_open_motd(&fs, &mut b);
    b.push(&Message::Tread {
        fid,
        offset: 0,
        count: 5,
    })
    .unwrap();
    b.push(&Message::Tstat { fid }).unwrap();
    b.push(&Message::Tclunk { fid }).unwrap();
    let replies = b.run().unwrap();
    let after = c.stats();
    assert_eq!(after.submissions - before.submissions, 1);
    assert_eq!(after.messages - before.messages, 5);
    assert_eq!(replies.len(), 5);
    match replies[2].as_ref().unwrap().message().unwrap() {
        Message::Rread { data } => assert_eq!(data, b"hello"),
        m => panic!("expected Rread, got {m:?}"),
    }
    assert!(matches!(
        replies[4].as_ref().unwrap().message().unwrap(),
        Message::Rclunk
    ));
    assert_eq!(c.fids_in_use(), 1);
}

#[test]
fn batch_run_each_sees_every_reply_in_place_and_reports_the_first_error() {
    let fs = mount();
    let c = fs.client().clone();
    c.run_until_idle().unwrap();
    let before = c.stats();
    let mut b = c.batch();
    let fid = walk_and_open_motd(&fs, &mut b);
    b.push(&Message::Tread {
        fid,
        offset: 7,
        count: 100,
    })
    .unwrap();
    b.push(&Message::Tclunk { fid }).unwrap();
    let mut seen = Vec::new();
    b.run_each(|index, message| {
        if let Message::Rread { data } = &message {
            assert_eq!(*data, b"9P\n");
        }
        seen.push((index, message.message_type().is_reply()));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [(0, true), (1, true), (2, true), (3, true)]);
    assert_eq!(c.stats().submissions - before.submissions, 1);
    assert_eq!(c.fids_in_use(), 1, "the walked fid was clunked");

    // An Rerror in the middle: the others are still taken, the error is returned.
    let mut b = c.batch();
    b.push(&Message::Tstat { fid: fs.root_fid() }).unwrap();
    b.push(&Message::Tstat { fid: 999 }).unwrap();
    b.push(&Message::Tstat { fid: fs.root_fid() }).unwrap();
    let mut calls = 0;
    let result = b.run_each(|_, _| {
        calls += 1;
        Ok(())
    });
    assert!(matches!(result, Err(Error::Server(_))), "{result:?}");
    assert_eq!(calls, 2);
    // And the connection is in order afterwards.
    assert_eq!(fs.stat("/etc/motd").unwrap().length, 10);
}

#[test]
fn pending_wait_with_decodes_in_place() {
    let fs = mount();
    let c = fs.client().clone();
    let f = fs.open("/etc/motd", OREAD).unwrap();
    let pending = c
        .start(&Message::Tread {
            fid: f.fid(),
            offset: 0,
            count: 5,
        })
        .unwrap();
    let n = pending
        .wait_with(|message| match message {
            Message::Rread { data } => Ok(data.len()),
            other => panic!("expected Rread, got {other:?}"),
        })
        .unwrap();
    assert_eq!(n, 5);
    let pending = c.start(&Message::Tstat { fid: 4242 }).unwrap();
    assert!(pending.wait_with(|_| Ok(())).is_err());
}

#[test]
fn batch_flushes_when_full() {
    let fs = mount();
    let c = fs.client().clone();
    c.set_batch_limit(4);
    c.run_until_idle().unwrap();
    let before = c.stats();
    let mut b = c.batch();
    for _ in 0..10 {
        b.push(&Message::Tstat { fid: fs.root_fid() }).unwrap();
    }
    assert_eq!(
        c.stats().submissions - before.submissions,
        2,
        "two full batches went out"
    );
    let replies = b.run().unwrap();
    assert_eq!(replies.len(), 10);
    assert_eq!(c.stats().submissions - before.submissions, 3);
}

#[test]
fn stat_is_one_submission() {
    let fs = mount();
    fs.client().run_until_idle().unwrap();
    let before = fs.client().stats();
    fs.stat("/usr/glenda/notes").unwrap();
    let after = fs.client().stats();
    assert_eq!(
        after.submissions - before.submissions,
        1,
        "walk+stat+clunk in one batch"
    );
    assert_eq!(after.messages - before.messages, 3);
}

#[test]
fn async_completions_out_of_order() {
    let mut lb = Loopback::new(seeded(), 64 * 1024);
    lb.reverse_replies(true);
    let c = Client::connect(lb, DEFAULT_MSIZE).unwrap();
    let fs = c.attach("u", "").unwrap();
    let f = fs.open("/etc/motd", OREAD).unwrap();
    let fid = f.fid();
    let p: Vec<_> = (0..8)
        .map(|i| {
            c.start(&Message::Tread {
                fid,
                offset: i,
                count: 1,
            })
            .unwrap()
        })
        .collect();
    let mut p: Vec<_> = p.into_iter().map(Some).collect();
    let mut got = vec![None; 8];
    let mut rounds = 0;
    while got.iter().any(Option::is_none) {
        rounds += 1;
        assert!(rounds < 100);
        for (i, slot) in p.iter_mut().enumerate() {
            if let Some(h) = slot
                && let Some(r) = h.poll()
            {
                let r = r.unwrap();
                let Message::Rread { data } = r.message().unwrap() else {
                    panic!()
                };
                got[i] = Some(data[0]);
                *slot = None;
            }
        }
    }
    let got: Vec<u8> = got.into_iter().map(Option::unwrap).collect();
    assert_eq!(&got, b"hello, 9");
}

#[test]
fn callbacks_fire_on_completion() {
    let fs = mount();
    let c = fs.client().clone();
    let seen = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..3 {
        let seen = seen.clone();
        c.start_with(&Message::Tstat { fid: fs.root_fid() }, move |r| {
            let r = r.unwrap();
            let Message::Rstat { stat } = r.message().unwrap() else {
                panic!()
            };
            seen.borrow_mut().push(stat.name.to_string());
        })
        .unwrap();
    }
    assert!(
        seen.borrow().is_empty(),
        "nothing runs before the batch is sent"
    );
    c.run_until_idle().unwrap();
    assert_eq!(*seen.borrow(), ["/", "/", "/"]);
}

#[test]
fn abandoned_requests_are_flushed_and_fids_recovered() {
    let fs = mount();
    let c = fs.client().clone();
    c.run_until_idle().unwrap();
    let fid = c.alloc_fid().unwrap();
    let wnames = WalkNames::new(&["etc"]).unwrap();
    let p = c
        .start(&Message::Twalk {
            fid: fs.root_fid(),
            newfid: fid,
            wnames,
        })
        .unwrap();
    drop(p); // abandoned before it was even sent
    c.run_until_idle().unwrap();
    let s = c.stats();
    assert_eq!(s.flushes, 1);
    assert_eq!(
        c.outstanding(),
        0,
        "the tags of the request and its Tflush are free"
    );
    // The walk succeeded before the flush, so the client clunked the new fid.
    assert_eq!(c.fids_in_use(), 1);

    // A failed walk that is abandoned frees its fid without a clunk.
    let fid = c.alloc_fid().unwrap();
    let wnames = WalkNames::new(&["missing"]).unwrap();
    drop(
        c.start(&Message::Twalk {
            fid: fs.root_fid(),
            newfid: fid,
            wnames,
        })
        .unwrap(),
    );
    c.run_until_idle().unwrap();
    assert_eq!(c.fids_in_use(), 1);
    assert_eq!(c.outstanding(), 0);
}

#[test]
fn tags_and_fids_are_reused() {
    let fs = mount();
    for _ in 0..1000 {
        fs.stat("/etc/motd").unwrap();
    }
    fs.client().run_until_idle().unwrap();
    assert_eq!(fs.client().fids_in_use(), 1);
    assert_eq!(fs.client().outstanding(), 0);
}

#[test]
fn client_refuses_tversion_and_oversized_requests() {
    let fs = mount();
    let c = fs.client();
    assert!(matches!(
        c.start(&Message::Tversion {
            msize: 1,
            version: "9P2000"
        }),
        Err(Error::InvalidArgument(_))
    ));
    let big = vec![0u8; DEFAULT_MSIZE as usize];
    assert!(matches!(
        c.call(&Message::Twrite {
            fid: 0,
            offset: 0,
            data: &big
        }),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn mount_table_longest_prefix_wins() {
    let mut root = MemFs::default();
    root.add_file("/README", 0o664, b"root").unwrap();
    root.add_file("/device", 0o664, b"not dev").unwrap();
    let mut dev = MemFs::default();
    dev.add_file("/cons", 0o664, b"console").unwrap();
    let mut devsub = MemFs::default();
    devsub.add_file("/x", 0o664, b"nested").unwrap();
    let mut ns: MountTable<Lb> = MountTable::new();
    ns.mount("/", client_with(root, 8192).attach("u", "").unwrap());
    ns.mount("/dev", client_with(dev, 8192).attach("u", "").unwrap());
    ns.mount(
        "/dev/sub/",
        client_with(devsub, 8192).attach("u", "").unwrap(),
    );
    let read = |p: &str| {
        let mut f = ns.open(p, OREAD).unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        String::from_utf8(v).unwrap()
    };
    assert_eq!(read("/README"), "root");
    assert_eq!(read("/dev/cons"), "console");
    assert_eq!(read("/dev/./sub/x"), "nested");
    assert_eq!(read("/device"), "not dev");
    assert_eq!(read("/dev/sub/../cons"), "console");
    assert_eq!(ns.stat("/dev").unwrap().name, "/");
    assert_eq!(ns.prefixes().collect::<Vec<_>>(), ["/dev/sub", "/dev", "/"]);
    assert!(ns.unmount("/dev").is_some());
    assert!(ns.open("/dev/cons", OREAD).is_err());
    let empty: MountTable<Lb> = MountTable::new();
    assert!(matches!(empty.stat("/x"), Err(Error::NotFound { .. })));
}

#[test]
fn std_io_traits() {
    use std::io::{Read, Seek, Write};
    let fs = mount();
    let mut f = fs.create("/f", 0o664, ORDWR).unwrap();
    // Inherent methods shadow the traits; call the std::io ones explicitly.
    Write::write_all(&mut f, b"abcdef").unwrap();
    Seek::seek(&mut f, std::io::SeekFrom::Start(2)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "cdef");
    let e: std::io::Error = fs.open("/nope", OREAD).map(|_| ()).unwrap_err().into();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}

/// Counts the messages a transport was asked to send.
struct Counting {
    inner: Lb,
    sent: Rc<RefCell<usize>>,
}

impl lib9pclient::Transport for Counting {
    fn submit(&mut self, frames: &[u8], count: usize) -> Result<(), lib9pclient::TransportError> {
        *self.sent.borrow_mut() += count;
        self.inner.submit(frames, count)
    }
    fn receive(
        &mut self,
        replies: &mut Vec<u8>,
        wait: lib9pclient::Wait,
    ) -> Result<usize, lib9pclient::TransportError> {
        self.inner.receive(replies, wait)
    }
}

#[test]
fn dropping_the_client_sends_queued_clunks() {
    let sent = Rc::new(RefCell::new(0));
    let t = Counting {
        inner: Loopback::new(seeded(), 65536),
        sent: sent.clone(),
    };
    let c = Client::connect(t, DEFAULT_MSIZE).unwrap();
    let fs = c.attach("u", "").unwrap();
    let f = fs.open("/etc/motd", OREAD).unwrap();
    drop(f); // its Tclunk is only queued
    // Tversion, Tattach, Twalk, Topen.
    assert_eq!(*sent.borrow(), 4);
    drop(c);
    assert_eq!(*sent.borrow(), 4, "another handle (fs) is alive");
    drop(fs); // the last handle: the file's and the root's Tclunks go out
    assert_eq!(*sent.borrow(), 6);
}

/// A window of tagged reads, as a reader with many requests in flight keeps it: replies that
/// arrived together are read one by one while new requests go out. A transport whose lent
/// buffer survives submissions has none of them copied; one that does not has every unread
/// reply copied out before each submission. The replies are the same either way.
#[test]
fn a_window_of_reads_copies_no_lent_reply_when_the_transport_keeps_them() {
    for survives in [true, false] {
        let mut lb = Loopback::new(seeded(), 64 * 1024);
        lb.lent_survives_submit(survives);
        let c = Client::connect(lb, DEFAULT_MSIZE).unwrap();
        // Each start goes out at once.
        c.set_batch_limit(1);
        let fs = c.attach("u", "").unwrap();
        let f = fs.open("/etc/motd", OREAD).unwrap();
        let fid = f.fid();
        let read = |offset| Message::Tread {
            fid,
            offset,
            count: 1,
        };
        let mut window: std::collections::VecDeque<_> =
            (0..4).map(|i| c.start(&read(i)).unwrap()).collect();
        let before = c.stats().spilled;
        let mut next = 4;
        let mut got = Vec::new();
        while let Some(pending) = window.pop_front() {
            got.push(
                pending
                    .wait_with(|reply| match reply {
                        Message::Rread { data } => Ok(data.to_vec()),
                        _ => Err(Error::Protocol("not an Rread")),
                    })
                    .unwrap(),
            );
            if next < 10 {
                window.push_back(c.start(&read(next)).unwrap());
                next += 1;
            }
        }
        assert_eq!(got.concat(), b"hello, 9P\n", "survives {survives}");
        let spilled = c.stats().spilled - before;
        if survives {
            assert_eq!(spilled, 0);
        } else {
            assert!(spilled >= 3, "{spilled} replies copied out");
        }
    }
}

/// Replies the transport lends stay readable after later submissions and receives: the
/// client copies the ones still unread into their slots first. The same exchange runs with
/// lending on and off.
#[test]
fn lent_replies_survive_later_traffic() {
    for lend in [true, false] {
        let mut lb = Loopback::new(seeded(), 64 * 1024);
        lb.lend_replies(lend);
        let c = Client::connect(lb, DEFAULT_MSIZE).unwrap();
        let fs = c.attach("u", "").unwrap();
        let f = fs.open("/etc/motd", OREAD).unwrap();
        let fid = f.fid();
        let read = |offset| Message::Tread {
            fid,
            offset,
            count: 5,
        };
        let first = c.start(&read(0)).unwrap();
        let second = c.start(&read(5)).unwrap();
        // Waiting for the first brings both replies; the second stays unread while
        // other requests go out and come back.
        let r = first.wait().unwrap();
        assert_eq!(r.message().unwrap(), Message::Rread { data: b"hello" });
        assert!(second.is_ready());
        for _ in 0..3 {
            assert_eq!(fs.stat("/etc/motd").unwrap().length, 10, "lend {lend}");
            let mut buf = [0u8; 4];
            assert_eq!(f.read_at(&mut buf, 7).unwrap(), 3);
            assert_eq!(&buf[..3], b"9P\n");
        }
        let r = second.wait().unwrap();
        assert_eq!(r.message().unwrap(), Message::Rread { data: b", 9P\n" });
        assert!(matches!(
            fs.stat("/etc/nothing"),
            Err(Error::NotFound { .. })
        ));
        drop(f);
        c.run_until_idle().unwrap();
        assert_eq!(
            c.fids_in_use(),
            1,
            "only the root fid is left (lend {lend})"
        );
        assert_eq!(c.outstanding(), 0);
    }
}
