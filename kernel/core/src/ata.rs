//! ATA commands as both disk drivers (AHCI and IDE) send them: the IDENTIFY DEVICE data a
//! disk describes itself with, and the task-file registers of its transfers, also packed as the
//! Serial ATA host-to-device register FIS that AHCI sends.
//!
//! Word numbers follow ATA/ATAPI-8 ACS (T13/1699-D), section 7.16 (IDENTIFY DEVICE).

use alloc::string::String;

/// IDENTIFY DEVICE (PIO data-in, one 512-byte block).
pub const IDENTIFY_DEVICE: u8 = 0xec;
/// READ DMA EXT / WRITE DMA EXT: 48-bit LBA, up to 65536 sectors.
pub const READ_DMA_EXT: u8 = 0x25;
pub const WRITE_DMA_EXT: u8 = 0x35;
/// READ DMA / WRITE DMA: 28-bit LBA, up to 256 sectors.
pub const READ_DMA: u8 = 0xc8;
pub const WRITE_DMA: u8 = 0xca;
/// FLUSH CACHE EXT (48-bit devices) and FLUSH CACHE.
pub const FLUSH_CACHE_EXT: u8 = 0xea;
pub const FLUSH_CACHE: u8 = 0xe7;

/// Status register bits.
pub const STATUS_ERR: u8 = 1 << 0;
pub const STATUS_DRQ: u8 = 1 << 3;
pub const STATUS_DF: u8 = 1 << 5;
pub const STATUS_BSY: u8 = 1 << 7;

/// The device register's LBA bit: the address is a logical block address, not CHS.
const DEVICE_LBA: u8 = 1 << 6;
/// The most sectors one command moves (a count of 0 in the register means this many).
pub const MAX_SECTORS_LBA48: u32 = 65536;
pub const MAX_SECTORS_LBA28: u32 = 256;

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
        // A 48-bit disk that leaves words 100-103 empty gives its size in words 60-61.
        let sectors = match (lba48, lba) {
            (true, _) if long(100, 4) != 0 => long(100, 4),
            (_, true) => long(60, 2),
            (_, false) => 0,
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

/// The task-file registers of one command: what an IDE driver writes to its ports and what an
/// AHCI driver packs into a register FIS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskFile {
    pub command: u8,
    pub features: u16,
    /// Bits 0-47; 28-bit commands use bits 0-27 (24-27 go in the device register).
    pub lba: u64,
    /// The sector count register (0 means 256 or 65536 sectors).
    pub count: u16,
    pub device: u8,
}

impl TaskFile {
    /// IDENTIFY DEVICE.
    pub fn identify() -> TaskFile {
        TaskFile {
            command: IDENTIFY_DEVICE,
            features: 0,
            lba: 0,
            count: 0,
            device: 0,
        }
    }

    /// A DMA read or write of `sectors` sectors at `lba`: the EXT command on a 48-bit disk,
    /// else the 28-bit one. `None` when the disk cannot address it in one command (no sectors,
    /// too many, or past the last LBA the command reaches).
    pub fn transfer(write: bool, lba48: bool, lba: u64, sectors: u32) -> Option<TaskFile> {
        let (max, lba_bits) = if lba48 {
            (MAX_SECTORS_LBA48, 48)
        } else {
            (MAX_SECTORS_LBA28, 28)
        };
        let end = lba.checked_add(u64::from(sectors))?;
        if sectors == 0 || sectors > max || end > 1 << lba_bits {
            return None;
        }
        let command = match (write, lba48) {
            (false, true) => READ_DMA_EXT,
            (true, true) => WRITE_DMA_EXT,
            (false, false) => READ_DMA,
            (true, false) => WRITE_DMA,
        };
        let device = if lba48 {
            DEVICE_LBA
        } else {
            DEVICE_LBA | (lba >> 24) as u8 & 0x0f
        };
        Some(TaskFile {
            command,
            features: 0,
            lba,
            // The full count wraps to 0 (in 16 or 8 bits), which is what the register means.
            count: if lba48 {
                sectors as u16
            } else {
                u16::from(sectors as u8)
            },
            device,
        })
    }

    /// FLUSH CACHE EXT on a 48-bit disk, else FLUSH CACHE.
    pub fn flush(lba48: bool) -> TaskFile {
        TaskFile {
            command: if lba48 { FLUSH_CACHE_EXT } else { FLUSH_CACHE },
            features: 0,
            lba: 0,
            count: 0,
            device: DEVICE_LBA,
        }
    }

    /// The Serial ATA host-to-device register FIS (type 0x27, the C bit set: a new command),
    /// 20 bytes, for the AHCI command table.
    pub fn h2d_fis(&self) -> [u8; 20] {
        let lba = self.lba.to_le_bytes();
        let features = self.features.to_le_bytes();
        let count = self.count.to_le_bytes();
        [
            0x27,
            0x80,
            self.command,
            features[0],
            lba[0],
            lba[1],
            lba[2],
            self.device,
            lba[3],
            lba[4],
            lba[5],
            features[1],
            count[0],
            count[1],
            0,
            0,
            0,
            0,
            0,
            0,
        ]
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// IDENTIFY data shaped like QEMU's for a 2 MiB `ide-hd`.
    fn qemu_disk() -> [u16; 256] {
        let mut words = [0u16; 256];
        let model = b"QEMU HARDDISK                           ";
        for (i, pair) in model.chunks(2).enumerate() {
            words[27 + i] = u16::from_be_bytes([pair[0], pair[1]]);
        }
        words[49] = (1 << 9) | (1 << 8);
        words[60] = 4096;
        words[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
        words[100] = 4096;
        words
    }

    #[test]
    fn a_qemu_disk_parses() {
        let id = Identify::parse(&qemu_disk());
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
    fn the_model_is_byte_swapped_and_trimmed() {
        let mut words = qemu_disk();
        words[27..=46].fill(0x2020);
        // "  WDC WD10" with leading spaces, then a NUL inside the name, shown as `?`.
        words[27] = 0x2020;
        words[28] = u16::from_be_bytes(*b"WD");
        words[29] = u16::from_be_bytes(*b"C ");
        words[30] = u16::from_be_bytes(*b"WD");
        words[31] = u16::from_be_bytes(*b"10");
        words[32] = u16::from_be_bytes([0, b'x']);
        assert_eq!(Identify::parse(&words).model, "WDC WD10?x");
    }

    #[test]
    fn large_disks_use_the_48_bit_count() {
        let mut words = qemu_disk();
        let sectors: u64 = 0x0000_1234_5678_9abc;
        for i in 0..4 {
            words[100 + i] = (sectors >> (16 * i)) as u16;
        }
        words[60] = 0xffff;
        words[61] = 0x0fff;
        let id = Identify::parse(&words);
        assert_eq!(id.sectors, sectors);
        assert!(id.lba48);
    }

    #[test]
    fn without_48_bit_addressing_words_60_61_count() {
        let mut words = qemu_disk();
        words[83] = 1 << 14;
        words[60] = 0x5678;
        words[61] = 0x0123;
        words[100] = 9999; // ignored: no 48-bit feature set
        let id = Identify::parse(&words);
        assert!(!id.lba48);
        assert_eq!(id.sectors, 0x0123_5678);
    }

    #[test]
    fn a_48_bit_disk_with_an_empty_count_falls_back() {
        let mut words = qemu_disk();
        words[100] = 0;
        assert_eq!(Identify::parse(&words).sectors, 4096);
    }

    #[test]
    fn word_83_needs_its_validity_bits() {
        let mut words = qemu_disk();
        words[83] = 0xffff; // bits 15:14 = 11: not valid
        assert!(!Identify::parse(&words).lba48);
    }

    #[test]
    fn long_logical_sectors() {
        let mut words = qemu_disk();
        words[106] = (1 << 14) | (1 << 12);
        words[117] = 2048; // words: 4096 bytes
        words[118] = 0;
        assert_eq!(Identify::parse(&words).sector_size, 4096);
        // Bit 12 without the validity bits: 512.
        words[106] = 1 << 12;
        assert_eq!(Identify::parse(&words).sector_size, 512);
    }

    #[test]
    fn an_all_zero_block_is_no_disk_at_all() {
        let id = Identify::parse(&[0; 256]);
        assert_eq!(id.model, "");
        assert_eq!(id.sectors, 0);
        assert!(!id.lba48);
        assert_eq!(id.sector_size, 512);
    }

    #[test]
    fn transfers_choose_their_command() {
        let read = TaskFile::transfer(false, true, 0x0000_1234_5678_9abc, 8).unwrap();
        assert_eq!(read.command, READ_DMA_EXT);
        assert_eq!(read.count, 8);
        assert_eq!(
            read.h2d_fis(),
            [
                0x27, 0x80, 0x25, 0, 0xbc, 0x9a, 0x78, 0x40, 0x56, 0x34, 0x12, 0, 8, 0, 0, 0, 0, 0,
                0, 0
            ]
        );
        let write = TaskFile::transfer(true, true, 5, 65536).unwrap();
        assert_eq!((write.command, write.count), (WRITE_DMA_EXT, 0));
        let old = TaskFile::transfer(true, false, 0x0abc_def0, 256).unwrap();
        assert_eq!((old.command, old.count), (WRITE_DMA, 0));
        assert_eq!(old.device, 0x40 | 0x0a);
        assert_eq!(
            TaskFile::transfer(false, false, 1, 1).unwrap().command,
            READ_DMA
        );
    }

    #[test]
    fn transfers_out_of_reach_are_refused() {
        assert_eq!(TaskFile::transfer(false, true, 0, 0), None);
        assert_eq!(TaskFile::transfer(false, true, 0, 65537), None);
        assert_eq!(TaskFile::transfer(false, false, 0, 257), None);
        // The 28-bit command reaches LBA 2^28 - 1, the 48-bit one 2^48 - 1.
        assert!(TaskFile::transfer(false, false, (1 << 28) - 1, 1).is_some());
        assert_eq!(TaskFile::transfer(false, false, (1 << 28) - 1, 2), None);
        assert!(TaskFile::transfer(false, true, (1 << 48) - 1, 1).is_some());
        assert_eq!(TaskFile::transfer(false, true, 1 << 48, 1), None);
        assert_eq!(TaskFile::transfer(false, true, u64::MAX, 1), None);
    }

    #[test]
    fn flush_and_identify() {
        assert_eq!(TaskFile::flush(true).command, FLUSH_CACHE_EXT);
        assert_eq!(TaskFile::flush(false).command, FLUSH_CACHE);
        let fis = TaskFile::identify().h2d_fis();
        assert_eq!(&fis[..3], &[0x27, 0x80, 0xec]);
        assert!(fis[3..].iter().all(|&b| b == 0));
    }
}

#[cfg(test)]
mod identify_tests {
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
