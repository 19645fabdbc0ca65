//! Partition tables made by sfdisk (and, for 4096-byte sectors, by hand), read back; damaged
//! headers; hostile and mutated tables, which must give an answer or an error, never a panic.

use lux9_blk::{
    Error, FnDisk, GptDamage, GptPartitionType, MbrDamage, MemoryDisk, PartitionKind,
    PartitionTable, RefusedReason, Scheme, read_table,
};

mod common;
use common::{MIB, sfdisk_image};

fn table(bytes: &[u8], sector_size: u32) -> PartitionTable {
    read_table(&mut MemoryDisk::new(bytes, sector_size))
        .unwrap()
        .expect("a partition table")
}

/// (number, first, count) of each partition.
fn layout(t: &PartitionTable) -> Vec<(u32, u64, u64)> {
    t.partitions
        .iter()
        .map(|p| (p.number, p.extent.first(), p.extent.count()))
        .collect()
}

fn mbr_kind(t: &PartitionTable, number: u32) -> (u8, bool) {
    match t.get(number).unwrap().kind {
        PartitionKind::Mbr { kind, bootable } => (kind, bootable),
        ref k => panic!("{k:?}"),
    }
}

fn gpt_kind(t: &PartitionTable, number: u32) -> (GptPartitionType, String) {
    match &t.get(number).unwrap().kind {
        PartitionKind::Gpt { kind, name, .. } => (*kind, name.to_string()),
        k => panic!("{k:?}"),
    }
}

const MBR_SCRIPT: &str = "label: dos\n\
    NAME1 : start=2048, size=4096, type=c, bootable\n\
    NAME3 : start=8192, size=10000, type=83\n\
    NAME4 : start=20480, size=2048, type=7\n";

#[test]
fn mbr_by_sfdisk_keeps_slot_numbers() {
    let disk = sfdisk_image(16 * MIB, MBR_SCRIPT);
    let t = table(&disk, 512);
    assert_eq!(t.scheme, Scheme::Mbr);
    assert_eq!(
        layout(&t),
        [(1, 2048, 4096), (3, 8192, 10000), (4, 20480, 2048)]
    );
    assert!(t.get(2).is_none());
    assert!(t.refused.is_empty());
    assert_eq!(mbr_kind(&t, 1), (0x0c, true));
    assert_eq!(mbr_kind(&t, 3), (0x83, false));
    assert_eq!(mbr_kind(&t, 4), (0x07, false));
}

#[test]
fn mbr_logical_partitions_are_5_and_up() {
    let disk = sfdisk_image(
        16 * MIB,
        "label: dos\n\
         start=2048, size=2048, type=83\n\
         start=8192, size=20000, type=5\n\
         start=10240, size=4096, type=83\n\
         start=16384, size=2048, type=82\n\
         start=20480, size=1024, type=c\n",
    );
    let t = table(&disk, 512);
    assert_eq!(
        layout(&t),
        [
            (1, 2048, 2048),
            (5, 10240, 4096),
            (6, 16384, 2048),
            (7, 20480, 1024)
        ]
    );
    assert_eq!(mbr_kind(&t, 6), (0x82, false));
    assert_eq!(mbr_kind(&t, 7), (0x0c, false));
}

#[test]
fn mbr_chain_that_loops_is_an_error() {
    let mut disk = sfdisk_image(
        16 * MIB,
        "label: dos\nstart=8192, size=20000, type=5\nstart=10240, size=4096, type=83\nstart=16384, size=2048, type=83\n",
    );
    assert_eq!(
        layout(&table(&disk, 512)),
        [(5, 10240, 4096), (6, 16384, 2048)]
    );
    // sfdisk puts the second extended boot record 2048 sectors before its partition. Make its
    // link point to itself (links are relative to the extended partition, at 8192; relative 0
    // would mean "end of chain").
    let second = 16384 - 2048;
    assert_eq!(disk[second * 512 + 510..second * 512 + 512], [0x55, 0xaa]);
    let link = second * 512 + 446 + 16;
    disk[link + 4] = 0x05;
    disk[link + 8..link + 12].copy_from_slice(&((second - 8192) as u32).to_le_bytes());
    disk[link + 12..link + 16].copy_from_slice(&1u32.to_le_bytes());
    let e = read_table(&mut MemoryDisk::new(&disk, 512)).unwrap_err();
    assert_eq!(e, Error::Mbr(MbrDamage::ChainTooLong));
}

#[test]
fn mbr_partition_past_the_end_is_refused() {
    let disk = sfdisk_image(16 * MIB, MBR_SCRIPT);
    // The same table on a disk cut at 10 MiB (20480 sectors): partition 4, which starts
    // there, goes; partition 3 (sectors 8192-18191) stays.
    let short = &disk[..10 * MIB];
    let t = table(short, 512);
    assert_eq!(layout(&t), [(1, 2048, 4096), (3, 8192, 10000)]);
    assert_eq!(t.refused.len(), 1);
    assert_eq!(t.refused[0].number, 4);
    assert_eq!(
        t.refused[0].reason,
        RefusedReason::PastEnd {
            disk_sectors: 20480
        }
    );
    // Cut inside partition 3: it goes too.
    let t = table(&disk[..9000 * 512], 512);
    assert_eq!(layout(&t), [(1, 2048, 4096)]);
    assert_eq!(
        t.refused.iter().map(|r| r.number).collect::<Vec<_>>(),
        [3, 4]
    );
}

const GPT_SCRIPT: &str = "label: gpt\n\
    NAME1 : start=2048, size=4096, type=U, name=\"EFI system\"\n\
    NAME3 : start=8192, size=10000, type=L, name=root\n\
    NAME4 : start=20480, size=2048, type=S\n\
    NAME6 : start=24576, size=100, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"données\"\n";

fn check_gpt_layout(t: &PartitionTable) {
    assert_eq!(
        layout(t),
        [
            (1, 2048, 4096),
            (3, 8192, 10000),
            (4, 20480, 2048),
            (6, 24576, 100)
        ]
    );
    assert!(t.refused.is_empty());
    assert_eq!(
        gpt_kind(t, 1),
        (GptPartitionType::EFI_SYSTEM, "EFI system".into())
    );
    let linux: GptPartitionType = "0FC63DAF-8483-4772-8E79-3D69D8477DE4".parse().unwrap();
    assert_eq!(gpt_kind(t, 3), (linux, "root".into()));
    let swap: GptPartitionType = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F".parse().unwrap();
    assert_eq!(gpt_kind(t, 4), (swap, String::new()));
    assert_eq!(
        gpt_kind(t, 6),
        (GptPartitionType::BASIC_DATA, "données".into())
    );
}

#[test]
fn gpt_by_sfdisk_keeps_entry_numbers() {
    let disk = sfdisk_image(16 * MIB, GPT_SCRIPT);
    let t = table(&disk, 512);
    check_gpt_layout(&t);
    match t.scheme {
        Scheme::Gpt {
            header_lba,
            primary_damage,
            ..
        } => assert_eq!((header_lba, primary_damage), (1, None)),
        s => panic!("{s:?}"),
    }
}

fn backup_used(t: &PartitionTable, disk: &[u8]) -> GptDamage {
    match t.scheme {
        Scheme::Gpt {
            header_lba,
            primary_damage: Some(d),
            ..
        } => {
            assert_eq!(header_lba, disk.len() as u64 / 512 - 1);
            d
        }
        s => panic!("backup not used: {s:?}"),
    }
}

#[test]
fn damaged_primary_gpt_falls_back_to_the_backup() {
    let good = sfdisk_image(16 * MIB, GPT_SCRIPT);
    // A flipped bit in the primary header's disk GUID.
    let mut disk = good.clone();
    disk[512 + 56] ^= 1;
    let t = table(&disk, 512);
    check_gpt_layout(&t);
    assert!(matches!(
        backup_used(&t, &disk),
        GptDamage::HeaderCrc { .. }
    ));
    // The primary header wiped.
    let mut disk = good.clone();
    disk[512..1024].fill(0);
    let t = table(&disk, 512);
    check_gpt_layout(&t);
    assert_eq!(backup_used(&t, &disk), GptDamage::Signature);
    // The primary entry array damaged (entry 3's name), its header intact.
    let mut disk = good.clone();
    disk[1024 + 2 * 128 + 56] = b'X';
    let t = table(&disk, 512);
    check_gpt_layout(&t);
    assert!(matches!(
        backup_used(&t, &disk),
        GptDamage::EntryArrayCrc { .. }
    ));
    // Both headers damaged: an error naming both.
    let mut disk = good;
    disk[512 + 56] ^= 1;
    let last = disk.len() - 512;
    disk[last + 56] ^= 1;
    let e = read_table(&mut MemoryDisk::new(&disk, 512)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Gpt {
                primary: GptDamage::HeaderCrc { .. },
                backup: GptDamage::HeaderCrc { .. }
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("primary header: header CRC-32"),
        "{e}"
    );
}

#[test]
fn protective_mbr_without_any_gpt_is_an_error() {
    let mut disk = sfdisk_image(4 * MIB, "label: gpt\nstart=2048, size=2048\n");
    disk[512..1024].fill(0);
    let last = disk.len() - 512;
    disk[last..].fill(0);
    let e = read_table(&mut MemoryDisk::new(&disk, 512)).unwrap_err();
    assert_eq!(
        e,
        Error::Gpt {
            primary: GptDamage::Signature,
            backup: GptDamage::Signature
        }
    );
}

#[test]
fn blank_and_tiny_disks_have_no_table() {
    for len in [0, 100, 512, 1024, MIB] {
        let zeros = vec![0u8; len];
        assert_eq!(
            read_table(&mut MemoryDisk::new(&zeros, 512)),
            Ok(None),
            "{len}"
        );
    }
    let e = read_table(&mut MemoryDisk::new(&[0; 4096], 1000)).unwrap_err();
    assert_eq!(e, Error::SectorSize(1000));
}

#[test]
fn read_errors_name_their_sector() {
    let image = sfdisk_image(16 * MIB, GPT_SCRIPT);
    // A closure disk that fails on one sector: the primary header, then the entry array.
    for bad in [1u64, 2, 0] {
        let mut disk = FnDisk::new(512, image.len() as u64 / 512, |lba: u64, buf: &mut [u8]| {
            if lba == bad {
                return Err("medium error");
            }
            let at = lba as usize * 512;
            buf.copy_from_slice(&image[at..at + 512]);
            Ok(())
        });
        let e = read_table(&mut disk).unwrap_err();
        assert_eq!(
            e,
            Error::Io {
                lba: bad,
                error: "medium error"
            }
        );
        assert_eq!(e.to_string(), format!("reading sector {bad}: medium error"));
    }
    // The same disk through the closure, read without errors.
    let mut disk = FnDisk::new(512, image.len() as u64 / 512, |lba: u64, buf: &mut [u8]| {
        let at = lba as usize * 512;
        buf.copy_from_slice(&image[at..at + 512]);
        Ok::<(), ()>(())
    });
    check_gpt_layout(&read_table(&mut disk).unwrap().unwrap());
}
