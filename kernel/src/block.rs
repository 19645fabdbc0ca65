//! Block devices, by name, each read in whole sectors with every request checked against its
//! size. Today the boot-module disk (`rd0`, a disk image GRUB loaded next to the kernel); the
//! PCI drivers' disks (`sdN`) join the same registry.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use log::{info, warn};
use lux9_blk::pattern as pattern_disk;

use crate::boot_info::BootInfo;

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// It is empty, or starts or ends past the last sector (or its end overflows): the
    /// device's extent refused it (`lux9_blk::Extent`).
    OutOfRange(lux9_blk::RangeError),
    /// The buffer is not a whole number of sectors.
    PartialSector,
}

/// Where a device's bytes come from.
enum Source {
    /// Memory that stays reserved for as long as the kernel runs (a boot module).
    Memory(&'static [u8]),
}

pub struct BlockDevice {
    pub name: String,
    pub model: &'static str,
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
    /// Reads `buf.len() / sector_size` sectors starting at `sector`.
    pub fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let size = u64::from(self.sector_size);
        if !(buf.len() as u64).is_multiple_of(size) {
            return Err(BlockError::PartialSector);
        }
        let count = buf.len() as u64 / size;
        let whole = lux9_blk::Extent::new(0, self.sectors)
            .ok_or(BlockError::OutOfRange(lux9_blk::RangeError::Empty))?;
        let first = whole
            .translate(sector, count)
            .map_err(BlockError::OutOfRange)?;
        match self.source {
            Source::Memory(bytes) => {
                // In range: the extent checked `first + count <= sectors`, and the memory holds
                // `sectors * size` bytes.
                let start = (first * size) as usize;
                buf.copy_from_slice(&bytes[start..start + buf.len()]);
            }
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

    /// Reads up to `buf.len()` bytes at byte `offset` of partition `part` (0: the whole disk)
    /// through the whole sectors around them; returns the count, 0 at or past its end.
    pub fn read_bytes(&self, part: u32, offset: u64, buf: &mut [u8]) -> Result<usize, BlockError> {
        let extent = self
            .extent(part)
            .ok_or(BlockError::OutOfRange(lux9_blk::RangeError::Empty))?;
        let sector_size = u64::from(self.sector_size);
        let size = extent.count() * sector_size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - offset) as usize;
        let first = offset / sector_size;
        let last = (offset + n as u64 - 1) / sector_size;
        let count = last - first + 1;
        let disk_first = extent
            .translate(first, count)
            .map_err(BlockError::OutOfRange)?;
        let mut sectors = alloc::vec![0u8; (count * sector_size) as usize];
        self.read(disk_first, &mut sectors)?;
        let skip = (offset - first * sector_size) as usize;
        buf[..n].copy_from_slice(&sectors[skip..skip + n]);
        Ok(n)
    }

    /// Bytes in all.
    pub fn size(&self) -> u64 {
        self.sectors * u64::from(self.sector_size)
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
        model: "boot-module disk",
        driver: "bootmodule",
        sector_size: sector_size as u32,
        sectors: bytes.len() as u64 / sector_size,
        read_only: true,
        partitions: Vec::new(),
        source: Source::Memory(bytes),
    });
}
