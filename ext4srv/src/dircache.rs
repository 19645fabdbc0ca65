//! Directory entries kept for walks: each directory walked through is listed once with
//! ext4-view, and its entries are kept sorted by name, so that a walk step is a binary search
//! and one inode read (`DirEntry::metadata`) instead of ext4-view resolving the whole path
//! again, scanning (and checksumming) every directory block on the way.
//!
//! The image never changes while it is served, so entries stay true. The cache is bounded by
//! entries held ([`ENTRIES_KEPT`]); a directory larger than that is not kept (walks in it go
//! through ext4-view's path lookup, as before). Least recently used directories go first.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use ext4_view::DirEntry;

/// Directory entries kept across all directories (each about 300 bytes).
pub const ENTRIES_KEPT: usize = 8192;

/// One directory's entries, sorted by name.
pub struct Listing {
    entries: Vec<(Box<[u8]>, DirEntry)>,
}

impl Listing {
    /// Sorts `entries` by name. `None` if a name appears twice (a damaged directory: walks
    /// then go through ext4-view, which decides).
    pub fn new(mut entries: Vec<(Box<[u8]>, DirEntry)>) -> Option<Self> {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(Self { entries })
    }

    /// The entry named `name`.
    pub fn find(&self, name: &[u8]) -> Option<&DirEntry> {
        self.entries
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Things kept per directory (by its canonical path), each counted in entries, bounded by
/// [`ENTRIES_KEPT`] in all; least recently used first out.
pub struct Kept<T> {
    dirs: Vec<Slot<T>>,
    held: usize,
}

struct Slot<T> {
    key: Box<[u8]>,
    value: Rc<T>,
    entries: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            held: 0,
        }
    }
}

impl<T> Kept<T> {
    /// What is kept for `key`, now the most recently used.
    pub fn get(&mut self, key: &[u8]) -> Option<Rc<T>> {
        let i = self.dirs.iter().rposition(|slot| *slot.key == *key)?;
        let slot = self.dirs.remove(i);
        let value = slot.value.clone();
        self.dirs.push(slot);
        Some(value)
    }

    /// Keeps `value` (of `entries` entries) for `key`, unless it alone is over the bound.
    pub fn put(&mut self, key: &[u8], value: Rc<T>, entries: usize) {
        if entries > ENTRIES_KEPT {
            return;
        }
        while self.held + entries > ENTRIES_KEPT && !self.dirs.is_empty() {
            self.held -= self.dirs.remove(0).entries;
        }
        self.held += entries;
        self.dirs.push(Slot {
            key: key.into(),
            value,
            entries,
        });
    }
}

/// Directories' entries, for walks.
pub type DirCache = Kept<Listing>;
/// Listings as 9P sends them, for repeated listings.
pub type StatCache = Kept<Vec<lib9pclient::codec::Dir>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_things_are_bounded_by_entries_and_least_recently_used_go_first() {
        let mut kept: Kept<u32> = Kept::default();
        kept.put(b"/a", Rc::new(1), ENTRIES_KEPT / 2);
        kept.put(b"/b", Rc::new(2), ENTRIES_KEPT / 2);
        assert_eq!(kept.get(b"/a").as_deref(), Some(&1));
        // /b is now the least recently used: it makes room.
        kept.put(b"/c", Rc::new(3), 1);
        assert_eq!(kept.get(b"/b"), None);
        assert_eq!(kept.get(b"/a").as_deref(), Some(&1));
        assert_eq!(kept.get(b"/c").as_deref(), Some(&3));
        // Too large alone: not kept, nothing evicted.
        kept.put(b"/huge", Rc::new(4), ENTRIES_KEPT + 1);
        assert_eq!(kept.get(b"/huge"), None);
        assert_eq!(kept.get(b"/a").as_deref(), Some(&1));
    }
}
