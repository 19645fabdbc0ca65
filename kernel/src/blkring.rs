//! Block rings: a server's zero-copy path to a disk or partition.
//!
//! `blk_ring_create(disk, part, entries | data_pages << 16)` allocates a ring region (the
//! `lux9_blk::ring` layout: header, `entries` request slots, `entries` response slots) and a
//! data region of `data_pages` pages, both physically contiguous, and maps them one after the
//! other, writable, into the caller. The server writes requests (operation, sectors of the
//! disk or partition the ring is bound to, an offset into the data region) and rings the
//! doorbell with `blk_ring_submit(id)`: the kernel takes every request waiting, checks each one
//! (`lux9_blk::ring::validate`: a malformed entry, a sector range outside the partition, a
//! buffer outside the data region or not sector-aligned, a write to a read-only disk, a request
//! above the driver's limit each complete with their error status), hands the valid ones to the
//! driver in one batch, and the device moves the sectors straight into or out of the data
//! region: the kernel copies nothing. The call returns once every response is published; the
//! server reads them from the ring. A hostile index (a submission tail more than a ring ahead,
//! a completion head out of place) breaks the ring: the call fails and every later one on it,
//! until `blk_ring_destroy(id)`.
//!
//! **Asynchronous doorbell.** `blk_ring_submit(id, ASYNC)` returns at once: the ring's worker
//! (a kernel thread started on the first such call) takes the requests and runs them while the
//! server goes on, publishing each batch's responses as it completes. A server with nothing left
//! to do announces that it sleeps (`server_waiting`, the `lux9-ring` doorbell protocol) and
//! sleeps with `futex_wait` on that word; the worker wakes it after publishing only if it set
//! the word, so a server that is still busy costs no wake-up.
//!
//! Each request the device completes counts as a zero-copy transfer in the caller's
//! `ipc_stats` (`zero_copy_transfers`), and each trip to the driver as a batch.
//!
//! The regions are freed when the ring is destroyed or its process ends (and only after any
//! transfer into them has completed: a submit in progress holds them).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use lux9_abi::Error;
use lux9_blk::ring::{Geometry, Kernel, Status, Taken, Target};
use x86_64::structures::paging::PhysFrame;

use crate::arch::address_space::PageRights;
use crate::arch::sync::IrqMutex;
use crate::block::{BlockDevice, IoError, Op, Request};
use crate::completion::Completion;
use crate::dma::{DmaBuffer, SharedRegion};
use crate::ipc::futex;
use crate::process::{self, Pid};
use crate::sched;

/// Largest data region, in pages (4 MiB).
pub const MAX_DATA_PAGES: usize = 1024;
/// Block rings one process may hold at once.
pub const MAX_PER_PROCESS: usize = 4;
/// Requests taken from the ring per trip to the driver.
const BATCH: usize = 64;

/// A ring's worker: the kernel thread that serves asynchronous doorbells.
struct Worker {
    owner: Pid,
    /// Rung by `blk_ring_submit(id, ASYNC)`.
    doorbell: Completion,
    /// The ring was destroyed or its process ended: the worker frees it (if it holds it) and
    /// ends.
    exit: core::sync::atomic::AtomicBool,
}

/// Workers by ring id.
static WORKERS: IrqMutex<BTreeMap<u64, Arc<Worker>>> = IrqMutex::new(BTreeMap::new());

/// `blk_ring_submit`'s flag: hand the requests to the ring's worker and return at once.
pub const ASYNC: usize = lux9_abi::syscall::BLK_RING_ASYNC;

struct BlkRing {
    owner: Pid,
    disk: Arc<BlockDevice>,
    endpoint: Kernel<SharedRegion>,
    ring: Arc<DmaBuffer>,
    data: Arc<DmaBuffer>,
    /// Where the ring region starts in the owner; the data region follows it.
    addr: u64,
    /// Set by a fatal fault: only `blk_ring_destroy` is left.
    broken: bool,
}

impl BlkRing {
    fn pages(&self) -> usize {
        (self.ring.len() + self.data.len()) / 4096
    }
}

struct Table {
    rings: BTreeMap<u64, BlkRing>,
    next_id: u64,
}

static RINGS: IrqMutex<Table> = IrqMutex::new(Table {
    rings: BTreeMap::new(),
    next_id: 1,
});

/// `blk_ring_create(disk, part, entries | data_pages << 16)`: the new ring's id and address.
pub fn create_call(args: [usize; 6]) -> Result<(usize, usize), Error> {
    let me = sched::current_pid();
    create(me, args[0], args[1], args[2] & 0xffff, args[2] >> 16)
        .map(|(id, addr)| (id as usize, addr as usize))
}

/// `blk_ring_submit(id, mode)`: 0 runs the submitted requests and returns how many; `ASYNC`
/// starts them and returns at once.
pub fn submit_call(args: [usize; 6]) -> Result<usize, Error> {
    let me = sched::current_pid();
    match args[1] {
        0 => submit(me, args[0] as u64),
        ASYNC => submit_async(me, args[0] as u64).map(|()| 0),
        _ => Err(Error::InvalidArgument),
    }
}

/// `blk_ring_destroy(id)`.
pub fn destroy_call(args: [usize; 6]) -> Result<usize, Error> {
    destroy(sched::current_pid(), args[0] as u64).map(|()| 0)
}

fn create(
    me: Pid,
    disk: usize,
    part: usize,
    entries: usize,
    data_pages: usize,
) -> Result<(u64, u64), Error> {
    let disk = crate::block::all()
        .get(disk)
        .cloned()
        .ok_or(Error::NotFound)?;
    let part = u32::try_from(part).map_err(|_| Error::NotFound)?;
    let extent = disk.extent(part).ok_or(Error::NotFound)?;
    let geometry = u32::try_from(entries)
        .ok()
        .and_then(Geometry::new)
        .ok_or(Error::InvalidArgument)?;
    if data_pages == 0 || data_pages > MAX_DATA_PAGES {
        return Err(Error::InvalidArgument);
    }
    if RINGS
        .lock()
        .rings
        .values()
        .filter(|r| r.owner == me)
        .count()
        >= MAX_PER_PROCESS
    {
        return Err(Error::LimitReached);
    }
    let space = sched::current_space().ok_or(Error::InvalidArgument)?;
    let ring = Arc::new(DmaBuffer::new(geometry.pages()).ok_or(Error::NoMemory)?);
    let data = Arc::new(DmaBuffer::new(data_pages).ok_or(Error::NoMemory)?);
    let target = Target {
        extent,
        sector_size: disk.sector_size,
        region_len: data.len() as u64,
        read_only: disk.read_only,
        max_sectors: disk.max_sectors(),
    };
    let endpoint = Kernel::create(
        SharedRegion::new(ring.clone(), geometry.region_len()),
        geometry,
        target,
    )
    .map_err(|_| Error::InvalidArgument)?;
    let pages = geometry.pages() + data_pages;
    let addr = process::reserve_region(me, pages as u64 * 4096).ok_or(Error::NoMemory)?;
    let rights = PageRights {
        write: true,
        execute: false,
        user: true,
    };
    let frames: Vec<PhysFrame> = ring.frames().chain(data.frames()).collect();
    for (index, &frame) in frames.iter().enumerate() {
        let virt = addr + index as u64 * 4096;
        if space.lock().map_shared(virt, frame, rights).is_err() {
            for undo in 0..index as u64 {
                let _ = space.lock().unmap_shared(addr + undo * 4096);
            }
            return Err(Error::NoMemory);
        }
    }
    process::add_ring_pages(me, pages as i64);
    let mut table = RINGS.lock();
    let id = table.next_id;
    table.next_id += 1;
    table.rings.insert(
        id,
        BlkRing {
            owner: me,
            disk,
            endpoint,
            ring,
            data,
            addr,
            broken: false,
        },
    );
    Ok((id, addr))
}

/// Takes ring `id` of `me` out of the table for a submit (put back by the caller). A ring that
/// its worker holds right now is `WouldBlock`.
fn take_out(me: Pid, id: u64) -> Result<BlkRing, Error> {
    let mut table = RINGS.lock();
    match table.rings.get(&id) {
        Some(ring) if ring.owner == me => {}
        Some(_) => return Err(Error::NotFound),
        None => {
            return Err(match WORKERS.lock().get(&id) {
                Some(worker) if worker.owner == me => Error::WouldBlock,
                _ => Error::NotFound,
            });
        }
    }
    let ring = table.rings.remove(&id).ok_or(Error::NotFound)?;
    if table.rings.is_empty() {
        table.rings = BTreeMap::new();
    }
    Ok(ring)
}

fn put_back(id: u64, ring: BlkRing) {
    if process::space_of(ring.owner).is_some() {
        RINGS.lock().rings.insert(id, ring);
    }
    // Otherwise the owner ended meanwhile: dropping the ring frees its regions now that no
    // transfer uses them.
}

fn submit(me: Pid, id: u64) -> Result<usize, Error> {
    let mut ring = take_out(me, id)?;
    let result = drain(&mut ring);
    if result.is_err() {
        ring.broken = true;
    }
    put_back(id, ring);
    result
}

/// Runs every request waiting in `ring`, batch by batch; returns how many completed.
fn drain(ring: &mut BlkRing) -> Result<usize, Error> {
    if ring.broken {
        return Err(Error::InvalidArgument);
    }
    let mut done = 0;
    let mut taken = [Taken::default(); BATCH];
    loop {
        let n = ring
            .endpoint
            .take(&mut taken)
            .map_err(|_| Error::InvalidArgument)?;
        if n == 0 {
            break;
        }
        let mut zero_copy = 0u64;
        // Refused requests are answered at once; the others go to the driver together.
        let mut requests: Vec<Request> = Vec::with_capacity(n);
        let mut ids: Vec<u64> = Vec::with_capacity(n);
        for t in &taken[..n] {
            match t.verdict {
                Err(status) => ring
                    .endpoint
                    .complete(t.request.id, status, 0)
                    .map_err(|_| Error::InvalidArgument)?,
                Ok(checked) => {
                    let op = match checked.op {
                        lux9_blk::ring::Op::Read => Op::Read,
                        lux9_blk::ring::Op::Write => Op::Write,
                        lux9_blk::ring::Op::Flush => Op::Flush,
                    };
                    requests.push(Request::new(
                        op,
                        checked.disk_lba,
                        checked.count,
                        ring.data.phys() + checked.offset,
                    ));
                    ids.push(t.request.id);
                }
            }
        }
        if !requests.is_empty() {
            let refused = ring.disk.run_direct(&mut requests).err();
            for (request, id) in requests.iter().zip(&ids) {
                let status = match (refused, request.result) {
                    (Some(_), _) => Status::DeviceError,
                    (None, Ok(())) => Status::Ok,
                    (None, Err(IoError::TimedOut)) => Status::TimedOut,
                    (None, Err(_)) => Status::DeviceError,
                };
                let count = if status == Status::Ok {
                    request.sectors
                } else {
                    0
                };
                zero_copy += u64::from(status == Status::Ok && !ring.disk.copies());
                ring.endpoint
                    .complete(*id, status, count)
                    .map_err(|_| Error::InvalidArgument)?;
            }
        }
        // The caller's ipc_stats: each request the device moved is a zero-copy transfer, and
        // each trip a batch.
        sched::with_state(|s| {
            let me = s.current();
            let stats = &mut s.thread(me).ipc.stats;
            stats.zero_copy += zero_copy;
            stats.batched += n as u64;
            stats.batches += 1;
        });
        done += n;
        let wake = ring
            .endpoint
            .publish()
            .map_err(|_| Error::InvalidArgument)?;
        if wake {
            let word = ring.ring.phys() + lux9_blk::ring::layout::offset::SERVER_WAITING as u64;
            futex::wake_physical(word, usize::MAX, None);
        }
    }
    Ok(done)
}

fn unmap(ring: &BlkRing) {
    if let Some(space) = process::space_of(ring.owner) {
        for index in 0..ring.pages() as u64 {
            let _ = space.lock().unmap_shared(ring.addr + index * 4096);
        }
    }
    process::add_ring_pages(ring.owner, -(ring.pages() as i64));
}

fn destroy(me: Pid, id: u64) -> Result<(), Error> {
    let worker = WORKERS.lock().get(&id).filter(|w| w.owner == me).cloned();
    match take_out(me, id) {
        Ok(ring) => {
            unmap(&ring);
            if let Some(worker) = worker {
                stop(&worker);
            }
            Ok(())
        }
        // The worker holds the ring: it unmaps and frees it when its batch is done.
        Err(Error::WouldBlock) => {
            if let Some(worker) = worker {
                stop(&worker);
            }
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Tells a worker to end (after its batch, freeing a ring it holds).
fn stop(worker: &Worker) {
    worker
        .exit
        .store(true, core::sync::atomic::Ordering::Release);
    x86_64::instructions::interrupts::without_interrupts(|| worker.doorbell.signal());
}

/// `blk_ring_submit(id, ASYNC)`: rings the worker's doorbell, starting the worker first.
fn submit_async(me: Pid, id: u64) -> Result<(), Error> {
    {
        let table = RINGS.lock();
        let known = table.rings.get(&id).map(|r| r.owner == me);
        let busy = WORKERS.lock().get(&id).is_some_and(|w| w.owner == me);
        match known {
            Some(true) => {}
            Some(false) => return Err(Error::NotFound),
            None if busy => {}
            None => return Err(Error::NotFound),
        }
    }
    let existing = WORKERS.lock().get(&id).cloned();
    let worker = match existing {
        Some(worker) => worker,
        None => {
            let worker = Arc::new(Worker {
                owner: me,
                doorbell: Completion::new(),
                exit: core::sync::atomic::AtomicBool::new(false),
            });
            WORKERS.lock().insert(id, worker.clone());
            if crate::sched::spawn_kernel(serve, id, None).is_err() {
                WORKERS.lock().remove(&id);
                return Err(Error::LimitReached);
            }
            worker
        }
    };
    x86_64::instructions::interrupts::without_interrupts(|| worker.doorbell.signal());
    Ok(())
}

/// A worker's thread: serves ring `id`'s doorbells until told to end.
extern "C" fn serve(id: u64) {
    loop {
        let Some(worker) = WORKERS.lock().get(&id).cloned() else {
            break;
        };
        if !worker.doorbell.wait(1_000) && !worker.exit.load(core::sync::atomic::Ordering::Acquire)
        {
            continue;
        }
        if worker.exit.load(core::sync::atomic::Ordering::Acquire) {
            // Destroyed or orphaned while idle: the ring is gone from the table already.
            break;
        }
        let mut ring = match take_out(worker.owner, id) {
            Ok(ring) => ring,
            // A synchronous submit of the server holds it, and drains what we were rung for.
            Err(Error::WouldBlock) => continue,
            Err(_) => break,
        };
        if drain(&mut ring).is_err() {
            ring.broken = true;
        }
        if worker.exit.load(core::sync::atomic::Ordering::Acquire) {
            unmap(&ring);
            break;
        }
        put_back(id, ring);
    }
    let mut workers = WORKERS.lock();
    workers.remove(&id);
    if workers.is_empty() {
        *workers = BTreeMap::new();
    }
    drop(workers);
    crate::sched::exit_current_kernel_thread();
}

/// Drops every block ring of process `pid`, which is ending.
pub fn process_exiting(pid: Pid) {
    let ending: Vec<BlkRing> = {
        let mut table = RINGS.lock();
        let ids: Vec<u64> = table
            .rings
            .iter()
            .filter(|(_, r)| r.owner == pid)
            .map(|(&id, _)| id)
            .collect();
        let ending = ids
            .into_iter()
            .filter_map(|id| table.rings.remove(&id))
            .collect();
        if table.rings.is_empty() {
            table.rings = BTreeMap::new();
        }
        ending
    };
    for ring in &ending {
        unmap(ring);
    }
    let workers: Vec<Arc<Worker>> = WORKERS
        .lock()
        .values()
        .filter(|w| w.owner == pid)
        .cloned()
        .collect();
    for worker in &workers {
        stop(worker);
    }
}
