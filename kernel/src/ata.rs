//! What an ATA disk says about itself: the 256 words of its IDENTIFY DEVICE data (ATA/ATAPI-8,
//! ACS), read the same way by the IDE and AHCI drivers.

use alloc::string::String;

/// The fields of IDENTIFY DEVICE data that the drivers use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identify {
    /// Words 27-46: forty ASCII characters, two per word with the first in the high byte, padded
    /// with spaces (trimmed here, as are NULs; anything else but printable ASCII becomes `?`).
    pub model: String,
    /// Addressable logical sectors: words 100-103 with 48-bit addresses, else words 60-61 (0 for
    /// a disk that has no LBA at all, which the drivers refuse).
    pub sectors: u64,
    /// The 48-bit address feature set (word 83 bit 10): the `EXT` commands, up to 65536
    /// sectors per command.
    pub lba48: bool,
    /// Bytes per logical sector: words 117-118 (in 16-bit words) when word 106 says the size is
    /// larger than 256 words, else 512.
    pub sector_size: u32,
    /// DMA is supported (word 49 bit 8).
    pub dma: bool,
}

/// Word 49: capabilities.
const CAPABILITIES: usize = 49;
const CAP_DMA: u16 = 1 << 8;
const CAP_LBA: u16 = 1 << 9;
/// Word 83: command sets supported; valid when bits 15:14 are 01.
const COMMAND_SETS: usize = 83;
const SETS_LBA48: u16 = 1 << 10;
/// Word 106: physical and logical sector size; valid when bits 15:14 are 01.
const SECTOR_SIZES: usize = 106;
const SIZES_LONG_LOGICAL: u16 = 1 << 12;

/// Whether a word whose bits 15:14 must read 01 holds valid data (0x0000 and 0xffff, what
/// devices that predate the word return, do not).
fn valid(word: u16) -> bool {
    word >> 14 == 0b01
}

impl Identify {
    /// Reads the fields from the words as the device sent them (word 0 first).
    pub fn parse(words: &[u16; 256]) -> Identify {
        let mut bytes = [0u8; 40];
        for (pair, word) in bytes.chunks_mut(2).zip(&words[27..=46]) {
            pair.copy_from_slice(&word.to_be_bytes());
        }
        let padding = |b: &u8| *b == b' ' || *b == 0;
        let start = bytes
            .iter()
            .position(|b| !padding(b))
            .unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|b| !padding(b))
            .map_or(start, |i| i + 1);
        let model = bytes[start..end]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect();
        let long = |at: usize, count: usize| {
            (0..count).fold(0u64, |sum, i| sum | u64::from(words[at + i]) << (16 * i))
        };
        let lba = words[CAPABILITIES] & CAP_LBA != 0;
        let lba48 = lba && valid(words[COMMAND_SETS]) && words[COMMAND_SETS] & SETS_LBA48 != 0;
        let sectors = match (lba48, lba) {
            (true, _) => long(100, 4),
            (false, true) => long(60, 2),
            (false, false) => 0,
        };
        let sizes = words[SECTOR_SIZES];
        let sector_size = if valid(sizes) && sizes & SIZES_LONG_LOGICAL != 0 {
            u32::try_from(long(117, 2) * 2).unwrap_or(0)
        } else {
            512
        };
        Identify {
            model,
            sectors,
            lba48,
            sector_size,
            dma: words[CAPABILITIES] & CAP_DMA != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words for `model` in IDENTIFY's order: the first character in the high byte.
    fn put_model(words: &mut [u16; 256], model: &str) {
        let mut bytes = [b' '; 40];
        bytes[..model.len()].copy_from_slice(model.as_bytes());
        for (i, pair) in bytes.chunks(2).enumerate() {
            words[27 + i] = u16::from_be_bytes([pair[0], pair[1]]);
        }
    }

    /// What QEMU's `ide-hd` answers for a disk of `sectors` sectors (hw/ide/core.c,
    /// `ide_identify`): LBA and DMA, the 48-bit feature set, both capacities.
    fn qemu_disk(sectors: u64) -> [u16; 256] {
        let mut words = [0u16; 256];
        words[0] = 0x0040;
        put_model(&mut words, "QEMU HARDDISK");
        words[49] = (1 << 11) | (1 << 9) | (1 << 8);
        let lba28 = sectors.min(0x0fff_ffff);
        words[60] = lba28 as u16;
        words[61] = (lba28 >> 16) as u16;
        words[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
        words[86] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
        for i in 0..4 {
            words[100 + i] = (sectors >> (16 * i)) as u16;
        }
        words
    }

    #[test]
    fn qemu_hard_disk() {
        let id = Identify::parse(&qemu_disk(4096));
        assert_eq!(
            id,
            Identify {
                model: "QEMU HARDDISK".into(),
                sectors: 4096,
                lba48: true,
                sector_size: 512,
                dma: true,
            }
        );
    }

    #[test]
    fn capacity_past_28_bits_comes_from_words_100_to_103() {
        let sectors = (3u64 << 32) | 0x1234_5678;
        let id = Identify::parse(&qemu_disk(sectors));
        assert!(id.lba48);
        assert_eq!(id.sectors, sectors);
    }

    #[test]
    fn without_48_bit_addresses_words_60_and_61() {
        let mut words = qemu_disk(0x0123_4567);
        words[100] = 0xdead; // Ignored: word 83 no longer claims the feature set.
        words[83] = 1 << 14;
        let id = Identify::parse(&words);
        assert!(!id.lba48);
        assert_eq!(id.sectors, 0x0123_4567);
        // A word 83 that predates the validity bits means nothing either.
        words[83] = 0xffff;
        assert!(!Identify::parse(&words).lba48);
        words[83] = SETS_LBA48;
        assert!(!Identify::parse(&words).lba48);
    }

    #[test]
    fn a_disk_without_lba_has_no_sectors() {
        let mut words = qemu_disk(1000);
        words[49] = CAP_DMA;
        let id = Identify::parse(&words);
        assert_eq!(id.sectors, 0);
        assert!(!id.lba48);
    }

    #[test]
    fn dma_is_word_49_bit_8() {
        let mut words = qemu_disk(1000);
        words[49] &= !CAP_DMA;
        assert!(!Identify::parse(&words).dma);
    }

    #[test]
    fn model_is_byte_swapped_and_trimmed() {
        let mut words = qemu_disk(1);
        put_model(&mut words, "  WDC WD800JB-00JJC0 ");
        assert_eq!(Identify::parse(&words).model, "WDC WD800JB-00JJC0");
        // An odd length: the last character shares its word with a space.
        put_model(&mut words, "ABC");
        assert_eq!(Identify::parse(&words).model, "ABC");
        // All forty characters used.
        put_model(&mut words, "0123456789012345678901234567890123456789");
        assert_eq!(
            Identify::parse(&words).model,
            "0123456789012345678901234567890123456789"
        );
    }

    #[test]
    fn model_of_zeros_or_control_bytes() {
        let mut words = qemu_disk(1);
        for w in &mut words[27..=46] {
            *w = 0;
        }
        assert_eq!(Identify::parse(&words).model, "");
        put_model(&mut words, "DISK");
        words[29] = 0x0a41; // "\nA"
        assert_eq!(Identify::parse(&words).model, "DISK?A");
    }

    #[test]
    fn logical_sectors_of_4096_bytes() {
        let mut words = qemu_disk(1 << 20);
        words[106] = (1 << 14) | (1 << 12);
        words[117] = 2048; // In 16-bit words.
        words[118] = 0;
        assert_eq!(Identify::parse(&words).sector_size, 4096);
        // Bit 12 clear: 512 bytes, whatever words 117-118 hold.
        words[106] = (1 << 14) | (1 << 13) | 3;
        assert_eq!(Identify::parse(&words).sector_size, 512);
        // Word 106 not valid.
        words[106] = 0xffff;
        assert_eq!(Identify::parse(&words).sector_size, 512);
    }

    #[test]
    fn all_ones_or_zeros() {
        let id = Identify::parse(&[0; 256]);
        assert_eq!(
            (id.sectors, id.lba48, id.sector_size, id.dma),
            (0, false, 512, false)
        );
        assert_eq!(id.model, "");
        let id = Identify::parse(&[0xffff; 256]);
        assert!(!id.lba48);
        assert_eq!(id.sector_size, 512);
        assert_eq!(id.sectors, 0xffff_ffff);
        assert_eq!(id.model, "?".repeat(40));
    }
}
