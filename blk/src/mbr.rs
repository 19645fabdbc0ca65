//! MBR (DOS) partition tables: the four primary slots and the chain of logical partitions in
//! an extended one.

use crate::table::{
    Error, Partition, PartitionKind, PartitionTable, Refused, RefusedReason, Scheme,
};
use crate::{Extent, SectorRead};
use alloc::vec::Vec;
use core::fmt;
use gpt_disk_types::{MasterBootRecord, MbrPartitionRecord};

/// Most logical partitions followed in one extended partition; a chain that loops ends here.
pub const MAX_LOGICAL: u32 = 256;
/// The protective MBR's type: the disk has a GPT.
const PROTECTIVE: u8 = 0xee;

/// What is wrong with a chain of extended boot records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MbrDamage {
    /// An extended boot record's sector lies outside its extended partition or the disk.
    EbrOutside {
        /// The sector it would be in.
        lba: u64,
    },
    /// An extended boot record without the 0x55 0xAA signature.
    EbrSignature {
        /// Its sector.
        lba: u64,
    },
    /// More than [`MAX_LOGICAL`] logical partitions: the chain loops.
    ChainTooLong,
}

impl fmt::Display for MbrDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::EbrOutside { lba } => write!(
                f,
                "extended boot record at sector {lba} lies outside its extended partition or the disk"
            ),
            Self::EbrSignature { lba } => {
                write!(
                    f,
                    "no signature on the extended boot record at sector {lba}"
                )
            }
            Self::ChainTooLong => write!(
                f,
                "the chain of logical partitions loops or is longer than {MAX_LOGICAL}"
            ),
        }
    }
}

/// What sector 0 holds.
pub(crate) enum Sector0 {
    /// An MBR with a type 0xEE slot: the disk has a GPT.
    Protective,
    /// An MBR, with its four slots.
    Mbr([MbrPartitionRecord; 4]),
    /// No MBR: no signature, or the signature of some filesystem's boot sector.
    Other,
}

fn record(sector: &[u8]) -> MasterBootRecord {
    bytemuck::pod_read_unaligned(&sector[..512])
}

fn signed(mbr: &MasterBootRecord) -> bool {
    mbr.signature == [0x55, 0xaa]
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

fn used(r: &MbrPartitionRecord) -> bool {
    r.os_indicator != 0 && r.size_in_lba.to_u32() != 0
}

/// Sorts sector 0 (at least 512 bytes) into a protective MBR, an MBR or neither.
pub(crate) fn classify(sector: &[u8]) -> Sector0 {
    let mbr = record(sector);
    if !signed(&mbr) {
        return Sector0::Other;
    }
    if mbr.partitions.iter().any(|p| p.os_indicator == PROTECTIVE) {
        return Sector0::Protective;
    }
    // A FAT or NTFS boot sector also ends in 55 AA; as Linux does, take it for an MBR only if
    // every used slot has a valid boot indicator.
    let valid = mbr
        .partitions
        .iter()
        .filter(|p| used(p))
        .all(|p| matches!(p.boot_indicator, 0 | 0x80));
    if valid {
        Sector0::Mbr(mbr.partitions)
    } else {
        Sector0::Other
    }
}

/// Either a partition or, if the entry cannot be used, the reason.
fn check(
    number: u32,
    r: &MbrPartitionRecord,
    first: u64,
    disk_sectors: u64,
    container: Option<Extent>,
) -> Result<Partition, Refused> {
    let count = u64::from(r.size_in_lba.to_u32());
    let refuse = |reason| Refused {
        number,
        first,
        count,
        reason,
    };
    let extent =
        Extent::new(first, count).ok_or(refuse(RefusedReason::PastEnd { disk_sectors }))?;
    if first == 0 {
        return Err(refuse(RefusedReason::StartsAtZero));
    }
    if !extent.fits_in(disk_sectors) {
        return Err(refuse(RefusedReason::PastEnd { disk_sectors }));
    }
    if let Some(c) = container
        && (extent.first() < c.first() || extent.end() > c.end())
    {
        return Err(refuse(RefusedReason::OutsideExtended));
    }
    Ok(Partition {
        number,
        extent,
        kind: PartitionKind::Mbr {
            kind: r.os_indicator,
            bootable: r.boot_indicator == 0x80,
        },
    })
}

fn push(table: &mut PartitionTable, result: Result<Partition, Refused>) {
    match result {
        Ok(p) => table.partitions.push(p),
        Err(r) => table.refused.push(r),
    }
}

/// The partitions of an MBR disk; `sector` is a scratch buffer of one sector.
pub(crate) fn read<D: SectorRead>(
    disk: &mut D,
    slots: &[MbrPartitionRecord; 4],
    sector: &mut [u8],
) -> Result<PartitionTable, Error<D::Error>> {
    let disk_sectors = disk.sector_count();
    let mut table = PartitionTable {
        scheme: Scheme::Mbr,
        partitions: Vec::new(),
        refused: Vec::new(),
    };
    let mut extended = Vec::new();
    for (slot, r) in (1u32..).zip(slots.iter()) {
        if !used(r) {
            continue;
        }
        let first = u64::from(r.starting_lba.to_u32());
        let checked = check(slot, r, first, disk_sectors, None);
        if is_extended(r.os_indicator) {
            // The container is not a block device of its own; its logical partitions are.
            match checked {
                Ok(p) => extended.push(p.extent),
                Err(refused) => table.refused.push(refused),
            }
        } else {
            push(&mut table, checked);
        }
    }
    let mut number = 5;
    for container in extended {
        read_logical(disk, container, sector, &mut number, &mut table)?;
    }
    Ok(table)
}

/// Follows the chain of extended boot records in `container`, numbering from `*number`.
fn read_logical<D: SectorRead>(
    disk: &mut D,
    container: Extent,
    sector: &mut [u8],
    number: &mut u32,
    table: &mut PartitionTable,
) -> Result<(), Error<D::Error>> {
    let disk_sectors = disk.sector_count();
    let mut ebr_lba = container.first();
    for _ in 0..MAX_LOGICAL {
        if ebr_lba >= container.end() {
            return Err(Error::Mbr(MbrDamage::EbrOutside { lba: ebr_lba }));
        }
        crate::table::read_sector(disk, ebr_lba, sector)?;
        let ebr = record(sector);
        if !signed(&ebr) {
            return Err(Error::Mbr(MbrDamage::EbrSignature { lba: ebr_lba }));
        }
        let [data, link, ..] = &ebr.partitions;
        if used(data) && !is_extended(data.os_indicator) {
            // A logical partition's start is relative to its own boot record.
            let first = ebr_lba + u64::from(data.starting_lba.to_u32());
            push(
                table,
                check(*number, data, first, disk_sectors, Some(container)),
            );
            *number += 1;
        }
        if !is_extended(link.os_indicator) || link.starting_lba.to_u32() == 0 {
            return Ok(());
        }
        // The next boot record's place is relative to the extended partition's start.
        ebr_lba = container.first() + u64::from(link.starting_lba.to_u32());
    }
    Err(Error::Mbr(MbrDamage::ChainTooLong))
}
