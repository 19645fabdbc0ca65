//! Codec tests: byte-exact vectors, every message's round trip, and strict
//! rejection of malformed input.

use lib9pclient::codec::{
    DecodeError, Dir, DirEntries, EncodeError, MAXWELEM, Message, NOFID, NOTAG, QTDIR, Qid, Stat,
    WalkNames, WalkQids, decode, decode_with_limit,
};

fn enc(tag: u16, m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; m.encoded_len()];
    let n = m.encode(tag, &mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

fn stat() -> Stat<'static> {
    Stat {
        typ: 1,
        dev: 2,
        qid: Qid {
            typ: QTDIR,
            version: 3,
            path: 4,
        },
        mode: 0x8000_01ed,
        atime: 5,
        mtime: 6,
        length: 7,
        name: "n",
        uid: "u",
        gid: "g",
        muid: "m",
    }
}

/// One of every message type, for the round-trip and truncation tests.
fn every_message() -> Vec<Message<'static>> {
    const Q: Qid = Qid {
        typ: 0,
        version: 9,
        path: 0x0102_0304_0506_0708,
    };
    let q = Qid {
        typ: 0,
        version: 9,
        path: 0x0102_0304_0506_0708,
    };
    vec![
        Message::Tversion {
            msize: 8192,
            version: "9P2000",
        },
        Message::Rversion {
            msize: 8192,
            version: "9P2000",
        },
        Message::Tauth {
            afid: 1,
            uname: "glenda",
            aname: "",
        },
        Message::Rauth { aqid: q },
        Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "glenda",
            aname: "main",
        },
        Message::Rattach { qid: q },
        Message::Rerror {
            ename: "file does not exist",
        },
        Message::Tflush { oldtag: 7 },
        Message::Rflush,
        Message::Twalk {
            fid: 1,
            newfid: 2,
            wnames: WalkNames::new(&["usr", "glenda"]).unwrap(),
        },
        Message::Rwalk {
            wqids: WalkQids::new(&[Q, Q]).unwrap(),
        },
        Message::Topen { fid: 1, mode: 0x12 },
        Message::Ropen {
            qid: q,
            iounit: 8168,
        },
        Message::Tcreate {
            fid: 1,
            name: "new",
            perm: 0o644,
            mode: 1,
        },
        Message::Rcreate { qid: q, iounit: 0 },
        Message::Tread {
            fid: 1,
            offset: 1 << 40,
            count: 8192,
        },
        Message::Rread { data: b"some data" },
        Message::Twrite {
            fid: 1,
            offset: 3,
            data: b"written",
        },
        Message::Rwrite { count: 7 },
        Message::Tclunk { fid: 1 },
        Message::Rclunk,
        Message::Tremove { fid: 1 },
        Message::Rremove,
        Message::Tstat { fid: 1 },
        Message::Rstat { stat: stat() },
        Message::Twstat {
            fid: 1,
            stat: Stat::DONT_TOUCH,
        },
        Message::Rwstat,
    ]
}

#[test]
fn tversion_is_byte_exact() {
    let b = enc(
        NOTAG,
        &Message::Tversion {
            msize: 8192,
            version: "9P2000",
        },
    );
    assert_eq!(
        b,
        [
            19, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20, 0, 0, 6, 0, b'9', b'P', b'2', b'0', b'0',
            b'0'
        ]
    );
}

#[test]
fn twalk_and_rread_are_byte_exact() {
    let w = Message::Twalk {
        fid: 1,
        newfid: 2,
        wnames: WalkNames::new(&["a", "bc"]).unwrap(),
    };
    assert_eq!(
        enc(5, &w),
        [
            24, 0, 0, 0, 110, 5, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0, b'a', 2, 0, b'b', b'c'
        ]
    );
    assert_eq!(
        enc(1, &Message::Rread { data: b"xy" }),
        [13, 0, 0, 0, 117, 1, 0, 2, 0, 0, 0, b'x', b'y']
    );
    assert_eq!(
        enc(
            0,
            &Message::Rattach {
                qid: Qid {
                    typ: 0x80,
                    version: 1,
                    path: 2
                }
            }
        ),
        [
            20, 0, 0, 0, 105, 0, 0, 0x80, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0
        ]
    );
}

#[test]
fn rstat_carries_two_sizes() {
    let b = enc(3, &Message::Rstat { stat: stat() });
    // size[4] type tag n[2] then the stat's own size[2].
    let n = u16::from_le_bytes([b[7], b[8]]) as usize;
    let inner = u16::from_le_bytes([b[9], b[10]]) as usize;
    assert_eq!(n, stat().encoded_len());
    assert_eq!(inner, n - 2);
    assert_eq!(b.len(), 9 + n);
    assert_eq!(stat().encoded_len(), 49 + 4);
}

#[test]
fn every_message_round_trips() {
    for (i, m) in every_message().iter().enumerate() {
        let tag = i as u16 * 3;
        let b = enc(tag, m);
        let (t, d) = decode(&b).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(t, tag);
        assert_eq!(&d, m);
        assert_eq!(d.message_type(), m.message_type());
    }
}

#[test]
fn every_truncation_is_an_error() {
    for m in every_message() {
        let b = enc(1, &m);
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err(), "{m:?} cut at {cut} decoded");
            // Also with the size field fixed up to match the cut.
            if cut >= 7 {
                let mut c = b[..cut].to_vec();
                c[..4].copy_from_slice(&(cut as u32).to_le_bytes());
                assert!(decode(&c).is_err(), "{m:?} shortened to {cut} decoded");
            }
        }
    }
}

#[test]
fn size_field_must_match() {
    let mut b = enc(1, &Message::Tclunk { fid: 9 });
    b.push(0);
    assert_eq!(
        decode(&b),
        Err(DecodeError::SizeMismatch {
            declared: 11,
            actual: 12
        })
    );
    b[..4].copy_from_slice(&12u32.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(
        decode(&[3, 0, 0, 0, 120, 0, 0]),
        Err(DecodeError::SizeTooSmall(3))
    );
    assert_eq!(decode(&[1, 2, 3]), Err(DecodeError::Truncated));
    let big = enc(1, &Message::Rread { data: &[0; 100] });
    assert_eq!(
        decode_with_limit(&big, 64),
        Err(DecodeError::Oversized {
            size: 111,
            limit: 64
        })
    );
}

/// 9P2000.u's Rerror (the text, then errno[4]) as some 9P2000 servers send it
/// anyway: exactly that form decodes to its text; any other trailing bytes, or
/// four after any other message, are still rejected.
#[test]
fn rerror_with_a_9p2000u_errno_decodes_to_its_text() {
    let with_trailing = |m: &Message<'_>, extra: &[u8]| {
        let mut b = enc(7, m);
        b.extend_from_slice(extra);
        let size = b.len() as u32;
        b[..4].copy_from_slice(&size.to_le_bytes());
        b
    };
    let rerror = Message::Rerror {
        ename: "file not found",
    };
    let b = with_trailing(&rerror, &2u32.to_le_bytes());
    assert_eq!(decode(&b), Ok((7, rerror)));
    let empty = Message::Rerror { ename: "" };
    assert_eq!(decode(&with_trailing(&empty, &[0xff; 4])), Ok((7, empty)));
    for n in [1usize, 2, 3, 5, 8] {
        assert_eq!(
            decode(&with_trailing(&rerror, &vec![0; n])),
            Err(DecodeError::TrailingBytes(n)),
            "Rerror with {n} trailing bytes"
        );
    }
    for m in every_message() {
        if matches!(m, Message::Rerror { .. }) {
            continue;
        }
        assert_eq!(
            decode(&with_trailing(&m, &[0; 4])),
            Err(DecodeError::TrailingBytes(4)),
            "{m:?} with four trailing bytes"
        );
    }
}

#[test]
fn unknown_types_and_terror_are_rejected() {
    for t in [0u8, 99, 106, 128, 255] {
        let b = [7, 0, 0, 0, t, 0, 0];
        assert_eq!(decode(&b), Err(DecodeError::UnknownType(t)));
    }
}

#[test]
fn count_past_end_is_rejected() {
    let mut b = enc(1, &Message::Rread { data: b"abc" });
    b[7..11].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::CountPastEnd));
    b[7..11].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::CountPastEnd));
    let mut w = enc(
        1,
        &Message::Twrite {
            fid: 1,
            offset: 0,
            data: b"abc",
        },
    );
    w[19..23].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(decode(&w), Err(DecodeError::TrailingBytes(1)));
}

#[test]
fn more_than_16_walk_elements_are_rejected() {
    let names = ["x"; 17];
    assert!(WalkNames::new(&names).is_err());
    assert!(WalkNames::new(&names[..MAXWELEM]).is_ok());
    // Hand-build a Twalk with 17 names.
    let mut b = vec![0, 0, 0, 0, 110, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 17, 0];
    for _ in 0..17 {
        b.extend_from_slice(&[1, 0, b'x']);
    }
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::TooManyWalkNames(17)));
    let mut r = vec![9, 0, 0, 0, 111, 1, 0, 17, 0];
    r.extend(std::iter::repeat_n(0u8, 17 * 13));
    let len = r.len() as u32;
    r[..4].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode(&r), Err(DecodeError::TooManyWalkQids(17)));
}

#[test]
fn non_utf8_names_are_rejected() {
    let mut b = enc(
        1,
        &Message::Tcreate {
            fid: 1,
            name: "ab",
            perm: 0,
            mode: 0,
        },
    );
    b[13] = 0xff;
    assert_eq!(decode(&b), Err(DecodeError::InvalidUtf8));
    let mut e = enc(1, &Message::Rerror { ename: "é" });
    e[9] = 0xc3;
    e[10] = 0x28;
    assert_eq!(decode(&e), Err(DecodeError::InvalidUtf8));
}

#[test]
fn stat_sizes_must_agree() {
    let good = enc(1, &Message::Rstat { stat: stat() });
    // Inner size one too small: the stat ends before its last string does.
    let mut b = good.clone();
    b[9] -= 1;
    assert!(decode(&b).is_err());
    // Outer n one too large relative to the message.
    let mut b = good.clone();
    b[7] += 1;
    assert_eq!(decode(&b), Err(DecodeError::CountPastEnd));
    // Outer n larger than the stat, with a spare byte inside it.
    let mut b = good.clone();
    b[7] += 1;
    b.push(0);
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::StatSizeMismatch));
}

#[test]
fn encoding_into_a_small_buffer_fails_cleanly() {
    let m = Message::Tversion {
        msize: 1,
        version: "9P2000",
    };
    let mut buf = [0u8; 10];
    assert_eq!(
        m.encode(0, &mut buf),
        Err(EncodeError::BufferTooSmall { needed: 19 })
    );
    let long = "x".repeat(70_000);
    let m = Message::Rerror { ename: &long };
    let mut buf = vec![0u8; m.encoded_len()];
    assert_eq!(m.encode(0, &mut buf), Err(EncodeError::StringTooLong));
    let mut s = stat();
    let name = "n".repeat(65_500);
    s.name = &name;
    let m = Message::Rstat { stat: s };
    let mut buf = vec![0u8; m.encoded_len()];
    assert_eq!(m.encode(0, &mut buf), Err(EncodeError::StatTooLarge));
}

#[test]
fn directory_data_decodes_entry_by_entry() {
    let a = Dir {
        name: "a".into(),
        ..Dir::default()
    };
    let b = Dir {
        name: "bb".into(),
        length: 5,
        ..Dir::default()
    };
    let mut data = vec![0u8; a.as_stat().encoded_len() + b.as_stat().encoded_len()];
    let n = a.as_stat().encode(&mut data).unwrap();
    b.as_stat().encode(&mut data[n..]).unwrap();
    let got: Vec<Dir> = DirEntries::new(&data)
        .map(|e| e.unwrap().to_dir())
        .collect();
    assert_eq!(got, [a, b]);
    let mut it = DirEntries::new(&data[..data.len() - 1]);
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn dont_touch_is_all_ones() {
    let b = enc(
        0,
        &Message::Twstat {
            fid: 0,
            stat: Stat::DONT_TOUCH,
        },
    );
    // fid[4] n[2] size[2], then type..length all 0xff, then four empty strings.
    assert!(
        b[15..15 + 2 + 4 + 13 + 4 + 4 + 4 + 8]
            .iter()
            .all(|&x| x == 0xff)
    );
    assert!(b[b.len() - 8..].iter().all(|&x| x == 0));
    assert_eq!(Dir::dont_touch().as_stat(), Stat::DONT_TOUCH);
}

#[test]
fn long_and_multibyte_strings_validate_exactly() {
    // Lengths of 128 and more put non-ASCII bytes between the strings.
    let long = "é".repeat(100);
    let names = [long.as_str(), "x", long.as_str()];
    let w = Message::Twalk {
        fid: 1,
        newfid: 2,
        wnames: WalkNames::new(&names).unwrap(),
    };
    let b = enc(1, &w);
    assert_eq!(decode(&b).unwrap().1, w);
    let mut s = stat();
    s.name = &long;
    s.muid = &long;
    let r = Message::Rstat { stat: s };
    let b = enc(1, &r);
    assert_eq!(decode(&b).unwrap().1, r);
    // Break one byte inside each string in turn.
    for target in [0usize, 2] {
        let mut bad = enc(1, &w);
        let at = 17 + (target * (2 + long.len() + 3)) / 2 + 2 + 11;
        bad[at] = 0xff;
        assert_eq!(decode(&bad), Err(DecodeError::InvalidUtf8), "name {target}");
    }
    let mut bad = enc(1, &r);
    let at = bad.len() - 5;
    bad[at] = 0xc3;
    assert_eq!(decode(&bad), Err(DecodeError::InvalidUtf8));
}

#[test]
fn frames_split_a_submission_and_stop_at_a_partial_frame() {
    use lib9pclient::codec::{PartialFrame, frames};
    let mut bytes = Vec::new();
    for (tag, fid) in [(1u16, 10u32), (2, 20)] {
        let msg = Message::Tclunk { fid };
        let mut frame = vec![0u8; msg.encoded_len()];
        msg.encode(tag, &mut frame).unwrap();
        bytes.extend_from_slice(&frame);
    }
    let split: Vec<&[u8]> = frames(&bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(split.len(), 2);
    assert_eq!(split[0].len() + split[1].len(), bytes.len());
    assert_eq!(frames(&[]).count(), 0);
    // A truncated second frame, and a size field below the header: one error, then the end.
    let cut = &bytes[..bytes.len() - 1];
    assert_eq!(
        frames(cut).collect::<Vec<_>>(),
        vec![Ok(&bytes[..11]), Err(PartialFrame)]
    );
    let tiny = [3u8, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(frames(&tiny).collect::<Vec<_>>(), vec![Err(PartialFrame)]);
}

/// The hot-path decoders accept exactly the Treads and Rreads the general decoder decodes to
/// that message, with the same fields, and leave everything else to it: each byte of valid
/// frames is flipped, and frames are cut short and lengthened.
#[test]
fn tread_and_rread_fast_paths_agree_with_the_decoder() {
    use lib9pclient::codec::{decode_rread, decode_tread, decode_with_limit};
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for (tag, fid, offset, count) in [
        (0u16, 0u32, 0u64, 0u32),
        (7, 42, 1 << 40, 1024),
        (0xfffe, u32::MAX, u64::MAX, 8192),
    ] {
        let msg = Message::Tread { fid, offset, count };
        let mut buf = vec![0u8; msg.encoded_len()];
        msg.encode(tag, &mut buf).unwrap();
        frames.push(buf);
    }
    for (tag, data) in [
        (1u16, &b""[..]),
        (9, &b"hello"[..]),
        (3, &[0xa5u8; 1024][..]),
    ] {
        let msg = Message::Rread { data };
        let mut buf = vec![0u8; msg.encoded_len()];
        msg.encode(tag, &mut buf).unwrap();
        frames.push(buf);
    }
    let mut cases = frames.clone();
    for frame in &frames {
        for i in 0..frame.len().min(24) {
            for bit in [0x01u8, 0x80] {
                let mut bad = frame.clone();
                bad[i] ^= bit;
                cases.push(bad);
            }
        }
        cases.push(frame[..frame.len() - 1].to_vec());
        let mut longer = frame.clone();
        longer.push(0);
        cases.push(longer);
    }
    let mut fast_hits = 0;
    for frame in &cases {
        for limit in [u32::MAX, 1035, 23, 11] {
            let general = decode_with_limit(frame, limit).ok();
            match decode_tread(frame, limit) {
                Some((tag, fid, offset, count)) => {
                    fast_hits += 1;
                    assert_eq!(
                        general,
                        Some((tag, Message::Tread { fid, offset, count })),
                        "{frame:?}"
                    );
                }
                None => assert!(
                    !matches!(general, Some((_, Message::Tread { .. }))),
                    "decode_tread refused a Tread the decoder took: {frame:?}"
                ),
            }
            match decode_rread(frame, limit) {
                Some((tag, data)) => {
                    fast_hits += 1;
                    assert_eq!(general, Some((tag, Message::Rread { data })), "{frame:?}");
                }
                None => assert!(
                    !matches!(general, Some((_, Message::Rread { .. }))),
                    "decode_rread refused an Rread the decoder took: {frame:?}"
                ),
            }
        }
    }
    assert!(
        fast_hits > 20,
        "the fast paths took only {fast_hits} frames"
    );
}
