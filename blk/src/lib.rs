//! lux9-blk: the pure logic of block devices: partition tables (MBR, GPT) and request ranges.
//!
//! Nothing here touches hardware. A disk is anything that can read one sector at a time
//! ([`SectorRead`]); [`read_table`] finds its partitions, and a partition's [`Extent`] checks
//! and translates each request before a driver sees it. The crate is `no_std` with `alloc`
//! (one `Vec` for the partitions found and one sector buffer; the GPT entry array is read and
//! checksummed a sector at a time, never whole), has no unsafe code, and is tested on the host.
//! ext4srv reads its whole-disk images through it; the kernel's block layer is next.
//! [`ring`] is the block ring: the shared request/response queues between a server and the
//! kernel, their entries, the kernel's check of each request, and both endpoints.
//! See docs/block.md.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod extent;
mod gpt;
mod mbr;
mod table;

pub mod pattern;
pub mod ring;

pub use extent::{Extent, RangeError};
pub use gpt::GptDamage;
pub use gpt_disk_types::{GptPartitionName, GptPartitionType, Guid};
pub use mbr::MbrDamage;
pub use table::{Error, Partition, PartitionKind, PartitionTable, Refused, RefusedReason, Scheme};

/// A disk read sector by sector.
pub trait SectorRead {
    /// What a failed read reports.
    type Error;
    /// Bytes per logical sector: a power of two from 512 to 65536 (others are refused).
    fn sector_size(&self) -> u32;
    /// How many sectors the disk has.
    fn sector_count(&self) -> u64;
    /// Reads sector `lba` into `buf`, which is exactly `sector_size()` bytes long.
    fn read_sector(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
}

/// A disk image in memory (test images, a ramdisk). Trailing bytes short of a whole sector are
/// not part of the disk.
#[derive(Debug, Clone, Copy)]
pub struct MemoryDisk<'a> {
    bytes: &'a [u8],
    sector_size: u32,
}

impl<'a> MemoryDisk<'a> {
    /// `bytes` as a disk of `sector_size`-byte sectors.
    pub fn new(bytes: &'a [u8], sector_size: u32) -> Self {
        Self { bytes, sector_size }
    }
}

/// A read past the end of a [`MemoryDisk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

impl core::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("read past the end of the disk image")
    }
}

impl SectorRead for MemoryDisk<'_> {
    type Error = OutOfRange;

    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn sector_count(&self) -> u64 {
        match self.sector_size {
            0 => 0,
            ss => self.bytes.len() as u64 / u64::from(ss),
        }
    }

    fn read_sector(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), OutOfRange> {
        let start = usize::try_from(lba)
            .ok()
            .and_then(|l| l.checked_mul(self.sector_size as usize))
            .ok_or(OutOfRange)?;
        let end = start.checked_add(buf.len()).ok_or(OutOfRange)?;
        buf.copy_from_slice(self.bytes.get(start..end).ok_or(OutOfRange)?);
        Ok(())
    }
}

/// A disk given as a sector size, a sector count and a closure that reads one sector.
pub struct FnDisk<F> {
    sector_size: u32,
    sector_count: u64,
    read: F,
}

impl<F> FnDisk<F> {
    /// `read(lba, buf)` fills `buf` (one sector) with sector `lba`.
    pub fn new(sector_size: u32, sector_count: u64, read: F) -> Self {
        Self {
            sector_size,
            sector_count,
            read,
        }
    }
}

impl<E, F: FnMut(u64, &mut [u8]) -> Result<(), E>> SectorRead for FnDisk<F> {
    type Error = E;

    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn sector_count(&self) -> u64 {
        self.sector_count
    }

    fn read_sector(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), E> {
        (self.read)(lba, buf)
    }
}

/// Finds the partition table of `disk`: `Ok(None)` if it has none (a bare filesystem, a blank
/// disk). An MBR whose slots hold a protective entry (type 0xEE) leads to the GPT; so does a
/// GPT header at sector 1 with no MBR signature in front of it.
pub fn read_table<D: SectorRead>(disk: &mut D) -> Result<Option<PartitionTable>, Error<D::Error>> {
    let sector_size = disk.sector_size();
    if !(512..=65536).contains(&sector_size) || !sector_size.is_power_of_two() {
        return Err(Error::SectorSize(sector_size));
    }
    let mut sector = alloc::vec![0u8; sector_size as usize];
    if disk.sector_count() == 0 {
        return Ok(None);
    }
    table::read_sector(disk, 0, &mut sector)?;
    match mbr::classify(&sector) {
        mbr::Sector0::Protective => gpt::read(disk, &mut sector).map(Some),
        mbr::Sector0::Mbr(mbr) => mbr::read(disk, &mbr, &mut sector).map(Some),
        mbr::Sector0::Other => {
            if disk.sector_count() > 1 && gpt::has_signature(disk, &mut sector)? {
                gpt::read(disk, &mut sector).map(Some)
            } else {
                Ok(None)
            }
        }
    }
}
