//! GUID partition tables: the primary header and its entry array, the backup as a fallback.
//!
//! The on-disk structures and the CRC-32 algorithm are `gpt_disk_types`'; this module decides
//! which values are acceptable. The entry array is read one sector at a time and its CRC-32
//! accumulated as it goes, so a table costs one sector buffer however many entries it has.

use crate::table::{
    Error, Partition, PartitionKind, PartitionTable, Refused, RefusedReason, Scheme,
};
use crate::{Extent, SectorRead};
use alloc::vec::Vec;
use core::fmt;
use core::mem::size_of;
use gpt_disk_types::{Crc32, GptHeader, GptPartitionEntry};

/// Most entries accepted in an entry array (the usual one has 128). Bounds the sectors read
/// for a hostile header.
pub const MAX_ENTRIES: u32 = 16384;
const HEADER_SIZE: usize = size_of::<GptHeader>();
const ENTRY_SIZE: usize = size_of::<GptPartitionEntry>();
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&Crc32::ALGORITHM);

/// What is wrong with one GPT header or its entry array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GptDamage {
    /// The disk is too small to hold a GPT at all.
    DiskTooSmall,
    /// No "EFI PART" signature.
    Signature,
    /// The header size is under 92 bytes or over a sector.
    HeaderSize(u32),
    /// The header's CRC-32 does not match.
    HeaderCrc {
        /// As stored in the header.
        stored: u32,
        /// As computed.
        computed: u32,
    },
    /// The header does not name its own sector as its place.
    MyLba {
        /// Where it was read.
        expected: u64,
        /// What it says.
        found: u64,
    },
    /// The usable sectors are reversed or run past the disk.
    UsableRange {
        /// First usable sector.
        first: u64,
        /// Last usable sector.
        last: u64,
    },
    /// The entry size is not a power of two from 128 bytes up to one sector.
    EntrySize(u32),
    /// More than [`MAX_ENTRIES`] entries.
    EntryCount(u32),
    /// The entry array does not lie inside the disk.
    EntryArrayOutside {
        /// Its first sector.
        lba: u64,
    },
    /// The entry array's CRC-32 does not match the header's.
    EntryArrayCrc {
        /// As stored in the header.
        stored: u32,
        /// As computed.
        computed: u32,
    },
}

impl fmt::Display for GptDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::DiskTooSmall => f.write_str("the disk is too small for a GPT"),
            Self::Signature => f.write_str("no \"EFI PART\" signature"),
            Self::HeaderSize(s) => write!(f, "bad header size {s}"),
            Self::HeaderCrc { stored, computed } => write!(
                f,
                "header CRC-32 is {stored:#010x}, should be {computed:#010x}"
            ),
            Self::MyLba { expected, found } => {
                write!(f, "header at sector {expected} says it is at {found}")
            }
            Self::UsableRange { first, last } => {
                write!(f, "bad usable sectors {first}-{last}")
            }
            Self::EntrySize(s) => write!(f, "unsupported entry size {s}"),
            Self::EntryCount(n) => write!(f, "{n} entries (at most {MAX_ENTRIES} accepted)"),
            Self::EntryArrayOutside { lba } => {
                write!(f, "entry array at sector {lba} runs past the disk")
            }
            Self::EntryArrayCrc { stored, computed } => write!(
                f,
                "entry array CRC-32 is {stored:#010x}, should be {computed:#010x}"
            ),
        }
    }
}

/// Whether sector 1 starts with the GPT signature.
pub(crate) fn has_signature<D: SectorRead>(
    disk: &mut D,
    sector: &mut [u8],
) -> Result<bool, Error<D::Error>> {
    crate::table::read_sector(disk, 1, sector)?;
    Ok(sector.starts_with(b"EFI PART"))
}

/// The partitions of a GPT disk: from the primary header if it and its entry array are intact,
/// else from the backup in the last sector.
pub(crate) fn read<D: SectorRead>(
    disk: &mut D,
    sector: &mut [u8],
) -> Result<PartitionTable, Error<D::Error>> {
    let sectors = disk.sector_count();
    // The protective MBR, a header, and at least one sector of entries.
    if sectors < 3 {
        return Err(Error::Gpt {
            primary: GptDamage::DiskTooSmall,
            backup: GptDamage::DiskTooSmall,
        });
    }
    let primary = match read_copy(disk, 1, sector)? {
        Ok(table) => return Ok(table),
        Err(damage) => damage,
    };
    match read_copy(disk, sectors - 1, sector)? {
        Ok(mut table) => {
            if let Scheme::Gpt { primary_damage, .. } = &mut table.scheme {
                *primary_damage = Some(primary);
            }
            Ok(table)
        }
        Err(backup) => Err(Error::Gpt { primary, backup }),
    }
}

/// The header at `lba` with its entry array; the inner error says what is damaged.
fn read_copy<D: SectorRead>(
    disk: &mut D,
    lba: u64,
    sector: &mut [u8],
) -> Result<Result<PartitionTable, GptDamage>, Error<D::Error>> {
    crate::table::read_sector(disk, lba, sector)?;
    let header = match check_header(sector, lba, disk.sector_count()) {
        Ok(h) => h,
        Err(damage) => return Ok(Err(damage)),
    };
    read_entries(disk, &header, lba, sector)
}

fn check_header(sector: &[u8], lba: u64, disk_sectors: u64) -> Result<GptHeader, GptDamage> {
    let header: GptHeader = bytemuck::pod_read_unaligned(&sector[..HEADER_SIZE]);
    if !header.is_signature_valid() {
        return Err(GptDamage::Signature);
    }
    let size = header.header_size.to_u32();
    let bytes = usize::try_from(size)
        .ok()
        .and_then(|s| sector.get(..s))
        .filter(|b| b.len() >= HEADER_SIZE)
        .ok_or(GptDamage::HeaderSize(size))?;
    // The CRC covers `header_size` bytes with the CRC field itself (bytes 16-19) as zeros.
    let mut digest = CRC.digest();
    digest.update(&bytes[..16]);
    digest.update(&[0; 4]);
    digest.update(&bytes[20..]);
    let computed = digest.finalize();
    let stored = header.header_crc32.0.to_u32();
    if computed != stored {
        return Err(GptDamage::HeaderCrc { stored, computed });
    }
    let found = header.my_lba.to_u64();
    if found != lba {
        return Err(GptDamage::MyLba {
            expected: lba,
            found,
        });
    }
    let (first, last) = (
        header.first_usable_lba.to_u64(),
        header.last_usable_lba.to_u64(),
    );
    // An empty usable range (last = first - 1) is allowed; one that runs past the disk is not.
    if first < 2
        || last
            .checked_add(1)
            .is_none_or(|end| end < first || end > disk_sectors)
    {
        return Err(GptDamage::UsableRange { first, last });
    }
    let entry_size = header.size_of_partition_entry.to_u32();
    if entry_size < ENTRY_SIZE as u32
        || !entry_size.is_power_of_two()
        || entry_size as usize > sector.len()
    {
        return Err(GptDamage::EntrySize(entry_size));
    }
    let count = header.number_of_partition_entries.to_u32();
    if count > MAX_ENTRIES {
        return Err(GptDamage::EntryCount(count));
    }
    Ok(header)
}

/// Reads and checks the entry array of a checked header.
fn read_entries<D: SectorRead>(
    disk: &mut D,
    header: &GptHeader,
    header_lba: u64,
    sector: &mut [u8],
) -> Result<Result<PartitionTable, GptDamage>, Error<D::Error>> {
    let disk_sectors = disk.sector_count();
    let array_lba = header.partition_entry_lba.to_u64();
    let entry_size = header.size_of_partition_entry.to_u32() as usize;
    let count = header.number_of_partition_entries.to_u32() as usize;
    let per_sector = sector.len() / entry_size;
    let array_sectors = count.div_ceil(per_sector) as u64;
    let array =
        Extent::new(array_lba, array_sectors).filter(|a| a.first() != 0 && a.fits_in(disk_sectors));
    if array.is_none() {
        return Ok(Err(GptDamage::EntryArrayOutside { lba: array_lba }));
    }
    let (first_usable, last_usable) = (
        header.first_usable_lba.to_u64(),
        header.last_usable_lba.to_u64(),
    );
    let mut table = PartitionTable {
        scheme: Scheme::Gpt {
            disk_guid: header.disk_guid,
            header_lba,
            primary_damage: None,
        },
        partitions: Vec::new(),
        refused: Vec::new(),
    };
    let mut digest = CRC.digest();
    let mut index = 0usize;
    for lba in array_lba..array_lba + array_sectors {
        crate::table::read_sector(disk, lba, sector)?;
        let in_this = per_sector.min(count - index);
        digest.update(&sector[..in_this * entry_size]);
        for raw in sector.chunks_exact(entry_size).take(in_this) {
            index += 1;
            let entry: GptPartitionEntry = bytemuck::pod_read_unaligned(&raw[..ENTRY_SIZE]);
            if !entry.is_used() {
                continue;
            }
            // `index` is at most MAX_ENTRIES, so the number fits.
            let number = index as u32;
            match check_entry(number, &entry, first_usable, last_usable, disk_sectors) {
                Ok(p) => table.partitions.push(p),
                Err(r) => table.refused.push(r),
            }
        }
    }
    let computed = digest.finalize();
    let stored = header.partition_entry_array_crc32.0.to_u32();
    if computed != stored {
        return Ok(Err(GptDamage::EntryArrayCrc { stored, computed }));
    }
    Ok(Ok(table))
}

fn check_entry(
    number: u32,
    entry: &GptPartitionEntry,
    first_usable: u64,
    last_usable: u64,
    disk_sectors: u64,
) -> Result<Partition, Refused> {
    let (first, last) = (entry.starting_lba.to_u64(), entry.ending_lba.to_u64());
    let refuse = |count, reason| Refused {
        number,
        first,
        count,
        reason,
    };
    let Some(range) = entry.lba_range() else {
        return Err(refuse(0, RefusedReason::Reversed));
    };
    // `last >= first`; the count overflows only for 0..=u64::MAX, which is past any disk.
    let Some(extent) = last
        .checked_add(1)
        .and_then(|end| Extent::new(first, end - first))
    else {
        return Err(refuse(u64::MAX, RefusedReason::PastEnd { disk_sectors }));
    };
    let count = range.num_blocks();
    if !extent.fits_in(disk_sectors) {
        return Err(refuse(count, RefusedReason::PastEnd { disk_sectors }));
    }
    if first < first_usable || last > last_usable {
        return Err(refuse(
            count,
            RefusedReason::OutsideUsable {
                first_usable,
                last_usable,
            },
        ));
    }
    Ok(Partition {
        number,
        extent,
        kind: PartitionKind::Gpt {
            kind: entry.partition_type_guid,
            guid: entry.unique_partition_guid,
            name: entry.name,
            attributes: entry.attributes.0.to_u64(),
        },
    })
}
