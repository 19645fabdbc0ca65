//! Server framework tests: fid table, walk bookkeeping, open checks,
//! directory offsets, Rerror mapping, driven with raw messages.

use lib9pclient::codec::{
    DMDIR, DirEntries, Message, NOFID, NOTAG, ORCLOSE, ORDWR, OREAD, OWRITE, Stat, WalkNames,
    decode,
};
use lib9pclient::{MemFs, Server};

/// A decoded reply, owned enough to compare.
#[derive(Debug, PartialEq)]
enum R {
    Ok(String),
    Err(String),
}

struct T {
    s: Server<MemFs>,
}

impl T {
    fn new() -> Self {
        let mut fs = MemFs::new("glenda");
        fs.add_file("/a/b/c", 0o664, b"abc").unwrap();
        fs.add_file("/f", 0o664, b"file").unwrap();
        Self {
            s: Server::new(fs, 8192),
        }
    }

    fn raw(&mut self, tag: u16, m: &Message<'_>) -> Vec<u8> {
        let mut req = vec![0u8; m.encoded_len()];
        m.encode(tag, &mut req).unwrap();
        let mut out = Vec::new();
        self.s.handle(&req, &mut out);
        let (t, _) = decode(&out).expect("server reply decodes");
        assert_eq!(t, tag, "reply carries the request's tag");
        out
    }

    fn rpc(&mut self, m: &Message<'_>) -> R {
        let out = self.raw(1, m);
        match decode(&out).unwrap().1 {
            Message::Rerror { ename } => R::Err(ename.to_string()),
            m => R::Ok(format!("{m:?}")),
        }
    }

    fn ok(&mut self, m: &Message<'_>) {
        if let R::Err(e) = self.rpc(m) {
            panic!("{m:?} failed: {e}");
        }
    }

    fn err(&mut self, m: &Message<'_>) -> String {
        match self.rpc(m) {
            R::Err(e) => e,
            R::Ok(r) => panic!("{m:?} succeeded: {r}"),
        }
    }

    fn ready() -> Self {
        let mut t = Self::new();
        t.ok(&Message::Tversion {
            msize: 8192,
            version: "9P2000",
        });
        t.ok(&Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "glenda",
            aname: "",
        });
        t
    }

    fn walk(&mut self, fid: u32, newfid: u32, names: &[&str]) -> R {
        self.rpc(&Message::Twalk {
            fid,
            newfid,
            wnames: WalkNames::new(names).unwrap(),
        })
    }
}

#[test]
fn version_comes_first_and_negotiates() {
    let mut t = T::new();
    assert_eq!(
        t.err(&Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "",
            aname: ""
        }),
        "version not negotiated"
    );
    let out = t.raw(
        NOTAG,
        &Message::Tversion {
            msize: 1 << 20,
            version: "9P2000.L",
        },
    );
    assert_eq!(
        decode(&out).unwrap().1,
        Message::Rversion {
            msize: 8192,
            version: "9P2000"
        }
    );
    let out = t.raw(
        NOTAG,
        &Message::Tversion {
            msize: 4096,
            version: "9P1999",
        },
    );
    assert_eq!(
        decode(&out).unwrap().1,
        Message::Rversion {
            msize: 4096,
            version: "unknown"
        }
    );
    assert_eq!(
        t.s.msize(),
        0,
        "unknown version leaves the connection unnegotiated"
    );
}

#[test]
fn tversion_clunks_every_fid() {
    let mut t = T::ready();
    assert!(matches!(t.walk(0, 1, &["f"]), R::Ok(_)));
    assert_eq!(t.s.fid_count(), 2);
    t.ok(&Message::Tversion {
        msize: 8192,
        version: "9P2000",
    });
    assert_eq!(t.s.fid_count(), 0);
}

#[test]
fn attach_and_auth_errors() {
    let mut t = T::ready();
    assert_eq!(
        t.err(&Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "",
            aname: ""
        }),
        "duplicate fid"
    );
    assert_eq!(
        t.err(&Message::Tattach {
            fid: 5,
            afid: 1,
            uname: "",
            aname: ""
        }),
        "authentication not required"
    );
    assert_eq!(
        t.err(&Message::Tauth {
            afid: 1,
            uname: "",
            aname: ""
        }),
        "authentication not required"
    );
    assert_eq!(
        t.err(&Message::Tattach {
            fid: 5,
            afid: NOFID,
            uname: "",
            aname: "other"
        }),
        "no such tree to attach"
    );
}

#[test]
fn walk_bookkeeping() {
    let mut t = T::ready();
    assert_eq!(t.walk(9, 1, &["a"]), R::Err("unknown fid".into()));
    assert!(matches!(t.walk(0, 1, &[]), R::Ok(_)), "clone");
    assert_eq!(t.walk(0, 1, &["a"]), R::Err("duplicate fid".into()));
    assert_eq!(t.walk(0, 2, &["zz"]), R::Err("file does not exist".into()));
    // Partial walk: Rwalk with one qid, and newfid is not made.
    match t.walk(0, 2, &["a", "zz", "c"]) {
        R::Ok(s) => assert_eq!(s.matches("Qid").count(), 1, "{s}"),
        r => panic!("{r:?}"),
    }
    assert_eq!(t.err(&Message::Tstat { fid: 2 }), "unknown fid");
    assert!(matches!(t.walk(0, 2, &["a", "b", "c"]), R::Ok(_)));
    assert_eq!(t.walk(2, 3, &["x"]), R::Err("walk in non-directory".into()));
    assert_eq!(t.walk(0, 3, &["a/b"]), R::Err("bad file name".into()));
    // ".." climbs; walking a fid onto itself moves it.
    assert!(matches!(t.walk(0, 5, &["a", "b"]), R::Ok(_)));
    assert!(matches!(
        t.walk(5, 5, &["..", "..", "a", "b", "c"]),
        R::Ok(_)
    ));
    assert_eq!(
        t.walk(5, 6, &[".."]),
        R::Err("walk in non-directory".into()),
        "5 is now the file"
    );
    assert!(
        matches!(t.walk(0, 4, &["..", "f"]), R::Ok(_)),
        "root/.. is root"
    );
}

#[test]
fn open_checks() {
    let mut t = T::ready();
    assert!(matches!(t.walk(0, 1, &["a"]), R::Ok(_)));
    assert_eq!(
        t.err(&Message::Topen {
            fid: 1,
            mode: OWRITE
        }),
        "is a directory"
    );
    t.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    assert_eq!(
        t.err(&Message::Topen {
            fid: 1,
            mode: OREAD
        }),
        "fid is open"
    );
    assert_eq!(t.walk(1, 2, &["b"]), R::Err("fid is open".into()));
    assert!(matches!(t.walk(0, 3, &["f"]), R::Ok(_)));
    assert_eq!(
        t.err(&Message::Tread {
            fid: 3,
            offset: 0,
            count: 1
        }),
        "file not open for this access"
    );
    t.ok(&Message::Topen {
        fid: 3,
        mode: OREAD,
    });
    assert_eq!(
        t.err(&Message::Twrite {
            fid: 3,
            offset: 0,
            data: b"x"
        }),
        "file not open for this access"
    );
}

#[test]
fn directory_reads_follow_offsets() {
    let mut fs = MemFs::default();
    for i in 0..30 {
        fs.add_file(&format!("/d/entry{i:02}"), 0o664, b"").unwrap();
    }
    let mut t = T {
        s: Server::new(fs, 8192),
    };
    t.ok(&Message::Tversion {
        msize: 8192,
        version: "9P2000",
    });
    t.ok(&Message::Tattach {
        fid: 0,
        afid: NOFID,
        uname: "u",
        aname: "",
    });
    assert!(matches!(t.walk(0, 1, &["d"]), R::Ok(_)));
    t.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    let mut offset = 0u64;
    let mut names = Vec::new();
    loop {
        let out = t.raw(
            2,
            &Message::Tread {
                fid: 1,
                offset,
                count: 300,
            },
        );
        let Message::Rread { data } = decode(&out).unwrap().1 else {
            panic!("not Rread")
        };
        if data.is_empty() {
            break;
        }
        assert!(data.len() <= 300);
        for e in DirEntries::new(data) {
            names.push(e.unwrap().name.to_string());
        }
        offset += data.len() as u64;
    }
    assert_eq!(names.len(), 30);
    assert_eq!(
        t.err(&Message::Tread {
            fid: 1,
            offset: 7,
            count: 300
        }),
        "bad offset in directory read"
    );
    // A count too small for the next entry reads 0 bytes, not an error, and
    // leaves the offset valid: a larger count there goes on with that entry.
    let first = t.raw(
        2,
        &Message::Tread {
            fid: 1,
            offset: 0,
            count: 100,
        },
    );
    let Message::Rread { data } = decode(&first).unwrap().1 else {
        panic!("not Rread")
    };
    let at = data.len() as u64;
    let before: Vec<String> = DirEntries::new(data)
        .map(|e| e.unwrap().name.to_string())
        .collect();
    for count in [0, 1, 10] {
        let out = t.raw(
            3,
            &Message::Tread {
                fid: 1,
                offset: at,
                count,
            },
        );
        assert_eq!(decode(&out).unwrap().1, Message::Rread { data: &[] });
    }
    let out = t.raw(
        4,
        &Message::Tread {
            fid: 1,
            offset: at,
            count: 8000,
        },
    );
    let Message::Rread { data } = decode(&out).unwrap().1 else {
        panic!("not Rread")
    };
    let after: Vec<String> = DirEntries::new(data)
        .map(|e| e.unwrap().name.to_string())
        .collect();
    assert_eq!([before, after].concat(), names);
    // And at offset 0.
    let out = t.raw(
        5,
        &Message::Tread {
            fid: 1,
            offset: 0,
            count: 1,
        },
    );
    assert_eq!(decode(&out).unwrap().1, Message::Rread { data: &[] });
}

#[test]
fn a_client_with_a_fixed_buffer_lists_every_entry() {
    let mut fs = MemFs::default();
    for i in 0..3000 {
        fs.add_file(&format!("/big/file number {i}"), 0o664, b"")
            .unwrap();
    }
    let client = lib9pclient::Client::connect(lib9pclient::Loopback::new(fs, 8192), 8192).unwrap();
    let root = client.attach("u", "").unwrap();
    // Buffers from barely one entry to several replies' worth: each read asks
    // for the space left, so most replies stop short of an entry.
    for buf_len in [80, 333, 1000, 4096, 20_000] {
        let mut dir = root.open("/big", OREAD).unwrap();
        let entries = dir.read_dir_buffered(buf_len).unwrap();
        let mut names: Vec<String> = entries.into_iter().map(|d| d.name).collect();
        names.sort_by_key(|n| n[12..].parse::<u32>().unwrap());
        let want: Vec<String> = (0..3000).map(|i| format!("file number {i}")).collect();
        assert_eq!(names, want, "buffer of {buf_len} bytes");
    }
}

#[test]
fn create_remove_and_orclose() {
    let mut t = T::ready();
    assert!(matches!(t.walk(0, 1, &[]), R::Ok(_)));
    t.ok(&Message::Tcreate {
        fid: 1,
        name: "tmp",
        perm: 0o664,
        mode: ORDWR | ORCLOSE,
    });
    assert!(matches!(t.walk(0, 2, &["tmp"]), R::Ok(_)));
    t.ok(&Message::Tclunk { fid: 2 });
    t.ok(&Message::Tclunk { fid: 1 });
    assert_eq!(
        t.walk(0, 2, &["tmp"]),
        R::Err("file does not exist".into()),
        "ORCLOSE removed it"
    );
    assert!(matches!(t.walk(0, 1, &[]), R::Ok(_)));
    assert_eq!(
        t.err(&Message::Tcreate {
            fid: 1,
            name: "..",
            perm: 0,
            mode: 0
        }),
        "bad file name"
    );
    assert_eq!(
        t.err(&Message::Tcreate {
            fid: 1,
            name: "f",
            perm: 0,
            mode: 0
        }),
        "file already exists"
    );
    assert_eq!(
        t.err(&Message::Tcreate {
            fid: 1,
            name: "d",
            perm: DMDIR | 0o775,
            mode: OWRITE
        }),
        "is a directory"
    );
    // Remove of a non-empty directory fails but still clunks the fid.
    assert!(matches!(t.walk(0, 3, &["a"]), R::Ok(_)));
    assert_eq!(t.err(&Message::Tremove { fid: 3 }), "directory not empty");
    assert_eq!(t.err(&Message::Tstat { fid: 3 }), "unknown fid");
    assert_eq!(t.err(&Message::Tclunk { fid: 3 }), "unknown fid");
}

#[test]
fn wstat_renames_and_refuses_conflicts() {
    let mut t = T::ready();
    assert!(matches!(t.walk(0, 1, &["f"]), R::Ok(_)));
    let rename = Stat {
        name: "g",
        ..Stat::DONT_TOUCH
    };
    t.ok(&Message::Twstat {
        fid: 1,
        stat: rename,
    });
    assert!(matches!(t.walk(0, 2, &["g"]), R::Ok(_)));
    let clash = Stat {
        name: "a",
        ..Stat::DONT_TOUCH
    };
    assert_eq!(
        t.err(&Message::Twstat {
            fid: 1,
            stat: clash
        }),
        "file already exists"
    );
    let owner = Stat {
        uid: "evil",
        ..Stat::DONT_TOUCH
    };
    assert_eq!(
        t.err(&Message::Twstat {
            fid: 1,
            stat: owner
        }),
        "permission denied"
    );
    let trunc = Stat {
        length: 1,
        ..Stat::DONT_TOUCH
    };
    t.ok(&Message::Twstat {
        fid: 1,
        stat: trunc,
    });
    let out = t.raw(1, &Message::Tstat { fid: 1 });
    let Message::Rstat { stat } = decode(&out).unwrap().1 else {
        panic!()
    };
    assert_eq!((stat.name, stat.length), ("g", 1));
}

#[test]
fn malformed_requests_get_rerror_with_their_tag() {
    let mut t = T::ready();
    let mut out = Vec::new();
    // A Tclunk with a missing byte, size field fixed up.
    t.s.handle(&[10, 0, 0, 0, 120, 7, 0, 1, 0, 0], &mut out);
    let (tag, m) = decode(&out).unwrap();
    assert_eq!(tag, 7);
    assert!(matches!(m, Message::Rerror { ename } if ename.starts_with("bad 9P message")));
    out.clear();
    // An R-message sent to a server.
    t.s.handle(&[7, 0, 0, 0, 121, 8, 0], &mut out);
    assert!(matches!(decode(&out).unwrap(), (8, Message::Rerror { .. })));
    out.clear();
    // Too short to carry a tag: no reply at all.
    t.s.handle(&[1, 2], &mut out);
    assert!(out.is_empty());
}

#[test]
fn reads_are_capped_by_msize() {
    let mut fs = MemFs::default();
    fs.add_file("/big", 0o664, &vec![7u8; 100_000]).unwrap();
    let mut t = T {
        s: Server::new(fs, 1024),
    };
    t.ok(&Message::Tversion {
        msize: 1024,
        version: "9P2000",
    });
    t.ok(&Message::Tattach {
        fid: 0,
        afid: NOFID,
        uname: "u",
        aname: "",
    });
    assert!(matches!(t.walk(0, 1, &["big"]), R::Ok(_)));
    t.ok(&Message::Topen {
        fid: 1,
        mode: OREAD,
    });
    let out = t.raw(
        1,
        &Message::Tread {
            fid: 1,
            offset: 0,
            count: 65536,
        },
    );
    assert_eq!(out.len(), 1024 - 24 + 11);
}

/// `handle_at` into a reused buffer full of stale bytes answers exactly what `handle` does
/// into a fresh one, reply after reply (reads, stats, walks, errors).
#[test]
fn handle_at_overwrites_a_reused_buffer() {
    let mut fresh = T::ready();
    let mut reused = T::ready();
    let mut buf = vec![0xAAu8; 64 * 1024];
    let requests: Vec<Message<'_>> = vec![
        Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: WalkNames::new(&["f"]).unwrap(),
        },
        Message::Tstat { fid: 1 },
        Message::Topen {
            fid: 1,
            mode: OREAD,
        },
        Message::Tread {
            fid: 1,
            offset: 0,
            count: 4096,
        },
        Message::Tread {
            fid: 1,
            offset: 2,
            count: 1,
        },
        Message::Tstat { fid: 7 },
        Message::Tclunk { fid: 1 },
        Message::Twalk {
            fid: 0,
            newfid: 100_000,
            wnames: WalkNames::new(&["a", "b"]).unwrap(),
        },
        Message::Tstat { fid: 100_000 },
        Message::Tclunk { fid: 100_000 },
        Message::Tstat { fid: 100_000 },
    ];
    let mut at = 0;
    let mut expected = Vec::new();
    for (tag, m) in requests.iter().enumerate() {
        expected.extend(fresh.raw(tag as u16, m));
        let mut req = vec![0u8; m.encoded_len()];
        m.encode(tag as u16, &mut req).unwrap();
        at = reused.s.handle_at(&req, &mut buf, at);
        assert_eq!(&buf[..at], &expected[..], "after {m:?}");
    }
    assert_eq!(buf.len(), 64 * 1024, "the buffer did not need to grow");
    assert_eq!(reused.s.fid_count(), 1);
}

/// A MemFs whose reads fail with a 5,000-byte message of 3-byte characters.
struct Loud(MemFs);

impl lib9pclient::Filesystem for Loud {
    type Node = <MemFs as lib9pclient::Filesystem>::Node;
    fn attach(&mut self, u: &str, a: &str) -> Result<Self::Node, lib9pclient::ServerError> {
        self.0.attach(u, a)
    }
    fn qid(&mut self, n: &Self::Node) -> Result<lib9pclient::codec::Qid, lib9pclient::ServerError> {
        self.0.qid(n)
    }
    fn walk(&mut self, d: &Self::Node, name: &str) -> Result<Self::Node, lib9pclient::ServerError> {
        self.0.walk(d, name)
    }
    fn open(&mut self, n: &Self::Node, mode: u8) -> Result<u32, lib9pclient::ServerError> {
        self.0.open(n, mode)
    }
    fn create(
        &mut self,
        d: &Self::Node,
        name: &str,
        perm: u32,
        mode: u8,
    ) -> Result<(Self::Node, u32), lib9pclient::ServerError> {
        self.0.create(d, name, perm, mode)
    }
    fn read(
        &mut self,
        _: &Self::Node,
        _: u64,
        _: &mut [u8],
    ) -> Result<usize, lib9pclient::ServerError> {
        Err(lib9pclient::ServerError::Other("€".repeat(5000 / 3)))
    }
    fn read_dir(
        &mut self,
        n: &Self::Node,
    ) -> Result<Vec<lib9pclient::codec::Dir>, lib9pclient::ServerError> {
        self.0.read_dir(n)
    }
    fn write(
        &mut self,
        n: &Self::Node,
        o: u64,
        d: &[u8],
    ) -> Result<usize, lib9pclient::ServerError> {
        self.0.write(n, o, d)
    }
    fn stat(
        &mut self,
        n: &Self::Node,
    ) -> Result<lib9pclient::codec::Dir, lib9pclient::ServerError> {
        self.0.stat(n)
    }
    fn wstat(&mut self, n: &Self::Node, s: &Stat<'_>) -> Result<(), lib9pclient::ServerError> {
        self.0.wstat(n, s)
    }
    fn remove(&mut self, n: &Self::Node) -> Result<(), lib9pclient::ServerError> {
        self.0.remove(n)
    }
}

/// Error texts are cut to ERROR_MAX bytes on a character boundary, whatever the msize: a
/// client bounding a batch's replies (the runtime's colocated transport) counts on it.
#[test]
fn error_texts_are_cut_to_error_max() {
    let mut fs = MemFs::new("glenda");
    fs.add_file("/f", 0o664, b"file").unwrap();
    let mut s = Server::new(Loud(fs), 65536);
    let mut send = |tag: u16, m: &Message<'_>| {
        let mut req = vec![0u8; m.encoded_len()];
        m.encode(tag, &mut req).unwrap();
        let mut out = Vec::new();
        s.handle(&req, &mut out);
        out
    };
    send(
        NOTAG,
        &Message::Tversion {
            msize: 65536,
            version: "9P2000",
        },
    );
    send(
        1,
        &Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "glenda",
            aname: "",
        },
    );
    send(
        2,
        &Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: WalkNames::new(&["f"]).unwrap(),
        },
    );
    send(
        3,
        &Message::Topen {
            fid: 1,
            mode: OREAD,
        },
    );
    let reply = send(
        4,
        &Message::Tread {
            fid: 1,
            offset: 0,
            count: 100,
        },
    );
    match decode(&reply).unwrap().1 {
        Message::Rerror { ename } => {
            assert!(
                ename.len() <= lib9pclient::ERROR_MAX,
                "{} bytes",
                ename.len()
            );
            assert!(
                ename.len() > lib9pclient::ERROR_MAX - 3,
                "{} bytes",
                ename.len()
            );
            assert!(ename.chars().all(|c| c == '€'));
        }
        other => panic!("expected an Rerror, got {other:?}"),
    }
    assert!(reply.len() <= 9 + lib9pclient::ERROR_MAX);
}
