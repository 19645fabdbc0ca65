//! Walk steps and symlink resolution.
//!
//! A walk step asks ext4-view for the `symlink_metadata` of `dir/name`, where
//! `dir`'s path is canonical (no symlinks in it), so ext4-view itself never
//! follows a symlink. When the entry is a symlink, ext4srv reads its target
//! (refusing targets over 4095 bytes before ext4-view allocates room for them)
//! and resolves it element by element from the link's directory, or from the
//! root for an absolute target. Every walk step, including the last one,
//! follows symlinks. A walk step may follow at most [`MAX_SYMLINKS`] links and
//! visit at most [`MAX_STEPS`] elements, so loops end in an error.

use crate::dircache::Listing;
use crate::fs::{Node, NodeData, Volume};
use crate::stat;
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use ext4_view::PathBuf;
use lib9pclient::ServerError;

/// Most symlinks followed in one walk step (Linux's limit).
pub const MAX_SYMLINKS: u32 = 40;
/// Most path elements looked up in one walk step, symlink targets included.
pub const MAX_STEPS: u32 = 4096;
/// The longest symlink target followed (PATH_MAX - 1).
const MAX_TARGET: u64 = 4095;

/// Rerror texts of a symlink that leads nowhere (as opposed to an image that
/// cannot be read).
pub(crate) const TOO_MANY_LINKS: &str = "too many levels of symbolic links";
pub(crate) const NAME_TOO_LONG: &str = "file name too long";
pub(crate) const PATH_TOO_LONG: &str = "path too long to resolve (the limit is 4096 bytes)";
pub(crate) const TARGET_TOO_LONG: &str = "symbolic link target too long";

/// Whether `e` says that a symlink cannot be followed (dangling, a loop, a
/// path through a file, too long) rather than that the image is damaged.
pub(crate) fn unresolvable_link(e: &ServerError) -> bool {
    match e {
        ServerError::NotFound | ServerError::NotDirectory | ServerError::BadName => true,
        ServerError::Other(text) => [
            TOO_MANY_LINKS,
            NAME_TOO_LONG,
            PATH_TOO_LONG,
            TARGET_TOO_LONG,
        ]
        .contains(&text.as_str()),
        _ => false,
    }
}

struct Budget {
    symlinks: u32,
    steps: u32,
}

impl Volume {
    /// One walk step from `dir` to `name`, following symlinks.
    pub(crate) fn walk(&self, dir: &Node, name: &str) -> Result<Node, ServerError> {
        let mut budget = Budget {
            symlinks: 0,
            steps: 0,
        };
        self.step(dir, name.as_bytes(), &mut budget)
    }

    /// The path of `name` in `dir`.
    pub(crate) fn child_path(&self, dir: &Node, name: &[u8]) -> Result<PathBuf, ServerError> {
        if name.len() > 255 {
            return Err(ServerError::Other(NAME_TOO_LONG.into()));
        }
        let base: &[u8] = dir.path().as_ref();
        let mut path = Vec::with_capacity(base.len() + 1 + name.len());
        path.extend_from_slice(base);
        if path.last() != Some(&b'/') {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        PathBuf::try_from(path).map_err(|_| ServerError::BadName)
    }

    /// The inode number of `name` in `dir` (0 if the volume cannot know it).
    pub(crate) fn inode_of(&self, dir: &Node, name: &[u8]) -> Result<u32, ServerError> {
        let dir_ino = dir.data().ino;
        if dir_ino == 0 || self.geometry.needs_recovery {
            return Ok(0);
        }
        let mut index = self
            .index
            .try_borrow_mut()
            .map_err(|_| ServerError::Other("inode index busy".into()))?;
        index
            .lookup(&self.device, dir_ino, name)
            .map_err(|e| ServerError::Other(format!("corrupt file system: {e}")))
    }

    /// The kept entries of directory `dir` (listed with ext4-view the first time), or `None`
    /// if they cannot be kept: walks then ask ext4-view for the path.
    fn listing(&self, dir: &Node) -> Option<Rc<Listing>> {
        let key: &[u8] = dir.path().as_ref();
        let mut dirs = self.dirs.try_borrow_mut().ok()?;
        if let Some(listing) = dirs.get(key) {
            return Some(listing);
        }
        let mut entries = Vec::new();
        for entry in self.ext4.read_dir(dir.path()).ok()? {
            let entry = entry.ok()?;
            let name: Box<[u8]> = {
                let raw = entry.file_name();
                let bytes: &[u8] = raw.as_ref();
                bytes.into()
            };
            if *name != *b"." && *name != *b".." {
                entries.push((name, entry));
            }
            if entries.len() > crate::dircache::ENTRIES_KEPT {
                return None;
            }
        }
        let listing = Rc::new(Listing::new(entries)?);
        dirs.put(key, listing.clone(), listing.len());
        Some(listing)
    }

    fn parent(&self, node: &Node) -> Node {
        node.data()
            .parent
            .clone()
            .unwrap_or_else(|| self.root.clone())
    }

    fn step(&self, dir: &Node, name: &[u8], budget: &mut Budget) -> Result<Node, ServerError> {
        budget.steps += 1;
        if budget.steps > MAX_STEPS {
            return Err(ServerError::Other(PATH_TOO_LONG.into()));
        }
        match name {
            b"" | b"." => return Ok(dir.clone()),
            b".." => return Ok(self.parent(dir)),
            _ => {}
        }
        if !dir.is_dir() {
            return Err(ServerError::NotDirectory);
        }
        let path = self.child_path(dir, name)?;
        let meta = match self.listing(dir) {
            // The directory's entries are kept: a binary search and one inode read.
            Some(listing) => match listing.find(name) {
                Some(entry) => entry.metadata().map_err(stat::error)?,
                None => return Err(ServerError::NotFound),
            },
            None => self.ext4.symlink_metadata(&path).map_err(stat::error)?,
        };
        if !meta.is_symlink() {
            let ino = self.inode_of(dir, name)?;
            return Ok(Node::new(NodeData {
                path,
                name: String::from_utf8_lossy(name).into_owned(),
                ino,
                meta,
                parent: Some(dir.clone()),
            }));
        }
        budget.symlinks += 1;
        if budget.symlinks > MAX_SYMLINKS {
            return Err(ServerError::Other(
                "too many levels of symbolic links".into(),
            ));
        }
        if meta.len() == 0 || meta.len() > MAX_TARGET {
            return Err(ServerError::Other(TARGET_TOO_LONG.into()));
        }
        let target = self.ext4.read_link(&path).map_err(stat::error)?;
        let bytes: &[u8] = target.as_ref();
        let mut at = if bytes.first() == Some(&b'/') {
            self.root.clone()
        } else {
            dir.clone()
        };
        for element in bytes.split(|&b| b == b'/') {
            at = self.step(&at, element, budget)?;
        }
        Ok(at)
    }
}
