//! Block sources: what ext4srv reads an image from.
//!
//! A [`BlockDevice`] is a byte-addressed, read-only store of known length: an
//! image file on the host ([`ImageFile`]), a region of memory such as a Lux9
//! ramdisk ([`MemoryDevice`]), or a window onto either ([`Partition`]). The
//! [`BlockCache`] sits on top and is what ext4-view reads through.

mod cache;
#[cfg(feature = "std")]
mod file;
mod memory;
pub mod partition;

pub use cache::{BlockCache, CacheHandle, CacheStats, PAGE_SIZE, READ_AHEAD_PAGES};
#[cfg(feature = "std")]
pub use file::ImageFile;
pub use memory::MemoryDevice;
pub use partition::{Partition, PartitionInfo, PartitionTable};

use alloc::string::String;
use core::fmt;

/// Why a block source could not deliver bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// The read reaches past the end of the device.
    OutOfRange {
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: usize,
        /// Size of the device in bytes.
        size: u64,
    },
    /// The underlying storage failed.
    Io(String),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange { offset, len, size } => write!(
                f,
                "read of {len} bytes at offset {offset} is past the end of the {size}-byte image"
            ),
            Self::Io(why) => write!(f, "read failed: {why}"),
        }
    }
}

impl core::error::Error for DeviceError {}

/// A read-only, byte-addressed store of fixed length.
pub trait BlockDevice {
    /// Fills `buf` with the bytes at `offset`; all of them or an error.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    /// The size in bytes.
    fn size(&self) -> u64;

    /// Pages of [`PAGE_SIZE`] bytes of memory the device holds for the block cache and fills
    /// in place ([`BlockDevice::fill_pages`]): on Lux9, the block ring's data region, which
    /// the disk writes by DMA. 0 (the default): the cache keeps its pages itself.
    fn cache_pages(&self) -> usize {
        0
    }

    /// Fills cache pages in place, all in one go (one doorbell on a block ring): for each
    /// fill, `len` bytes from device offset `offset` into the start of page `page`. Only
    /// called on devices with [`BlockDevice::cache_pages`].
    fn fill_pages(&mut self, fills: &[PageFill]) -> Result<(), DeviceError> {
        let _ = fills;
        Err(DeviceError::Io("this device holds no cache pages".into()))
    }

    /// Copies bytes from cache page `page`, starting `in_page` bytes into it, into `buf`.
    /// Only called on devices with [`BlockDevice::cache_pages`].
    fn read_page(&self, page: usize, in_page: usize, buf: &mut [u8]) {
        let _ = (page, in_page);
        buf.fill(0);
    }
}

/// One page of a [`BlockDevice::fill_pages`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFill {
    /// Device offset (a multiple of [`PAGE_SIZE`]).
    pub offset: u64,
    /// The cache page to fill.
    pub page: usize,
    /// Bytes: [`PAGE_SIZE`], or less for the last page of the device.
    pub len: usize,
}

impl<D: BlockDevice + ?Sized> BlockDevice for alloc::boxed::Box<D> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn cache_pages(&self) -> usize {
        (**self).cache_pages()
    }
    fn fill_pages(&mut self, fills: &[PageFill]) -> Result<(), DeviceError> {
        (**self).fill_pages(fills)
    }
    fn read_page(&self, page: usize, in_page: usize, buf: &mut [u8]) {
        (**self).read_page(page, in_page, buf)
    }
}

/// Checks that `len` bytes at `offset` lie inside a device of `size` bytes.
pub(crate) fn check_range(offset: u64, len: usize, size: u64) -> Result<(), DeviceError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DeviceError::OutOfRange { offset, len, size }),
    }
}
