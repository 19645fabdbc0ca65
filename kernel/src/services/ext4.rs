//! ext4srv, colocated: the `ext4srv` crate's core serving ext4 volumes by a direct call from
//! the `sys9p` system call, as the colocated sysserver does (`isolation = off`, or
//! `ext4srv = colocated`).
//!
//! `mount ext4 PATH DEVICE` asks the kernel (`service(START_VOLUME)`) to open the volume: the
//! kernel reads its superblock, loads it with ext4-view through ext4srv's block cache, and
//! declares the service `ext4.<disk><part>` colocated. Clients then reach it exactly as they
//! reach the colocated sysserver: `sys9p` copies their frames in, the calling thread borrows
//! the ext4 address space (no user mappings: a bug in a handler cannot touch a process), runs
//! `Server::handle` for each frame, and copies the replies out. No other thread runs unless
//! the block cache misses and the thread waits for the disk.
//!
//! The block cache is the same one the isolated ext4srv uses, and like it, its pages are the
//! memory the disk writes by DMA ([`KernelDisk`]): 960 pages of 4 KiB per volume, filled a
//! miss (and read-ahead) at a time with one batch of requests to the driver.
//!
//! ext4-view's `Ext4` holds an `Rc`, so a volume is not `Send`: every piece of a volume (its
//! filesystem and every connection's `Server`, which share that `Rc`) lives inside one
//! [`Volume`], and is touched only while its [`SleepLock`] is held, by one thread at a time.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use ext4srv::Ext4Fs;
use ext4srv::device::{BlockDevice as Ext4Device, DeviceError, PageFill};
use lib9pclient::Server;
use lux9_abi::Error;

use crate::arch::address_space::{Activation, AddressSpace};
use crate::arch::sync::IrqMutex;
use crate::block::{self, Op, Request};
use crate::dma::DmaBuffer;
use crate::process::Pid;
use crate::sched::{self, SharedSpace};
use crate::sleeplock::SleepLock;
use lux9_kernel_core::units::PAGE_BYTES;

/// Largest msize a colocated volume negotiates: as much as the isolated ext4srv's.
pub const MAX_MSIZE: u32 = lux9_abi::ipc::LONG_MAX as u32;
/// Connections one process may hold to colocated volumes.
pub const CONNECTIONS_MAX: usize = 16;
/// Colocated volumes open at once.
pub const VOLUMES_MAX: usize = 16;
/// Pages of each volume's block cache: 3.75 MiB, as the isolated ext4srv has.
pub const CACHE_PAGES: usize = 960;
/// The cache pages come in physically contiguous runs of this many (256 KiB), which a busy
/// memory still has; a volume whose runs cannot all be found gets a smaller cache.
const CACHE_RUN_PAGES: usize = 64;

/// Connection ids of colocated volumes have this bit, so `sys9p` tells them from sysserver's.
pub const CONNECTION_BIT: usize = 1 << 40;

static NEXT_CONNECTION: AtomicUsize = AtomicUsize::new(1);

/// A disk or partition as ext4srv's block source, in the kernel: the cache's pages are DMA
/// memory the driver fills in place, one request per page and all of a fill in one batch
/// (`Driver::run`), as the block ring does for the isolated ext4srv.
pub struct KernelDisk {
    disk: Arc<block::BlockDevice>,
    part: u32,
    /// The partition's first sector on the disk.
    first: u64,
    sector_size: u64,
    size: u64,
    /// The cache's pages, in runs of [`CACHE_RUN_PAGES`].
    runs: Vec<DmaBuffer>,
}

impl KernelDisk {
    pub fn open(disk: Arc<block::BlockDevice>, part: u32) -> Result<Self, String> {
        let extent = disk
            .extent(part)
            .ok_or_else(|| format!("{} has no partition {part}", disk.name))?;
        let sector_size = u64::from(disk.sector_size);
        let mut runs = Vec::new();
        for _ in 0..CACHE_PAGES / CACHE_RUN_PAGES {
            match DmaBuffer::new(CACHE_RUN_PAGES) {
                Some(run) => runs.push(run),
                None => break,
            }
        }
        if runs.is_empty() {
            return Err("no memory for the block cache".into());
        }
        Ok(Self {
            first: extent.first(),
            size: extent.count() * sector_size,
            sector_size,
            disk,
            part,
            runs,
        })
    }

    /// Where cache page `page` lies: (its run, byte offset in the run).
    fn page(&self, page: usize) -> (&DmaBuffer, usize) {
        (
            &self.runs[page / CACHE_RUN_PAGES],
            (page % CACHE_RUN_PAGES) * PAGE_BYTES,
        )
    }
}

fn device_error(error: block::BlockError) -> DeviceError {
    DeviceError::Io(format!("{error:?}"))
}

impl Ext4Device for KernelDisk {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(DeviceError::OutOfRange {
                offset,
                len: buf.len(),
                size: self.size,
            });
        }
        // Reads past the cache (the superblock check before it is set up): the block layer's
        // bounce buffer.
        let mut done = 0;
        while done < buf.len() {
            let n = self
                .disk
                .read_bytes(self.part, offset + done as u64, &mut buf[done..])
                .map_err(device_error)?;
            if n == 0 {
                return Err(DeviceError::Io("the disk ended early".into()));
            }
            done += n;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn cache_pages(&self) -> usize {
        self.runs.len() * CACHE_RUN_PAGES
    }

    fn fill_pages(&mut self, fills: &[PageFill]) -> Result<(), DeviceError> {
        let mut requests = Vec::with_capacity(fills.len());
        for fill in fills {
            if fill.page >= self.cache_pages()
                || fill.len == 0
                || fill.len > PAGE_BYTES
                || !fill.offset.is_multiple_of(self.sector_size)
                || !(fill.len as u64).is_multiple_of(self.sector_size)
                || fill.offset + fill.len as u64 > self.size
            {
                return Err(DeviceError::Io(format!("bad cache fill {fill:?}")));
            }
            let (run, at) = self.page(fill.page);
            requests.push(Request::new(
                Op::Read,
                self.first + fill.offset / self.sector_size,
                (fill.len as u64 / self.sector_size) as u32,
                run.phys() + at as u64,
            ));
        }
        self.disk.run_direct(&mut requests).map_err(device_error)?;
        match requests.iter().find_map(|r| r.result.err()) {
            None => Ok(()),
            Some(error) => Err(DeviceError::Io(format!("{}: {error:?}", self.disk.name))),
        }
    }

    fn read_page(&self, page: usize, in_page: usize, buf: &mut [u8]) {
        let (run, at) = self.page(page);
        let at = at + in_page;
        buf.copy_from_slice(&run.bytes()[at..at + buf.len()]);
    }
}

type Connection = super::Connection<Ext4Fs>;

/// Everything of one volume that shares its `Rc`s.
struct VolumeState {
    fs: Ext4Fs,
    connections: BTreeMap<(Pid, usize), Connection>,
}

#[allow(
    unsafe_code,
    reason = "a volume's Rcs are confined to it and used under its lock"
)]
// SAFETY: the only parts of a volume that are not `Send` are ext4srv's and ext4-view's `Rc`s
// (and `RefCell`s), and every clone of them lives inside this one `VolumeState`: the
// filesystem and each connection's `Server` over a clone of it. Nothing hands one out (calls
// return bytes), so its counts are only touched by the thread holding the volume's lock.
unsafe impl Send for VolumeState {}

struct Volume {
    service: String,
    state: SleepLock<VolumeState>,
}

/// The open volumes, and which volume each connection belongs to.
struct Volumes {
    by_service: BTreeMap<String, Arc<Volume>>,
    connections: BTreeMap<(Pid, usize), Arc<Volume>>,
}

static VOLUMES: IrqMutex<Volumes> = IrqMutex::new(Volumes {
    by_service: BTreeMap::new(),
    connections: BTreeMap::new(),
});

/// The colocated volumes' address space and its CR3 value.
static SPACE: spin::Once<(SharedSpace, Activation)> = spin::Once::new();

fn space() -> Result<&'static Activation, String> {
    if SPACE.get().is_none() {
        let space = AddressSpace::new()
            .map_err(|e| format!("no memory for the ext4 address space ({e:?})"))?;
        let activation = space.activation();
        SPACE.call_once(|| (Arc::new(IrqMutex::new(space)), activation));
    }
    Ok(&SPACE.get().expect("set above").1)
}

/// The service name of partition `part` of disk `disk` (0: the whole disk), as the isolated
/// ext4srv names it.
pub fn service_name(disk: &str, part: u32) -> String {
    if part == 0 {
        format!("ext4.{disk}")
    } else {
        format!("ext4.{disk}p{part}")
    }
}

/// Why `start` failed: the error code, and the reason in words for `mount` to print.
pub type StartError = (Error, String);

/// `service(START_VOLUME, "DISK PART")`: opens the ext4 volume on partition `part` of `disk`
/// and serves it colocated; returns its service name.
pub fn start(disk_name: &str, part: u32) -> Result<String, StartError> {
    let service = service_name(disk_name, part);
    if VOLUMES.lock().by_service.contains_key(&service) {
        return Err((Error::LimitReached, format!("{service} is already served")));
    }
    let disk =
        block::find(disk_name).ok_or_else(|| (Error::NotFound, format!("no disk {disk_name}")))?;
    let device = KernelDisk::open(disk, part).map_err(|why| (Error::NotFound, why))?;
    let cache_bytes = device.cache_pages() * PAGE_BYTES;
    let activation = space().map_err(|why| (Error::NoMemory, why))?;
    // Opening reads the disk (the superblock, the root): inside the volume's address space
    // like every later request.
    let fs = sched::in_borrowed_space(activation, || {
        Ext4Fs::open(Box::new(device), cache_bytes).map_err(|e| e.to_string())
    })
    .map_err(|why| (Error::InvalidArgument, why))?;
    log::info!(
        "ext4srv (colocated): {service}: {} blocks of {} bytes, {} KiB of block cache",
        fs.geometry().blocks_count,
        fs.geometry().block_size,
        cache_bytes / 1024
    );
    let volume = Arc::new(Volume {
        service: service.clone(),
        state: SleepLock::new(VolumeState {
            fs,
            connections: BTreeMap::new(),
        }),
    });
    let mut volumes = VOLUMES.lock();
    if volumes.by_service.len() >= VOLUMES_MAX {
        return Err((Error::LimitReached, "too many colocated volumes".into()));
    }
    if volumes.by_service.contains_key(&service) {
        return Err((Error::LimitReached, format!("{service} is already served")));
    }
    volumes.by_service.insert(service.clone(), volume);
    Ok(service)
}

/// Stops serving `service`: new connections are refused; open ones keep working until closed,
/// and the volume's memory goes with the last of them.
pub fn stop(service: &str) -> Result<(), Error> {
    let volume = VOLUMES
        .lock()
        .by_service
        .remove(service)
        .ok_or(Error::NotFound)?;
    log::info!("ext4srv (colocated): {} stopped", volume.service);
    Ok(())
}

/// Whether `service` is a colocated volume.
pub fn serves(service: &str) -> bool {
    VOLUMES.lock().by_service.contains_key(service)
}

/// `sys9p(0, service)` for a colocated volume: opens a connection for process `pid`.
pub fn open(pid: Pid, service: &str) -> Result<usize, Error> {
    let activation = space().map_err(|_| Error::NoMemory)?;
    let volume = {
        let volumes = VOLUMES.lock();
        let held = volumes
            .connections
            .range((pid, 0)..=(pid, usize::MAX))
            .count();
        if held >= CONNECTIONS_MAX {
            return Err(Error::LimitReached);
        }
        volumes
            .by_service
            .get(service)
            .cloned()
            .ok_or(Error::NotFound)?
    };
    let id = CONNECTION_BIT | NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    {
        let mut state = volume.state.lock();
        let server =
            sched::in_borrowed_space(activation, || Server::new(state.fs.clone(), MAX_MSIZE));
        state.connections.insert((pid, id), Connection::new(server));
    }
    VOLUMES.lock().connections.insert((pid, id), volume);
    Ok(id)
}

/// Drops a connection's server (its fids) inside the volume's lock.
fn drop_connection(volume: &Volume, key: (Pid, usize)) {
    let mut state = volume.state.lock();
    let connection = state.connections.remove(&key);
    match SPACE.get() {
        Some((_, activation)) => sched::in_borrowed_space(activation, || drop(connection)),
        None => drop(connection),
    }
}

/// `sys9p_close(conn)` for a colocated volume.
pub fn close(pid: Pid, id: usize) -> Result<(), Error> {
    let volume = VOLUMES
        .lock()
        .connections
        .remove(&(pid, id))
        .ok_or(Error::NotFound)?;
    drop_connection(&volume, (pid, id));
    Ok(())
}

/// Closes the connections of process `pid`, which is ending. Runs on the ending process's own
/// thread, which may sleep for a volume's lock.
pub fn process_exiting(pid: Pid) {
    let ended: Vec<((Pid, usize), Arc<Volume>)> = {
        let mut volumes = VOLUMES.lock();
        let keys: Vec<(Pid, usize)> = volumes
            .connections
            .range((pid, 0)..=(pid, usize::MAX))
            .map(|(key, _)| *key)
            .collect();
        keys.into_iter()
            .filter_map(|key| volumes.connections.remove(&key).map(|v| (key, v)))
            .collect()
    };
    for (key, volume) in ended {
        drop_connection(&volume, key);
    }
}

/// `sys9p(conn, request, reply)` for a colocated volume ([`super::Connection::call`]), under
/// the volume's lock.
pub fn call(
    pid: Pid,
    id: usize,
    request: (usize, usize),
    reply: (usize, usize),
) -> Result<usize, Error> {
    let activation = space().map_err(|_| Error::NoMemory)?;
    let volume = VOLUMES
        .lock()
        .connections
        .get(&(pid, id))
        .cloned()
        .ok_or(Error::NotFound)?;
    let mut state = volume.state.lock();
    state
        .connections
        .get_mut(&(pid, id))
        .ok_or(Error::NotFound)?
        .call(activation, request, reply)
}
