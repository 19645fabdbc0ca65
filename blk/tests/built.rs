//! GPTs built from gpt_disk_types' structures: 4096-byte sectors, and entries that lie outside
//! the disk or the usable sectors.

mod common;
use common::{Entry, fix_gpt_crcs, gpt_image};
use lux9_blk::{
    Error, GptDamage, GptPartitionType, MemoryDisk, PartitionKind, RefusedReason, Scheme,
    read_table,
};

fn linux() -> GptPartitionType {
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4".parse().unwrap()
}

#[test]
fn gpt_with_4096_byte_sectors() {
    // 2048 sectors of 4 KiB (8 MiB); 128 entries take 4 sectors, so sectors 6-2042 are usable.
    let disk = gpt_image(
        4096,
        2048,
        &[
            Entry(0, GptPartitionType::EFI_SYSTEM, 256, 511, "esp"),
            Entry(1, linux(), 512, 1535, "root"),
            Entry(4, GptPartitionType::BASIC_DATA, 1536, 2041, "data"),
        ],
    );
    let t = read_table(&mut MemoryDisk::new(&disk, 4096))
        .unwrap()
        .unwrap();
    let got: Vec<_> = t
        .partitions
        .iter()
        .map(|p| match &p.kind {
            PartitionKind::Gpt { kind, name, .. } => (
                p.number,
                p.extent.first(),
                p.extent.count(),
                *kind,
                name.to_string(),
            ),
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, 256, 256, GptPartitionType::EFI_SYSTEM, "esp".into()),
            (2, 512, 1024, linux(), "root".into()),
            (5, 1536, 506, GptPartitionType::BASIC_DATA, "data".into()),
        ]
    );
    assert!(t.refused.is_empty());
    // Its backup header, at 4096-byte sector 2047.
    let mut damaged = disk.clone();
    damaged[4096 + 40] ^= 0x80;
    let t = read_table(&mut MemoryDisk::new(&damaged, 4096))
        .unwrap()
        .unwrap();
    assert!(matches!(
        t.scheme,
        Scheme::Gpt {
            header_lba: 2047,
            primary_damage: Some(GptDamage::HeaderCrc { .. }),
            ..
        }
    ));
    assert_eq!(t.partitions.len(), 3);
    // Read as if its sectors were 512 bytes, the headers are not where they should be.
    assert_eq!(
        read_table(&mut MemoryDisk::new(&disk, 512)),
        Err(Error::Gpt {
            primary: GptDamage::Signature,
            backup: GptDamage::Signature
        })
    );
}

#[test]
fn gpt_entries_outside_are_refused_and_keep_their_numbers() {
    // 4096 sectors of 512 bytes: usable 34-4062.
    let disk = gpt_image(
        512,
        4096,
        &[
            Entry(0, linux(), 2048, 2099, "fine"),
            Entry(1, linux(), 3000, 2999, "reversed"),
            Entry(2, linux(), 4000, 4095, "past usable"),
            Entry(3, linux(), 4000, 9999, "past the end"),
            Entry(4, linux(), 10, 100, "on the table"),
            Entry(5, linux(), 0, u64::MAX, "everything"),
            Entry(6, linux(), 3000, 3000, "one sector"),
        ],
    );
    let t = read_table(&mut MemoryDisk::new(&disk, 512))
        .unwrap()
        .unwrap();
    let kept: Vec<_> = t
        .partitions
        .iter()
        .map(|p| (p.number, p.extent.first(), p.extent.count()))
        .collect();
    assert_eq!(kept, [(1, 2048, 52), (7, 3000, 1)]);
    let usable = RefusedReason::OutsideUsable {
        first_usable: 34,
        last_usable: 4062,
    };
    let past_end = RefusedReason::PastEnd { disk_sectors: 4096 };
    let refused: Vec<_> = t.refused.iter().map(|r| (r.number, r.reason)).collect();
    assert_eq!(
        refused,
        [
            (2, RefusedReason::Reversed),
            (3, usable),
            (4, past_end),
            (5, usable),
            (6, past_end)
        ]
    );
    assert!(t.refused[3].reason.to_string().contains("34-4062"));
}

#[test]
fn gpt_header_fields_are_checked() {
    let good = gpt_image(512, 4096, &[Entry(0, linux(), 2048, 2099, "fine")]);
    // (byte offset in the header, value written, the damage expected), each with its CRC
    // fixed so that the check behind the CRC is the one that fires.
    type Case = (usize, &'static [u8], fn(GptDamage) -> bool);
    let cases: [Case; 7] = [
        (12, &[91, 0, 0, 0], |d| d == GptDamage::HeaderSize(91)),
        (12, &[0x01, 2, 0, 0], |d| d == GptDamage::HeaderSize(513)),
        (24, &[7, 0, 0, 0], |d| {
            d == GptDamage::MyLba {
                expected: 1,
                found: 7,
            }
        }),
        (48, &[0xff, 0xff, 0, 0], |d| {
            matches!(d, GptDamage::UsableRange { .. })
        }),
        (84, &[0x80, 1, 0, 0], |d| d == GptDamage::EntrySize(384)),
        (80, &[0xff, 0xff, 0xff, 0xff], |d| {
            d == GptDamage::EntryCount(u32::MAX)
        }),
        (72, &[0xf0, 0x0f, 0, 0], |d| {
            d == GptDamage::EntryArrayOutside { lba: 4080 }
        }),
    ];
    for (at, value, expect) in cases {
        let mut disk = good.clone();
        disk[512 + at..512 + at + value.len()].copy_from_slice(value);
        fix_gpt_crcs(&mut disk, 512, 1);
        let t = read_table(&mut MemoryDisk::new(&disk, 512))
            .unwrap()
            .unwrap();
        match t.scheme {
            Scheme::Gpt {
                header_lba: 4095,
                primary_damage: Some(d),
                ..
            } => assert!(expect(d), "offset {at}: {d:?}"),
            s => panic!("offset {at}: {s:?}"),
        }
        assert_eq!(t.partitions.len(), 1);
    }
}
