//! MBR and GPT partition tables, and a [`Partition`]: a window onto a device.
//!
//! Numbering follows Linux: MBR primary partitions are 1-4 by slot, logical
//! partitions inside an extended one are 5 and up in chain order; GPT
//! partitions are numbered by their slot in the entry array (empty slots are
//! skipped, not renumbered). Every field read from the disk is checked before
//! it is used, so a damaged table is an error, never a panic or a loop.

use super::{BlockDevice, DeviceError, check_range};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

const GPT_SIGNATURE: &[u8; 8] = b"EFI PART";
/// Most GPT entries accepted (the usual table has 128).
const MAX_GPT_ENTRIES: u32 = 16384;
/// Most logical partitions followed in an MBR extended partition chain.
const MAX_LOGICAL: u32 = 256;

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

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

fn guid_string(g: &[u8; 16]) -> String {
    // GUIDs are stored with their first three fields little-endian.
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        u32_at(g, 0),
        u16_at(g, 4),
        u16_at(g, 6),
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

struct MbrEntry {
    status: u8,
    kind: u8,
    lba: u32,
    sectors: u32,
}

fn mbr_entries(sector: &[u8]) -> [MbrEntry; 4] {
    core::array::from_fn(|i| {
        let e = &sector[446 + 16 * i..446 + 16 * (i + 1)];
        MbrEntry {
            status: e[0],
            kind: e[4],
            lba: u32_at(e, 8),
            sectors: u32_at(e, 12),
        }
    })
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

/// Reads the partition table of `device`: `Ok(None)` if it has none.
pub fn read_table(device: &mut dyn BlockDevice) -> Result<Option<PartitionTable>, PartitionError> {
    if device.size() < 512 {
        return Ok(None);
    }
    let mut mbr = [0u8; 512];
    device.read_at(0, &mut mbr)?;
    let signed = mbr[510] == 0x55 && mbr[511] == 0xaa;
    let protective = signed && mbr_entries(&mbr).iter().any(|e| e.kind == 0xee);
    if protective || !signed {
        for sector_size in [512u32, 4096] {
            match read_gpt(device, sector_size)? {
                Some(partitions) => {
                    return Ok(Some(PartitionTable::Gpt {
                        sector_size,
                        partitions,
                    }));
                }
                None => continue,
            }
        }
        if protective {
            return Err(PartitionError::Damaged(
                "protective MBR but no valid GPT header at LBA 1 or at the end of the disk".into(),
            ));
        }
        return Ok(None);
    }
    read_mbr(device, &mbr).map(|p| p.map(PartitionTable::Mbr))
}

fn read_mbr(
    device: &mut dyn BlockDevice,
    mbr: &[u8; 512],
) -> Result<Option<Vec<PartitionInfo>>, PartitionError> {
    let entries = mbr_entries(mbr);
    // A boot sector of some filesystem also ends in 55 AA: only take it for an
    // MBR if every used entry has a valid status byte and a length.
    let used = entries.iter().filter(|e| e.kind != 0);
    if used
        .clone()
        .any(|e| (e.status != 0 && e.status != 0x80) || e.sectors == 0)
    {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut extended = None;
    for (i, e) in entries.iter().enumerate() {
        if e.kind == 0 {
            continue;
        }
        if is_extended(e.kind) {
            if extended.is_none() {
                extended = Some((u64::from(e.lba), u64::from(e.sectors)));
            }
            continue;
        }
        out.push(mbr_partition(
            device,
            i as u32 + 1,
            u64::from(e.lba),
            e.sectors,
            e.kind,
        )?);
    }
    if let Some((ext_start, ext_len)) = extended {
        read_logical(device, ext_start, ext_len, &mut out)?;
    }
    Ok(Some(out))
}

fn mbr_partition(
    device: &dyn BlockDevice,
    number: u32,
    lba: u64,
    sectors: u32,
    kind: u8,
) -> Result<PartitionInfo, PartitionError> {
    let start = lba * 512;
    let size = u64::from(sectors) * 512;
    if lba == 0 || start + size > device.size() {
        return Err(PartitionError::Damaged(format!(
            "MBR partition {number} ({size} bytes at {start}) does not lie inside the {}-byte image",
            device.size()
        )));
    }
    Ok(PartitionInfo {
        number,
        start,
        size,
        kind: PartitionKind::Mbr(kind),
    })
}

fn read_logical(
    device: &mut dyn BlockDevice,
    ext_start: u64,
    ext_len: u64,
    out: &mut Vec<PartitionInfo>,
) -> Result<(), PartitionError> {
    let mut ebr_lba = ext_start;
    let mut number = 5;
    let mut seen = Vec::new();
    loop {
        if seen.contains(&ebr_lba) || seen.len() as u32 >= MAX_LOGICAL {
            return Err(PartitionError::Damaged(
                "the extended partition chain loops".into(),
            ));
        }
        seen.push(ebr_lba);
        let mut ebr = [0u8; 512];
        device.read_at(ebr_lba * 512, &mut ebr).map_err(|_| {
            PartitionError::Damaged(format!(
                "extended boot record at sector {ebr_lba} is outside the image"
            ))
        })?;
        if ebr[510] != 0x55 || ebr[511] != 0xaa {
            return Err(PartitionError::Damaged(format!(
                "no signature on the extended boot record at sector {ebr_lba}"
            )));
        }
        let [first, link, ..] = mbr_entries(&ebr);
        if first.kind != 0 && first.sectors != 0 {
            out.push(mbr_partition(
                device,
                number,
                ebr_lba + u64::from(first.lba),
                first.sectors,
                first.kind,
            )?);
            number += 1;
        }
        if link.kind == 0 || link.lba == 0 {
            return Ok(());
        }
        if u64::from(link.lba) >= ext_len {
            return Err(PartitionError::Damaged(
                "an extended boot record points outside the extended partition".into(),
            ));
        }
        ebr_lba = ext_start + u64::from(link.lba);
    }
}

fn read_gpt(
    device: &mut dyn BlockDevice,
    sector_size: u32,
) -> Result<Option<Vec<PartitionInfo>>, PartitionError> {
    let ss = u64::from(sector_size);
    let sectors = device.size() / ss;
    if sectors < 3 {
        return Ok(None);
    }
    let primary = read_gpt_at(device, ss, 1);
    match primary {
        Ok(Some(p)) => Ok(Some(p)),
        // Primary missing or damaged: the backup header is in the last sector.
        _ => match read_gpt_at(device, ss, sectors - 1) {
            Ok(Some(p)) => Ok(Some(p)),
            Ok(None) => primary.map_err(PartitionError::Damaged),
            Err(backup) => Err(PartitionError::Damaged(match primary {
                Err(p) => format!("{p}; backup: {backup}"),
                Ok(_) => backup,
            })),
        },
    }
}

fn read_gpt_at(
    device: &mut dyn BlockDevice,
    ss: u64,
    lba: u64,
) -> Result<Option<Vec<PartitionInfo>>, String> {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut header = vec![0u8; ss as usize];
    device
        .read_at(lba * ss, &mut header)
        .map_err(|e| format!("GPT header: {e}"))?;
    if &header[..8] != GPT_SIGNATURE {
        return Ok(None);
    }
    let header_size = u32_at(&header, 12) as usize;
    if !(92..=header.len()).contains(&header_size) {
        return Err(format!(
            "GPT header at LBA {lba} has a bad size {header_size}"
        ));
    }
    let stored = u32_at(&header, 16);
    let mut digest = CRC.digest();
    digest.update(&header[..16]);
    digest.update(&[0; 4]);
    digest.update(&header[20..header_size]);
    if digest.finalize() != stored {
        return Err(format!("GPT header at LBA {lba} fails its CRC"));
    }
    let entries_lba = u64_at(&header, 72);
    let count = u32_at(&header, 80);
    let entry_size = u32_at(&header, 84) as usize;
    let entries_crc = u32_at(&header, 88);
    if count > MAX_GPT_ENTRIES
        || !(128..=4096).contains(&entry_size)
        || !entry_size.is_multiple_of(8)
    {
        return Err(format!(
            "GPT header at LBA {lba}: unusable entry array ({count} entries of {entry_size} bytes)"
        ));
    }
    let len = count as usize * entry_size;
    let at = entries_lba
        .checked_mul(ss)
        .filter(|&at| check_range(at, len, device.size()).is_ok())
        .ok_or_else(|| "GPT entry array is outside the image".to_string())?;
    let mut entries = vec![0u8; len];
    device
        .read_at(at, &mut entries)
        .map_err(|_| "GPT entry array is outside the image".to_string())?;
    if CRC.checksum(&entries) != entries_crc {
        return Err(format!(
            "GPT entry array of the header at LBA {lba} fails its CRC"
        ));
    }
    let sectors = device.size() / ss;
    let mut out = Vec::new();
    for (i, e) in entries.chunks_exact(entry_size).enumerate() {
        let mut type_guid = [0u8; 16];
        type_guid.copy_from_slice(&e[..16]);
        if type_guid == [0; 16] {
            continue;
        }
        let number = i as u32 + 1;
        let (first, last) = (u64_at(e, 32), u64_at(e, 40));
        if first == 0 || last < first || last >= sectors {
            return Err(format!(
                "GPT partition {number} (sectors {first}-{last}) does not lie inside the image"
            ));
        }
        let name: String = char::decode_utf16(
            (0..36)
                .map(|k| u16_at(e, 56 + 2 * k))
                .take_while(|&c| c != 0),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
        out.push(PartitionInfo {
            number,
            start: first * ss,
            size: (last - first + 1) * ss,
            kind: PartitionKind::Gpt { type_guid, name },
        });
    }
    Ok(Some(out))
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
}
