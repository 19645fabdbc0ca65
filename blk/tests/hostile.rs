//! Hostile input: random sectors, and sfdisk-made tables with random bytes changed (their
//! GPT CRCs sometimes recomputed, so the checks behind them are reached). Every input must give
//! a table, no table or an error, never a panic; every partition given must lie inside the disk,
//! with increasing numbers and none also refused.

mod common;
use common::{MIB, fix_gpt_crcs, sfdisk_image};
use lux9_blk::{Error, MemoryDisk, PartitionTable, Scheme, read_table};

/// xorshift64*: a fixed seed, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Default, Debug)]
struct Tally {
    tables: usize,
    none: usize,
    errors: usize,
    refused: usize,
    backup_used: usize,
}

/// Reads `disk`'s table and checks what comes back.
fn read_and_check(disk: &[u8], ss: u32, tally: &mut Tally) -> Option<PartitionTable> {
    let sectors = disk.len() as u64 / u64::from(ss);
    match read_table(&mut MemoryDisk::new(disk, ss)) {
        Ok(Some(t)) => {
            tally.tables += 1;
            tally.refused += t.refused.len();
            let mut last = 0;
            for p in &t.partitions {
                assert!(p.number > last, "numbers not increasing: {t:?}");
                last = p.number;
                assert!(p.extent.count() > 0, "{p:?}");
                assert!(p.extent.fits_in(sectors), "{p:?} on {sectors} sectors");
                assert!(p.extent.first() > 0, "{p:?}");
                assert!(!t.refused.iter().any(|r| r.number == p.number), "{t:?}");
            }
            if let Scheme::Gpt {
                primary_damage: Some(_),
                ..
            } = t.scheme
            {
                tally.backup_used += 1;
            }
            Some(t)
        }
        Ok(None) => {
            tally.none += 1;
            None
        }
        Err(e) => {
            tally.errors += 1;
            // Every error can be shown; a memory disk never fails to read inside itself.
            assert!(!e.to_string().is_empty());
            assert!(!matches!(e, Error::Io { .. }), "{e:?}");
            None
        }
    }
}

#[test]
fn random_sectors_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    for i in 0..3000 {
        let ss = if i % 4 == 0 { 4096 } else { 512 };
        let sectors = rng.below(if ss == 512 { 48 } else { 12 });
        let mut disk: Vec<u8> = (0..ss * sectors).map(|_| rng.next() as u8).collect();
        if sectors > 0 && i % 3 != 0 {
            disk[510] = 0x55;
            disk[511] = 0xaa;
            // Valid boot indicators, so the sector counts as an MBR more often.
            for slot in 0..4 {
                if rng.below(2) == 0 {
                    disk[446 + 16 * slot] = 0;
                }
            }
            if i % 5 == 0 {
                disk[446 + 4] = 0xee;
            }
        }
        if sectors > 2 && i % 2 == 0 {
            let at = ss;
            disk[at..at + 8].copy_from_slice(b"EFI PART");
            // Small, plausible numbers in some fields, so the later checks are reached.
            disk[at + 12..at + 16].copy_from_slice(&92u32.to_le_bytes());
            disk[at + 24..at + 32].copy_from_slice(&1u64.to_le_bytes());
            disk[at + 72..at + 80].copy_from_slice(&(rng.below(sectors) as u64).to_le_bytes());
            disk[at + 80..at + 84].copy_from_slice(&(rng.below(64) as u32).to_le_bytes());
            disk[at + 84..at + 88].copy_from_slice(&128u32.to_le_bytes());
            if rng.below(2) == 0 {
                disk[at + 40..at + 48].copy_from_slice(&(rng.below(sectors) as u64).to_le_bytes());
                disk[at + 48..at + 56].copy_from_slice(&(rng.below(sectors) as u64).to_le_bytes());
            }
            fix_gpt_crcs(&mut disk, ss, 1);
        }
        read_and_check(&disk, ss as u32, &mut tally);
    }
    println!("random sectors: {tally:?}");
    assert!(
        tally.tables > 0 && tally.errors > 0 && tally.none > 0,
        "{tally:?}"
    );
}

/// Changes 1-8 random bytes of `pristine`'s table sectors (sometimes any byte), optionally
/// recomputes GPT CRCs, reads the result, and puts the bytes back.
fn mutate_and_read(pristine: &[u8], gpt: bool, iterations: usize, seed: u64) -> Tally {
    let ss = 512;
    let sectors = pristine.len() / ss;
    let table_sectors: Vec<usize> = (0..sectors)
        .filter(|&s| pristine[s * ss..(s + 1) * ss].iter().any(|&b| b != 0))
        .collect();
    let mut disk = pristine.to_vec();
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for _ in 0..iterations {
        let mut changed = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let at = if rng.below(16) == 0 {
                rng.below(disk.len())
            } else {
                table_sectors[rng.below(table_sectors.len())] * ss + rng.below(ss)
            };
            changed.push(at);
            disk[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => disk[at] ^ (1 << rng.below(8)),
                _ => rng.next() as u8,
            };
        }
        if gpt && rng.below(2) == 0 {
            fix_gpt_crcs(&mut disk, ss, 1);
            changed.extend(ss..2 * ss);
            if rng.below(2) == 0 {
                fix_gpt_crcs(&mut disk, ss, sectors - 1);
                changed.extend((sectors - 1) * ss..sectors * ss);
            }
        }
        read_and_check(&disk, ss as u32, &mut tally);
        for at in changed {
            disk[at] = pristine[at];
        }
    }
    assert_eq!(disk, pristine);
    tally
}

#[test]
fn mutated_mbr_tables_never_panic() {
    let pristine = sfdisk_image(
        12 * MIB,
        "label: dos\n\
         start=2048, size=2048, type=83, bootable\n\
         start=8192, size=12000, type=5\n\
         start=10240, size=4096, type=83\n\
         start=16384, size=2048, type=82\n\
         start=22528, size=1024, type=c\n",
    );
    let tally = mutate_and_read(&pristine, false, 10_000, 1);
    println!("mutated MBR: {tally:?}");
    // The loop reaches tables with refused entries and damaged chains, not only intact ones.
    assert!(
        tally.tables > 0 && tally.errors > 0 && tally.refused > 0,
        "{tally:?}"
    );
}

#[test]
fn mutated_gpt_tables_never_panic() {
    let pristine = sfdisk_image(
        4 * MIB,
        "label: gpt\n\
         NAME1 : start=2048, size=1024, type=U, name=esp\n\
         NAME3 : start=4096, size=2048, type=L, name=root\n\
         NAME4 : start=6144, size=1024, type=S\n",
    );
    let tally = mutate_and_read(&pristine, true, 10_000, 2);
    println!("mutated GPT: {tally:?}");
    assert!(
        tally.tables > 0 && tally.errors > 0 && tally.backup_used > 0 && tally.refused > 0,
        "{tally:?}"
    );
}
