//! ext4srv host throughput and latency.
//!
//! Reads a 64 MiB file over a Unix socket from the `ext4srv` binary with
//! lib9pclient at msize 8 KiB, 64 KiB and 1 MiB, against ext4-view reading the
//! same file in-process (the ceiling), and times single Tstat and 1 KiB Tread
//! round trips. Run with `cargo bench -p ext4srv --bench throughput`.

use ext4_view::Ext4;
use ext4srv::device::{BlockCache, CacheHandle, ImageFile};
use lib9pclient::codec::{Message, OREAD};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILE_SIZE: usize = 64 << 20;
const RUNS: usize = 7;

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

fn main() {
    let dir = std::env::temp_dir().join(format!("ext4srv-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = make_image(&dir);
    let mut buf = vec![0u8; 1 << 20];

    // The ceiling: ext4-view in-process, over std::fs::File and over the
    // block source and cache ext4srv uses.
    let plain = Ext4::load(Box::new(std::fs::File::open(&img).unwrap())).unwrap();
    let cached = Ext4::load(Box::new(CacheHandle::new(BlockCache::new(
        Box::new(ImageFile::open(&img).unwrap()),
        ext4srv::DEFAULT_CACHE_BYTES,
    ))))
    .unwrap();
    let mut ceiling = Vec::new();
    for (name, fs) in [
        ("ext4-view over std::fs::File", &plain),
        ("ext4-view over ext4srv's cache", &cached),
    ] {
        assert_eq!(ext4_view_read(fs, &mut buf), FILE_SIZE);
        let speeds: Vec<f64> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                ext4_view_read(fs, &mut buf);
                mib_per_s(FILE_SIZE, t.elapsed())
            })
            .collect();
        let m = median(speeds);
        println!("| {name} (in-process) | - | {m:.0} |");
        ceiling.push(m);
    }
    let ceiling = ceiling.into_iter().fold(0.0, f64::max);

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

    for msize in [8 << 10, 64 << 10, 1 << 20] {
        let client =
            lib9pclient::Client::connect(lib9pclient::stream::dial(&addr).unwrap(), msize).unwrap();
        let fs = client.attach("bench", "").unwrap();
        let mut data = Vec::with_capacity(FILE_SIZE);
        let speeds: Vec<f64> = (0..RUNS + 1)
            .map(|_| {
                data.clear();
                let t = Instant::now();
                fs.open("/big.bin", OREAD)
                    .unwrap()
                    .read_to_end(&mut data)
                    .unwrap();
                let s = mib_per_s(FILE_SIZE, t.elapsed());
                assert_eq!(data.len(), FILE_SIZE);
                s
            })
            .skip(1)
            .collect();
        let m = median(speeds);
        println!(
            "| ext4srv over a Unix socket, msize {} KiB | {} | {m:.0} ({:.0}% of the ceiling) |",
            msize >> 10,
            msize - 24,
            100.0 * m / ceiling
        );
    }

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
    println!("| Tstat on a walked fid | {stat:.1} µs |");
    println!("| Tread of 1 KiB on an open fid | {read:.1} µs |");
    println!("| stat by path (Twalk + Tstat + Tclunk, one submission) | {path_stat:.1} µs |");

    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
