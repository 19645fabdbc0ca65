//! The superblock fields ext4srv checks before handing an image to ext4-view,
//! and the geometry its inode index needs.
//!
//! ext4-view validates the superblock too; this pass exists to name refused
//! features the way e2fsprogs does (`inline_data`, `meta_bg`, ...), to refuse
//! an image shorter than the filesystem it claims to hold (which would
//! otherwise make ext4-view size its tables from a corrupt block count), and to
//! say "not ext4" with a hint when the image is a partitioned disk.

use crate::device::{CacheHandle, DeviceError};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

const SUPERBLOCK_OFFSET: u64 = 1024;
const MAGIC: u16 = 0xef53;

/// Incompatible features by e2fsprogs name, and whether ext4-view 1.0 reads them.
const INCOMPAT: &[(u32, &str, bool)] = &[
    (0x1, "compression", false),
    (0x2, "filetype", true),
    (0x4, "needs_recovery", true),
    (0x8, "journal_dev", false),
    (0x10, "meta_bg", false),
    (0x40, "extent", true),
    (0x80, "64bit", true),
    (0x100, "mmp", false),
    (0x200, "flex_bg", true),
    (0x400, "ea_inode", false),
    (0x1000, "dirdata", false),
    (0x2000, "metadata_csum_seed", true),
    (0x4000, "large_dir", false),
    (0x8000, "inline_data", false),
    (0x10000, "encrypt", true),
    (0x20000, "casefold", false),
];
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_64BIT: u32 = 0x80;
const COMPAT_HAS_JOURNAL: u32 = 0x4;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

/// Why an image was refused before ext4-view saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// No ext2/3/4 magic; `partitioned` says whether a partition table was seen.
    NotExt4 {
        /// A partition table is there: the user should pick a partition.
        partitioned: Option<String>,
    },
    /// Features ext4-view cannot read (e2fsprogs names).
    Unsupported(Vec<String>),
    /// The filetype feature is missing (ext4-view needs file types in directory entries).
    MissingFiletype,
    /// The superblock is not self-consistent.
    Corrupt(String),
    /// The image is shorter than the filesystem.
    Truncated {
        /// Bytes the superblock claims.
        filesystem: u64,
        /// Bytes the image holds.
        image: u64,
    },
    /// ext4-view refused the image.
    Ext4(String),
    /// The block source failed.
    Device(DeviceError),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotExt4 { partitioned: None } => {
                f.write_str("not an ext2/3/4 filesystem (no superblock magic at byte 1080)")
            }
            Self::NotExt4 {
                partitioned: Some(table),
            } => write!(
                f,
                "not an ext2/3/4 filesystem, but the image has a partition table ({table}): \
                 pick one with --partition N"
            ),
            Self::Unsupported(names) => {
                write!(
                    f,
                    "unsupported ext4 feature{}: {} (ext4-view 1.0 cannot read {})",
                    if names.len() > 1 { "s" } else { "" },
                    names.join(", "),
                    if names.len() > 1 { "them" } else { "it" }
                )
            }
            Self::MissingFiletype => f.write_str(
                "unsupported filesystem: the filetype feature is off (ext4-view 1.0 needs it)",
            ),
            Self::Corrupt(why) => write!(f, "corrupt superblock: {why}"),
            Self::Truncated { filesystem, image } => write!(
                f,
                "truncated image: the filesystem is {filesystem} bytes but the image holds only {image}"
            ),
            Self::Ext4(why) => f.write_str(why),
            Self::Device(e) => write!(f, "reading the superblock: {e}"),
        }
    }
}

impl core::error::Error for ImageError {}

/// What ext4srv knows of the filesystem's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per filesystem block (1 KiB to 64 KiB).
    pub block_size: u32,
    /// Blocks in the filesystem.
    pub blocks_count: u64,
    /// Inodes in the filesystem.
    pub inodes_count: u32,
    /// Inodes per block group.
    pub inodes_per_group: u32,
    /// Bytes per on-disk inode.
    pub inode_size: u32,
    /// Block groups.
    pub groups: u32,
    /// Bytes per group descriptor.
    pub desc_size: u32,
    /// First block of the group descriptor table.
    pub gdt_block: u64,
    /// The journal must be replayed (ext4-view replays it in memory).
    pub needs_recovery: bool,
    /// Volume label.
    pub label: String,
    /// Incompatible features plus has_journal and metadata_csum, by their
    /// e2fsprogs names, for the start-up line.
    pub features: Vec<&'static str>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads and checks the superblock.
pub fn check(device: &CacheHandle) -> Result<Geometry, ImageError> {
    let size = device.size();
    let mut sb = [0u8; 1024];
    if size < SUPERBLOCK_OFFSET + 1024 {
        return Err(ImageError::NotExt4 { partitioned: None });
    }
    device
        .read_at(SUPERBLOCK_OFFSET, &mut sb)
        .map_err(ImageError::Device)?;
    if u16_at(&sb, 0x38) != MAGIC {
        return Err(ImageError::NotExt4 { partitioned: None });
    }
    let compat = u32_at(&sb, 0x5c);
    let incompat = u32_at(&sb, 0x60);
    let mut refused = Vec::new();
    let mut known = 0;
    let mut features = Vec::new();
    for &(bit, name, readable) in INCOMPAT {
        known |= bit;
        if incompat & bit != 0 {
            features.push(name);
            if !readable {
                refused.push(String::from(name));
            }
        }
    }
    if compat & COMPAT_HAS_JOURNAL != 0 {
        features.insert(0, "has_journal");
    }
    if u32_at(&sb, 0x64) & RO_COMPAT_METADATA_CSUM != 0 {
        features.push("metadata_csum");
    }
    let unknown = incompat & !known;
    if unknown != 0 {
        refused.push(format!("unknown incompat bits 0x{unknown:x}"));
    }
    if !refused.is_empty() {
        return Err(ImageError::Unsupported(refused));
    }
    if incompat & INCOMPAT_FILETYPE == 0 {
        return Err(ImageError::MissingFiletype);
    }
    let log_block = u32_at(&sb, 0x18);
    if log_block > 6 {
        return Err(ImageError::Corrupt(format!(
            "block size 2^{} KiB",
            log_block
        )));
    }
    let block_size = 1024u32 << log_block;
    let blocks_lo = u64::from(u32_at(&sb, 0x4));
    let blocks_hi = if incompat & INCOMPAT_64BIT != 0 {
        u64::from(u32_at(&sb, 0x150))
    } else {
        0
    };
    let blocks_count = blocks_lo | (blocks_hi << 32);
    let first_data_block = u64::from(u32_at(&sb, 0x14));
    let blocks_per_group = u64::from(u32_at(&sb, 0x20));
    let inodes_per_group = u32_at(&sb, 0x28);
    let inodes_count = u32_at(&sb, 0x0);
    let inode_size = match u32::from(u16_at(&sb, 0x4c)) {
        // Revision 0 filesystems have 128-byte inodes.
        0 => 128,
        _ => u32::from(u16_at(&sb, 0x58)),
    };
    let desc_size = if incompat & INCOMPAT_64BIT != 0 {
        u32::from(u16_at(&sb, 0xfe))
    } else {
        32
    };
    if blocks_per_group == 0 || inodes_per_group == 0 {
        return Err(ImageError::Corrupt(
            "zero blocks or inodes per group".into(),
        ));
    }
    if !(128..=block_size).contains(&inode_size) || !inode_size.is_power_of_two() {
        return Err(ImageError::Corrupt(format!("inode size {inode_size}")));
    }
    if !(32..=1024).contains(&desc_size) || !desc_size.is_power_of_two() {
        return Err(ImageError::Corrupt(format!(
            "group descriptor size {desc_size}"
        )));
    }
    if first_data_block >= blocks_count {
        return Err(ImageError::Corrupt(format!(
            "first data block {first_data_block} of {blocks_count}"
        )));
    }
    let fs_bytes = blocks_count
        .checked_mul(u64::from(block_size))
        .ok_or_else(|| ImageError::Corrupt(format!("{blocks_count} blocks")))?;
    if fs_bytes > size {
        return Err(ImageError::Truncated {
            filesystem: fs_bytes,
            image: size,
        });
    }
    let groups = (blocks_count - first_data_block).div_ceil(blocks_per_group);
    let groups =
        u32::try_from(groups).map_err(|_| ImageError::Corrupt(format!("{groups} block groups")))?;
    if u64::from(groups) * u64::from(inodes_per_group) < u64::from(inodes_count) {
        return Err(ImageError::Corrupt(format!(
            "{inodes_count} inodes do not fit in {groups} groups of {inodes_per_group}"
        )));
    }
    let label_bytes = &sb[0x78..0x88];
    let label_len = label_bytes.iter().position(|&b| b == 0).unwrap_or(16);
    let label = String::from_utf8_lossy(&label_bytes[..label_len]).into_owned();
    Ok(Geometry {
        block_size,
        blocks_count,
        inodes_count,
        inodes_per_group,
        inode_size,
        groups,
        desc_size,
        gdt_block: first_data_block + 1,
        needs_recovery: incompat & INCOMPAT_RECOVER != 0 && compat & COMPAT_HAS_JOURNAL != 0,
        label,
        features,
    })
}
