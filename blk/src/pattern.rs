//! The pattern disk of the block tests: every 512-byte sector holds its own number, bytes that
//! depend on that number, and a checksum of both, so a read of the wrong sector, a shifted
//! read or a torn one is caught. `cargo xtask test` writes such an image on the host; the
//! kernel and the user programs check what they read back.

/// Byte `index` of the pattern's bodies (a mixing function, so shifted copies do not match).
const fn body_byte(index: u64) -> u8 {
    let mut x = index.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) as u8
}

/// Bytes per sector of the pattern.
pub const SECTOR: usize = 512;
/// Sectors of the boot-module pattern disk the test ISOs carry: 2 MiB.
pub const MODULE_SECTORS: u64 = 4096;
/// The partitions `cargo xtask test` writes over the test ISOs' pattern disk with `sfdisk`
/// (an MBR in sector 0, which so no longer holds the pattern): (number, first sector, sector
/// count, MBR type).
pub const PARTITIONS: [(u32, u64, u64, u8); 2] = [(1, 2048, 1024, 0x83), (2, 3072, 1024, 0x07)];

/// Sectors of the `disks` scenario's scratch disk: 8 MiB, blank but for a GPT.
pub const SCRATCH_SECTORS: u64 = 16384;
/// The GPT partitions `cargo xtask test` writes on that scratch disk with `sfdisk`: (number,
/// first sector, sector count). The kernel reads the table at boot, before the tests write.
pub const SCRATCH_GPT: [(u32, u64, u64); 2] = [(1, 2048, 4096), (2, 6144, 8192)];

/// GRUB module word that marks a boot-module disk (`module2 /boot/... lux9-disk`).
pub const MODULE_WORD: &str = "lux9-disk";

/// FNV-1a, 64 bits: enough to tell a sector from any other.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Sector `number` of the pattern.
pub fn sector(number: u64) -> [u8; SECTOR] {
    let mut out = [0u8; SECTOR];
    out[..8].copy_from_slice(&number.to_le_bytes());
    for (i, b) in out[8..SECTOR - 8].iter_mut().enumerate() {
        *b = body_byte(number.wrapping_mul(SECTOR as u64).wrapping_add(i as u64));
    }
    let sum = checksum(&out[..SECTOR - 8]);
    out[SECTOR - 8..].copy_from_slice(&sum.to_le_bytes());
    out
}

/// Checks that `bytes` is sector `number` of the pattern; the error says what is wrong.
pub fn check(number: u64, bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.len() != SECTOR {
        return Err("not a whole sector");
    }
    let sum = checksum(&bytes[..SECTOR - 8]).to_le_bytes();
    if bytes[SECTOR - 8..] != sum {
        return Err("checksum mismatch: a torn or foreign sector");
    }
    if bytes[..8] != number.to_le_bytes() {
        return Err("a whole pattern sector, but another one");
    }
    if bytes != sector(number) {
        return Err("the sector's number and checksum match but its body does not");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectors_check_and_differ() {
        for n in [0, 1, 2, 4095, 1 << 40] {
            assert_eq!(check(n, &sector(n)), Ok(()));
        }
        assert_eq!(
            check(5, &sector(6)),
            Err("a whole pattern sector, but another one")
        );
        let mut torn = sector(7);
        torn[100] ^= 1;
        assert!(check(7, &torn).is_err());
        let mut shifted = [0u8; SECTOR];
        shifted[..SECTOR - 1].copy_from_slice(&sector(7)[1..]);
        assert!(check(7, &shifted).is_err());
        assert!(check(7, &sector(7)[..100]).is_err());
    }
}
