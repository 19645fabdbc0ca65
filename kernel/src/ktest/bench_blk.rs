//! `test=bench-blk`: raw block reads through each PCI disk's driver, measured in the kernel on
//! the block layer's direct path (the one the block ring uses: the device transfers straight
//! into a DMA buffer, nothing is copied). One `BENCH` line per figure and disk:
//!
//! - `blk_read_4k_<driver>`: 2,000 reads of 4 KiB at scattered 4 KiB-aligned places, one
//!   request at a time; ticks per read.
//! - `blk_seqread_<driver>`: the whole disk (16 MiB in `cargo xtask bench`) read in order in
//!   64 KiB requests, 8 in flight (batches of 8 handed to the driver at once); ticks per MiB.
//!
//! Switches are the kernel's total context switches over the run, per operation: waiting for a
//! device's interrupt blocks this thread and switches to the idle thread and back.

use alloc::vec::Vec;

use crate::arch::cpu;
use crate::block::{self, Op, Request};
use crate::dma::DmaBuffer;
use crate::{println, sched};

fn short(driver: &str) -> &str {
    match driver {
        "virtio-blk" => "virtio",
        other => other,
    }
}

fn line(name: &str, driver: &str, ops: u64, ticks: u64, switches: u64) {
    let hundredths = switches * 100 / ops.max(1);
    println!(
        "BENCH name={name}_{} ops={ops} ticks_per_op={} switches_per_op={}.{:02}",
        short(driver),
        ticks / ops.max(1),
        hundredths / 100,
        hundredths % 100
    );
}

/// Runs both figures on every `sdN` disk; `false` if a read failed.
pub fn run() -> bool {
    let mut ok = true;
    for disk in block::all()
        .into_iter()
        .filter(|d| d.name.starts_with("sd"))
    {
        if let Err(why) = measure(&disk) {
            println!("bench-blk: {}: {why}", disk.name);
            ok = false;
        }
    }
    ok
}

fn measure(disk: &block::BlockDevice) -> Result<(), alloc::string::String> {
    let sector = u64::from(disk.sector_size);
    let per_4k = (4096 / sector) as u32;
    let buffer = DmaBuffer::new(8 * 16).ok_or("no memory for the buffer")?;
    let slots = disk.sectors / u64::from(per_4k);
    if slots < 16 {
        return Err("too small to measure".into());
    }
    // Warm up: the first request pays for QEMU's first touch of the image.
    let mut warm = [Request::new(Op::Read, 0, per_4k, buffer.phys())];
    disk.run_direct(&mut warm)
        .map_err(|e| alloc::format!("{e:?}"))?;
    warm[0].result.map_err(|e| alloc::format!("{e:?}"))?;

    let reads = 2_000u64;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (switches, start) = (sched::total_switches(), cpu::rdtsc());
    for _ in 0..reads {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let lba = (seed % slots) * u64::from(per_4k);
        let mut one = [Request::new(Op::Read, lba, per_4k, buffer.phys())];
        disk.run_direct(&mut one)
            .map_err(|e| alloc::format!("{e:?}"))?;
        one[0]
            .result
            .map_err(|e| alloc::format!("read at {lba}: {e:?}"))?;
    }
    let ticks = cpu::rdtsc() - start;
    line(
        "blk_read_4k",
        disk.driver,
        reads,
        ticks,
        sched::total_switches() - switches,
    );

    let per_request = (64 * 1024 / sector) as u32;
    let total = disk.sectors / u64::from(per_request) * u64::from(per_request);
    let mib = (total * sector) >> 20;
    if mib == 0 {
        return Err("smaller than 1 MiB".into());
    }
    let (switches, start) = (sched::total_switches(), cpu::rdtsc());
    let mut lba = 0;
    while lba < total {
        let mut batch: Vec<Request> = (0..8u64)
            .map(|i| lba + i * u64::from(per_request))
            .filter(|&at| at < total)
            .enumerate()
            .map(|(i, at)| {
                Request::new(
                    Op::Read,
                    at,
                    per_request,
                    buffer.phys() + i as u64 * 64 * 1024,
                )
            })
            .collect();
        lba += batch.len() as u64 * u64::from(per_request);
        disk.run_direct(&mut batch)
            .map_err(|e| alloc::format!("{e:?}"))?;
        for r in &batch {
            r.result
                .map_err(|e| alloc::format!("read at {}: {e:?}", r.lba))?;
        }
    }
    let ticks = cpu::rdtsc() - start;
    line(
        "blk_seqread",
        disk.driver,
        mib,
        ticks,
        sched::total_switches() - switches,
    );
    Ok(())
}
