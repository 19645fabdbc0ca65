//! The physical region descriptor (PRD) table of Bus Master IDE (SFF-8038i): the list of memory
//! regions an IDE channel's bus master moves a transfer's bytes through.
//!
//! Each entry is 8 bytes: a 32-bit physical address (bit 0 zero), a 16-bit byte count (0 means
//! 64 KiB; bit 0 zero) and, in the top bit of the last 16 bits, end of table. A region may not
//! cross a 64 KiB boundary, so one contiguous buffer becomes as many entries as the boundaries it
//! crosses, plus one.

/// The most bytes one entry describes, and the boundary no entry may cross.
pub const REGION: u64 = 64 * 1024;
/// Flag of the table's last entry.
const END_OF_TABLE: u64 = 1 << 63;

/// Why a buffer cannot be described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrdError {
    /// No bytes at all.
    Empty,
    /// The address or the length is odd.
    Odd,
    /// Part of it lies at or above 4 GiB, where the bus master's 32-bit addresses do not reach.
    Above4GiB,
    /// It needs more entries than the table holds.
    TooLong,
}

/// Fills `table` with the entries for `len` bytes at `phys` (each as the little-endian 64-bit
/// value the device reads) and returns how many it used; the last carries end of table.
pub fn fill(phys: u64, len: u64, table: &mut [u64]) -> Result<usize, PrdError> {
    if len == 0 {
        return Err(PrdError::Empty);
    }
    if phys & 1 != 0 || len & 1 != 0 {
        return Err(PrdError::Odd);
    }
    let end = phys.checked_add(len).ok_or(PrdError::Above4GiB)?;
    if end > 1 << 32 {
        return Err(PrdError::Above4GiB);
    }
    let mut at = phys;
    let mut used = 0;
    while at < end {
        let boundary = (at / REGION + 1) * REGION;
        let count = boundary.min(end) - at;
        let slot = table.get_mut(used).ok_or(PrdError::TooLong)?;
        // A count of 64 KiB is written as 0, which is what its low 16 bits are.
        *slot = at | (count & 0xffff) << 32;
        used += 1;
        at += count;
    }
    table[used - 1] |= END_OF_TABLE;
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (address, byte count, end of table) of each entry.
    fn decode(table: &[u64]) -> Vec<(u64, u64, bool)> {
        table
            .iter()
            .map(|&e| {
                let count = (e >> 32) & 0xffff;
                (
                    e & 0xffff_ffff,
                    if count == 0 { REGION } else { count },
                    e & END_OF_TABLE != 0,
                )
            })
            .collect()
    }

    fn entries(phys: u64, len: u64) -> Result<Vec<(u64, u64, bool)>, PrdError> {
        let mut table = [0u64; 8];
        let used = fill(phys, len, &mut table)?;
        Ok(decode(&table[..used]))
    }

    #[test]
    fn one_sector() {
        assert_eq!(entries(0x1000, 512), Ok(vec![(0x1000, 512, true)]));
    }

    #[test]
    fn a_whole_aligned_region_is_a_count_of_zero() {
        let mut table = [0u64; 2];
        assert_eq!(fill(0x2_0000, REGION, &mut table), Ok(1));
        assert_eq!(table[0], 0x2_0000 | END_OF_TABLE);
    }

    #[test]
    fn split_at_64_kib_boundaries() {
        // 128 KiB starting 16 bytes before a boundary: three entries.
        assert_eq!(
            entries(0x1_fff0, 2 * REGION),
            Ok(vec![
                (0x1_fff0, 0x10, false),
                (0x2_0000, REGION, false),
                (0x3_0000, REGION - 0x10, true),
            ])
        );
        // Ending exactly on a boundary: no empty entry after it.
        assert_eq!(
            entries(0x1_f000, 0x1000 + REGION),
            Ok(vec![(0x1_f000, 0x1000, false), (0x2_0000, REGION, true)])
        );
    }

    #[test]
    fn every_entry_stays_inside_its_region() {
        for phys in (0..0x3_0000u64).step_by(0x1e02) {
            for len in [2, 512, 4096, 0xfffe, REGION, REGION + 512, 2 * REGION] {
                let list = entries(phys, len).expect("fits");
                let mut at = phys;
                for (i, &(address, count, last)) in list.iter().enumerate() {
                    assert_eq!(address, at);
                    assert!(count <= REGION);
                    assert_eq!(address / REGION, (address + count - 1) / REGION);
                    assert_eq!(last, i == list.len() - 1);
                    at += count;
                }
                assert_eq!(at, phys + len);
            }
        }
    }

    #[test]
    fn refused() {
        let mut table = [0u64; 2];
        assert_eq!(fill(0x1000, 0, &mut table), Err(PrdError::Empty));
        assert_eq!(fill(0x1001, 512, &mut table), Err(PrdError::Odd));
        assert_eq!(fill(0x1000, 511, &mut table), Err(PrdError::Odd));
        assert_eq!(
            fill((1 << 32) - 512, 1024, &mut table),
            Err(PrdError::Above4GiB)
        );
        assert_eq!(fill(u64::MAX - 1, 2, &mut table), Err(PrdError::Above4GiB));
        assert_eq!(fill(0, 3 * REGION, &mut table), Err(PrdError::TooLong));
        // The last bytes below 4 GiB are fine.
        assert_eq!(fill((1 << 32) - 512, 512, &mut table), Ok(1));
    }
}
