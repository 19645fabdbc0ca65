//! `bench ext4 DEVICE`: mounts the ext4 volume on DEVICE (where the configuration places
//! ext4srv: an isolated process reading it through a block ring, or colocated in the kernel)
//! and measures file work through it, one `BENCH` line per figure, named after the placement
//! (`_isolated` or `_colocated`; below, `_isolated` stands for either):
//!
//! - `ext4_read1000_naive_isolated`: 1000 reads of 1 KiB at distinct offsets of a 1 MiB file, one
//!   request per round trip (the file's blocks are in ext4srv's cache: a warm-up pass read
//!   them);
//! - `ext4_read1000_batch64_isolated`: the same 1000 reads in submissions of 64 (one batch of
//!   Treads each, which the client library sends on the connection's ring);
//! - `ext4_read1000_async_isolated`: the same 1000 reads as tagged requests, up to 128 in
//!   flight, each reply matched by its tag (lib9pclient's `Client::start`);
//! - `ext4_open_read_close_1000_files_isolated`: walk, open, read and clunk 1000 different
//!   small files;
//! - `ext4_stat_open_read1k_close_isolated`: stat, open, read 1 KiB and close one file, 1000
//!   times;
//! - `ext4_seqread_4MiB_isolated_cold` and `_warm`: a 4 MiB file read in order with 16 reads
//!   in flight, the first time after mounting (every block from the disk) and again (from the
//!   cache); ticks per MiB;
//! - `ext4_list_3000_isolated`: the listing of a 3,000-entry directory; ticks per listing.

use alloc::format;
use alloc::string::String;

use lib9pclient::codec::{Message, OREAD};
use lux9_rt::{ns, sys};

use super::{report, switches_text};

/// Where the volume is mounted for the run.
const AT: &str = "/bench-ext4";

fn fail(what: &str, error: impl core::fmt::Display) -> String {
    format!("{what}: {error}")
}

/// Runs `body` `ops` times under the clock and reports `name`.
fn measure(
    name: &str,
    ops: u64,
    mut body: impl FnMut(u64) -> Result<(), String>,
) -> Result<(), String> {
    let switches = switches_text()?;
    let start = sys::rdtsc();
    for i in 0..ops {
        body(i)?;
    }
    let ticks = sys::rdtsc() - start;
    report(name, ops, ticks, switches_text()? - switches);
    Ok(())
}

pub fn run(device: &str) -> Result<(), String> {
    let status = sys::spawn("mount", &format!("ext4 {AT} {device}"))
        .and_then(sys::wait)
        .map_err(|e| fail("mount", e))?;
    if !status.success() {
        return Err(format!("mount ext4 {AT} {device} failed"));
    }
    // The placement the volume really got, from the kernel's mount table.
    let placement = ns::mounts()
        .map_err(|e| fail("mounts", e))?
        .into_iter()
        .find(|m| m.path == AT)
        .map(|m| m.placement)
        .ok_or("the mount is not in the mount table")?;
    let placement = if placement.starts_with("colocated") {
        "colocated"
    } else {
        "isolated"
    };
    let name = |figure: &str| format!("ext4_{figure}_{placement}");
    // Cold first: nothing of the 4 MiB file has been read yet.
    seqread(&format!("{}_cold", name("seqread_4MiB")))?;
    seqread(&format!("{}_warm", name("seqread_4MiB")))?;

    let file =
        ns::open(&format!("{AT}/one-mib.bin"), OREAD).map_err(|e| fail("open one-mib.bin", e))?;
    let mut buf = [0u8; 1024];
    // 1000 distinct 1 KiB pieces of the 1 MiB file, in a scattered order (337 is odd, so
    // i * 337 mod 1024 never repeats).
    let offset = |i: u64| (i * 337 % 1024) * 1024;
    for i in 0..1000 {
        file.read_at(&mut buf, offset(i))
            .map_err(|e| fail("read", e))?;
    }
    measure(&name("read1000_naive"), 1000, |i| {
        match file.read_at(&mut buf, offset(i)) {
            Ok(1024) => Ok(()),
            Ok(n) => Err(format!("a 1 KiB read returned {n} bytes")),
            Err(e) => Err(fail("read", e)),
        }
    })?;
    // One batch first: a connection's first batch sets up its shared ring (one IPC round trip,
    // two switches, once per connection), which is not what the batch figures measure. (After
    // the naive figure: a client that never batches has no ring for its server to look at.)
    // One batch of the reads `range`, each reply looked at where it lies (no copy, no
    // allocation).
    let read_batch = |range: core::ops::Range<u64>| -> Result<(), String> {
        let mut batch = file.client().batch();
        for i in range {
            batch
                .push(&Message::Tread {
                    fid: file.fid(),
                    offset: offset(i),
                    count: 1024,
                })
                .map_err(|e| fail("batch", e))?;
        }
        batch
            .run_each(|_, reply| match reply {
                Message::Rread { data } if data.len() == 1024 => Ok(()),
                _ => Err(lib9pclient::Error::Protocol("not a 1 KiB Rread")),
            })
            .map_err(|e| fail("batched read", e))
    };
    read_batch(0..64)?;
    let batches = 1000u64.div_ceil(64);
    let switches = switches_text()?;
    let start = sys::rdtsc();
    for b in 0..batches {
        read_batch(b * 64..((b + 1) * 64).min(1000))?;
    }
    let ticks = sys::rdtsc() - start;
    report(
        &name("read1000_batch64"),
        1000,
        ticks,
        switches_text()? - switches,
    );

    // Tagged and asynchronous: up to WINDOW Treads in flight, each reply matched to its
    // request by tag; as each is taken, the next read is queued behind the others.
    const WINDOW: usize = 128;
    let client = file.client();
    let switches = switches_text()?;
    let start = sys::rdtsc();
    let mut inflight = alloc::collections::VecDeque::with_capacity(WINDOW);
    let mut next = 0u64;
    while next < 1000 || !inflight.is_empty() {
        while next < 1000 && inflight.len() < WINDOW {
            let pending = client
                .start(&Message::Tread {
                    fid: file.fid(),
                    offset: offset(next),
                    count: 1024,
                })
                .map_err(|e| fail("async read", e))?;
            inflight.push_back(pending);
            next += 1;
        }
        if let Some(pending) = inflight.pop_front() {
            pending
                .wait_with(|reply| match reply {
                    Message::Rread { data } if data.len() == 1024 => Ok(()),
                    _ => Err(lib9pclient::Error::Protocol("not a 1 KiB Rread")),
                })
                .map_err(|e| fail("async read", e))?;
        }
    }
    let ticks = sys::rdtsc() - start;
    report(
        &name("read1000_async"),
        1000,
        ticks,
        switches_text()? - switches,
    );

    measure(&name("open_read_close_1000_files"), 1000, |i| {
        let path = format!("{AT}/many/file-{i:04}");
        let f = ns::open(&path, OREAD).map_err(|e| fail(&path, e))?;
        let mut small = [0u8; 256];
        f.read_at(&mut small, 0).map_err(|e| fail(&path, e))?;
        f.close().map_err(|e| fail(&path, e))
    })?;
    measure(&name("stat_open_read1k_close"), 1000, |_| {
        let path = format!("{AT}/hello.txt");
        ns::stat(&path).map_err(|e| fail("stat", e))?;
        let f = ns::open(&path, OREAD).map_err(|e| fail("open", e))?;
        f.read_at(&mut buf, 0).map_err(|e| fail("read", e))?;
        f.close().map_err(|e| fail("close", e))
    })?;
    measure(&name("list_3000"), 10, |_| {
        let listed = ns::read_dir(&format!("{AT}/dir3000")).map_err(|e| fail("list", e))?;
        if listed.len() == 3000 {
            Ok(())
        } else {
            Err(format!("dir3000 lists {} entries", listed.len()))
        }
    })
}

/// Reads big.bin (4 MiB) to the end with 16 reads in flight; reports ticks per MiB.
fn seqread(name: &str) -> Result<(), String> {
    let mut file =
        ns::open(&format!("{AT}/big.bin"), OREAD).map_err(|e| fail("open big.bin", e))?;
    let switches = switches_text()?;
    let start = sys::rdtsc();
    let bytes = file.read_each(|_| true).map_err(|e| fail("read", e))?;
    let ticks = sys::rdtsc() - start;
    if bytes != 4 << 20 {
        return Err(format!("big.bin read {bytes} bytes, not 4 MiB"));
    }
    report(name, 4, ticks, switches_text()? - switches);
    Ok(())
}
