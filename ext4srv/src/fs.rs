//! The 9P view of an ext4 filesystem: a [`Volume`] shared by every
//! connection, and [`Ext4Fs`], the `Filesystem` each connection's `Server` runs.

use crate::device::{BlockCache, BlockDevice, CacheHandle, CacheStats};
use crate::dircache::{DirCache, StatCache};
use crate::filemap::{self, FileMap, FileMaps, Place};
use crate::index::InodeIndex;
use crate::read::{Cursors, Found};
use crate::stat::{self, READ_ONLY};
use crate::superblock::{self, Geometry, ImageError};
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use ext4_view::{Ext4, Metadata, PathBuf};
use lib9pclient::codec::{Dir, ORCLOSE, ORDWR, OTRUNC, OWRITE, Qid, Stat};
use lib9pclient::{Filesystem, ServerError};

/// The default block cache: 8 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 8 << 20;

/// A file as a fid sees it: resolved (no symlinks left in its path), with the
/// metadata read when it was walked to. The image never changes while it is
/// served, so the metadata stays true.
#[derive(Clone)]
pub struct Node(Rc<NodeData>);

pub(crate) struct NodeData {
    /// Canonical absolute path: every element a real directory entry.
    pub(crate) path: PathBuf,
    /// The name the client used for it (a symlink's name if it walked one).
    pub(crate) name: String,
    /// Inode number; 0 where ext4srv could not learn it (see `qid_path`).
    pub(crate) ino: u32,
    pub(crate) meta: Metadata,
    /// The directory holding it; `None` for the root.
    pub(crate) parent: Option<Node>,
}

impl Drop for NodeData {
    /// Drops the chain of parents in a loop: the default drop would recurse once per directory
    /// level (about 2,000 at most, since resolved paths are at most 4096 bytes), which a
    /// colocated ext4srv's 32 KiB kernel stack could not take.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(Node(node)) = parent {
            parent = match Rc::try_unwrap(node) {
                Ok(mut data) => data.parent.take(),
                Err(_) => break,
            };
        }
    }
}

impl Node {
    pub(crate) fn new(data: NodeData) -> Self {
        Self(Rc::new(data))
    }

    pub(crate) fn data(&self) -> &NodeData {
        &self.0
    }

    /// The same file under another name.
    pub(crate) fn renamed(&self, name: &str) -> Self {
        if self.0.name == name {
            return self.clone();
        }
        Self(Rc::new(NodeData {
            path: self.0.path.clone(),
            name: String::from(name),
            ino: self.0.ino,
            meta: self.0.meta.clone(),
            parent: self.0.parent.clone(),
        }))
    }

    /// The qid.path: the inode number, or (when the journal must be replayed
    /// and directory blocks on disk may be stale) a hash of the canonical
    /// path with the top bit set, which no inode number has.
    pub fn qid_path(&self) -> u64 {
        match self.0.ino {
            0 => path_hash(self.0.path.as_ref()),
            ino => u64::from(ino),
        }
    }

    /// The canonical path inside the image.
    pub fn path(&self) -> &PathBuf {
        &self.0.path
    }

    /// ext4-view's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.0.meta
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.0.meta.is_dir()
    }
}

/// One served filesystem: ext4-view, the block cache, the inode index and the
/// open-file cursors. Single-threaded (ext4-view holds an `Rc`).
pub struct Volume {
    pub(crate) ext4: Ext4,
    pub(crate) device: CacheHandle,
    pub(crate) geometry: Geometry,
    pub(crate) index: RefCell<InodeIndex>,
    pub(crate) cursors: RefCell<Cursors>,
    /// Where the data of recently read files lies (see `filemap`).
    pub(crate) maps: RefCell<FileMaps>,
    /// Entries of directories walked through (see `dircache`).
    pub(crate) dirs: RefCell<DirCache>,
    /// Listings sent before (see `dircache`).
    pub(crate) listings: RefCell<StatCache>,
    pub(crate) root: Node,
}

/// The `Filesystem` over a [`Volume`]. Cheap to clone: every connection's
/// `Server` gets a clone, and they share the volume and its caches.
#[derive(Clone)]
pub struct Ext4Fs(pub(crate) Rc<Volume>);

impl Ext4Fs {
    /// Opens the ext4 filesystem on `device` with a block cache of
    /// `cache_bytes`. Fails with a message naming the problem: not ext4, a
    /// feature ext4-view cannot read, a truncated image, or corruption.
    pub fn open(device: Box<dyn BlockDevice>, cache_bytes: usize) -> Result<Self, ImageError> {
        let handle = CacheHandle::new(BlockCache::new(device, cache_bytes));
        let geometry = superblock::check(&handle)?;
        let ext4 = Ext4::load(Box::new(handle.clone())).map_err(|e| {
            let hint = if geometry.needs_recovery {
                " (the journal needs recovery, which ext4-view replays only from a journal with \
                 the 64bit and checksum v3 features: `e2fsck -fy` on a copy of the image replays it)"
            } else {
                ""
            };
            ImageError::Ext4(format!("ext4-view refused the image: {e}{hint}"))
        })?;
        let meta = ext4
            .metadata("/")
            .map_err(|e| ImageError::Ext4(format!("reading the root directory: {e}")))?;
        if !meta.is_dir() {
            return Err(ImageError::Corrupt(
                "the root inode is not a directory".into(),
            ));
        }
        let root = Node::new(NodeData {
            path: PathBuf::new("/"),
            name: String::from("/"),
            ino: if geometry.needs_recovery { 0 } else { 2 },
            meta,
            parent: None,
        });
        Ok(Self(Rc::new(Volume {
            ext4,
            device: handle,
            index: RefCell::new(InodeIndex::new(geometry.clone())),
            geometry,
            cursors: RefCell::new(Cursors::default()),
            maps: RefCell::new(FileMaps::default()),
            dirs: RefCell::new(DirCache::default()),
            listings: RefCell::new(StatCache::default()),
            root,
        })))
    }

    /// The filesystem's layout, as read from the superblock.
    pub fn geometry(&self) -> &Geometry {
        &self.0.geometry
    }

    /// The block cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.0.device.stats()
    }

    /// The block cache's capacity.
    pub fn cache_capacity(&self) -> usize {
        self.0.device.capacity_bytes()
    }

    /// ext4-view's handle on the image (for in-process comparisons).
    pub fn ext4(&self) -> &Ext4 {
        &self.0.ext4
    }

    /// The root.
    pub fn root(&self) -> Node {
        self.0.root.clone()
    }

    /// Open file cursors now.
    pub fn open_cursors(&self) -> usize {
        self.0.cursors.try_borrow().map(|c| c.len()).unwrap_or(0)
    }
}

fn read_only() -> ServerError {
    ServerError::Other(READ_ONLY.into())
}

impl Filesystem for Ext4Fs {
    type Node = Node;

    fn attach(&mut self, _uname: &str, _aname: &str) -> Result<Node, ServerError> {
        // One tree per image; the aname selects nothing yet.
        Ok(self.0.root.clone())
    }

    fn qid(&mut self, node: &Node) -> Result<Qid, ServerError> {
        Ok(stat::qid(node.qid_path(), node.metadata()))
    }

    fn walk(&mut self, dir: &Node, name: &str) -> Result<Node, ServerError> {
        let node = self.0.walk(dir, name)?;
        Ok(match name {
            "." | ".." => node,
            _ => node.renamed(name),
        })
    }

    fn open(&mut self, node: &Node, mode: u8) -> Result<u32, ServerError> {
        if matches!(mode & 3, OWRITE | ORDWR) || mode & (OTRUNC | ORCLOSE) != 0 {
            return Err(read_only());
        }
        let kind = node.metadata().file_type();
        if kind.is_dir() || kind.is_regular_file() {
            Ok(0)
        } else {
            Err(ServerError::Other(
                "cannot open a device, fifo or socket".into(),
            ))
        }
    }

    fn create(&mut self, _: &Node, _: &str, _: u32, _: u8) -> Result<(Node, u32), ServerError> {
        Err(read_only())
    }

    fn read(&mut self, node: &Node, offset: u64, buf: &mut [u8]) -> Result<usize, ServerError> {
        self.0.read(node, offset, buf)
    }

    fn read_dir(&mut self, node: &Node) -> Result<Vec<Dir>, ServerError> {
        self.0.read_dir(node)
    }

    fn write(&mut self, _: &Node, _: u64, _: &[u8]) -> Result<usize, ServerError> {
        Err(read_only())
    }

    fn stat(&mut self, node: &Node) -> Result<Dir, ServerError> {
        Ok(stat::dir(
            &node.data().name,
            node.qid_path(),
            node.metadata(),
        ))
    }

    fn wstat(&mut self, _: &Node, _: &Stat<'_>) -> Result<(), ServerError> {
        Err(read_only())
    }

    fn remove(&mut self, _: &Node) -> Result<(), ServerError> {
        Err(read_only())
    }
}

impl Volume {
    fn read(&self, node: &Node, offset: u64, buf: &mut [u8]) -> Result<usize, ServerError> {
        let meta = node.metadata();
        if !meta.file_type().is_regular_file() {
            return Err(ServerError::Other("not a regular file".into()));
        }
        let size = meta.len();
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = (size - offset).min(buf.len() as u64) as usize;
        if let Some(map) = self.file_map(node) {
            return self.read_mapped(&map, offset, &mut buf[..want]);
        }
        let key = node.qid_path();
        let mut cursors = self
            .cursors
            .try_borrow_mut()
            .map_err(|_| ServerError::Other("file cursors busy".into()))?;
        let (mut file, streaming) = match cursors.take(key, offset) {
            Some(Found::AtOffset(f)) => (f, true),
            Some(Found::Elsewhere(mut f)) => {
                f.seek_to(offset).map_err(stat::error)?;
                (f, false)
            }
            None => {
                let mut f = self.ext4.open(node.path()).map_err(stat::error)?;
                if offset != 0 {
                    f.seek_to(offset).map_err(stat::error)?;
                }
                (f, false)
            }
        };
        let mut done = 0;
        while done < want {
            match file.read_bytes(&mut buf[done..want]) {
                Ok(0) => break,
                Ok(n) => done += n,
                // Data already read is good; the next read reports the error.
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(stat::error(e)),
            }
        }
        cursors.put(key, file, streaming);
        Ok(done)
    }

    /// The data map of regular file `node`, if ext4srv can map it (its inode number is
    /// known and the journal needs no replay: the inode on disk is the one ext4-view read).
    fn file_map(&self, node: &Node) -> Option<Rc<FileMap>> {
        let ino = node.data().ino;
        if ino == 0 || self.geometry.needs_recovery {
            return None;
        }
        let mut maps = self.maps.try_borrow_mut().ok()?;
        maps.get(ino, || {
            filemap::build(&self.geometry, &self.device, ino, node.metadata().len())
        })
    }

    /// Reads `buf.len()` bytes (all inside the file) at `offset` through `map`: one block
    /// cache read per contiguous piece, zeros for holes.
    fn read_mapped(
        &self,
        map: &FileMap,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, ServerError> {
        let bs = u64::from(self.geometry.block_size);
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let within = at % bs;
            let left = buf.len() - done;
            let (n, physical) = match map.place(at / bs) {
                Place::Disk { physical, more } => {
                    let span = (more + 1).saturating_mul(bs) - within;
                    (span.min(left as u64) as usize, Some(physical))
                }
                Place::Hole { blocks } => {
                    let span = blocks.saturating_mul(bs).saturating_sub(within);
                    (span.min(left as u64) as usize, None)
                }
            };
            let piece = &mut buf[done..done + n];
            match physical {
                Some(block) => {
                    if let Err(e) = self.device.read_at(block * bs + within, piece) {
                        // Data already read is good; the next read reports the error.
                        return if done > 0 {
                            Ok(done)
                        } else {
                            Err(ServerError::Other(format!("i/o error: {e}")))
                        };
                    }
                }
                None => piece.fill(0),
            }
            done += n;
        }
        Ok(done)
    }

    /// The listing of directory `node`: kept from an earlier listing, or read.
    fn read_dir(&self, node: &Node) -> Result<Vec<Dir>, ServerError> {
        let key: &[u8] = node.path().as_ref();
        if let Some(kept) = self
            .listings
            .try_borrow_mut()
            .ok()
            .and_then(|mut l| l.get(key))
        {
            return Ok((*kept).clone());
        }
        let listing = self.list(node)?;
        if let Ok(mut listings) = self.listings.try_borrow_mut() {
            listings.put(key, Rc::new(listing.clone()), listing.len());
        }
        Ok(listing)
    }

    fn list(&self, node: &Node) -> Result<Vec<Dir>, ServerError> {
        let mut out = Vec::new();
        let entries = self.ext4.read_dir(node.path()).map_err(stat::error)?;
        for entry in entries {
            let entry = entry.map_err(stat::error)?;
            let raw = entry.file_name();
            let bytes: &[u8] = raw.as_ref();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            // 9P2000 names are UTF-8; other names cannot be sent (see docs/ext4srv.md).
            let Ok(name) = core::str::from_utf8(bytes) else {
                continue;
            };
            let meta = entry.metadata().map_err(stat::error)?;
            if meta.is_symlink() {
                // Listings agree with walks: a symlink shows as what it points to,
                // and as itself (a file of the target's length) if that fails.
                // A damaged image fails the listing rather than show the link.
                match self.walk(node, name) {
                    Ok(target) => {
                        out.push(stat::dir(name, target.qid_path(), target.metadata()));
                        continue;
                    }
                    Err(e) if !crate::walk::unresolvable_link(&e) => return Err(e),
                    Err(_) => {}
                }
            }
            let ino = self.inode_of(node, bytes)?;
            let qid_path = match ino {
                0 => path_hash(self.child_path(node, bytes)?.as_ref()),
                _ => u64::from(ino),
            };
            out.push(stat::dir(name, qid_path, &meta));
        }
        Ok(out)
    }
}

/// FNV-1a of a canonical path, with the top bit set so that it never equals
/// an inode number.
pub(crate) fn path_hash(path: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in path {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1 << 63
}
