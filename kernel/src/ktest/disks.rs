//! `test=disks`: QEMU attaches two disks on one bus (virtio, AHCI or IDE): `sd0` holds the
//! pattern (`lux9_blk::pattern`, each sector its own number and a checksum, with the MBR that
//! xtask's sfdisk wrote) and `sd1` is a blank scratch disk. Each case goes through the block
//! layer and the disk's driver, so the same cases check every driver.

use alloc::format;
use alloc::vec::Vec;

use lux9_blk::pattern::{self as pattern_disk, MODULE_SECTORS, SECTOR};

use super::{Case, CaseResult, utest};
use crate::block::{self, BlockError, Op, Request};
use crate::boot_info::BootInfo;
use crate::dma::DmaBuffer;
use crate::println;

pub const CASES: [Case; 10] = [
    (
        "pattern_disk_reads_back_through_its_driver",
        pattern_disk_reads_back,
    ),
    (
        "scratch_disk_gpt_partitions_are_found",
        scratch_disk_gpt_partitions_are_found,
    ),
    ("many_requests_in_flight_at_once", many_requests_in_flight),
    (
        "scratch_disk_writes_read_back",
        scratch_disk_writes_read_back,
    ),
    ("bad_requests_are_refused", bad_requests_are_refused),
    (
        "a_user_server_reads_and_writes_through_a_block_ring",
        block_ring_from_user_space,
    ),
    (
        "an_ext4_partition_mounts_and_every_file_reads_back",
        ext4_partition_reads_back,
    ),
    (
        "a_killed_ext4srv_fails_its_clients_and_comes_back",
        killed_ext4srv_comes_back,
    ),
    // After every other use of sd2: it leaves sd2 given up (virtio-blk, AHCI).
    (
        "an_ext4_read_the_disk_fails_gets_an_error",
        ext4_read_the_disk_fails,
    ),
    // Last: it leaves sd1 given up.
    (
        "a_device_that_does_not_answer_times_out",
        a_device_that_does_not_answer_times_out,
    ),
];

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn disk(name: &str) -> Result<alloc::sync::Arc<block::BlockDevice>, alloc::string::String> {
    block::find(name).ok_or_else(|| {
        format!(
            "no {name}: the disks found are {:?}",
            block::all()
                .iter()
                .map(|d| d.name.clone())
                .collect::<Vec<_>>()
        )
    })
}

fn check_sectors(first: u64, bytes: &[u8]) -> CaseResult {
    for (i, sector) in bytes.chunks(SECTOR).enumerate() {
        let number = first + i as u64;
        if number == 0 {
            continue; // the MBR
        }
        pattern_disk::check(number, sector).map_err(|why| format!("sector {number}: {why}"))?;
    }
    Ok(())
}

/// The disk's size and partitions; single sectors at both ends and 200 scattered ones; the whole
/// disk in one read (split into many requests by the block layer); each partition's bytes at
/// odd offsets, which are the disk's bytes at the partition's start.
fn pattern_disk_reads_back(_: &'static BootInfo) -> CaseResult {
    let sd0 = disk("sd0")?;
    println!(
        "ktest: disks: sd0 driver {} ({}), sd1 driver {}",
        sd0.driver,
        sd0.model,
        block::find("sd1").map_or("-", |d| d.driver)
    );
    ensure!(
        (sd0.sectors, sd0.sector_size) == (MODULE_SECTORS, SECTOR as u32),
        "sd0 is {} sectors of {} bytes, expected {MODULE_SECTORS} of {SECTOR}",
        sd0.sectors,
        sd0.sector_size
    );
    let found: Vec<(u32, u64, u64)> = sd0
        .partitions
        .iter()
        .map(|(n, e)| (*n, e.first(), e.count()))
        .collect();
    let want: Vec<(u32, u64, u64)> = pattern_disk::PARTITIONS
        .iter()
        .map(|&(n, first, count, _)| (n, first, count))
        .collect();
    ensure!(
        found == want,
        "sd0's partitions are {found:?}, not {want:?}"
    );
    let mut one = [0u8; SECTOR];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let scattered: Vec<u64> = (0..200)
        .map(|_| xorshift(&mut seed) % MODULE_SECTORS)
        .collect();
    for sector in [1, MODULE_SECTORS - 1].into_iter().chain(scattered) {
        sd0.read(sector, &mut one)
            .map_err(|e| format!("reading sector {sector}: {e:?}"))?;
        check_sectors(sector, &one)?;
    }
    let mut all = alloc::vec![0u8; MODULE_SECTORS as usize * SECTOR];
    sd0.read(0, &mut all)
        .map_err(|e| format!("reading the whole disk: {e:?}"))?;
    check_sectors(0, &all)?;
    for &(part, first, count, _) in &pattern_disk::PARTITIONS {
        let size = count * SECTOR as u64;
        for (offset, len) in [(0, 512), (1, 1000), (size - 700, 4096), (size, 10)] {
            let mut buf = alloc::vec![0u8; len];
            let n = sd0
                .read_bytes(part, offset, &mut buf)
                .map_err(|e| format!("p{part} at {offset}: {e:?}"))?;
            let expect = (size.saturating_sub(offset) as usize).min(len);
            ensure!(
                n == expect,
                "p{part}: {len} bytes at {offset} read {n}, expected {expect}"
            );
            let at = (first * SECTOR as u64 + offset) as usize;
            ensure!(
                buf[..n] == all[at..at + n],
                "p{part}: the bytes at {offset} are not the disk's at {at}"
            );
        }
    }
    Ok(())
}

/// sd1 carries the GPT that xtask's sfdisk wrote: its partitions are found with their numbers,
/// first sectors and lengths (read at boot, before the writes below wipe the primary table).
fn scratch_disk_gpt_partitions_are_found(_: &'static BootInfo) -> CaseResult {
    use lux9_blk::pattern::{SCRATCH_GPT, SCRATCH_SECTORS};
    let sd1 = disk("sd1")?;
    ensure!(
        sd1.sectors == SCRATCH_SECTORS,
        "sd1 has {} sectors, expected {SCRATCH_SECTORS}",
        sd1.sectors
    );
    let found: Vec<(u32, u64, u64)> = sd1
        .partitions
        .iter()
        .map(|(n, e)| (*n, e.first(), e.count()))
        .collect();
    ensure!(
        found == SCRATCH_GPT,
        "sd1's GPT partitions are {found:?}, not {SCRATCH_GPT:?}"
    );
    Ok(())
}

/// 48 requests of 1 to 16 sectors at scattered places, all handed to the driver at once into
/// one DMA buffer, each landing in its own place.
fn many_requests_in_flight(_: &'static BootInfo) -> CaseResult {
    let sd0 = disk("sd0")?;
    let buffer = DmaBuffer::new(48 * 16 * SECTOR / 4096).ok_or("no memory for the buffer")?;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut requests: Vec<Request> = (0..48u64)
        .map(|i| {
            let sectors = 1 + (xorshift(&mut seed) % 16) as u32;
            let lba = 1 + xorshift(&mut seed) % (MODULE_SECTORS - 17);
            Request::new(
                Op::Read,
                lba,
                sectors,
                buffer.phys() + i * 16 * SECTOR as u64,
            )
        })
        .collect();
    sd0.run_direct(&mut requests)
        .map_err(|e| format!("the batch was refused: {e:?}"))?;
    for (i, r) in requests.iter().enumerate() {
        r.result.map_err(|e| format!("request {i} failed: {e:?}"))?;
        let at = i * 16 * SECTOR;
        check_sectors(r.lba, &buffer.bytes()[at..at + r.sectors as usize * SECTOR])
            .map_err(|why| format!("request {i} (lba {}): {why}", r.lba))?;
    }
    Ok(())
}

fn scratch_byte(seed: u64, at: u64) -> u8 {
    (at.wrapping_mul(0x9e37_79b9).wrapping_add(seed) >> 7) as u8
}

/// 1 MiB written through the bounce buffer, a batch of direct writes, a flush, and bytes at odd
/// offsets (read-modify-write of partial sectors); everything read back, neighbours untouched.
fn scratch_disk_writes_read_back(_: &'static BootInfo) -> CaseResult {
    let sd1 = disk("sd1")?;
    ensure!(!sd1.read_only, "sd1 is read-only");
    let seed = crate::time::ticks() | 1;
    let len = (1usize << 20).min(sd1.size() as usize / 2);
    let data: Vec<u8> = (0..len as u64).map(|i| scratch_byte(seed, i)).collect();
    sd1.write(0, &data)
        .map_err(|e| format!("writing {len} bytes: {e:?}"))?;
    sd1.flush().map_err(|e| format!("flush: {e:?}"))?;
    let mut back = alloc::vec![0u8; len];
    sd1.read(0, &mut back)
        .map_err(|e| format!("reading back: {e:?}"))?;
    if let Some(i) = (0..len).find(|&i| back[i] != data[i]) {
        return Err(format!(
            "byte {i} reads {:#x}, {:#x} was written",
            back[i], data[i]
        ));
    }
    // Direct writes: 16 requests of 8 sectors after the first MiB.
    let mut buffer = DmaBuffer::new(16).ok_or("no memory")?;
    for (i, b) in buffer.bytes_mut().iter_mut().enumerate() {
        *b = scratch_byte(!seed, i as u64);
    }
    let base = (len / SECTOR) as u64;
    let mut writes: Vec<Request> = (0..16u64)
        .map(|i| Request::new(Op::Write, base + i * 8, 8, buffer.phys() + i * 4096))
        .collect();
    sd1.run_direct(&mut writes)
        .map_err(|e| format!("direct writes refused: {e:?}"))?;
    for (i, r) in writes.iter().enumerate() {
        r.result.map_err(|e| format!("direct write {i}: {e:?}"))?;
    }
    let mut direct = alloc::vec![0u8; 16 * 4096];
    sd1.read(base, &mut direct)
        .map_err(|e| format!("reading the direct writes: {e:?}"))?;
    ensure!(
        direct[..] == buffer.bytes()[..],
        "the direct writes did not read back"
    );
    // Odd bytes inside the first MiB.
    let patch = [0x5au8; 3000];
    let offset = 1001;
    let n = sd1
        .write_bytes(0, offset, &patch)
        .map_err(|e| format!("write_bytes: {e:?}"))?;
    ensure!(n == patch.len(), "write_bytes wrote {n} bytes");
    let mut around = alloc::vec![0u8; 6000];
    sd1.read_bytes(0, 0, &mut around)
        .map_err(|e| format!("read_bytes: {e:?}"))?;
    for (i, &b) in around.iter().enumerate() {
        let want = if (1001..4001).contains(&i) {
            0x5a
        } else {
            data[i]
        };
        ensure!(
            b == want,
            "byte {i} after the patch is {b:#x}, expected {want:#x}"
        );
    }
    Ok(())
}

/// Reads past the end, partial sectors, direct requests outside the disk and writes to the
/// read-only boot-module disk are refused before any driver sees them.
fn bad_requests_are_refused(_: &'static BootInfo) -> CaseResult {
    let sd0 = disk("sd0")?;
    let mut one = [0u8; SECTOR];
    ensure!(
        matches!(
            sd0.read(MODULE_SECTORS, &mut one),
            Err(BlockError::OutOfRange(_))
        ),
        "a read past the end was not refused"
    );
    ensure!(
        matches!(sd0.read(0, &mut one[..100]), Err(BlockError::PartialSector)),
        "a partial sector was not refused"
    );
    let buffer = DmaBuffer::new(1).ok_or("no memory")?;
    let mut past = [Request::new(Op::Read, MODULE_SECTORS - 2, 4, buffer.phys())];
    ensure!(
        matches!(sd0.run_direct(&mut past), Err(BlockError::OutOfRange(_))),
        "a direct request past the end was not refused"
    );
    let mut huge = [Request::new(
        Op::Read,
        0,
        sd0.max_sectors() + 1,
        buffer.phys(),
    )];
    ensure!(
        sd0.run_direct(&mut huge).is_err(),
        "a direct request above the driver's limit was not refused"
    );
    if let Some(rd0) = block::find("rd0") {
        ensure!(
            rd0.write(1, &one) == Err(BlockError::ReadOnly),
            "a write to the read-only rd0 was not refused"
        );
    }
    Ok(())
}

/// `utest blkring sd0 sd1` in ring 3: 48 reads in one submission into a block ring's data
/// region, zero-copy and counted so, every refusal rule, 32 writes and a flush on the scratch
/// disk read back, and the hostile peer (see programs/src/bin/utest/blkring.rs).
fn block_ring_from_user_space(_: &'static BootInfo) -> CaseResult {
    utest("blkring sd0 sd1")?;
    Ok(())
}

/// `utest ext4 /dev/sd2/pN MOUNT` in ring 3 for both partitions of the third disk (a GPT: ext4
/// with 4 KiB blocks, then with 1 KiB blocks): `mount ext4` starts an isolated ext4srv on each,
/// which reads it through a block ring; every file of each tree xtask made is read back through
/// 9P and hashed against its `SHA256SUMS` (see programs/src/bin/utest/ext4.rs).
fn ext4_partition_reads_back(_: &'static BootInfo) -> CaseResult {
    utest("ext4 /dev/sd2/p1 /ext4")?;
    utest("ext4 /dev/sd2/p2 /ext4-1k")
}

/// `utest ext4-kill /dev/sd2/p1 /ext4` in ring 3 (the volume the case before mounted): its
/// ext4srv killed twice under a client with 64 reads in flight, which must fail within 1 s;
/// the supervisor restarts the server, a new process reads files back, no frame leaks; then
/// `mount -u` and a second mount (see programs/src/bin/utest/ext4.rs).
fn killed_ext4srv_comes_back(_: &'static BootInfo) -> CaseResult {
    utest("ext4-kill /dev/sd2/p1 /ext4")
}

/// A device error in the middle of serving a volume: sd2's driver loses its next batch (timeout
/// cut to 300 ms) and `utest ext4-ioerror /ext4 one-mib.bin` (a file the server, freshly
/// remounted by the case before, has not read) must get an `i/o error` within 5 s, while the
/// server goes on serving what it has cached and keeps its placement (see
/// programs/src/bin/utest/ext4.rs).
fn ext4_read_the_disk_fails(_: &'static BootInfo) -> CaseResult {
    with_next_batch_lost("sd2", |_| utest("ext4-ioerror /ext4 one-mib.bin"))
}

/// Runs `body` while disk `name`'s driver loses its next batch (its doorbell is never rung),
/// with the driver timeout cut to 300 ms; the timeout is restored afterwards, whatever `body`
/// returned.
fn with_next_batch_lost(
    name: &str,
    body: impl FnOnce(&block::BlockDevice) -> CaseResult,
) -> CaseResult {
    let device = disk(name)?;
    let before = crate::drivers::timeout_ms();
    crate::drivers::set_timeout_ms(300);
    let result = if device.lose_next_batch() {
        body(&device)
    } else {
        Err(format!(
            "the {} driver cannot lose a batch for this test",
            device.driver
        ))
    };
    crate::drivers::set_timeout_ms(before);
    result
}

/// sd1's driver is told to lose the next batch (its doorbell is never rung), with the timeout
/// cut to 300 ms: the read fails with `TimedOut` after about that long, the kernel log names the
/// device, and the next read neither hangs nor waits again: a driver that gave the device up
/// fails it at once (virtio-blk, AHCI), one that reset it serves it (IDE).
fn a_device_that_does_not_answer_times_out(_: &'static BootInfo) -> CaseResult {
    use crate::block::IoError;
    with_next_batch_lost("sd1", |sd1| {
        let mut one = [0u8; SECTOR];
        let start = crate::time::uptime_ms();
        let got = sd1.read(1, &mut one);
        let took = crate::time::uptime_ms() - start;
        ensure!(
            got == Err(BlockError::Io(IoError::TimedOut)),
            "a lost request gave {got:?}, not a timeout"
        );
        ensure!(
            (290..3000).contains(&took),
            "the timeout of 300 ms took {took} ms"
        );
        // Then the driver has either given the device up (the next read fails at once) or
        // reset it (the next read works): either way, no second wait.
        let start = crate::time::uptime_ms();
        let again = sd1.read(2, &mut one);
        let took = crate::time::uptime_ms() - start;
        ensure!(
            matches!(again, Ok(()) | Err(BlockError::Io(IoError::TimedOut))) && took < 100,
            "after the timeout, a read gave {again:?} in {took} ms"
        );
        let mut log = alloc::vec![0u8; 4096];
        let (_, total) = crate::console::kmsg_read(u64::MAX, &mut []);
        let (n, _) = crate::console::kmsg_read(total.saturating_sub(4096), &mut log);
        let log = core::str::from_utf8(&log[..n]).unwrap_or("");
        ensure!(
            log.contains("no completion in 300 ms"),
            "the kernel log does not say which device timed out"
        );
        Ok(())
    })
}
