//! MBR and GPT partition tables, and a [`Partition`]: a window onto a device.
//!
//! Numbering follows Linux: MBR primary partitions are 1-4 by slot, logical
//! partitions inside an extended one are 5 and up in chain order; GPT
//! partitions are numbered by their slot in the entry array (empty slots are
//! skipped, not renumbered). The tables are read by lux9-blk (docs/block.md),
//! which checks every field before it is used, so a damaged table is an error,
//! never a panic or a loop.

use super::{BlockDevice, DeviceError, check_range};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use lux9_blk::{Guid, SectorRead};

/// Which table a partition came from, with its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKind {
    /// An MBR partition with its system id byte (0x83: Linux).
    Mbr(u8),
    /// A GPT partition with its type GUID (as on disk) and name.
    Gpt {
        /// The partition type GUID, in on-disk byte order.
        type_guid: [u8; 16],
        /// The partition name (UTF-16 on disk).
        name: String,
    },
}

/// One partition of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The number `--partition` takes.
    pub number: u32,
    /// First byte on the device.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// Table type and partition type.
    pub kind: PartitionKind,
}

impl fmt::Display for PartitionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "partition {}: {} bytes at offset {}",
            self.number, self.size, self.start
        )?;
        match &self.kind {
            PartitionKind::Mbr(id) => write!(f, ", MBR type 0x{id:02x}"),
            PartitionKind::Gpt { type_guid, name } => {
                write!(f, ", GPT type {}", guid_string(type_guid))?;
                if !name.is_empty() {
                    write!(f, " \"{name}\"")?;
                }
                Ok(())
            }
        }
    }
}

/// A partition table found on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionTable {
    /// An MBR (DOS) table, with logical partitions if it has an extended one.
    Mbr(Vec<PartitionInfo>),
    /// A GUID partition table with its logical sector size.
    Gpt {
        /// 512 or 4096.
        sector_size: u32,
        /// The used entries.
        partitions: Vec<PartitionInfo>,
    },
}

impl PartitionTable {
    /// The partitions, in number order.
    pub fn partitions(&self) -> &[PartitionInfo] {
        match self {
            Self::Mbr(p) => p,
            Self::Gpt { partitions, .. } => partitions,
        }
    }

    /// "MBR" or "GPT".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mbr(_) => "MBR",
            Self::Gpt { .. } => "GPT",
        }
    }
}

/// Why a partition could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionError {
    /// `--partition` was given but the device has no MBR or GPT.
    NoTable,
    /// The table has no partition of that number.
    NoSuchPartition {
        /// The number asked for.
        number: u32,
        /// "MBR" or "GPT".
        table: &'static str,
        /// The numbers that exist.
        available: Vec<u32>,
    },
    /// The table is there but damaged.
    Damaged(String),
    /// The device failed.
    Device(DeviceError),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTable => f.write_str("the image has no MBR or GPT partition table"),
            Self::NoSuchPartition {
                number,
                table,
                available,
            } => {
                write!(f, "the {table} partition table has no partition {number}")?;
                if available.is_empty() {
                    f.write_str(" (it is empty)")
                } else {
                    f.write_str(" (it has ")?;
                    for (i, n) in available.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{n}")?;
                    }
                    f.write_str(")")
                }
            }
            Self::Damaged(why) => write!(f, "damaged partition table: {why}"),
            Self::Device(e) => write!(f, "reading the partition table: {e}"),
        }
    }
}

impl core::error::Error for PartitionError {}

impl From<DeviceError> for PartitionError {
    fn from(e: DeviceError) -> Self {
        Self::Device(e)
    }
}

/// A window of `size` bytes at `start` on another device.
pub struct Partition {
    inner: Box<dyn BlockDevice>,
    start: u64,
    size: u64,
}

impl Partition {
    /// The window; errors if it does not lie inside `inner`.
    pub fn new(inner: Box<dyn BlockDevice>, start: u64, size: u64) -> Result<Self, DeviceError> {
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        check_range(start, len, inner.size())?;
        Ok(Self { inner, start, size })
    }

    /// Partition `number` of the table on `device`.
    pub fn open(mut device: Box<dyn BlockDevice>, number: u32) -> Result<Self, PartitionError> {
        let table = read_table(&mut *device)?.ok_or(PartitionError::NoTable)?;
        let info = table
            .partitions()
            .iter()
            .find(|p| p.number == number)
            .ok_or_else(|| PartitionError::NoSuchPartition {
                number,
                table: table.name(),
                available: table.partitions().iter().map(|p| p.number).collect(),
            })?;
        Ok(Self::new(device, info.start, info.size)?)
    }
}

impl BlockDevice for Partition {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        check_range(offset, buf.len(), self.size)?;
        self.inner.read_at(self.start + offset, buf)
    }

    fn size(&self) -> u64 {
        self.size
    }
}

fn guid_string(g: &[u8; 16]) -> String {
    // GUIDs are stored with their first three fields little-endian; this is how they are shown.
    Guid::from_bytes(*g).to_string().to_uppercase()
}

/// A [`BlockDevice`] seen as `sector_size`-byte sectors, for lux9-blk's reader.
struct Sectors<'a> {
    device: &'a mut dyn BlockDevice,
    sector_size: u32,
}

impl SectorRead for Sectors<'_> {
    type Error = DeviceError;

    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn sector_count(&self) -> u64 {
        self.device.size() / u64::from(self.sector_size)
    }

    fn read_sector(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let offset =
            lba.checked_mul(u64::from(self.sector_size))
                .ok_or(DeviceError::OutOfRange {
                    offset: u64::MAX,
                    len: buf.len(),
                    size: self.device.size(),
                })?;
        self.device.read_at(offset, buf)
    }
}

/// Reads the partition table of `device`: `Ok(None)` if it has none.
///
/// The parsing is lux9-blk's (see docs/block.md). ext4srv does not know the sector size of an
/// image file, so a GPT is looked for with 512-byte sectors, then 4096-byte ones; and it keeps
/// its rule that a partition outside the image makes the whole table an error.
pub fn read_table(device: &mut dyn BlockDevice) -> Result<Option<PartitionTable>, PartitionError> {
    let first = read_with(device, 512);
    let (table, sector_size) = match first {
        Ok(Some(t)) => (t, 512),
        Ok(None) | Err(lux9_blk::Error::Gpt { .. }) => match read_with(device, 4096) {
            Ok(Some(t)) if t.scheme != lux9_blk::Scheme::Mbr => (t, 4096),
            _ => return first.map(|_| None).map_err(table_error),
        },
        Err(e) => return Err(table_error(e)),
    };
    let ss = u64::from(sector_size);
    let name = match table.scheme {
        lux9_blk::Scheme::Mbr => "MBR",
        lux9_blk::Scheme::Gpt { .. } => "GPT",
    };
    if let Some(r) = table.refused.first() {
        return Err(PartitionError::Damaged(format!(
            "{name} partition {} ({} sectors at sector {}) {}",
            r.number, r.count, r.first, r.reason
        )));
    }
    let partitions = table
        .partitions
        .iter()
        .map(|p| PartitionInfo {
            number: p.number,
            // Inside the image, so these products fit.
            start: p.extent.first() * ss,
            size: p.extent.count() * ss,
            kind: match &p.kind {
                lux9_blk::PartitionKind::Mbr { kind, .. } => PartitionKind::Mbr(*kind),
                lux9_blk::PartitionKind::Gpt { kind, name, .. } => PartitionKind::Gpt {
                    type_guid: kind.0.to_bytes(),
                    name: name.to_string(),
                },
            },
        })
        .collect();
    Ok(Some(match table.scheme {
        lux9_blk::Scheme::Mbr => PartitionTable::Mbr(partitions),
        lux9_blk::Scheme::Gpt { .. } => PartitionTable::Gpt {
            sector_size,
            partitions,
        },
    }))
}

fn read_with(
    device: &mut dyn BlockDevice,
    sector_size: u32,
) -> Result<Option<lux9_blk::PartitionTable>, lux9_blk::Error<DeviceError>> {
    lux9_blk::read_table(&mut Sectors {
        device,
        sector_size,
    })
}

fn table_error(e: lux9_blk::Error<DeviceError>) -> PartitionError {
    match e {
        lux9_blk::Error::Io { error, .. } => PartitionError::Device(error),
        lux9_blk::Error::Gpt { primary, backup } => PartitionError::Damaged(format!(
            "GPT primary header: {primary}; backup header: {backup}"
        )),
        other => PartitionError::Damaged(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemoryDevice;

    fn mbr_disk(entries: &[(u8, u32, u32)]) -> Vec<u8> {
        let mut disk = vec![0u8; 4 << 20];
        for (i, &(kind, lba, sectors)) in entries.iter().enumerate() {
            let e = &mut disk[446 + 16 * i..446 + 16 * (i + 1)];
            e[4] = kind;
            e[8..12].copy_from_slice(&lba.to_le_bytes());
            e[12..16].copy_from_slice(&sectors.to_le_bytes());
        }
        disk[510] = 0x55;
        disk[511] = 0xaa;
        disk
    }

    #[test]
    fn mbr_primaries_by_slot() {
        let mut disk = mbr_disk(&[(0x83, 2048, 100), (0, 0, 0), (0x0c, 4096, 10)]);
        let t = read_table(&mut MemoryDevice(&mut disk[..]))
            .unwrap()
            .unwrap();
        let p = t.partitions();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].number, p[0].start, p[0].size),
            (1, 2048 * 512, 100 * 512)
        );
        assert_eq!(
            (p[1].number, p[1].kind.clone()),
            (3, PartitionKind::Mbr(0x0c))
        );
    }

    #[test]
    fn mbr_past_the_end_is_damaged() {
        let mut disk = mbr_disk(&[(0x83, 2048, 100_000)]);
        let e = read_table(&mut MemoryDevice(&mut disk[..])).unwrap_err();
        assert!(matches!(e, PartitionError::Damaged(_)), "{e}");
    }

    fn ebr(disk: &mut [u8], at: usize, link: u32) {
        let s = &mut disk[at * 512..at * 512 + 512];
        s[446 + 4] = 0x83;
        s[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
        s[446 + 12..446 + 16].copy_from_slice(&1u32.to_le_bytes());
        s[462 + 4] = if link == 0 { 0 } else { 0x05 };
        s[462 + 8..462 + 12].copy_from_slice(&link.to_le_bytes());
        s[510] = 0x55;
        s[511] = 0xaa;
    }

    #[test]
    fn logical_partitions_and_looping_chains() {
        let mut disk = mbr_disk(&[(0x05, 2048, 4000)]);
        // 2048 -> 2049 (relative 1) -> end.
        ebr(&mut disk, 2048, 1);
        ebr(&mut disk, 2049, 0);
        let t = read_table(&mut MemoryDevice(&mut disk[..]))
            .unwrap()
            .unwrap();
        let numbers: Vec<u32> = t.partitions().iter().map(|p| p.number).collect();
        assert_eq!(numbers, [5, 6]);
        assert_eq!(t.partitions()[1].start, 2050 * 512);
        // 2048 -> 2049 -> 2049 -> ...
        ebr(&mut disk, 2049, 1);
        let e = read_table(&mut MemoryDevice(&mut disk[..])).unwrap_err();
        assert!(e.to_string().contains("loops"), "{e}");
    }

    #[test]
    fn no_table_on_zeros_and_short_devices() {
        assert!(
            read_table(&mut MemoryDevice(vec![0u8; 1 << 20]))
                .unwrap()
                .is_none()
        );
        assert!(
            read_table(&mut MemoryDevice(vec![0u8; 100]))
                .unwrap()
                .is_none()
        );
        let e = Partition::open(Box::new(MemoryDevice(vec![0u8; 1 << 20])), 1)
            .err()
            .unwrap();
        assert_eq!(e, PartitionError::NoTable);
    }

    #[test]
    fn protective_mbr_without_gpt_is_damaged() {
        let mut disk = mbr_disk(&[(0xee, 1, 8000)]);
        let e = read_table(&mut MemoryDevice(&mut disk[..])).unwrap_err();
        assert!(e.to_string().contains("GPT"), "{e}");
    }

    #[test]
    fn window_checks_its_bounds() {
        let dev = Box::new(MemoryDevice((0..=255u8).collect::<Vec<_>>()));
        let mut p = Partition::new(dev, 16, 32).unwrap();
        let mut b = [0u8; 4];
        p.read_at(28, &mut b).unwrap();
        assert_eq!(b, [44, 45, 46, 47]);
        assert!(p.read_at(30, &mut b).is_err());
        let dev = Box::new(MemoryDevice(vec![0u8; 10]));
        assert!(Partition::new(dev, 8, 4).is_err());
    }

    /// A disk of 2048 sectors of 4096 bytes with a protective MBR and a primary GPT whose
    /// entry 2 is a partition at sectors 256-511 (no backup: the primary is enough).
    fn gpt_4096() -> Vec<u8> {
        use bytemuck::bytes_of;
        use gpt_disk_types::{
            Crc32, GptHeader, GptPartitionEntry, GptPartitionType, LbaLe, MasterBootRecord, U32Le,
        };
        let ss = 4096;
        let mut disk = vec![0u8; 2048 * ss];
        disk[..512].copy_from_slice(bytes_of(&MasterBootRecord::protective_mbr(2048)));
        let mut array = vec![0u8; 128 * 128];
        let entry = GptPartitionEntry {
            partition_type_guid: GptPartitionType::BASIC_DATA,
            starting_lba: LbaLe::from_u64(256),
            ending_lba: LbaLe::from_u64(511),
            name: "data".parse().unwrap(),
            ..Default::default()
        };
        array[128..256].copy_from_slice(bytes_of(&entry));
        let crc = crc::Crc::<u32>::new(&Crc32::ALGORITHM);
        let mut header = GptHeader {
            my_lba: LbaLe::from_u64(1),
            alternate_lba: LbaLe::from_u64(2047),
            first_usable_lba: LbaLe::from_u64(6),
            last_usable_lba: LbaLe::from_u64(2042),
            partition_entry_lba: LbaLe::from_u64(2),
            number_of_partition_entries: U32Le::from_u32(128),
            partition_entry_array_crc32: Crc32(U32Le::from_u32(crc.checksum(&array))),
            ..Default::default()
        };
        header.update_header_crc32();
        disk[ss..ss + 92].copy_from_slice(bytes_of(&header));
        disk[2 * ss..2 * ss + array.len()].copy_from_slice(&array);
        disk
    }

    #[test]
    fn gpt_with_4096_byte_sectors_is_found() {
        let disk = gpt_4096();
        let t = read_table(&mut MemoryDevice(&disk[..])).unwrap().unwrap();
        let PartitionTable::Gpt {
            sector_size,
            partitions,
        } = t
        else {
            panic!("{t:?}");
        };
        assert_eq!(sector_size, 4096);
        assert_eq!(partitions.len(), 1);
        let p = &partitions[0];
        assert_eq!((p.number, p.start, p.size), (2, 256 * 4096, 256 * 4096));
        assert_eq!(
            p.to_string(),
            "partition 2: 1048576 bytes at offset 1048576, GPT type EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 \"data\""
        );
    }
}
