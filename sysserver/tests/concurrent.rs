//! Concurrent clients: several at once on one `Server` (one session, each with its own fids),
//! and several connections (one `Server` each) on one backend, from threads.

mod common;

use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use common::{FakeBackend, MSIZE, attach, cat};
use lib9pclient::Server;
use lib9pclient::codec::{Message, NOFID, OREAD, OWRITE, WalkNames, decode};
use lux9_abi::sysinfo::MemInfo;
use sysserver::SysFs;

const CLIENTS: usize = 4;
const ROUNDS: usize = 150;

const MEMINFO: &str = "total 131072 KiB\nfree 97656 KiB\nkernel_heap 4096 KiB\nkernel_heap_in_use 1205 KiB\nreserved 2048 KiB\n";

/// One client of a shared server: its fids start at `base`, its tag is its own, and every
/// request takes the server's lock for that one message, so the clients' requests interleave.
struct SessionClient {
    server: Arc<Mutex<Server<SysFs<FakeBackend>>>>,
    tag: u16,
    base: u32,
}

impl SessionClient {
    fn rpc(&self, m: &Message<'_>) -> Result<Vec<u8>, String> {
        let mut request = vec![0u8; m.encoded_len()];
        m.encode(self.tag, &mut request).expect("encode");
        let mut out = Vec::new();
        self.server
            .lock()
            .expect("server lock")
            .handle(&request, &mut out);
        thread::yield_now();
        let (tag, reply) = decode(&out).expect("reply decodes");
        assert_eq!(tag, self.tag, "a reply came back with another client's tag");
        match reply {
            Message::Rerror { ename } => Err(ename.to_string()),
            Message::Rread { data } => Ok(data.to_vec()),
            _ => Ok(Vec::new()),
        }
    }

    fn ok(&self, m: &Message<'_>) -> Vec<u8> {
        self.rpc(m).unwrap_or_else(|e| panic!("{m:?} failed: {e}"))
    }

    /// Walks the client's root fid to `fid` along `path` and opens it with `mode`.
    fn open(&self, fid: u32, path: &[&str], mode: u8) {
        let wnames = WalkNames::new(path).expect("names");
        self.ok(&Message::Twalk {
            fid: self.base,
            newfid: fid,
            wnames,
        });
        self.ok(&Message::Topen { fid, mode });
    }

    /// The whole text of open `fid`, read 13 bytes at a time.
    fn read_all(&self, fid: u32) -> String {
        let mut text = Vec::new();
        loop {
            let data = self.ok(&Message::Tread {
                fid,
                offset: text.len() as u64,
                count: 13,
            });
            if data.is_empty() {
                return String::from_utf8(text).expect("text");
            }
            text.extend_from_slice(&data);
        }
    }
}

/// What `/proc/<pid>/status` says for the fake's processes.
fn status_of(pid: u64) -> &'static str {
    match pid {
        1 => "name init\nstate running\nparent 0\nswitches 10\nmemory 12 KiB\npriority 2\n",
        2 => "name sh\nstate blocked\nparent 1\nswitches 20\nmemory 24 KiB\npriority 2\n",
        _ => "name ls\nstate zombie\nparent 2\nswitches 50\nmemory 60 KiB\npriority 2\n",
    }
}

#[test]
fn clients_interleave_on_one_server_each_with_its_own_fids() {
    let fake = FakeBackend::new();
    let server = Arc::new(Mutex::new(Server::new(SysFs::new(fake.clone()), MSIZE)));
    SessionClient {
        server: server.clone(),
        tag: 0xffff,
        base: 0,
    }
    .ok(&Message::Tversion {
        msize: MSIZE,
        version: "9P2000",
    });
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (server, start) = (server.clone(), start.clone());
            thread::spawn(move || {
                let me = SessionClient {
                    server,
                    tag: k as u16 + 1,
                    base: 1000 * (k as u32 + 1),
                };
                start.wait();
                me.ok(&Message::Tattach {
                    fid: me.base,
                    afid: NOFID,
                    uname: "glenda",
                    aname: "",
                });
                let pid = [1u64, 2, 5][k % 3];
                let pid_name = pid.to_string();
                for round in 0..ROUNDS {
                    // Three fids of this client open at once, read in turns.
                    let (meminfo, status, cons) = (me.base + 1, me.base + 2, me.base + 3);
                    me.open(meminfo, &["proc", "meminfo"], OREAD);
                    me.open(status, &["proc", &pid_name, "status"], OREAD);
                    me.open(cons, &["dev", "cons"], OWRITE);
                    let line = format!("client {k} round {round}\n");
                    me.ok(&Message::Twrite {
                        fid: cons,
                        offset: 0,
                        data: line.as_bytes(),
                    });
                    assert_eq!(me.read_all(status), status_of(pid), "client {k}");
                    assert_eq!(me.read_all(meminfo), MEMINFO, "client {k}");
                    for fid in [meminfo, status, cons] {
                        me.ok(&Message::Tclunk { fid });
                    }
                }
                me.ok(&Message::Tclunk { fid: me.base });
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client thread failed");
    }
    let mut server = server.lock().expect("server lock");
    assert_eq!(
        server.fid_count(),
        0,
        "fids left after every client clunked"
    );
    assert_eq!(server.filesystem().snapshot_count(), 0);
    // Every line arrived whole, and each client's in its own order.
    let out = String::from_utf8(fake.state().console_out.clone()).expect("text");
    for k in 0..CLIENTS {
        let mine: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with(&format!("client {k} ")))
            .collect();
        let expected: Vec<String> = (0..ROUNDS)
            .map(|round| format!("client {k} round {round}"))
            .collect();
        assert_eq!(mine, expected, "client {k}'s console lines");
    }
    assert_eq!(out.lines().count(), CLIENTS * ROUNDS);
}

#[test]
fn connections_on_threads_share_one_backend() {
    let fake = FakeBackend::new();
    let other = MemInfo {
        total: 1 << 30,
        free: 1 << 29,
        kernel_heap: 1 << 23,
        kernel_heap_in_use: 1 << 22,
        reserved: 1 << 20,
    };
    let before = fake.state().memory;
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let readers: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (fake, start) = (fake.clone(), start.clone());
            thread::spawn(move || {
                // A connection of its own, as each process has with the colocated server.
                let fs = attach(&fake, "").expect("attach");
                start.wait();
                let (mut first, mut second) = (0, 0);
                for round in 0..ROUNDS {
                    // Read in small pieces while another thread changes the figures: one open
                    // reads one snapshot, so the text is always one of the two, never a mix.
                    let file = fs.open("/proc/meminfo", OREAD).expect("open");
                    let mut text = Vec::new();
                    let mut buf = [0u8; 11];
                    loop {
                        let n = file.read_at(&mut buf, text.len() as u64).expect("read");
                        if n == 0 {
                            break;
                        }
                        text.extend_from_slice(&buf[..n]);
                        thread::yield_now();
                    }
                    let text = String::from_utf8(text).expect("text");
                    if text == MEMINFO {
                        first += 1;
                    } else {
                        assert_eq!(
                            text,
                            "total 1048576 KiB\nfree 524288 KiB\nkernel_heap 8192 KiB\nkernel_heap_in_use 4096 KiB\nreserved 1024 KiB\n",
                            "client {k} round {round}: a mixed or wrong text"
                        );
                        second += 1;
                    }
                    let pid = [1u64, 2, 5][(k + round) % 3];
                    assert_eq!(
                        cat(&fs, &format!("/proc/{pid}/status")),
                        status_of(pid),
                        "client {k}"
                    );
                    let mut cons = fs.open("/dev/cons", OWRITE).expect("open cons");
                    cons.write_all(format!("conn {k} round {round}\n").as_bytes())
                        .expect("write");
                }
                (first, second)
            })
        })
        .collect();
    start.wait();
    let mut flip = 0u64;
    while !readers.iter().all(|r| r.is_finished()) {
        fake.state().memory = if flip.is_multiple_of(2) {
            other
        } else {
            before
        };
        flip += 1;
        thread::yield_now();
    }
    let mut seen = (0, 0);
    for reader in readers {
        let (first, second) = reader.join().expect("a connection thread failed");
        seen = (seen.0 + first, seen.1 + second);
    }
    assert_eq!(seen.0 + seen.1, CLIENTS * ROUNDS);
    assert!(
        seen.0 > 0 && seen.1 > 0,
        "the figures never changed under the readers: {seen:?}"
    );
    let out = String::from_utf8(fake.state().console_out.clone()).expect("text");
    for k in 0..CLIENTS {
        let mine: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with(&format!("conn {k} ")))
            .collect();
        let expected: Vec<String> = (0..ROUNDS)
            .map(|round| format!("conn {k} round {round}"))
            .collect();
        assert_eq!(mine, expected, "connection {k}'s console lines");
    }
}
