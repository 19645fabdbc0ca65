//! The stream transport over real sockets: a client against the framework
//! server on TCP, async polling with non-blocking reads, and hostile peers.

use lib9pclient::client::DEFAULT_MSIZE;
use lib9pclient::codec::{Message, ORDWR, OREAD, Stat};
use lib9pclient::server::net::{Shared, serve_tcp};
use lib9pclient::stream::{Duplex, StreamTransport, dial};
use lib9pclient::{Client, Dir, Error, MemFs, TransportError};
use std::io::{Read, Write};
use std::net::TcpListener;

fn server() -> String {
    let mut fs = MemFs::new("glenda");
    fs.add_file("/etc/motd", 0o664, b"hello over tcp\n")
        .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || serve_tcp(l, Shared::new(fs), 64 * 1024));
    format!("tcp!127.0.0.1!{port}")
}

#[test]
fn file_api_over_tcp() {
    let c = Client::connect(dial(&server()).unwrap(), DEFAULT_MSIZE).unwrap();
    assert_eq!(c.msize(), DEFAULT_MSIZE);
    let fs = c.attach("glenda", "").unwrap();
    let mut f = fs.create("/data", 0o664, ORDWR).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    f.write_all(&data).unwrap();
    f.seek(lib9pclient::client::SeekFrom::Start(0)).unwrap();
    let mut back = Vec::new();
    f.read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    drop(f);
    // wstat: rename and truncate in one Twstat.
    let change = Dir {
        name: "renamed".into(),
        length: 10,
        ..Dir::dont_touch()
    };
    fs.wstat("/data", &change).unwrap();
    let st = fs.stat("/renamed").unwrap();
    assert_eq!((st.name.as_str(), st.length), ("renamed", 10));
    assert!(fs.stat("/data").is_err());
}

#[test]
fn pending_requests_poll_without_blocking() {
    let c = Client::connect(dial(&server()).unwrap(), DEFAULT_MSIZE).unwrap();
    let fs = c.attach("glenda", "").unwrap();
    let f = fs.open("/etc/motd", OREAD).unwrap();
    let mut pending: Vec<_> = (0..32u64)
        .map(|i| {
            Some(
                c.start(&Message::Tread {
                    fid: f.fid(),
                    offset: i % 15,
                    count: 1,
                })
                .unwrap(),
            )
        })
        .collect();
    let mut got = vec![0u8; 32];
    let mut left = 32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while left > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "replies never arrived"
        );
        for (i, p) in pending.iter_mut().enumerate() {
            if let Some(h) = p
                && let Some(r) = h.poll()
            {
                let r = r.unwrap();
                let Message::Rread { data } = r.message().unwrap() else {
                    panic!("not Rread")
                };
                got[i] = data[0];
                *p = None;
                left -= 1;
            }
        }
    }
    let expect: Vec<u8> = (0..32).map(|i| b"hello over tcp\n"[i % 15]).collect();
    assert_eq!(got, expect);
    assert!(
        c.stats().submissions < 10,
        "32 requests went out in a few submissions"
    );
}

/// A fake server: answers Tversion properly, then whatever `then` writes.
fn fake_server(then: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 19];
        s.read_exact(&mut buf).unwrap();
        let mut reply = vec![0u8; 19];
        Message::Rversion {
            msize: 8192,
            version: "9P2000",
        }
        .encode(0xffff, &mut reply)
        .unwrap();
        s.write_all(&reply).unwrap();
        let mut req = [0u8; 64];
        let _ = s.read(&mut req);
        s.write_all(then).unwrap();
    });
    format!("tcp!127.0.0.1!{port}")
}

#[test]
fn oversized_replies_are_refused() {
    // A size field of 1 GiB after an msize of 8192.
    let c = Client::connect(
        dial(&fake_server(&[0, 0, 0, 0x40, 105, 0, 0])).unwrap(),
        8192,
    )
    .unwrap();
    let e = c.attach("u", "").err().unwrap();
    assert_eq!(
        e,
        Error::Transport(TransportError::FrameTooLarge {
            size: 1 << 30,
            limit: 8192
        })
    );
    // The connection is now unusable, and says so.
    assert!(matches!(
        c.call(&Message::Tclunk { fid: 0 }),
        Err(Error::Transport(_))
    ));
}

#[test]
fn a_peer_closing_mid_reply_is_reported() {
    let c = Client::connect(dial(&fake_server(&[20, 0, 0, 0, 105, 0])).unwrap(), 8192).unwrap();
    assert_eq!(
        c.attach("u", "").err().unwrap(),
        Error::Transport(TransportError::Closed)
    );
}

#[test]
fn malformed_replies_are_errors_not_panics() {
    // Rattach whose qid is cut short, with a size field that agrees.
    let c = Client::connect(
        dial(&fake_server(&[10, 0, 0, 0, 105, 0, 0, 1, 2, 3])).unwrap(),
        8192,
    )
    .unwrap();
    assert!(matches!(c.attach("u", "").err().unwrap(), Error::Decode(_)));
}

#[test]
fn a_server_that_is_not_9p2000_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 19];
        s.read_exact(&mut buf).unwrap();
        let mut reply = vec![0u8; 20];
        let n = Message::Rversion {
            msize: 8192,
            version: "unknown",
        }
        .encode(0xffff, &mut reply)
        .unwrap();
        s.write_all(&reply[..n]).unwrap();
    });
    let e = Client::connect(dial(&format!("tcp!127.0.0.1!{port}")).unwrap(), 8192)
        .err()
        .unwrap();
    assert_eq!(e, Error::Version("unknown".into()));
}

#[test]
fn duplex_pipes_carry_9p() {
    // Server on one thread, talking over two in-process OS pipes.
    let (srv_rx, cli_tx) = std::io::pipe().unwrap();
    let (cli_rx, srv_tx) = std::io::pipe().unwrap();
    let t = std::thread::spawn(move || {
        let mut fs = MemFs::default();
        fs.add_file("/x", 0o664, b"piped").unwrap();
        let mut server = lib9pclient::Server::new(fs, 8192);
        lib9pclient::server::net::serve_connection(
            &mut server,
            Duplex {
                reader: srv_rx,
                writer: srv_tx,
            },
        )
    });
    let transport = StreamTransport::new(Duplex {
        reader: cli_rx,
        writer: cli_tx,
    });
    let c = Client::connect(transport, 8192).unwrap();
    let fs = c.attach("u", "").unwrap();
    let mut v = Vec::new();
    fs.open("/x", OREAD).unwrap().read_to_end(&mut v).unwrap();
    assert_eq!(v, b"piped");
    let st: Stat<'_> = Stat::DONT_TOUCH;
    assert!(
        fs.client()
            .call(&Message::Twstat {
                fid: fs.root_fid(),
                stat: st
            })
            .is_ok()
    );
    drop(fs);
    drop(c);
    t.join().unwrap().unwrap();
}
