//! `bench blk`: raw block reads through each PCI disk's driver, from ring 3 through a block
//! ring (the device moves the sectors straight into the ring's data region):
//!
//! - `blk_read_4k_<driver>`: 2,000 reads of 4 KiB at scattered 4 KiB-aligned places, one
//!   request per doorbell; ticks per read.
//! - `blk_seqread_<driver>`: the whole disk in order in 64 KiB requests, 8 in flight (8 per
//!   doorbell); ticks per MiB.
//!
//! After each `BENCH` line, a `blk:` line gives the kernel's zero-copy transfers per request
//! and doorbells (batches) per request, from `ipc_stats`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lux9_blk::ring::{Request, Response, Status};
use lux9_rt::abi::sysinfo::SysInfo;
use lux9_rt::shared::BlockRing;
use lux9_rt::{ipc, println, sys};

use super::{report, switches_text};

/// A PCI disk: (number in the kernel's list, name, driver, sectors, sector size).
type Disk = (usize, String, String, u64, u64);

/// The PCI disks, in the kernel's order.
fn disks() -> Result<Vec<Disk>, String> {
    let text = sys::sysinfo_text(SysInfo::Disks, 0).map_err(|e| format!("sysinfo: {e}"))?;
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            let name = *fields.first()?;
            name.starts_with("sd").then(|| {
                (
                    n,
                    name.into(),
                    (*fields.get(4).unwrap_or(&"?")).into(),
                    fields.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
                    fields.get(2).and_then(|s| s.parse().ok()).unwrap_or(512),
                )
            })
        })
        .collect())
}

fn short(driver: &str) -> &str {
    match driver {
        "virtio-blk" => "virtio",
        other => other,
    }
}

/// One doorbell for `requests`; every response must be OK.
fn round(
    ring: &BlockRing,
    server: &mut lux9_blk::ring::Server<lux9_rt::shared::Memory>,
    requests: &[Request],
    responses: &mut [Response],
) -> Result<(), String> {
    let sent = server
        .submit(requests)
        .map_err(|e| format!("submit: {e:?}"))?;
    if sent != requests.len() {
        return Err(format!("only {sent} of {} requests fit", requests.len()));
    }
    ring.submit().map_err(|e| format!("blk_ring_submit: {e}"))?;
    let got = server
        .poll(&mut responses[..requests.len()])
        .map_err(|e| format!("poll: {e:?}"))?;
    if got != requests.len() {
        return Err(format!("{got} responses for {sent} requests"));
    }
    if let Some(bad) = responses[..got].iter().find(|r| r.status != Status::Ok) {
        return Err(format!("a read failed: {bad:?}"));
    }
    Ok(())
}

fn stats_note(name: &str, requests: u64, before: &lux9_rt::abi::ipc::IpcStats) {
    if let Ok(after) = ipc::stats(0) {
        let per = |a: u64, b: u64| (a - b) * 100 / requests.max(1);
        let zero_copy = per(after.zero_copy_transfers, before.zero_copy_transfers);
        let batches = per(after.batches, before.batches);
        println!(
            "blk: {name}: {requests} requests, zero_copy_per_request={}.{:02} doorbells_per_request={}.{:02}",
            zero_copy / 100,
            zero_copy % 100,
            batches / 100,
            batches % 100
        );
    }
}

fn measure(number: usize, driver: &str, sectors: u64, sector: u64) -> Result<(), String> {
    let ring = BlockRing::create(number, 0, 64, 128).map_err(|e| format!("create: {e}"))?;
    let mut server = ring.server().map_err(|e| format!("attach: {e:?}"))?;
    let blank = Response {
        id: 0,
        status: Status::Ok,
        count: 0,
    };
    let mut responses = [blank; 64];
    let per_4k = (4096 / sector) as u32;
    let slots = sectors / u64::from(per_4k);
    if slots < 16 {
        return Err("too small to measure".into());
    }
    round(
        &ring,
        &mut server,
        &[Request::read(0, 0, per_4k, 0)],
        &mut responses,
    )?;

    let reads = 2_000u64;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let before = ipc::stats(0).map_err(|e| format!("ipc_stats: {e}"))?;
    let switches = switches_text()?;
    let start = sys::rdtsc();
    for i in 0..reads {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let first = (seed % slots) * u64::from(per_4k);
        round(
            &ring,
            &mut server,
            &[Request::read(i, first, per_4k, 0)],
            &mut responses,
        )?;
    }
    let ticks = sys::rdtsc() - start;
    let name = format!("blk_read_4k_{}", short(driver));
    report(&name, reads, ticks, switches_text()? - switches);
    stats_note(&name, reads, &before);

    let per_request = (64 * 1024 / sector) as u32;
    let total = sectors / u64::from(per_request) * u64::from(per_request);
    let mib = (total * sector) >> 20;
    if mib == 0 {
        return Err("smaller than 1 MiB".into());
    }
    let before = ipc::stats(0).map_err(|e| format!("ipc_stats: {e}"))?;
    let switches = switches_text()?;
    let start = sys::rdtsc();
    let mut first = 0;
    let mut requests_made = 0u64;
    while first < total {
        let batch: Vec<Request> = (0..8u64)
            .map(|i| first + i * u64::from(per_request))
            .filter(|&at| at < total)
            .enumerate()
            .map(|(i, at)| Request::read(at, at, per_request, i as u64 * 64 * 1024))
            .collect();
        first += batch.len() as u64 * u64::from(per_request);
        requests_made += batch.len() as u64;
        round(&ring, &mut server, &batch, &mut responses)?;
    }
    let ticks = sys::rdtsc() - start;
    let name = format!("blk_seqread_{}", short(driver));
    report(&name, mib, ticks, switches_text()? - switches);
    stats_note(&name, requests_made, &before);
    ring.destroy().map_err(|e| format!("destroy: {e}"))
}

/// Every PCI disk, in the kernel's order.
pub fn run() -> Result<(), String> {
    let found = disks()?;
    if found.is_empty() {
        return Err("no PCI disk (sdN) to measure".into());
    }
    for (number, name, driver, sectors, sector) in found {
        measure(number, &driver, sectors, sector).map_err(|why| format!("{name}: {why}"))?;
    }
    Ok(())
}
