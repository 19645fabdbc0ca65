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

pub use cache::{BlockCache, CacheHandle, CacheStats, PAGE_SIZE};
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
}

impl<D: BlockDevice + ?Sized> BlockDevice for alloc::boxed::Box<D> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        (**self).size()
    }
}

/// Checks that `len` bytes at `offset` lie inside a device of `size` bytes.
pub(crate) fn check_range(offset: u64, len: usize, size: u64) -> Result<(), DeviceError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DeviceError::OutOfRange { offset, len, size }),
    }
}
