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
