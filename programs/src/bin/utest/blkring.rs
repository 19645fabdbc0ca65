//! utest's block-ring cases: a server's zero-copy path to a disk, read, written, refused and
//! attacked from ring 3. The `user` scenario runs them on the boot-module disk `rd0`; the
//! kernel's `disks` scenario runs `utest blkring sd0 sd1` on each PCI driver.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lux9_blk::pattern::{self, MODULE_SECTORS, PARTITIONS, SECTOR};
use lux9_blk::ring::layout::offset;
use lux9_blk::ring::{Geometry, Request, Response, Status, Target, validate};
use lux9_rt::abi::Error;
use lux9_rt::abi::sysinfo::SysInfo;
use lux9_rt::shared::BlockRing;
use lux9_rt::{ipc, sys};

use super::{CaseResult, Usage, spawn_wait};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// The number of disk `name` in the kernel's list, with its sector count and whether it is
/// read-only.
fn disk(name: &str) -> Result<(usize, u64, bool), String> {
    let text = sys::sysinfo_text(SysInfo::Disks, 0).map_err(|e| format!("sysinfo: {e}"))?;
    text.lines()
        .enumerate()
        .find_map(|(n, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields.first() == Some(&name)).then(|| {
                (
                    n,
                    fields.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
                    fields.get(3) == Some(&"ro"),
                )
            })
        })
        .ok_or_else(|| format!("no disk {name} in {text:?}"))
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Submits `requests`, rings the doorbell once and collects one response per request.
fn run(ring: &BlockRing, requests: &[Request]) -> Result<Vec<Response>, String> {
    let mut server = ring.server().map_err(|e| format!("attach: {e:?}"))?;
    let sent = server
        .submit(requests)
        .map_err(|e| format!("submit: {e:?}"))?;
    ensure!(
        sent == requests.len(),
        "only {sent} of {} fit",
        requests.len()
    );
    let done = ring.submit().map_err(|e| format!("blk_ring_submit: {e}"))?;
    ensure!(
        done == requests.len(),
        "the kernel answered {done} of {sent}"
    );
    let blank = Response {
        id: 0,
        status: Status::Ok,
        count: 0,
    };
    let mut responses = alloc::vec![blank; requests.len()];
    let got = server
        .poll(&mut responses)
        .map_err(|e| format!("poll: {e:?}"))?;
    ensure!(got == requests.len(), "{got} responses for {sent} requests");
    // Refused requests are answered before the device's: responses come in completion
    // order, matched to requests by id.
    requests
        .iter()
        .map(|r| {
            responses
                .iter()
                .find(|a| a.id == r.id)
                .copied()
                .ok_or_else(|| format!("no response for request {}", r.id))
        })
        .collect()
}

fn check_pattern(ring: &BlockRing, at: usize, first: u64, count: u32) -> CaseResult {
    let mut sector = [0u8; SECTOR];
    for i in 0..u64::from(count) {
        let number = first + i;
        ring.data().read(at + i as usize * SECTOR, &mut sector);
        if number != 0 {
            pattern::check(number, &sector).map_err(|why| format!("sector {number}: {why}"))?;
        }
    }
    Ok(())
}

/// 48 reads of 1-8 sectors at scattered places in one submission, each into its own 4 KiB of
/// the data region; the last sector of partition 1 through a ring bound to it, and a read
/// straddling its end refused; then every refusal rule once.
pub fn reads_and_refusals(name: &str) -> CaseResult {
    let (number, sectors, read_only) = disk(name)?;
    ensure!(
        sectors == MODULE_SECTORS,
        "{name} has {sectors} sectors, not the pattern disk's {MODULE_SECTORS}"
    );
    let before = ipc::stats(0).map_err(|e| format!("ipc_stats: {e}"))?;
    let ring = BlockRing::create(number, 0, 64, 64).map_err(|e| format!("create: {e}"))?;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let reads: Vec<Request> = (0..48u64)
        .map(|i| {
            let count = 1 + (xorshift(&mut seed) % 8) as u32;
            let first = 1 + xorshift(&mut seed) % (MODULE_SECTORS - 9);
            Request::read(i, first, count, i * 4096)
        })
        .collect();
    let responses = run(&ring, &reads)?;
    for (response, request) in responses.iter().zip(&reads) {
        ensure!(
            response.id == request.id
                && response.status == Status::Ok
                && response.count == request.count,
            "read {} answered {response:?}",
            request.id
        );
        check_pattern(&ring, request.offset as usize, request.first, request.count)?;
    }
    let after = ipc::stats(0).map_err(|e| format!("ipc_stats: {e}"))?;
    ensure!(
        after.batches > before.batches,
        "the submission was not counted as a batch"
    );
    // A PCI disk's device moved the sectors straight into the data region: 48 zero-copy
    // transfers. The boot-module disk is memory that the kernel copies, and counts none.
    let zero_copy = after.zero_copy_transfers - before.zero_copy_transfers;
    let want = if name.starts_with("rd") { 0 } else { 48 };
    ensure!(
        zero_copy == want,
        "{zero_copy} zero-copy transfers counted for 48 reads from {name}, expected {want}"
    );
    let (_, p1_first, p1_count, _) = PARTITIONS[0];
    let p1 = BlockRing::create(number, 1, 8, 4).map_err(|e| format!("create on p1: {e}"))?;
    let answers = run(
        &p1,
        &[
            Request::read(1, p1_count - 1, 1, 0),
            Request::read(2, p1_count - 4, 8, 4096),
        ],
    )?;
    ensure!(
        answers[0].status == Status::Ok && answers[1].status == Status::OutOfRange,
        "p1's last sector and a read across its end gave {answers:?}"
    );
    check_pattern(&p1, 0, p1_first + p1_count - 1, 1)?;
    p1.destroy().map_err(|e| format!("destroy p1: {e}"))?;
    let region = 64 * 4096;
    let mut bad = alloc::vec![
        (Request::read(10, MODULE_SECTORS, 1, 0), Status::OutOfRange),
        (
            Request::read(11, MODULE_SECTORS - 1, 2, 0),
            Status::OutOfRange
        ),
        (Request::read(12, 0, 1, region), Status::BadBuffer),
        (Request::read(13, 0, 8, region - 512), Status::BadBuffer),
        (Request::read(14, 0, 1, 100), Status::Misaligned),
        (Request::read(15, 0, 0, 0), Status::Malformed),
        (Request::read(16, 0, 1_000_000, 0), Status::TooLarge),
        (
            Request {
                op: 9,
                ..Request::read(17, 0, 1, 0)
            },
            Status::Malformed,
        ),
        (
            Request {
                flags: 1,
                ..Request::read(18, 0, 1, 0)
            },
            Status::Malformed,
        ),
    ];
    if read_only {
        bad.push((Request::write(19, 1, 1, 0), Status::ReadOnly));
    }
    let requests: Vec<Request> = bad.iter().map(|(r, _)| *r).collect();
    let answers = run(&ring, &requests)?;
    for ((request, want), got) in bad.iter().zip(&answers) {
        ensure!(
            got.id == request.id && got.status == *want && got.count == 0,
            "request {} ({request:?}) answered {got:?}, expected {want:?}",
            request.id
        );
    }
    ring.destroy().map_err(|e| format!("destroy: {e}"))
}

/// 32 writes of 8 sectors from the data region, a flush, and the same sectors read back into
/// another part of the region, through a ring on the scratch disk `name`.
pub fn writes_read_back(name: &str) -> CaseResult {
    let (number, sectors, read_only) = disk(name)?;
    ensure!(
        !read_only && sectors >= 4096,
        "{name} is not a writable scratch disk"
    );
    let ring = BlockRing::create(number, 0, 64, 128).map_err(|e| format!("create: {e}"))?;
    let seed = (sys::rdtsc() >> 4) as u8;
    let data: Vec<u8> = (0..32 * 4096usize)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect();
    ring.data().write(0, &data);
    let writes: Vec<Request> = (0..32u64)
        .map(|i| Request::write(i, 100 + i * 8, 8, i * 4096))
        .collect();
    for r in run(&ring, &writes)? {
        ensure!(
            r.status == Status::Ok && r.count == 8,
            "write answered {r:?}"
        );
    }
    let flush = run(&ring, &[Request::flush(99)])?;
    ensure!(
        flush[0].status == Status::Ok,
        "flush answered {:?}",
        flush[0]
    );
    let reads: Vec<Request> = (0..32u64)
        .map(|i| Request::read(i, 100 + i * 8, 8, 256 * 1024 + i * 4096))
        .collect();
    for r in run(&ring, &reads)? {
        ensure!(
            r.status == Status::Ok && r.count == 8,
            "read answered {r:?}"
        );
    }
    let mut back = alloc::vec![0u8; data.len()];
    ring.data().read(256 * 1024, &mut back);
    if let Some(i) = (0..data.len()).find(|&i| back[i] != data[i]) {
        return Err(format!(
            "byte {i} read back {:#x}, {:#x} was written",
            back[i], data[i]
        ));
    }
    ring.destroy().map_err(|e| format!("destroy: {e}"))
}

/// A peer that writes random entries and moves the submission tail itself: every answer is
/// the one `lux9_blk::ring::validate` gives for the entry as written (and reads that pass come
/// back with their sectors), then corrupt indices break the ring (the doorbell fails, and
/// keeps failing) without harming anyone; a fresh ring works after. No frame or heap byte is
/// left behind, here or by a child that ends with its rings still open.
pub fn hostile_peer(name: &str) -> CaseResult {
    let (number, sectors, read_only) = disk(name)?;
    // Warm up the kernel's tables (rings, processes, the driver's) so the leak check compares
    // steady states: a ring made and destroyed here, and a child that orphans rings.
    BlockRing::create(number, 0, 16, 4)
        .and_then(BlockRing::destroy)
        .map_err(|e| format!("warm-up: {e}"))?;
    let status = spawn_wait("utest", &format!("blkring-orphan {name}"))?;
    ensure!(status.success(), "the warm-up child ended with {status:?}");
    let usage = Usage::now()?;
    let entries = 16u32;
    let pages = 16usize;
    let ring = BlockRing::create(number, 0, entries, pages).map_err(|e| format!("create: {e}"))?;
    let geometry = Geometry::new(entries).ok_or("geometry")?;
    let target = Target {
        extent: lux9_blk::Extent::new(0, sectors).ok_or("extent")?,
        sector_size: SECTOR as u32,
        region_len: (pages * 4096) as u64,
        read_only,
        max_sectors: 128,
    };
    let word = |at: usize| ring.region().word(at);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (mut tail, mut head) = (0u32, 0u32);
    for round in 0..300u32 {
        let k = 1 + (xorshift(&mut seed) % u64::from(entries)) as u32;
        let mut sent = Vec::new();
        for i in 0..k {
            let mut bytes = [0u8; 32];
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&xorshift(&mut seed).to_le_bytes());
            }
            // Half the entries are plausible: small counts, in-range sectors and offsets.
            if xorshift(&mut seed).is_multiple_of(2) {
                // Writes only where the disk refuses them: a writable disk keeps its pattern.
                bytes[8] = if read_only {
                    1 + (xorshift(&mut seed) % 2) as u8
                } else {
                    1
                };
                bytes[9..12].fill(0);
                bytes[12..16].copy_from_slice(&(1 + xorshift(&mut seed) as u32 % 8).to_le_bytes());
                let first = xorshift(&mut seed) % (sectors + 4);
                bytes[16..24].copy_from_slice(&first.to_le_bytes());
                let at = (xorshift(&mut seed) % (pages as u64 * 8 + 2)) * 512;
                bytes[24..32].copy_from_slice(&at.to_le_bytes());
            }
            bytes[..8].copy_from_slice(&(u64::from(round) << 8 | u64::from(i)).to_le_bytes());
            ring.region()
                .write(geometry.request_offset(tail.wrapping_add(i)), &bytes);
            sent.push(Request::from_bytes(&bytes));
        }
        tail = tail.wrapping_add(k);
        word(offset::SQ_TAIL).store(tail, core::sync::atomic::Ordering::Release);
        let done = ring
            .submit()
            .map_err(|e| format!("round {round}: blk_ring_submit: {e}"))?;
        ensure!(done == k as usize, "round {round}: {done} answers for {k}");
        let mut answers = Vec::with_capacity(sent.len());
        for i in 0..sent.len() {
            let mut bytes = [0u8; 16];
            ring.region().read(
                geometry.response_offset(head.wrapping_add(i as u32)),
                &mut bytes,
            );
            answers.push(
                Response::from_bytes(&bytes)
                    .map_err(|code| format!("round {round}: unknown status {code}"))?,
            );
        }
        for request in &sent {
            // Ids are unique in a round; refused entries are answered first.
            let got = answers
                .iter()
                .find(|a| a.id == request.id)
                .copied()
                .ok_or_else(|| format!("round {round}: no answer for {}", request.id))?;
            let want = match validate(request, &target) {
                Err(status) => status,
                // A write the disk accepts would change it; the plausible writes of the
                // pattern disk (read-only) are refused above.
                Ok(_) => Status::Ok,
            };
            ensure!(
                got.id == request.id && got.status == want,
                "round {round}: {request:?} answered {got:?}, validate says {want:?}"
            );
            // Two reads of one round may share buffer bytes; whichever the device did last
            // wins, so only a read whose buffer no other passing request touches is checked.
            let span = |r: &Request| r.offset..r.offset + u64::from(r.count) * SECTOR as u64;
            let alone = sent.iter().all(|other| {
                other.id == request.id
                    || validate(other, &target).is_err()
                    || span(other).end <= span(request).start
                    || span(request).end <= span(other).start
            });
            if want == Status::Ok && request.op == 1 && alone {
                check_pattern(&ring, request.offset as usize, request.first, request.count)
                    .map_err(|why| format!("round {round}: {why}"))?;
            }
        }
        head = head.wrapping_add(k);
        word(offset::CQ_HEAD).store(head, core::sync::atomic::Ordering::Release);
    }
    // A tail far ahead: the ring is refused, now and later; the process goes on.
    word(offset::SQ_TAIL).store(
        tail.wrapping_add(5_000),
        core::sync::atomic::Ordering::Release,
    );
    ensure!(
        ring.submit() == Err(Error::InvalidArgument),
        "a submission tail 5,000 ahead was accepted"
    );
    word(offset::SQ_TAIL).store(tail, core::sync::atomic::Ordering::Release);
    ensure!(
        ring.submit() == Err(Error::InvalidArgument),
        "a broken ring was used again"
    );
    ring.destroy().map_err(|e| format!("destroy: {e}"))?;
    // A completion head moved backwards breaks a fresh ring too.
    let second =
        BlockRing::create(number, 0, entries, pages).map_err(|e| format!("create: {e}"))?;
    run(&second, &[Request::read(1, 1, 1, 0)])?;
    second
        .region()
        .word(offset::CQ_HEAD)
        .store(u32::MAX - 3, core::sync::atomic::Ordering::Release);
    let mut server = second.server().map_err(|e| format!("attach: {e:?}"))?;
    let _ = server.submit(&[Request::read(2, 1, 1, 0)]);
    ensure!(
        second.submit() == Err(Error::InvalidArgument),
        "a completion head moved backwards was accepted"
    );
    second.destroy().map_err(|e| format!("destroy: {e}"))?;
    // Rings left open by a child that ends are freed with it.
    let status = spawn_wait("utest", &format!("blkring-orphan {name}"))?;
    ensure!(
        status.success(),
        "the orphaning child ended with {status:?}"
    );
    usage.unchanged_since("after the hostile rounds and an orphaned ring")?;
    // And the disk still serves a fresh ring.
    let fresh = BlockRing::create(number, 0, 8, 4).map_err(|e| format!("create: {e}"))?;
    let answer = run(&fresh, &[Request::read(1, 5, 2, 0)])?;
    ensure!(
        answer[0].status == Status::Ok,
        "a fresh ring read gave {:?}",
        answer[0]
    );
    check_pattern(&fresh, 0, 5, 2)?;
    fresh.destroy().map_err(|e| format!("destroy: {e}"))
}

/// `utest blkring-orphan DISK`: opens rings on DISK, reads through them, and exits without
/// destroying them.
pub fn orphan(name: &str) -> CaseResult {
    let (number, _, _) = disk(name)?;
    for _ in 0..3 {
        let ring = BlockRing::create(number, 0, 32, 16).map_err(|e| format!("create: {e}"))?;
        run(
            &ring,
            &[Request::read(1, 1, 8, 0), Request::read(2, 9, 8, 4096)],
        )?;
        // Not destroyed: the kernel frees it when this process ends.
    }
    Ok(())
}

/// Collects `n` responses from `ring`, sleeping on `server_waiting` while none are there, for at
/// most five seconds in all.
fn collect(
    ring: &BlockRing,
    server: &mut lux9_blk::ring::Server<lux9_rt::shared::Memory>,
    n: usize,
) -> Result<Vec<Response>, String> {
    let blank = Response {
        id: 0,
        status: Status::Ok,
        count: 0,
    };
    let mut out = Vec::with_capacity(n);
    let mut buffer = alloc::vec![blank; n];
    let start = sys::rdtsc();
    let limit = 5_000 * sys::info(lux9_rt::abi::syscall::Info::TscPerMs, 0).unwrap_or(1_000_000);
    while out.len() < n {
        let got = server
            .poll(&mut buffer[..n - out.len()])
            .map_err(|e| format!("poll: {e:?}"))?;
        out.extend_from_slice(&buffer[..got]);
        if out.len() == n {
            break;
        }
        if sys::rdtsc() - start > limit {
            return Err(format!("only {} of {n} responses in 5 s", out.len()));
        }
        ring.wait_for_responses(server, 1_000)
            .map_err(|e| format!("futex_wait: {e}"))?;
    }
    Ok(out)
}

/// `blk_ring_submit(id, ASYNC)`: 48 reads handed to the ring's worker, the call returning at
/// once; the server sleeps on `server_waiting` and the worker wakes it with the responses, each
/// read checked in its place. A ring destroyed while its worker may be busy, and a child that
/// ends right after an asynchronous doorbell, leave no frame or heap byte behind once the
/// workers have ended.
pub fn asynchronous(name: &str) -> CaseResult {
    let (number, _, _) = disk(name)?;
    // Warm-up: one worker started and ended.
    let warm = BlockRing::create(number, 0, 8, 4).map_err(|e| format!("create: {e}"))?;
    let mut server = warm.server().map_err(|e| format!("attach: {e:?}"))?;
    server
        .submit(&[Request::read(1, 1, 1, 0)])
        .map_err(|e| format!("submit: {e:?}"))?;
    warm.submit_async()
        .map_err(|e| format!("async doorbell: {e}"))?;
    collect(&warm, &mut server, 1)?;
    warm.destroy().map_err(|e| format!("destroy: {e}"))?;
    settle();
    let usage = Usage::now()?;

    let ring = BlockRing::create(number, 0, 64, 64).map_err(|e| format!("create: {e}"))?;
    let mut server = ring.server().map_err(|e| format!("attach: {e:?}"))?;
    let mut seed = 0x1234_5678_9abc_def1u64;
    let reads: Vec<Request> = (0..48u64)
        .map(|i| {
            let count = 1 + (xorshift(&mut seed) % 8) as u32;
            let first = 1 + xorshift(&mut seed) % (MODULE_SECTORS - 9);
            Request::read(100 + i, first, count, i * 4096)
        })
        .collect();
    let sent = server
        .submit(&reads)
        .map_err(|e| format!("submit: {e:?}"))?;
    ensure!(sent == reads.len(), "only {sent} requests fit");
    ring.submit_async()
        .map_err(|e| format!("async doorbell: {e}"))?;
    let answers = collect(&ring, &mut server, reads.len())?;
    for request in &reads {
        let got = answers
            .iter()
            .find(|a| a.id == request.id)
            .ok_or_else(|| format!("no response for {}", request.id))?;
        ensure!(
            got.status == Status::Ok && got.count == request.count,
            "read {} answered {got:?}",
            request.id
        );
        check_pattern(&ring, request.offset as usize, request.first, request.count)?;
    }
    // Destroyed right after a doorbell: the worker may hold the ring; it frees it.
    server
        .submit(&reads[..8])
        .map_err(|e| format!("submit: {e:?}"))?;
    ring.submit_async()
        .map_err(|e| format!("async doorbell: {e}"))?;
    ring.destroy().map_err(|e| format!("destroy: {e}"))?;
    let status = spawn_wait("utest", &format!("blkring-async-orphan {name}"))?;
    ensure!(
        status.success(),
        "the orphaning child ended with {status:?}"
    );
    settle();
    usage.unchanged_since("after asynchronous rings, a destroy under way and an orphan")
}

/// Lets ended workers and processes be reaped (their stacks go after the next switches).
fn settle() {
    for _ in 0..5 {
        sys::sleep_ms(20);
    }
}

/// `utest blkring-async-orphan DISK`: rings an asynchronous doorbell and exits at once.
pub fn async_orphan(name: &str) -> CaseResult {
    let (number, _, _) = disk(name)?;
    let ring = BlockRing::create(number, 0, 32, 16).map_err(|e| format!("create: {e}"))?;
    let mut server = ring.server().map_err(|e| format!("attach: {e:?}"))?;
    let reads: Vec<Request> = (0..16u64)
        .map(|i| Request::read(i, 1 + i * 8, 8, i * 4096))
        .collect();
    server
        .submit(&reads)
        .map_err(|e| format!("submit: {e:?}"))?;
    ring.submit_async()
        .map_err(|e| format!("async doorbell: {e}"))?;
    Ok(())
}
