//! `Server::handle_deferrable`: a request the filesystem answers with `WouldBlock` gets no
//! reply and changes nothing, so it can be handed over again later; `handle` turns the same
//! refusal into an Rerror.

use lib9pclient::codec::{Message, NOFID, OREAD, Stat, WalkNames, decode};
use lib9pclient::{Dir, Filesystem, MemFs, Qid, Server, ServerError};

/// MemFs with a `/pipe` whose reads wait for input, like a console on a server that must not
/// block: a read finds the queued bytes or says it would block.
struct PipeFs {
    files: MemFs,
    pipe: usize,
    input: Vec<u8>,
    refusals: usize,
}

impl PipeFs {
    fn new() -> Self {
        let mut files = MemFs::new("glenda");
        files.add_file("/plain", 0o444, b"plain").unwrap();
        let pipe = files.add_file("/pipe", 0o444, b"").unwrap();
        Self {
            files,
            pipe,
            input: Vec::new(),
            refusals: 0,
        }
    }
}

impl Filesystem for PipeFs {
    type Node = usize;

    fn attach(&mut self, uname: &str, aname: &str) -> Result<usize, ServerError> {
        self.files.attach(uname, aname)
    }
    fn qid(&mut self, node: &usize) -> Result<Qid, ServerError> {
        self.files.qid(node)
    }
    fn walk(&mut self, dir: &usize, name: &str) -> Result<usize, ServerError> {
        self.files.walk(dir, name)
    }
    fn open(&mut self, node: &usize, mode: u8) -> Result<u32, ServerError> {
        self.files.open(node, mode)
    }
    fn create(
        &mut self,
        dir: &usize,
        name: &str,
        perm: u32,
        mode: u8,
    ) -> Result<(usize, u32), ServerError> {
        self.files.create(dir, name, perm, mode)
    }
    fn read(&mut self, node: &usize, offset: u64, buf: &mut [u8]) -> Result<usize, ServerError> {
        if *node != self.pipe {
            return self.files.read(node, offset, buf);
        }
        if self.input.is_empty() {
            self.refusals += 1;
            return Err(ServerError::WouldBlock);
        }
        let n = self.input.len().min(buf.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        Ok(n)
    }
    fn read_dir(&mut self, node: &usize) -> Result<Vec<Dir>, ServerError> {
        self.files.read_dir(node)
    }
    fn write(&mut self, node: &usize, offset: u64, data: &[u8]) -> Result<usize, ServerError> {
        self.files.write(node, offset, data)
    }
    fn stat(&mut self, node: &usize) -> Result<Dir, ServerError> {
        self.files.stat(node)
    }
    fn wstat(&mut self, node: &usize, stat: &Stat<'_>) -> Result<(), ServerError> {
        self.files.wstat(node, stat)
    }
    fn remove(&mut self, node: &usize) -> Result<(), ServerError> {
        self.files.remove(node)
    }
}

fn frame(tag: u16, m: &Message<'_>) -> Vec<u8> {
    let mut req = vec![0u8; m.encoded_len()];
    m.encode(tag, &mut req).unwrap();
    req
}

/// Sends `m` through `handle` and expects a reply that is not an Rerror.
fn ok(s: &mut Server<PipeFs>, m: &Message<'_>) {
    let mut out = Vec::new();
    s.handle(&frame(1, m), &mut out);
    let (_, reply) = decode(&out).unwrap();
    assert!(!matches!(reply, Message::Rerror { .. }), "{m:?}: {reply:?}");
}

/// A server with fid 1 open on `/pipe` and fid 2 open on `/plain`.
fn ready() -> Server<PipeFs> {
    let mut s = Server::new(PipeFs::new(), 8192);
    ok(
        &mut s,
        &Message::Tversion {
            msize: 8192,
            version: "9P2000",
        },
    );
    ok(
        &mut s,
        &Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "glenda",
            aname: "",
        },
    );
    for (fid, name) in [(1, "pipe"), (2, "plain")] {
        let names: &[&str] = &[name];
        ok(
            &mut s,
            &Message::Twalk {
                fid: 0,
                newfid: fid,
                wnames: WalkNames::new(names).unwrap(),
            },
        );
        ok(&mut s, &Message::Topen { fid, mode: OREAD });
    }
    s
}

fn tread(fid: u32) -> Message<'static> {
    Message::Tread {
        fid,
        offset: 0,
        count: 100,
    }
}

#[test]
fn a_blocked_read_is_deferred_and_retried() {
    let mut s = ready();
    let request = frame(9, &tread(1));
    // Bytes already in `out` (an earlier reply of a batch) are left alone.
    let mut out = b"earlier".to_vec();
    assert!(!s.handle_deferrable(&request, &mut out));
    assert_eq!(out, b"earlier");
    assert!(!s.handle_deferrable(&request, &mut out));
    assert_eq!(s.filesystem().refusals, 2);
    assert_eq!(
        s.fid_count(),
        3,
        "the deferred read left the fid table alone"
    );

    // Other requests go on meanwhile.
    let mut out = Vec::new();
    assert!(s.handle_deferrable(&frame(10, &tread(2)), &mut out));
    assert_eq!(
        decode(&out).unwrap(),
        (10, Message::Rread { data: b"plain" })
    );

    // Input arrives: the same request, handed over again, is answered with its tag.
    s.filesystem().input.extend_from_slice(b"line\n");
    let mut out = Vec::new();
    assert!(s.handle_deferrable(&request, &mut out));
    assert_eq!(
        decode(&out).unwrap(),
        (9, Message::Rread { data: b"line\n" })
    );
}

#[test]
fn handle_answers_would_block_with_an_rerror() {
    let mut s = ready();
    let mut out = Vec::new();
    s.handle(&frame(4, &tread(1)), &mut out);
    assert_eq!(
        decode(&out).unwrap(),
        (
            4,
            Message::Rerror {
                ename: "operation would block"
            }
        )
    );
    assert_eq!(ServerError::WouldBlock.to_string(), "operation would block");
}

#[test]
fn other_outcomes_are_replied_to_as_by_handle() {
    let mut s = ready();
    // An error other than WouldBlock is an Rerror, and counts as answered.
    let mut out = Vec::new();
    assert!(s.handle_deferrable(&frame(5, &tread(77)), &mut out));
    assert_eq!(
        decode(&out).unwrap(),
        (
            5,
            Message::Rerror {
                ename: "unknown fid"
            }
        )
    );
    // A malformed frame gets its Rerror too.
    let mut out = Vec::new();
    assert!(s.handle_deferrable(&[10, 0, 0, 0, 120, 7, 0, 1, 0, 0], &mut out));
    assert!(matches!(
        decode(&out).unwrap(),
        (7, Message::Rerror { ename }) if ename.starts_with("bad 9P message")
    ));
    // Too short for a tag: nothing to answer, nothing to retry.
    let mut out = Vec::new();
    assert!(s.handle_deferrable(&[1, 2], &mut out));
    assert!(out.is_empty());
    // A clunk is answered and takes effect.
    let mut out = Vec::new();
    assert!(s.handle_deferrable(&frame(6, &Message::Tclunk { fid: 2 }), &mut out));
    assert_eq!(decode(&out).unwrap(), (6, Message::Rclunk));
    assert_eq!(s.fid_count(), 2);
}
