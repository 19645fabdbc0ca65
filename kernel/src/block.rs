//! Block devices, by name, each read and written in whole sectors with every request checked
//! against its size: the boot-module disk (`rd0`, a disk image GRUB loaded next to the kernel)
//! and the PCI drivers' disks (`sd0`, `sd1`, ... in PCI order, then port order).
//!
//! A driver moves sectors between its device and physically contiguous memory ([`Driver::run`]);
//! this layer checks each request against the disk's size first, and splits and bounces the
//! byte-addressed reads of `/dev/<disk>/data` through a DMA buffer of its own. The block ring
//! hands drivers the server's own data region instead, so nothing is copied.

// Writes, flushes and direct requests are wired to /dev and the block ring next.
#![allow(
    dead_code,
    reason = "writes and the block ring are wired up in the following commits"
)]

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use log::{info, warn};
use lux9_blk::pattern as pattern_disk;

use crate::boot_info::BootInfo;
use crate::dma::DmaBuffer;
use lux9_kernel_core::units::PAGE_BYTES;

/// Why a request was refused or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// It is empty, or starts or ends past the last sector (or its end overflows): the
    /// device's extent refused it (`lux9_blk::Extent`).
    OutOfRange(lux9_blk::RangeError),
    /// The buffer is not a whole number of sectors.
    PartialSector,
    /// A write to a read-only device.
    ReadOnly,
    /// The device failed the transfer or did not answer.
    Io(IoError),
    /// No memory for a bounce buffer.
    NoMemory,
}

/// What a driver reports for a failed transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The device did not complete it in time (the driver logged it).
    TimedOut,
    /// The device reported an error; the number is the driver's status or error register.
    Device(u32),
    /// The device cannot do this operation (a flush on a device without a cache command).
    Unsupported,
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    /// Makes earlier writes durable; `sectors` is 0.
    Flush,
}

/// One transfer between a device and physically contiguous memory at `phys`, of `sectors`
/// sectors from `lba` (the block layer checked both against the device's size and limits).
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub op: Op,
    pub lba: u64,
    pub sectors: u32,
    pub phys: u64,
    /// Set by the driver.
    pub result: Result<(), IoError>,
}

impl Request {
    pub fn new(op: Op, lba: u64, sectors: u32, phys: u64) -> Self {
        Self {
            op,
            lba,
            sectors,
            phys,
            result: Err(IoError::TimedOut),
        }
    }
}

/// A disk controller's port: moves sectors by DMA, completing by interrupt.
pub trait Driver: Send + Sync {
    /// The most sectors one request may move (larger ones are split by the caller).
    fn max_sectors(&self) -> u32;

    /// Runs every request, as many at once as the device takes, and sets each one's `result`.
    /// Blocks the calling thread until all are done or timed out; never holds a spin lock while
    /// waiting. Requests are already checked: inside the disk, `phys` holds `sectors` sectors.
    fn run(&self, requests: &mut [Request]);

    /// For the timeout test: the next batch is never shown to the device (its doorbell is
    /// skipped), as if the device did not answer. `false` if the driver cannot do that.
    fn lose_next_batch(&self) -> bool {
        false
    }
}

/// Where a device's bytes come from.
enum Source {
    /// Memory that stays reserved for as long as the kernel runs (a boot module).
    Memory(&'static [u8]),
    /// A driver, with a bounce buffer for callers whose memory the device cannot reach (taken
    /// when free; a second caller at the same time gets one of its own).
    Driver {
        driver: Box<dyn Driver>,
        bounce: spin::Mutex<Option<DmaBuffer>>,
    },
}

/// Bytes in each device's bounce buffer: the most one `read`/`write` call moves per request.
const BOUNCE_BYTES: usize = 64 * 1024;

pub struct BlockDevice {
    pub name: String,
    pub model: String,
    pub driver: &'static str,
    pub sector_size: u32,
    pub sectors: u64,
    pub read_only: bool,
    /// The partitions of its MBR or GPT, as (number in the table, sectors), in number order;
    /// each is read as a block device of its own (`/dev/<disk>/p<number>`).
    pub partitions: Vec<(u32, lux9_blk::Extent)>,
    source: Source,
}

impl BlockDevice {
    /// Checks that `buf_len` bytes at `sector` are whole sectors inside the disk; returns the
    /// sector count.
    fn check(&self, sector: u64, buf_len: usize) -> Result<u64, BlockError> {
        let size = u64::from(self.sector_size);
        if !(buf_len as u64).is_multiple_of(size) {
            return Err(BlockError::PartialSector);
        }
        let count = buf_len as u64 / size;
        let whole = lux9_blk::Extent::new(0, self.sectors)
            .ok_or(BlockError::OutOfRange(lux9_blk::RangeError::Empty))?;
        whole
            .translate(sector, count)
            .map_err(BlockError::OutOfRange)?;
        Ok(count)
    }

    /// Reads `buf.len() / sector_size` sectors starting at `sector`.
    pub fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.check(sector, buf.len())?;
        match &self.source {
            Source::Memory(bytes) => {
                // In range: `check` made sure `sector + count <= sectors`, and the memory holds
                // `sectors * size` bytes.
                let start = (sector * u64::from(self.sector_size)) as usize;
                buf.copy_from_slice(&bytes[start..start + buf.len()]);
                Ok(())
            }
            Source::Driver { .. } => self.bounced(Op::Read, sector, Chunks::Read(buf)),
        }
    }

    /// Writes `buf.len() / sector_size` sectors starting at `sector`.
    pub fn write(&self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.check(sector, buf.len())?;
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        match &self.source {
            Source::Memory(_) => Err(BlockError::ReadOnly),
            Source::Driver { .. } => self.bounced(Op::Write, sector, Chunks::Write(buf)),
        }
    }

    /// Makes earlier writes durable.
    pub fn flush(&self) -> Result<(), BlockError> {
        match &self.source {
            Source::Memory(_) => Ok(()),
            Source::Driver { driver, .. } => {
                let mut request = [Request::new(Op::Flush, 0, 0, 0)];
                driver.run(&mut request);
                request[0].result.map_err(BlockError::Io)
            }
        }
    }

    /// Runs requests whose memory the caller vouches for (the block ring's data region),
    /// checking each against the disk first: one outside it, or a write to a read-only disk,
    /// gets its error without reaching the driver. Zero-copy: the device transfers straight
    /// into or out of `phys`.
    pub fn run_direct(&self, requests: &mut [Request]) -> Result<(), BlockError> {
        let size = self.sector_size as usize;
        let driver = match &self.source {
            Source::Driver { driver, .. } => driver,
            Source::Memory(bytes) => {
                // The boot-module disk is memory: the kernel copies (reads only).
                for request in requests.iter_mut() {
                    if request.op == Op::Write {
                        return Err(BlockError::ReadOnly);
                    }
                    let len = request.sectors as usize * size;
                    self.check(request.lba, len)?;
                    if request.op == Op::Read {
                        let at = request.lba as usize * size;
                        // SAFETY: the caller vouches for `phys` (its own DMA memory, `sectors`
                        // sectors long); the source range was checked against the disk.
                        #[allow(unsafe_code, reason = "the caller vouches for the memory")]
                        unsafe {
                            crate::dma::copy_to_phys(request.phys, &bytes[at..at + len])
                        };
                    }
                    request.result = Ok(());
                }
                return Ok(());
            }
        };
        for request in requests.iter_mut() {
            if request.op == Op::Flush {
                continue;
            }
            if request.op == Op::Write && self.read_only {
                return Err(BlockError::ReadOnly);
            }
            if request.sectors > driver.max_sectors() {
                return Err(BlockError::OutOfRange(lux9_blk::RangeError::Empty));
            }
            self.check(request.lba, request.sectors as usize * size)?;
        }
        driver.run(requests);
        Ok(())
    }

    /// Moves whole sectors between `chunks` and the device through the bounce buffer.
    fn bounced(&self, op: Op, sector: u64, mut chunks: Chunks) -> Result<(), BlockError> {
        let Source::Driver { driver, bounce } = &self.source else {
            unreachable!("bounced is only called for driver-backed devices");
        };
        let mut own = None;
        let mut held = bounce.try_lock();
        let buffer = match held.as_deref_mut() {
            Some(slot) => {
                if slot.is_none() {
                    *slot = DmaBuffer::new(BOUNCE_BYTES / PAGE_BYTES);
                }
                slot.as_mut().ok_or(BlockError::NoMemory)?
            }
            None => {
                own.insert(DmaBuffer::new(BOUNCE_BYTES / PAGE_BYTES).ok_or(BlockError::NoMemory)?)
            }
        };
        let size = self.sector_size as usize;
        let per_request = (driver.max_sectors() as usize * size).min(BOUNCE_BYTES) / size * size;
        let total = chunks.len();
        let mut done = 0;
        while done < total {
            let n = per_request.min(total - done);
            if let Chunks::Write(from) = &chunks {
                buffer.bytes_mut()[..n].copy_from_slice(&from[done..done + n]);
            }
            let lba = sector + (done / size) as u64;
            let mut request = [Request::new(op, lba, (n / size) as u32, buffer.phys())];
            driver.run(&mut request);
            request[0].result.map_err(BlockError::Io)?;
            if let Chunks::Read(into) = &mut chunks {
                into[done..done + n].copy_from_slice(&buffer.bytes()[..n]);
            }
            done += n;
        }
        Ok(())
    }

    /// The sectors of partition `part`, or of the whole disk for 0.
    pub fn extent(&self, part: u32) -> Option<lux9_blk::Extent> {
        if part == 0 {
            return lux9_blk::Extent::new(0, self.sectors);
        }
        self.partitions
            .iter()
            .find(|(number, _)| *number == part)
            .map(|(_, extent)| *extent)
    }

    /// The whole sectors under `len` bytes at byte `offset` of partition `part` (0: the whole
    /// disk), cut at its end; `None` at or past the end or for no bytes.
    fn span(&self, part: u32, offset: u64, len: usize) -> Result<Option<Span>, BlockError> {
        let extent = self
            .extent(part)
            .ok_or(BlockError::OutOfRange(lux9_blk::RangeError::Empty))?;
        let sector_size = u64::from(self.sector_size);
        let size = extent.count() * sector_size;
        if offset >= size || len == 0 {
            return Ok(None);
        }
        let n = (len as u64).min(size - offset) as usize;
        let first = offset / sector_size;
        let count = (offset + n as u64 - 1) / sector_size - first + 1;
        let disk_first = extent
            .translate(first, count)
            .map_err(BlockError::OutOfRange)?;
        Ok(Some(Span {
            disk_first,
            count,
            skip: (offset - first * sector_size) as usize,
            n,
            sector_size,
        }))
    }

    /// Reads up to `buf.len()` bytes at byte `offset` of partition `part` (0: the whole disk)
    /// through the whole sectors around them; returns the count, 0 at or past its end.
    pub fn read_bytes(&self, part: u32, offset: u64, buf: &mut [u8]) -> Result<usize, BlockError> {
        let Some(span) = self.span(part, offset, buf.len())? else {
            return Ok(0);
        };
        let mut sectors = alloc::vec![0u8; span.bytes()];
        self.read(span.disk_first, &mut sectors)?;
        buf[..span.n].copy_from_slice(&sectors[span.skip..span.skip + span.n]);
        Ok(span.n)
    }

    /// Writes `data` at byte `offset` of partition `part` (0: the whole disk), reading the
    /// partial sectors at either end first; returns the count written, which stops at the end.
    pub fn write_bytes(&self, part: u32, offset: u64, data: &[u8]) -> Result<usize, BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        let Some(span) = self.span(part, offset, data.len())? else {
            return Ok(0);
        };
        let (disk_first, count, skip, n) = (span.disk_first, span.count, span.skip, span.n);
        let mut sectors = alloc::vec![0u8; span.bytes()];
        let ss = self.sector_size as usize;
        if skip != 0 {
            self.read(disk_first, &mut sectors[..ss])?;
        }
        let end = skip + n;
        if !end.is_multiple_of(ss) && (count > 1 || skip == 0) {
            let at = sectors.len() - ss;
            self.read(disk_first + count - 1, &mut sectors[at..])?;
        }
        sectors[skip..end].copy_from_slice(&data[..n]);
        self.write(disk_first, &sectors)?;
        Ok(n)
    }

    /// Bytes in all.
    pub fn size(&self) -> u64 {
        self.sectors * u64::from(self.sector_size)
    }

    /// Whether the device is memory the kernel copies (the boot-module disk) rather than one
    /// that moves data by DMA.
    pub fn copies(&self) -> bool {
        matches!(self.source, Source::Memory(_))
    }

    /// For the timeout test: see [`Driver::lose_next_batch`].
    pub fn lose_next_batch(&self) -> bool {
        match &self.source {
            Source::Memory(_) => false,
            Source::Driver { driver, .. } => driver.lose_next_batch(),
        }
    }

    /// The most sectors one direct request may move (the block ring's limit).
    pub fn max_sectors(&self) -> u32 {
        match &self.source {
            Source::Memory(_) => (BOUNCE_BYTES / self.sector_size as usize) as u32,
            Source::Driver { driver, .. } => driver.max_sectors(),
        }
    }
}

/// Whole sectors around a byte range of a partition ([`BlockDevice::span`]).
struct Span {
    /// The first sector, on the disk.
    disk_first: u64,
    count: u64,
    /// Bytes of the first sector before the range.
    skip: usize,
    /// Bytes of the range (cut at the partition's end).
    n: usize,
    sector_size: u64,
}

impl Span {
    fn bytes(&self) -> usize {
        (self.count * self.sector_size) as usize
    }
}

/// The caller's side of a bounced transfer.
enum Chunks<'a> {
    Read(&'a mut [u8]),
    Write(&'a [u8]),
}

impl Chunks<'_> {
    fn len(&self) -> usize {
        match self {
            Chunks::Read(b) => b.len(),
            Chunks::Write(b) => b.len(),
        }
    }
}

static DEVICES: spin::Mutex<Vec<Arc<BlockDevice>>> = spin::Mutex::new(Vec::new());

/// The device's sectors for the partition-table reader.
struct Sectors<'a>(&'a BlockDevice);

impl lux9_blk::SectorRead for Sectors<'_> {
    type Error = BlockError;

    fn sector_size(&self) -> u32 {
        self.0.sector_size
    }

    fn sector_count(&self) -> u64 {
        self.0.sectors
    }

    fn read_sector(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.0.read(lba, buf)
    }
}

fn register(mut device: BlockDevice) {
    match lux9_blk::read_table(&mut Sectors(&device)) {
        Ok(Some(table)) => {
            for refused in &table.refused {
                warn!("block: {}: partition {refused:?} refused", device.name);
            }
            device.partitions = table
                .partitions
                .iter()
                .map(|p| (p.number, p.extent))
                .collect();
            let list: Vec<String> = device
                .partitions
                .iter()
                .map(|(n, e)| alloc::format!("p{n} ({} sectors at {})", e.count(), e.first()))
                .collect();
            info!(
                "block: {}: {:?}: {}",
                device.name,
                table.scheme,
                list.join(", ")
            );
        }
        Ok(None) => {}
        Err(error) => warn!(
            "block: {}: unreadable partition table: {error:?}",
            device.name
        ),
    }
    info!(
        "block: {}: {} ({}), {} sectors of {} bytes ({} KiB){}",
        device.name,
        device.model,
        device.driver,
        device.sectors,
        device.sector_size,
        device.size() / 1024,
        if device.read_only { ", read-only" } else { "" }
    );
    DEVICES.lock().push(Arc::new(device));
}

/// Every device, in registration order (the order of `/dev` and of `disk_read`'s numbers).
pub fn all() -> Vec<Arc<BlockDevice>> {
    DEVICES.lock().clone()
}

/// `SysInfo::Disks`: one tab-separated line per device (the partitions as `number:first:count`
/// joined by commas, before the model).
pub fn text() -> String {
    let mut out = String::new();
    for d in all() {
        let parts: Vec<String> = d
            .partitions
            .iter()
            .map(|(n, e)| alloc::format!("{n}:{}:{}", e.first(), e.count()))
            .collect();
        out.push_str(&alloc::format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            d.name,
            d.sectors,
            d.sector_size,
            if d.read_only { "ro" } else { "rw" },
            d.driver,
            parts.join(","),
            d.model
        ));
    }
    out
}

/// The device called `name`.
pub fn find(name: &str) -> Option<Arc<BlockDevice>> {
    DEVICES.lock().iter().find(|d| d.name == name).cloned()
}

/// Registers the boot-module disk, if GRUB loaded one: the module whose command line holds the
/// word `lux9-disk` (`cargo xtask iso --disk-module IMG`) becomes `rd0`, read-only, in 512-byte
/// sectors. An image that is not a whole number of sectors is refused with a warning.
pub fn init(boot: &'static BootInfo) {
    let mut disks = boot.modules().filter(|m| {
        m.cmdline
            .split_whitespace()
            .any(|w| w == pattern_disk::MODULE_WORD)
    });
    let Some(module) = disks.next() else {
        return;
    };
    if disks.next().is_some() {
        warn!("block: more than one boot-module disk; only the first is rd0");
    }
    let bytes = crate::arch::module_bytes(module.range);
    let sector_size = pattern_disk::SECTOR as u64;
    if bytes.is_empty() || !(bytes.len() as u64).is_multiple_of(sector_size) {
        warn!(
            "block: the boot-module disk is {} bytes, not a whole number of {sector_size}-byte sectors; ignored",
            bytes.len()
        );
        return;
    }
    register(BlockDevice {
        name: "rd0".into(),
        model: "boot-module disk".into(),
        driver: "bootmodule",
        sector_size: sector_size as u32,
        sectors: bytes.len() as u64 / sector_size,
        read_only: true,
        partitions: Vec::new(),
        source: Source::Memory(bytes),
    });
}

/// Registers a driver's disk as the next `sdN` and reads its partition table. Drivers call
/// this in probe order (PCI order, then port), which is what makes the names stable.
pub fn add_disk(
    model: String,
    driver_name: &'static str,
    sector_size: u32,
    sectors: u64,
    read_only: bool,
    driver: Box<dyn Driver>,
) {
    let n = DEVICES
        .lock()
        .iter()
        .filter(|d| d.name.starts_with("sd"))
        .count();
    register(BlockDevice {
        name: alloc::format!("sd{n}"),
        model,
        driver: driver_name,
        sector_size,
        sectors,
        read_only,
        partitions: Vec::new(),
        source: Source::Driver {
            driver,
            bounce: spin::Mutex::new(None),
        },
    });
}
