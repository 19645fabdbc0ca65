//! File data maps: where each block of a regular file lies on the disk, so that a read at any
//! offset costs one lookup instead of a walk from the start of the file.
//!
//! ext4-view's `File::seek_to` restarts the file's block iterator and steps it block by block
//! up to the new position: a 1 KiB read 2 MiB into a file walked 512 blocks first. ext4srv
//! instead reads a file's inode once (extent tree, or the ext2/3 block map), keeps its data
//! as sorted runs (`logical block -> physical block, count`), and serves each read with a
//! binary search and one block-cache read per contiguous piece; holes and uninitialised
//! extents read as zeros.
//!
//! The map is only used for files ext4-view has already resolved and checked (the inode's
//! checksum, its type, its size). Every on-disk field of the map is bounds-checked, runs must
//! be in order and must not overlap, and building has a budget of nodes and runs; a map that
//! fails any check is not used, and the read goes through ext4-view instead (which then
//! reports its own error). Not checked here: the checksums of extent-tree blocks below the
//! inode (ext4-view checks them on its own reads).

use crate::device::CacheHandle;
use crate::superblock::Geometry;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Most runs one file's map may hold (24 bytes each).
pub const MAX_RUNS: usize = 16384;
/// Most extent-tree or indirect blocks read to build one map.
const MAX_NODES: u32 = 4096;
/// Files whose maps are kept.
pub const MAPS_KEPT: usize = 64;
/// Most blocks of a file mapped through an ext2/3 block map (4 GiB at 4 KiB blocks).
const MAX_BLOCK_MAP_BLOCKS: u64 = 1 << 20;

pub(crate) const EXT4_EXTENTS_FL: u32 = 0x8_0000;
pub(crate) const EXT4_INLINE_DATA_FL: u32 = 0x1000_0000;
pub(crate) const EXTENT_MAGIC: u16 = 0xf30a;

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `count` blocks from `logical` lie at `physical` onwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub logical: u64,
    pub count: u64,
    pub physical: u64,
}

/// Where a block of the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// On the disk at `physical`, followed by `more` blocks of the same run.
    Disk { physical: u64, more: u64 },
    /// A hole of `blocks` blocks (up to the next run, or `u64::MAX` past the last).
    Hole { blocks: u64 },
}

/// One file's data map.
#[derive(Debug, PartialEq, Eq)]
pub struct FileMap {
    runs: Vec<Run>,
}

impl FileMap {
    /// Where logical block `block` is.
    pub fn place(&self, block: u64) -> Place {
        // The first run starting after `block`; the one before it may hold it.
        let next = self.runs.partition_point(|r| r.logical <= block);
        if let Some(run) = next.checked_sub(1).map(|i| self.runs[i])
            && block < run.logical + run.count
        {
            let into = block - run.logical;
            return Place::Disk {
                physical: run.physical + into,
                more: run.count - into - 1,
            };
        }
        Place::Hole {
            blocks: self.runs.get(next).map_or(u64::MAX, |r| r.logical - block),
        }
    }
}

/// A raw inode's fields the map needs.
pub(crate) struct RawInode {
    pub(crate) mode: u16,
    pub(crate) flags: u32,
    pub(crate) size: u64,
    pub(crate) block: [u8; 60],
}

/// Reads inode `ino` from its group's inode table.
pub(crate) fn read_inode(g: &Geometry, dev: &CacheHandle, ino: u32) -> Result<RawInode, String> {
    if ino == 0 || ino > g.inodes_count {
        return Err(format!("inode number {ino} is out of range"));
    }
    let group = (ino - 1) / g.inodes_per_group;
    let slot = (ino - 1) % g.inodes_per_group;
    if group >= g.groups {
        return Err(format!("inode {ino} is in a group that does not exist"));
    }
    let mut desc = [0u8; 64];
    let desc_len = (g.desc_size as usize).min(64);
    let at = g.gdt_block * u64::from(g.block_size) + u64::from(group) * u64::from(g.desc_size);
    dev.read_at(at, &mut desc[..desc_len])
        .map_err(|e| format!("{e}"))?;
    let mut table = u64::from(u32_at(&desc, 8));
    if desc_len >= 64 {
        table |= u64::from(u32_at(&desc, 0x28)) << 32;
    }
    if table == 0 || table >= g.blocks_count {
        return Err(format!(
            "group {group} has its inode table outside the filesystem"
        ));
    }
    let mut raw = [0u8; 128];
    let at = table * u64::from(g.block_size) + u64::from(slot) * u64::from(g.inode_size);
    dev.read_at(at, &mut raw)
        .map_err(|e| format!("inode {ino}: {e}"))?;
    let mut block = [0u8; 60];
    block.copy_from_slice(&raw[0x28..0x64]);
    Ok(RawInode {
        mode: u16_at(&raw, 0),
        flags: u32_at(&raw, 0x20),
        size: u64::from(u32_at(&raw, 4)) | (u64::from(u32_at(&raw, 0x6c)) << 32),
        block,
    })
}

/// Reads block `block` whole.
fn read_block(g: &Geometry, dev: &CacheHandle, block: u64) -> Result<Vec<u8>, String> {
    if block == 0 || block >= g.blocks_count {
        return Err(format!("block number {block} is outside the filesystem"));
    }
    let mut buf = vec![0u8; g.block_size as usize];
    dev.read_at(block * u64::from(g.block_size), &mut buf)
        .map_err(|e| format!("{e}"))?;
    Ok(buf)
}

/// Collects runs in logical order, merging neighbours and refusing overlaps.
struct Builder<'a> {
    g: &'a Geometry,
    dev: &'a CacheHandle,
    /// Blocks of the file (its size, rounded up).
    blocks: u64,
    runs: Vec<Run>,
    nodes: u32,
}

impl Builder<'_> {
    fn push(&mut self, logical: u64, count: u64, physical: u64) -> Result<(), String> {
        if logical >= self.blocks || count == 0 {
            // Past the end of the file (preallocated): never read.
            return Ok(());
        }
        let count = count.min(self.blocks - logical);
        if physical == 0
            || physical
                .checked_add(count)
                .is_none_or(|end| end > self.g.blocks_count)
        {
            return Err(format!(
                "data at block {physical} is outside the filesystem"
            ));
        }
        if let Some(last) = self.runs.last_mut() {
            let end = last.logical + last.count;
            if logical < end {
                return Err(format!(
                    "file blocks overlap or are out of order at {logical}"
                ));
            }
            if logical == end && last.physical + last.count == physical {
                last.count += count;
                return Ok(());
            }
        }
        if self.runs.len() >= MAX_RUNS {
            return Err(format!("more than {MAX_RUNS} runs"));
        }
        self.runs.push(Run {
            logical,
            count,
            physical,
        });
        Ok(())
    }

    fn visit(&mut self) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(String::from("the file's map is too large"));
        }
        Ok(())
    }

    fn extents(&mut self, node: &[u8], depth_expected: Option<u16>) -> Result<(), String> {
        self.visit()?;
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
            if depth == 0 {
                let logical = u64::from(u32_at(e, 0));
                let len = u64::from(u16_at(e, 4));
                let physical = u64::from(u32_at(e, 8)) | (u64::from(u16_at(e, 6)) << 32);
                if len > 32768 {
                    // Uninitialised: reads as zeros, like a hole. Still in order.
                    let end = self.runs.last().map_or(0, |r| r.logical + r.count);
                    if logical < end {
                        return Err(format!("file blocks overlap at {logical}"));
                    }
                    continue;
                }
                self.push(logical, len, physical)?;
            } else {
                let child = u64::from(u32_at(e, 4)) | (u64::from(u16_at(e, 8)) << 32);
                let block = read_block(self.g, self.dev, child)?;
                self.extents(&block, Some(depth - 1))?;
            }
        }
        Ok(())
    }

    /// The ext2/3 block map: 12 direct pointers, then single, double and triple indirect.
    fn block_map(&mut self, i_block: &[u8; 60]) -> Result<(), String> {
        if self.blocks > MAX_BLOCK_MAP_BLOCKS {
            return Err(format!("{} blocks through a block map", self.blocks));
        }
        for i in 0..12u64 {
            let p = u64::from(u32_at(i_block, i as usize * 4));
            if p != 0 {
                self.push(i, 1, p)?;
            }
        }
        let per = u64::from(self.g.block_size / 4);
        let mut first = 12u64;
        for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
            let span = per.saturating_pow(level);
            let ptr = u64::from(u32_at(i_block, slot * 4));
            if first >= self.blocks {
                break;
            }
            self.indirect(ptr, level, first)?;
            first = first.saturating_add(span);
        }
        Ok(())
    }

    fn indirect(&mut self, ptr: u64, level: u32, first: u64) -> Result<(), String> {
        if ptr == 0 || first >= self.blocks {
            return Ok(()); // a hole
        }
        self.visit()?;
        let per = u64::from(self.g.block_size / 4);
        let span = per.saturating_pow(level - 1);
        let buf = read_block(self.g, self.dev, ptr)?;
        for k in 0..per {
            let logical = first.saturating_add(k.saturating_mul(span));
            if logical >= self.blocks {
                break;
            }
            let p = u64::from(u32_at(&buf, k as usize * 4));
            if level == 1 {
                if p != 0 {
                    self.push(logical, 1, p)?;
                }
            } else {
                self.indirect(p, level - 1, logical)?;
            }
        }
        Ok(())
    }
}

/// Builds the map of regular file `ino`, whose size ext4-view gave as `size`.
pub fn build(g: &Geometry, dev: &CacheHandle, ino: u32, size: u64) -> Result<FileMap, String> {
    let inode = read_inode(g, dev, ino)?;
    if inode.mode & 0xf000 != 0x8000 {
        return Err(format!("inode {ino} is not a regular file"));
    }
    if inode.size != size {
        return Err(format!(
            "inode {ino} says {} bytes, ext4-view {size}",
            inode.size
        ));
    }
    if inode.flags & EXT4_INLINE_DATA_FL != 0 {
        return Err(format!("inode {ino} has inline data"));
    }
    let mut builder = Builder {
        g,
        dev,
        blocks: size.div_ceil(u64::from(g.block_size)),
        runs: Vec::new(),
        nodes: 0,
    };
    if inode.flags & EXT4_EXTENTS_FL != 0 {
        builder.extents(&inode.block, None)?;
    } else {
        builder.block_map(&inode.block)?;
    }
    Ok(FileMap { runs: builder.runs })
}

/// The maps of the files read most recently, up to [`MAPS_KEPT`].
#[derive(Default)]
pub struct FileMaps {
    /// Least recently used first. `None`: the map could not be built (read through ext4-view).
    maps: Vec<(u32, Option<Rc<FileMap>>)>,
}

impl FileMaps {
    /// The map of file `ino`, built with `build` the first time.
    pub fn get(
        &mut self,
        ino: u32,
        build: impl FnOnce() -> Result<FileMap, String>,
    ) -> Option<Rc<FileMap>> {
        // The file read last is the last entry: no reordering then.
        if let Some((n, map)) = self.maps.last()
            && *n == ino
        {
            return map.clone();
        }
        if let Some(i) = self.maps.iter().rposition(|(n, _)| *n == ino) {
            let entry = self.maps.remove(i);
            let map = entry.1.clone();
            self.maps.push(entry);
            return map;
        }
        let map = build().ok().map(Rc::new);
        if self.maps.len() >= MAPS_KEPT {
            self.maps.remove(0);
        }
        self.maps.push((ino, map.clone()));
        map
    }

    /// Maps kept now (including files that could not be mapped).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.maps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(runs: &[(u64, u64, u64)]) -> FileMap {
        FileMap {
            runs: runs
                .iter()
                .map(|&(logical, count, physical)| Run {
                    logical,
                    count,
                    physical,
                })
                .collect(),
        }
    }

    #[test]
    fn places_are_found_in_runs_and_holes() {
        let m = map(&[(0, 4, 100), (10, 2, 50)]);
        assert_eq!(
            m.place(0),
            Place::Disk {
                physical: 100,
                more: 3
            }
        );
        assert_eq!(
            m.place(3),
            Place::Disk {
                physical: 103,
                more: 0
            }
        );
        assert_eq!(m.place(4), Place::Hole { blocks: 6 });
        assert_eq!(m.place(9), Place::Hole { blocks: 1 });
        assert_eq!(
            m.place(11),
            Place::Disk {
                physical: 51,
                more: 0
            }
        );
        assert_eq!(m.place(12), Place::Hole { blocks: u64::MAX });
        assert_eq!(map(&[]).place(7), Place::Hole { blocks: u64::MAX });
        assert_eq!(map(&[(5, 1, 9)]).place(0), Place::Hole { blocks: 5 });
    }

    #[test]
    fn the_cache_keeps_the_most_recent_maps_and_failures() {
        let mut maps = FileMaps::default();
        let mut builds = 0;
        for round in 0..2 {
            for ino in 1..=MAPS_KEPT as u32 {
                let got = maps.get(ino, || {
                    builds += 1;
                    if ino == 3 {
                        Err("bad".into())
                    } else {
                        Ok(map(&[(0, 1, u64::from(ino))]))
                    }
                });
                assert_eq!(got.is_none(), ino == 3);
            }
            assert_eq!(builds, MAPS_KEPT, "round {round}: each map built once");
        }
        maps.get(1000, || Ok(map(&[])));
        assert_eq!(maps.len(), MAPS_KEPT);
        // The least recently used (inode 1) went.
        let mut rebuilt = false;
        maps.get(1, || {
            rebuilt = true;
            Ok(map(&[]))
        });
        assert!(rebuilt);
    }
}
