//! ext4srv host throughput and latency.
//!
//! Reads a 64 MiB file over a Unix socket from the `ext4srv` binary at msize
//! 8 KiB, 64 KiB and 1 MiB, against ext4-view reading the same file
//! in-process (the ceiling), and times single Tstat and 1 KiB Tread round
//! trips. Two clients read: lib9pclient's (what the `9p` tool and Lux9
//! programs use), and a minimal one that keeps 16 Treads in flight and reads
//! each Rread's data straight into place (one copy), which shows what the
//! server itself sustains. Configurations are measured in interleaved rounds
//! and the medians reported, because the machine is shared.
//!
//! Run with `cargo bench -p ext4srv --bench throughput`.

use ext4_view::Ext4;
use ext4srv::device::{BlockCache, CacheHandle, ImageFile};
use lib9pclient::codec::{self, Message, NOFID, OREAD, WalkNames};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILE_SIZE: usize = 64 << 20;
const ROUNDS: usize = 7;
const MSIZES: [u32; 3] = [8 << 10, 64 << 10, 1 << 20];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

/// ext4-view reading the whole file with 1 MiB reads from `fs`.
fn ext4_view_read(fs: &Ext4, buf: &mut [u8]) -> usize {
    let mut file = fs.open("/big.bin").unwrap();
    let mut total = 0;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_bytes(&mut buf[filled..]).unwrap() {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            return total;
        }
        total += filled;
    }
}

fn make_image(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..FILE_SIZE / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    std::fs::write(tree.join("big.bin"), &data).unwrap();
    std::fs::write(tree.join("small.txt"), vec![b'x'; 4096]).unwrap();
    let img = dir.join("img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(96 << 20)
        .unwrap();
    let ok = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "4096", "-d"])
        .arg(&tree)
        .arg(&img)
        .status()
        .expect("mkfs.ext4 (Debian package e2fsprogs)");
    assert!(ok.success());
    img
}

fn send(s: &mut UnixStream, tag: u16, msg: &Message<'_>) {
    let mut buf = vec![0u8; msg.encoded_len()];
    msg.encode(tag, &mut buf).unwrap();
    s.write_all(&buf).unwrap();
}

fn recv(s: &mut UnixStream) -> Vec<u8> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut frame = size.to_vec();
    frame.resize(u32::from_le_bytes(size) as usize, 0);
    s.read_exact(&mut frame[4..]).unwrap();
    frame
}

/// The minimal client: version, attach, walk, open, then `depth` Treads in
/// flight, each Rread's data read straight into `data`.
fn lean_read(sock: &Path, msize: u32, data: &mut [u8]) {
    let mut s = UnixStream::connect(sock).unwrap();
    send(
        &mut s,
        codec::NOTAG,
        &Message::Tversion {
            msize,
            version: "9P2000",
        },
    );
    recv(&mut s);
    send(
        &mut s,
        1,
        &Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "b",
            aname: "",
        },
    );
    recv(&mut s);
    let names = ["big.bin"];
    send(
        &mut s,
        1,
        &Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: WalkNames::new(&names).unwrap(),
        },
    );
    recv(&mut s);
    send(
        &mut s,
        1,
        &Message::Topen {
            fid: 1,
            mode: OREAD,
        },
    );
    recv(&mut s);
    let chunk = (msize - 24) as usize;
    let depth = 16u16;
    let mut next = 0usize;
    let mut at: BTreeMap<u16, usize> = BTreeMap::new();
    let len = data.len();
    let issue = |s: &mut UnixStream, tag: u16, off: usize| {
        let count = chunk.min(len - off) as u32;
        send(
            s,
            tag,
            &Message::Tread {
                fid: 1,
                offset: off as u64,
                count,
            },
        );
    };
    for tag in 0..depth {
        if next < len {
            issue(&mut s, tag, next);
            at.insert(tag, next);
            next += chunk;
        }
    }
    let mut done = 0;
    while done < len {
        let mut head = [0u8; 11];
        s.read_exact(&mut head).unwrap();
        assert_eq!(head[4], 117, "Rread");
        let tag = u16::from_le_bytes([head[5], head[6]]);
        let count = u32::from_le_bytes(head[7..11].try_into().unwrap()) as usize;
        let off = at.remove(&tag).unwrap();
        s.read_exact(&mut data[off..off + count]).unwrap();
        assert!(count == chunk.min(len - off), "short read at {off}");
        done += count;
        if next < len {
            issue(&mut s, tag, next);
            at.insert(tag, next);
            next += chunk;
        }
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("ext4srv-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = make_image(&dir);
    let want = std::fs::read(dir.join("tree/big.bin")).unwrap();
    let mut buf = vec![0u8; 1 << 20];

    let plain = Ext4::load(Box::new(std::fs::File::open(&img).unwrap())).unwrap();
    let cached = Ext4::load(Box::new(CacheHandle::new(BlockCache::new(
        Box::new(ImageFile::open(&img).unwrap()),
        ext4srv::DEFAULT_CACHE_BYTES,
    ))))
    .unwrap();

    let sock = dir.join("sock");
    let addr = format!("unix!{}", sock.display());
    let mut server = Command::new(env!("CARGO_BIN_EXE_ext4srv"))
        .args(["--listen", &addr, "--msize", &((1 << 20) + 24).to_string()])
        .arg(&img)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});

    // lib9pclient's MemFs behind the framework's own socket loop: the
    // transport and client with no disk and no ext4 behind them.
    let mem_sock = dir.join("memsock");
    let listener = std::os::unix::net::UnixListener::bind(&mem_sock).unwrap();
    let memfs = lib9pclient::server::net::Shared::new(lib9pclient::MemFs::new("bench"));
    std::thread::spawn(move || {
        lib9pclient::server::net::serve_unix(listener, memfs, (1 << 20) + 24)
    });
    let mem_addr = format!("unix!{}", mem_sock.display());
    let mem_client =
        lib9pclient::Client::connect(lib9pclient::stream::dial(&mem_addr).unwrap(), 1 << 20)
            .unwrap();
    let mem_fs = mem_client.attach("bench", "").unwrap();
    let mut f = mem_fs
        .create("/big.bin", 0o644, lib9pclient::codec::ORDWR)
        .unwrap();
    f.write_all(&want).unwrap();
    drop(f);

    let clients: Vec<_> = MSIZES
        .iter()
        .map(|&m| {
            let c =
                lib9pclient::Client::connect(lib9pclient::stream::dial(&addr).unwrap(), m).unwrap();
            c.attach("bench", "").unwrap()
        })
        .collect();

    let mut results: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut data = Vec::with_capacity(FILE_SIZE);
    let mut lean = vec![0u8; FILE_SIZE];
    for round in 0..ROUNDS + 1 {
        let mut record = |key: String, v: f64| {
            if round > 0 {
                results.entry(key).or_default().push(v);
            }
        };
        for (name, fs) in [
            ("a ext4-view over std::fs::File", &plain),
            ("b ext4-view over ext4srv's cache", &cached),
        ] {
            let t = Instant::now();
            assert_eq!(ext4_view_read(fs, &mut buf), FILE_SIZE);
            record(name.into(), mib_per_s(FILE_SIZE, t.elapsed()));
        }
        for (i, &msize) in MSIZES.iter().enumerate() {
            data.clear();
            let t = Instant::now();
            clients[i]
                .open("/big.bin", OREAD)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            record(
                format!("c lib9pclient {msize}"),
                mib_per_s(FILE_SIZE, t.elapsed()),
            );
            assert!(data == want);
            let t = Instant::now();
            lean_read(&sock, msize, &mut lean);
            record(format!("d lean {msize}"), mib_per_s(FILE_SIZE, t.elapsed()));
            assert!(lean == want);
            lean.fill(0);
        }
        data.clear();
        let t = Instant::now();
        mem_fs
            .open("/big.bin", OREAD)
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        record("e memfs".into(), mib_per_s(FILE_SIZE, t.elapsed()));
    }
    let m: BTreeMap<String, f64> = results.into_iter().map(|(k, v)| (k, median(v))).collect();
    let ceiling = m["a ext4-view over std::fs::File"].max(m["b ext4-view over ext4srv's cache"]);
    println!("| reader | MiB/s | of the ceiling |");
    println!("|---|---:|---:|");
    println!(
        "| ext4-view in-process, over std::fs::File | {:.0} | |",
        m["a ext4-view over std::fs::File"]
    );
    println!(
        "| ext4-view in-process, over ext4srv's block cache | {:.0} | |",
        m["b ext4-view over ext4srv's cache"]
    );
    for client in ["lean", "lib9pclient"] {
        for msize in MSIZES {
            let key = if client == "lean" {
                format!("d lean {msize}")
            } else {
                format!("c lib9pclient {msize}")
            };
            let v = m[&key];
            println!(
                "| ext4srv, {} client, msize {} KiB | {v:.0} | {:.0}% |",
                if client == "lean" {
                    "minimal"
                } else {
                    "lib9pclient"
                },
                msize >> 10,
                100.0 * v / ceiling
            );
        }
    }
    println!(
        "| lib9pclient MemFs (memory, no ext4), lib9pclient client, msize 1024 KiB | {:.0} | {:.0}% |",
        m["e memfs"],
        100.0 * m["e memfs"] / ceiling
    );

    // Latency: one Tstat, and one 1 KiB Tread, on fids already walked/open.
    let client =
        lib9pclient::Client::connect(lib9pclient::stream::dial(&addr).unwrap(), 8192 + 24).unwrap();
    let fs = client.attach("bench", "").unwrap();
    let file = fs.open("/small.txt", OREAD).unwrap();
    let mut small = [0u8; 1024];
    let iterations = 20_000;
    let time = |f: &mut dyn FnMut()| -> f64 {
        for _ in 0..1000 {
            f();
        }
        let samples: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iterations {
                    f();
                }
                t.elapsed().as_secs_f64() * 1e6 / iterations as f64
            })
            .collect();
        median(samples)
    };
    let (fid, _) = fs.walk("/small.txt").unwrap();
    let stat = time(&mut || {
        let r = client
            .start(&Message::Tstat { fid })
            .unwrap()
            .wait()
            .unwrap();
        assert!(matches!(r.message(), Ok(Message::Rstat { .. })));
    });
    let read = time(&mut || {
        assert_eq!(file.read_at(&mut small, 0).unwrap(), 1024);
    });
    let path_stat = time(&mut || {
        fs.stat("/small.txt").unwrap();
    });
    let mem_root = mem_client.attach("bench", "").unwrap();
    let (mem_fid, _) = mem_root.walk("/big.bin").unwrap();
    let mem_stat = time(&mut || {
        let r = mem_client
            .start(&Message::Tstat { fid: mem_fid })
            .unwrap()
            .wait()
            .unwrap();
        assert!(matches!(r.message(), Ok(Message::Rstat { .. })));
    });
    println!();
    println!("| operation (lib9pclient client, Unix socket) | mean latency |");
    println!("|---|---:|");
    println!("| Tstat on a walked fid | {stat:.1} µs |");
    println!("| Tread of 1 KiB on an open fid | {read:.1} µs |");
    println!("| stat by path (Twalk + Tstat + Tclunk in one submission) | {path_stat:.1} µs |");
    println!("| Tstat on lib9pclient MemFs, for comparison | {mem_stat:.1} µs |");

    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
