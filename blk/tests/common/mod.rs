//! Test disks: images partitioned by sfdisk, GPTs built from gpt_disk_types' structures, and
//! the CRC fix-ups that let a mutated table past its checksums.
#![allow(dead_code, reason = "each test file uses some of these")]

use bytemuck::{bytes_of, pod_read_unaligned};
use gpt_disk_types::{
    Crc32, GptHeader, GptPartitionEntry, GptPartitionType, Guid, LbaLe, MasterBootRecord, U32Le,
};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const MIB: usize = 1 << 20;

/// A `size`-byte disk image partitioned by sfdisk from `script`; `NAME` in the script stands
/// for the image's path (sfdisk takes `NAME3 : ...` as partition 3).
pub fn sfdisk_image(size: usize, script: &str) -> Vec<u8> {
    // Tests run in parallel, several on the same script: each image gets its own directory.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lux9-blk-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let disk = dir.join("disk");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(size as u64)
        .unwrap();
    let script = script.replace("NAME", disk.to_str().unwrap());
    lux9_tests::host_tools::sfdisk(&disk, &script).unwrap_or_else(|why| panic!("{why}"));
    let bytes = std::fs::read(&disk).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

/// One GPT entry for [`gpt_image`]: its slot (0-based), type, first and last sector, name.
pub struct Entry<'a>(
    pub usize,
    pub GptPartitionType,
    pub u64,
    pub u64,
    pub &'a str,
);

const ENTRIES: usize = 128;

/// A disk of `sectors` sectors of `ss` bytes with a protective MBR and a GPT (primary and
/// backup, 128 entries of 128 bytes) holding `entries`, laid out as sfdisk lays one.
pub fn gpt_image(ss: usize, sectors: u64, entries: &[Entry]) -> Vec<u8> {
    let mut disk = vec![0u8; ss * sectors as usize];
    let mbr = MasterBootRecord::protective_mbr(sectors);
    disk[..512].copy_from_slice(bytes_of(&mbr));
    let array_sectors = (ENTRIES * 128).div_ceil(ss) as u64;
    let mut array = vec![0u8; ENTRIES * 128];
    for Entry(slot, kind, first, last, name) in entries {
        let e = GptPartitionEntry {
            partition_type_guid: *kind,
            unique_partition_guid: Guid::from_random_bytes([*slot as u8 + 1; 16]),
            starting_lba: LbaLe::from_u64(*first),
            ending_lba: LbaLe::from_u64(*last),
            attributes: Default::default(),
            name: name.parse().unwrap(),
        };
        array[slot * 128..(slot + 1) * 128].copy_from_slice(bytes_of(&e));
    }
    let array_crc = crc::Crc::<u32>::new(&Crc32::ALGORITHM).checksum(&array);
    for (my_lba, alternate, array_lba) in [
        (1, sectors - 1, 2),
        (sectors - 1, 1, sectors - 1 - array_sectors),
    ] {
        let mut h = GptHeader {
            my_lba: LbaLe::from_u64(my_lba),
            alternate_lba: LbaLe::from_u64(alternate),
            first_usable_lba: LbaLe::from_u64(2 + array_sectors),
            last_usable_lba: LbaLe::from_u64(sectors - 2 - array_sectors),
            disk_guid: Guid::from_random_bytes([0x5a; 16]),
            partition_entry_lba: LbaLe::from_u64(array_lba),
            number_of_partition_entries: U32Le::from_u32(ENTRIES as u32),
            partition_entry_array_crc32: Crc32(U32Le::from_u32(array_crc)),
            ..GptHeader::default()
        };
        h.update_header_crc32();
        let at = my_lba as usize * ss;
        disk[at..at + 92].copy_from_slice(bytes_of(&h));
        let at = array_lba as usize * ss;
        disk[at..at + array.len()].copy_from_slice(&array);
    }
    disk
}

/// Recomputes the CRC-32s of the GPT header at `lba` and its entry array, whatever their
/// fields say, as far as they can be read inside `disk`; so a mutated table passes its
/// checksums and the checks behind them get exercised.
pub fn fix_gpt_crcs(disk: &mut [u8], ss: usize, lba: usize) {
    let crc = crc::Crc::<u32>::new(&Crc32::ALGORITHM);
    let at = lba * ss;
    if disk.len() < at + ss {
        return;
    }
    let mut h: GptHeader = pod_read_unaligned(&disk[at..at + 92]);
    let array_at = (h.partition_entry_lba.to_u64() as usize).saturating_mul(ss);
    let len = (h.number_of_partition_entries.to_u32() as usize)
        .saturating_mul(h.size_of_partition_entry.to_u32() as usize);
    if let Some(array) = disk.get(array_at..array_at.saturating_add(len)) {
        h.partition_entry_array_crc32 = Crc32(U32Le::from_u32(crc.checksum(array)));
    }
    disk[at..at + 92].copy_from_slice(bytes_of(&h));
    let size = (h.header_size.to_u32() as usize).clamp(92, ss);
    let mut digest = crc.digest();
    digest.update(&disk[at..at + 16]);
    digest.update(&[0; 4]);
    digest.update(&disk[at + 20..at + size]);
    let sum = digest.finalize();
    disk[at + 16..at + 20].copy_from_slice(&sum.to_le_bytes());
}
