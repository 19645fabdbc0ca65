//! What [`crate::read_table`] returns: the partitions, the ones refused, and the errors.

use crate::{Extent, GptDamage, MbrDamage, SectorRead};
use alloc::vec::Vec;
use core::fmt;
use gpt_disk_types::{GptPartitionName, GptPartitionType, Guid};

/// One partition, as a block device of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The number as in the table: MBR slot 1-4, logical partitions 5 and up in chain order,
    /// GPT entry index + 1. Empty slots are skipped without renumbering.
    pub number: u32,
    /// Where it lies on the disk, in sectors; always inside the disk.
    pub extent: Extent,
    /// Its type, and for GPT its identity and name.
    pub kind: PartitionKind,
}

/// The partition's type as the table gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKind {
    /// An MBR partition with its system id byte (0x83 Linux, 0x0c FAT32 LBA, ...).
    Mbr {
        /// The type byte.
        kind: u8,
        /// The boot indicator was 0x80.
        bootable: bool,
    },
    /// A GPT partition.
    Gpt {
        /// The partition type GUID.
        kind: GptPartitionType,
        /// The partition's own GUID.
        guid: Guid,
        /// Its name (UCS-2 on disk; `Display` prints it).
        name: GptPartitionName,
        /// The attribute bits.
        attributes: u64,
    },
}

/// A used table entry that does not describe a usable partition; it gets no block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The number it would have had.
    pub number: u32,
    /// Its first sector as written in the table.
    pub first: u64,
    /// Its length in sectors as written in the table (for GPT, from its first and last).
    pub count: u64,
    /// Why it is refused.
    pub reason: RefusedReason,
}

/// Why a table entry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedReason {
    /// It starts at sector 0, on the table itself.
    StartsAtZero,
    /// It runs past the end of a disk of this many sectors. (Refused, not clipped: a
    /// filesystem cut short would fail later and less clearly.)
    PastEnd {
        /// The disk's size in sectors.
        disk_sectors: u64,
    },
    /// A GPT entry whose last sector is before its first.
    Reversed,
    /// A GPT entry outside the header's usable sectors.
    OutsideUsable {
        /// The header's first usable sector.
        first_usable: u64,
        /// The header's last usable sector.
        last_usable: u64,
    },
    /// A logical partition that does not lie inside its extended partition.
    OutsideExtended,
}

impl fmt::Display for RefusedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::StartsAtZero => f.write_str("starts at sector 0, on the partition table"),
            Self::PastEnd { disk_sectors } => {
                write!(f, "runs past the end of the disk ({disk_sectors} sectors)")
            }
            Self::Reversed => f.write_str("its last sector is before its first"),
            Self::OutsideUsable {
                first_usable,
                last_usable,
            } => write!(
                f,
                "lies outside the usable sectors {first_usable}-{last_usable}"
            ),
            Self::OutsideExtended => f.write_str("lies outside its extended partition"),
        }
    }
}

/// Which table was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// An MBR (DOS) table.
    Mbr,
    /// A GUID partition table.
    Gpt {
        /// The disk's GUID.
        disk_guid: Guid,
        /// The sector of the header that was used: 1, or the last sector if the primary header
        /// or its entry array is damaged.
        header_lba: u64,
        /// Why the primary was not used, when the backup was.
        primary_damage: Option<GptDamage>,
    },
}

/// A disk's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    /// Which table, and for GPT which copy.
    pub scheme: Scheme,
    /// The usable partitions, in number order.
    pub partitions: Vec<Partition>,
    /// The used entries that were refused, in number order.
    pub refused: Vec<Refused>,
}

impl PartitionTable {
    /// Partition `number`, if it exists and was not refused.
    pub fn get(&self, number: u32) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.number == number)
    }
}

/// Why the table could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// The disk's sector size is not a power of two from 512 to 65536.
    SectorSize(u32),
    /// The disk failed to read a sector.
    Io {
        /// The sector.
        lba: u64,
        /// The disk's error.
        error: E,
    },
    /// The disk has a GPT (a protective MBR, or a GPT signature) but neither header with its
    /// entry array is intact.
    Gpt {
        /// What is wrong with the primary header (at sector 1).
        primary: GptDamage,
        /// What is wrong with the backup header (in the last sector).
        backup: GptDamage,
    },
    /// The MBR's chain of extended boot records is damaged.
    Mbr(MbrDamage),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SectorSize(s) => write!(f, "unsupported sector size {s}"),
            Self::Io { lba, error } => write!(f, "reading sector {lba}: {error}"),
            Self::Gpt { primary, backup } => write!(
                f,
                "damaged GPT: primary header: {primary}; backup header: {backup}"
            ),
            Self::Mbr(d) => write!(f, "damaged MBR: {d}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for Error<E> {}

/// Reads sector `lba` into `buf`, or says which sector failed.
pub(crate) fn read_sector<D: SectorRead>(
    disk: &mut D,
    lba: u64,
    buf: &mut [u8],
) -> Result<(), Error<D::Error>> {
    disk.read_sector(lba, buf)
        .map_err(|error| Error::Io { lba, error })
}
