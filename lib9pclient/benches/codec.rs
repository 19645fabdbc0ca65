//! Codec benchmark on stable Rust: encode and decode of Twalk, Tread,
//! Rread (8 KiB) and Rstat, reported as the median ns per message.
//!
//! cargo bench -p lib9pclient --bench codec

use lib9pclient::codec::{Message, Qid, Stat, WalkNames, decode};
use std::hint::black_box;
use std::time::Instant;

const SAMPLES: usize = 31;

/// Median over SAMPLES runs of the mean ns per call of `f`.
fn measure(mut f: impl FnMut()) -> f64 {
    // Calibrate: enough iterations for about 10 ms per sample.
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed().as_millis() >= 10 {
            break;
        }
        iters *= 2;
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn bench(name: &str, msg: &Message<'_>) {
    let mut buf = vec![0u8; msg.encoded_len()];
    let enc = measure(|| {
        let n = black_box(msg)
            .encode(black_box(7), black_box(&mut buf))
            .unwrap();
        black_box(n);
    });
    let frame = buf.clone();
    let dec = measure(|| {
        let m = decode(black_box(&frame)).unwrap();
        black_box(m);
    });
    println!(
        "| {name:<22} | {:>6} | {enc:>9.1} | {dec:>9.1} |",
        frame.len()
    );
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("codec bench: run with `cargo bench -p lib9pclient --bench codec`");
        return;
    }
    let data = vec![0xabu8; 8192];
    let wnames = WalkNames::new(&["usr", "glenda", "lib", "profile"]).unwrap();
    let stat = Stat {
        typ: 0,
        dev: 0,
        qid: Qid {
            typ: 0,
            version: 3,
            path: 0x1234,
        },
        mode: 0o664,
        atime: 1_700_000_000,
        mtime: 1_700_000_000,
        length: 8192,
        name: "profile",
        uid: "glenda",
        gid: "glenda",
        muid: "glenda",
    };
    println!("| message                | bytes  | encode ns | decode ns |");
    println!("|------------------------|-------:|----------:|----------:|");
    bench(
        "Twalk (4 names)",
        &Message::Twalk {
            fid: 1,
            newfid: 2,
            wnames,
        },
    );
    bench(
        "Tread",
        &Message::Tread {
            fid: 2,
            offset: 65536,
            count: 8192,
        },
    );
    bench("Rread (8 KiB)", &Message::Rread { data: &data });
    bench("Rstat", &Message::Rstat { stat });
}
