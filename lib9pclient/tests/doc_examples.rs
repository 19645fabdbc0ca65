//! The examples of docs/lib9pclient.md, kept compiling and passing here.

use lib9pclient::codec::{self, Message, ORDWR, OREAD, WalkNames};
use lib9pclient::server::net::{Shared, serve_tcp};
use lib9pclient::stream::dial;
use lib9pclient::{Client, Error, Loopback, MemFs, MountTable, Transport};

#[test]
fn codec_example() -> Result<(), Box<dyn std::error::Error>> {
    let names = ["usr", "glenda", "lib"];
    let msg = Message::Twalk {
        fid: 0,
        newfid: 1,
        wnames: WalkNames::new(&names)?,
    };
    let mut buf = [0u8; 128];
    let n = msg.encode(7, &mut buf)?; // no allocation
    let (tag, back) = codec::decode(&buf[..n])?; // borrows from buf
    assert_eq!((tag, back), (7, msg));
    assert!(codec::decode(&buf[..n - 1]).is_err()); // strict: truncated
    Ok(())
}

fn tcp_address() -> String {
    let mut fs = MemFs::new("glenda");
    fs.add_file("/etc/motd", 0o664, b"hello\n").unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || serve_tcp(l, Shared::new(fs), 65536));
    format!("tcp!127.0.0.1!{port}")
}

#[test]
fn file_example() -> Result<(), Box<dyn std::error::Error>> {
    let address = tcp_address();
    let client = Client::connect(dial(&address)?, 8192 + 24)?; // Tversion
    let fs = client.attach("glenda", "")?; // Tattach

    let mut motd = fs.open("/etc/motd", OREAD)?; // Twalk + Topen, one submission
    let mut text = Vec::new();
    motd.read_to_end(&mut text)?; // pipelined Treads
    assert_eq!(text, b"hello\n");

    let mut f = fs.create("/tmp.txt", 0o664, ORDWR)?;
    f.write_all(&vec![b'x'; 100_000])?; // split by iounit/msize, pipelined
    assert_eq!(f.stat()?.length, 100_000);
    f.close()?; // Tclunk (dropping a File also clunks)

    for entry in fs.read_dir("/")? {
        println!("{} {}", entry.name, entry.length);
    }
    match fs.open("/nope", OREAD) {
        Err(Error::Server(text)) => assert_eq!(text, "file does not exist"),
        _ => unreachable!(),
    }
    fs.remove("/tmp.txt")?;
    Ok(())
}

#[test]
fn batch_example() -> Result<(), Error> {
    let mut mem = MemFs::default();
    mem.add_file("/etc/motd", 0o664, b"hello\n").unwrap();
    let client = Client::connect(Loopback::new(mem, 65536), 8192)?;
    let fs = client.attach("glenda", "")?;

    let mut batch = client.batch();
    let fid = batch.alloc_fid()?;
    let names = ["etc", "motd"];
    let wnames = WalkNames::new(&names).map_err(|_| Error::InvalidArgument("walk"))?;
    batch.push(&Message::Twalk {
        fid: fs.root_fid(),
        newfid: fid,
        wnames,
    })?;
    batch.push(&Message::Topen { fid, mode: OREAD })?; // uses the walk's new fid
    batch.push(&Message::Tread {
        fid,
        offset: 0,
        count: 5,
    })?;
    batch.push(&Message::Tclunk { fid })?;
    let replies = batch.run()?; // one submission, four replies, in order
    let read = replies[2].as_ref().map_err(Error::clone)?;
    match read.message()? {
        Message::Rread { data } => assert_eq!(data, b"hello"),
        other => panic!("expected the Rread, got {other:?}"),
    }
    assert_eq!(client.stats().submissions, 2); // the Tattach, then the whole batch
    Ok(())
}

#[test]
fn async_example() -> Result<(), Error> {
    let client = Client::connect(Loopback::new(MemFs::default(), 65536), 8192)?;
    let fs = client.attach("glenda", "")?;
    let root = fs.root_fid();

    // Completion handles: start many, poll or wait, in any order.
    let a = client.start(&Message::Tstat { fid: root })?;
    let mut b = client.start(&Message::Tstat { fid: root })?;
    while b.poll().is_none() {} // sends the batch, never blocks
    let reply = a.wait()?; // already here: returns at once
    assert!(matches!(reply.message()?, Message::Rstat { .. }));

    // Callbacks: run when the client is next pumped.
    let seen = std::rc::Rc::new(std::cell::Cell::new(None));
    let record = seen.clone();
    client.start_with(&Message::Tstat { fid: root }, move |reply| {
        let is_rstat = reply.is_ok_and(|r| matches!(r.message(), Ok(Message::Rstat { .. })));
        record.set(Some(is_rstat));
    })?;
    assert_eq!(seen.get(), None); // not before the client is pumped
    client.run_until_idle()?;
    assert_eq!(seen.get(), Some(true)); // the callback ran, with the Rstat

    // Dropping a handle before its reply abandons it with Tflush.
    drop(client.start(&Message::Tstat { fid: root })?);
    client.run_until_idle()?;
    assert_eq!(client.stats().flushes, 1);
    Ok(())
}

#[test]
fn mount_example() -> Result<(), Error> {
    fn tree(file: &str) -> MemFs {
        let mut fs = MemFs::default();
        fs.add_file(file, 0o664, b"x").unwrap();
        fs
    }
    // Different transports can share one table through Box<dyn Transport>.
    let connect = |fs: MemFs| -> Result<_, Error> {
        let t: Box<dyn Transport> = Box::new(Loopback::new(fs, 65536));
        Client::connect(t, 8192)?.attach("glenda", "")
    };
    let mut ns = MountTable::new();
    ns.mount("/", connect(tree("/README"))?);
    ns.mount("/dev", connect(tree("/cons"))?);
    assert!(ns.open("/dev/cons", OREAD).is_ok()); // served by the /dev tree
    assert!(ns.stat("/README").is_ok()); // served by the root tree
    Ok(())
}
