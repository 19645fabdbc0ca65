//! Inode numbers of directory entries, read from the directory blocks.
//!
//! ext4-view 1.0 finds files by path and never shows an inode number, but a
//! 9P qid.path must identify a file (hard links share one). So ext4srv reads
//! the number itself: for a directory whose inode number it knows (the root is
//! 2), it reads that inode, maps its data blocks (extent tree or block map),
//! and collects `name -> inode` from every directory entry. Results are cached
//! per directory. This reader never decides *whether* a name exists: ext4-view
//! resolves every path first (and checks metadata checksums); the index only
//! answers "which inode", and any disagreement is reported as corruption.
//! Every on-disk field is bounds-checked, and every loop has a budget.

use crate::device::CacheHandle;
use crate::filemap::{
    EXT4_EXTENTS_FL, EXT4_INLINE_DATA_FL, EXTENT_MAGIC, read_inode, u16_at, u32_at,
};
use crate::superblock::Geometry;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Most blocks of one directory the index reads (256 MiB at 4 KiB blocks).
const MAX_DIR_BLOCKS: u64 = 1 << 16;
/// Most entries of one directory.
const MAX_ENTRIES: usize = 1 << 20;
/// Most extent-tree or indirect blocks visited for one directory.
const MAX_MAP_NODES: u32 = 4096;
/// Bytes of names the cache keeps across directories.
const CACHE_BUDGET: usize = 8 << 20;

struct DirNames {
    /// Sorted by name; an inode of 0 marks a name that appears twice.
    entries: Vec<(Box<[u8]>, u32)>,
    bytes: usize,
}

/// The per-directory `name -> inode` cache.
pub(crate) struct InodeIndex {
    geometry: Geometry,
    dirs: BTreeMap<u32, Rc<DirNames>>,
    uses: BTreeMap<u32, u64>,
    clock: u64,
    bytes: usize,
}

impl InodeIndex {
    pub(crate) fn new(geometry: Geometry) -> Self {
        Self {
            geometry,
            dirs: BTreeMap::new(),
            uses: BTreeMap::new(),
            clock: 0,
            bytes: 0,
        }
    }

    /// The inode number of `name` in directory inode `dir`.
    pub(crate) fn lookup(
        &mut self,
        dev: &CacheHandle,
        dir: u32,
        name: &[u8],
    ) -> Result<u32, String> {
        self.clock += 1;
        let names = match self.dirs.get(&dir) {
            Some(n) => n.clone(),
            None => {
                let built = Rc::new(self.build(dev, dir)?);
                self.bytes += built.bytes;
                self.dirs.insert(dir, built.clone());
                self.evict(dir);
                built
            }
        };
        self.uses.insert(dir, self.clock);
        match names.entries.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) if names.entries[i].1 != 0 => Ok(names.entries[i].1),
            Ok(_) => Err(format!(
                "directory inode {dir} has two entries named {}",
                String::from_utf8_lossy(name)
            )),
            Err(_) => Err(format!(
                "directory inode {dir} has no entry {} in its blocks",
                String::from_utf8_lossy(name)
            )),
        }
    }

    fn evict(&mut self, keep: u32) {
        while self.bytes > CACHE_BUDGET && self.dirs.len() > 1 {
            let oldest = self
                .uses
                .iter()
                .filter(|&(&d, _)| d != keep)
                .min_by_key(|&(_, &t)| t)
                .map(|(&d, _)| d);
            let Some(oldest) = oldest else { break };
            self.uses.remove(&oldest);
            if let Some(gone) = self.dirs.remove(&oldest) {
                self.bytes -= gone.bytes;
            }
        }
    }

    fn read(&self, dev: &CacheHandle, block: u64, buf: &mut [u8]) -> Result<(), String> {
        let g = &self.geometry;
        if block == 0 || block >= g.blocks_count {
            return Err(format!("block number {block} is outside the filesystem"));
        }
        dev.read_at(block * u64::from(g.block_size), buf)
            .map_err(|e| format!("{e}"))
    }

    fn build(&self, dev: &CacheHandle, dir: u32) -> Result<DirNames, String> {
        let g = &self.geometry;
        let inode = read_inode(&self.geometry, dev, dir)?;
        if inode.mode & 0xf000 != 0x4000 {
            return Err(format!("inode {dir} is not a directory"));
        }
        if inode.flags & EXT4_INLINE_DATA_FL != 0 {
            return Err(format!("directory inode {dir} has inline data"));
        }
        let bs = u64::from(g.block_size);
        let count = inode.size.div_ceil(bs);
        if count > MAX_DIR_BLOCKS {
            return Err(format!("directory inode {dir} claims {} bytes", inode.size));
        }
        let mut blocks = Vec::new();
        let mut budget = MAX_MAP_NODES;
        if inode.flags & EXT4_EXTENTS_FL != 0 {
            self.extents(dev, &inode.block, None, count, &mut blocks, &mut budget)?;
        } else {
            self.block_map(dev, &inode.block, count, &mut blocks, &mut budget)?;
        }
        let mut entries: Vec<(Box<[u8]>, u32)> = Vec::new();
        let mut bytes = 0;
        let mut buf = vec![0u8; g.block_size as usize];
        for &b in &blocks {
            if b == 0 {
                continue;
            }
            self.read(dev, b, &mut buf)?;
            let mut pos = 0usize;
            while pos + 8 <= buf.len() {
                let ino = u32_at(&buf, pos);
                let raw_len = u32::from(u16_at(&buf, pos + 4));
                let rec_len = if g.block_size < 65536 {
                    raw_len as usize
                } else if raw_len == 65535 || raw_len == 0 {
                    65536
                } else {
                    ((raw_len & 65532) | ((raw_len & 3) << 16)) as usize
                };
                let name_len = usize::from(buf[pos + 6]);
                if rec_len < 8 || pos + rec_len > buf.len() {
                    // A damaged block: what came before is still usable.
                    break;
                }
                if ino != 0 && name_len > 0 && 8 + name_len <= rec_len {
                    if entries.len() >= MAX_ENTRIES {
                        return Err(format!("directory inode {dir} has too many entries"));
                    }
                    let name: Box<[u8]> = buf[pos + 8..pos + 8 + name_len].into();
                    bytes += name.len() + 24;
                    entries.push((name, ino));
                }
                pos += rec_len;
            }
        }
        entries.sort_unstable();
        // A name that appears twice (with any inodes) cannot be trusted.
        let mut i = 1;
        while i < entries.len() {
            if entries[i].0 == entries[i - 1].0 {
                entries[i - 1].1 = 0;
                entries.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(DirNames { entries, bytes })
    }

    fn extents(
        &self,
        dev: &CacheHandle,
        node: &[u8],
        depth_expected: Option<u16>,
        count: u64,
        out: &mut Vec<u64>,
        budget: &mut u32,
    ) -> Result<(), String> {
        let g = &self.geometry;
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| String::from("extent tree too large"))?;
        if node.len() < 12 || u16_at(node, 0) != EXTENT_MAGIC {
            return Err(String::from("bad extent header"));
        }
        let entries = usize::from(u16_at(node, 2));
        let depth = u16_at(node, 6);
        if depth > 5 || depth_expected.is_some_and(|d| d != depth) {
            return Err(format!("bad extent tree depth {depth}"));
        }
        if 12 + entries * 12 > node.len() {
            return Err(String::from("extent node overflows"));
        }
        for e in node[12..12 + entries * 12].chunks_exact(12) {
            if out.len() as u64 >= count {
                break;
            }
            if depth == 0 {
                let logical = u64::from(u32_at(e, 0));
                let mut len = u64::from(u16_at(e, 4));
                if len > 32768 {
                    // Uninitialised: reads as zeros, so holds no entries.
                    continue;
                }
                let start = u64::from(u32_at(e, 8)) | (u64::from(u16_at(e, 6)) << 32);
                if logical >= count {
                    continue;
                }
                len = len.min(count - logical);
                if start == 0 || start + len > g.blocks_count {
                    return Err(format!("extent at block {start} is outside the filesystem"));
                }
                for k in 0..len {
                    if out.len() as u64 >= count {
                        break;
                    }
                    out.push(start + k);
                }
            } else {
                let child = u64::from(u32_at(e, 4)) | (u64::from(u16_at(e, 8)) << 32);
                let mut buf = vec![0u8; g.block_size as usize];
                self.read(dev, child, &mut buf)?;
                self.extents(dev, &buf, Some(depth - 1), count, out, budget)?;
            }
        }
        Ok(())
    }

    fn block_map(
        &self,
        dev: &CacheHandle,
        i_block: &[u8; 60],
        count: u64,
        out: &mut Vec<u64>,
        budget: &mut u32,
    ) -> Result<(), String> {
        for i in 0..12 {
            if out.len() as u64 >= count {
                return Ok(());
            }
            out.push(u64::from(u32_at(i_block, i * 4)));
        }
        for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
            let ptr = u64::from(u32_at(i_block, slot * 4));
            self.indirect(dev, ptr, level, count, out, budget)?;
        }
        Ok(())
    }

    fn indirect(
        &self,
        dev: &CacheHandle,
        ptr: u64,
        level: u32,
        count: u64,
        out: &mut Vec<u64>,
        budget: &mut u32,
    ) -> Result<(), String> {
        if out.len() as u64 >= count {
            return Ok(());
        }
        let per_block = u64::from(self.geometry.block_size / 4);
        if ptr == 0 {
            // A hole: its blocks hold no entries, but they count.
            let span = per_block
                .saturating_pow(level)
                .min(count - out.len() as u64);
            out.resize(out.len() + span as usize, 0);
            return Ok(());
        }
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| String::from("block map too large"))?;
        let mut buf = vec![0u8; self.geometry.block_size as usize];
        self.read(dev, ptr, &mut buf)?;
        for k in 0..per_block as usize {
            if out.len() as u64 >= count {
                break;
            }
            let p = u64::from(u32_at(&buf, k * 4));
            if level == 1 {
                out.push(p);
            } else {
                self.indirect(dev, p, level - 1, count, out, budget)?;
            }
        }
        Ok(())
    }
}
