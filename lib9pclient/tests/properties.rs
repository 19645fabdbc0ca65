//! Property tests (bounded): every message round-trips, and the decoder never
//! panics on arbitrary or mutated input.

use lib9pclient::codec::{Message, Qid, Stat, WalkNames, WalkQids, decode};
use proptest::prelude::*;

fn qid() -> impl Strategy<Value = Qid> {
    (any::<u8>(), any::<u32>(), any::<u64>()).prop_map(|(typ, version, path)| Qid {
        typ,
        version,
        path,
    })
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._é-]{0,12}|[é€a/]{100,200}"
}

/// Owned parts from which any message is built; the message borrows them.
#[derive(Debug, Clone)]
struct Parts {
    kind: u8,
    n: [u32; 3],
    big: u64,
    byte: u8,
    short: u16,
    strs: [String; 4],
    names: Vec<String>,
    qids: Vec<Qid>,
    data: Vec<u8>,
    qid: Qid,
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        0u8..27,
        any::<[u32; 3]>(),
        any::<u64>(),
        any::<u8>(),
        any::<u16>(),
        [name(), name(), name(), name()],
        prop::collection::vec(name(), 0..=16),
        prop::collection::vec(qid(), 0..=16),
        prop::collection::vec(any::<u8>(), 0..300),
        qid(),
    )
        .prop_map(
            |(kind, n, big, byte, short, strs, names, qids, data, qid)| Parts {
                kind,
                n,
                big,
                byte,
                short,
                strs,
                names,
                qids,
                data,
                qid,
            },
        )
}

fn build(p: &Parts) -> (Message<'_>, Vec<&str>) {
    let [a, b, c] = p.n;
    let s = |i: usize| p.strs[i].as_str();
    let stat = Stat {
        typ: p.short,
        dev: a,
        qid: p.qid,
        mode: b,
        atime: c,
        mtime: a ^ b,
        length: p.big,
        name: s(0),
        uid: s(1),
        gid: s(2),
        muid: s(3),
    };
    let names: Vec<&str> = p.names.iter().map(String::as_str).collect();
    let m = match p.kind {
        0 => Message::Tversion {
            msize: a,
            version: s(0),
        },
        1 => Message::Rversion {
            msize: a,
            version: s(0),
        },
        2 => Message::Tauth {
            afid: a,
            uname: s(0),
            aname: s(1),
        },
        3 => Message::Rauth { aqid: p.qid },
        4 => Message::Tattach {
            fid: a,
            afid: b,
            uname: s(0),
            aname: s(1),
        },
        5 => Message::Rattach { qid: p.qid },
        6 => Message::Rerror { ename: s(0) },
        7 => Message::Tflush { oldtag: p.short },
        8 => Message::Rflush,
        9 => Message::Twalk {
            fid: a,
            newfid: b,
            wnames: WalkNames::default(),
        },
        10 => Message::Rwalk {
            wqids: WalkQids::new(&p.qids).unwrap(),
        },
        11 => Message::Topen {
            fid: a,
            mode: p.byte,
        },
        12 => Message::Ropen {
            qid: p.qid,
            iounit: a,
        },
        13 => Message::Tcreate {
            fid: a,
            name: s(0),
            perm: b,
            mode: p.byte,
        },
        14 => Message::Rcreate {
            qid: p.qid,
            iounit: a,
        },
        15 => Message::Tread {
            fid: a,
            offset: p.big,
            count: b,
        },
        16 => Message::Rread { data: &p.data },
        17 => Message::Twrite {
            fid: a,
            offset: p.big,
            data: &p.data,
        },
        18 => Message::Rwrite { count: a },
        19 => Message::Tclunk { fid: a },
        20 => Message::Rclunk,
        21 => Message::Tremove { fid: a },
        22 => Message::Rremove,
        23 => Message::Tstat { fid: a },
        24 => Message::Rstat { stat },
        25 => Message::Twstat { fid: a, stat },
        _ => Message::Rwstat,
    };
    (m, names)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(p in parts(), tag in any::<u16>()) {
        let (mut m, names) = build(&p);
        if let Message::Twalk { wnames, .. } = &mut m {
            *wnames = WalkNames::new(&names).unwrap();
        }
        let mut buf = vec![0u8; m.encoded_len()];
        let n = m.encode(tag, &mut buf).unwrap();
        prop_assert_eq!(n, buf.len());
        let (t, d) = decode(&buf).unwrap();
        prop_assert_eq!(t, tag);
        prop_assert_eq!(d, m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_bodies_with_valid_headers_never_panic(
        typ in 100u8..128,
        body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut b = vec![0, 0, 0, 0, typ, 1, 0];
        b.extend_from_slice(&body);
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_le_bytes());
        if let Ok((_, m)) = decode(&b) {
            // Whatever decodes must re-encode to the same bytes.
            let mut again = vec![0u8; m.encoded_len()];
            m.encode(1, &mut again).unwrap();
            prop_assert_eq!(again, b);
        }
    }

    #[test]
    fn mutated_messages_never_panic(p in parts(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let (mut m, names) = build(&p);
        if let Message::Twalk { wnames, .. } = &mut m {
            *wnames = WalkNames::new(&names).unwrap();
        }
        let mut buf = vec![0u8; m.encoded_len()];
        m.encode(0, &mut buf).unwrap();
        for (at, x) in flips {
            let i = at % buf.len();
            buf[i] ^= x;
        }
        let _ = decode(&buf);
    }
}

/// A request aimed at a small tree with few fids, so that random sequences
/// actually walk, open, create, read and remove things.
fn request() -> impl Strategy<Value = (u8, u32, u32, u8, u64, Vec<u8>, Vec<String>)> {
    let names = prop::sample::select(vec!["a", "b", "c", "..", "x/y", "", "f"]);
    (
        0u8..13,
        0u32..4,
        0u32..4,
        any::<u8>(),
        0u64..10_000,
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(names.prop_map(String::from), 0..4),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever a client sends, the server framework answers each request
    /// with exactly one well-formed reply carrying its tag, within msize.
    #[test]
    fn server_answers_every_request_sanely(reqs in prop::collection::vec(request(), 1..40)) {
        use lib9pclient::{MemFs, Server};
        let mut fs = MemFs::default();
        fs.add_file("/a/b/f", 0o664, b"data").unwrap();
        let mut server = Server::new(fs, 512);
        let mut out = Vec::new();
        let mut handle = |tag: u16, m: &Message<'_>| -> Result<(), TestCaseError> {
            let mut req = vec![0u8; m.encoded_len()];
            m.encode(tag, &mut req).unwrap();
            out.clear();
            server.handle(&req, &mut out);
            let (t, reply) = decode(&out).map_err(|e| TestCaseError::fail(format!("{m:?}: {e}")))?;
            prop_assert_eq!(t, tag);
            prop_assert!(reply.message_type().is_reply());
            prop_assert!(out.len() <= 512, "reply of {} bytes", out.len());
            Ok(())
        };
        handle(0xffff, &Message::Tversion { msize: 512, version: "9P2000" })?;
        handle(1, &Message::Tattach { fid: 0, afid: u32::MAX, uname: "u", aname: "" })?;
        for (i, (kind, fid, newfid, mode, offset, data, names)) in reqs.iter().enumerate() {
            let tag = i as u16;
            let (fid, newfid, mode) = (*fid, *newfid, *mode);
            let name = names.first().map(String::as_str).unwrap_or("n");
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let stat = Stat { name, length: *offset, ..Stat::DONT_TOUCH };
            let m = match kind {
                0 => Message::Twalk { fid, newfid, wnames: WalkNames::new(&refs).unwrap() },
                1 => Message::Topen { fid, mode },
                2 => Message::Tcreate { fid, name, perm: u32::from(mode) << 24 | 0o777, mode },
                3 => Message::Tread { fid, offset: *offset, count: 1 << 20 },
                4 => Message::Twrite { fid, offset: *offset, data },
                5 => Message::Tclunk { fid },
                6 => Message::Tremove { fid },
                7 => Message::Tstat { fid },
                8 => Message::Twstat { fid, stat },
                9 => Message::Tflush { oldtag: tag },
                10 => Message::Tattach { fid, afid: u32::MAX, uname: name, aname: "" },
                11 => Message::Tread { fid, offset: 0, count: *offset as u32 },
                _ => Message::Tversion { msize: 512, version: "9P2000" },
            };
            handle(tag, &m)?;
        }
    }
}

/// A loopback whose replies are damaged according to `noise`: some frames
/// pass, some get a body byte flipped, some are replaced by a random R-type
/// body (size and tag kept, so the client must cope with what is inside).
struct Chaos {
    inner: lib9pclient::Loopback<lib9pclient::MemFs>,
    noise: Vec<u8>,
    at: usize,
}

impl Chaos {
    fn next(&mut self) -> u8 {
        let b = self
            .noise
            .get(self.at % self.noise.len().max(1))
            .copied()
            .unwrap_or(0);
        self.at += 1;
        b
    }
}

impl lib9pclient::Transport for Chaos {
    fn submit(&mut self, frames: &[u8], count: usize) -> Result<(), lib9pclient::TransportError> {
        self.inner.submit(frames, count)
    }

    fn receive(
        &mut self,
        replies: &mut Vec<u8>,
        wait: lib9pclient::Wait,
    ) -> Result<usize, lib9pclient::TransportError> {
        let mut clean = Vec::new();
        let n = self.inner.receive(&mut clean, wait)?;
        let mut pos = 0;
        while pos < clean.len() {
            let size = u32::from_le_bytes(clean[pos..pos + 4].try_into().unwrap()) as usize;
            let mut frame = clean[pos..pos + size].to_vec();
            pos += size;
            match self.next() % 4 {
                0 if frame.len() > 7 => {
                    let i = 7 + self.next() as usize % (frame.len() - 7);
                    frame[i] ^= self.next() | 1;
                }
                1 => {
                    frame[4] = 101 + 2 * (self.next() % 14);
                    let len = self.next() as usize % 40;
                    frame.truncate(7);
                    for _ in 0..len {
                        let b = self.next();
                        frame.push(b);
                    }
                    let total = frame.len() as u32;
                    frame[..4].copy_from_slice(&total.to_le_bytes());
                }
                _ => {}
            }
            replies.extend_from_slice(&frame);
        }
        Ok(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// A server sending damaged replies gets errors back, never a panic.
    #[test]
    fn client_survives_damaged_replies(noise in prop::collection::vec(any::<u8>(), 1..64)) {
        use lib9pclient::codec::{DMDIR, OREAD, ORDWR};
        use lib9pclient::{Client, Loopback, MemFs};
        let mut mem = MemFs::default();
        mem.add_file("/d/f", 0o664, b"some file data").unwrap();
        let chaos = Chaos { inner: Loopback::new(mem, 8192), noise, at: 0 };
        let Ok(c) = Client::connect(chaos, 8192) else { return Ok(()) };
        let Ok(fs) = c.attach("u", "") else { return Ok(()) };
        for _ in 0..3 {
            let _ = fs.stat("/d/f");
            let _ = fs.read_dir("/d");
            if let Ok(mut f) = fs.open("/d/f", OREAD) {
                let mut v = Vec::new();
                let _ = f.read_to_end(&mut v);
                let _ = f.stat();
            }
            if let Ok(mut f) = fs.create("/d/g", 0o664, ORDWR) {
                let _ = f.write_all(&[1u8; 20_000]);
            }
            let _ = fs.create("/e", DMDIR | 0o775, OREAD);
            let _ = fs.remove("/d/g");
            let p = c.start(&Message::Tstat { fid: fs.root_fid() });
            drop(p);
            c.run_until_idle().unwrap();
            // However damaged the replies, the client's books balance.
            prop_assert_eq!(c.outstanding(), 0);
            prop_assert_eq!(c.fids_in_use(), 1);
        }
    }
}
