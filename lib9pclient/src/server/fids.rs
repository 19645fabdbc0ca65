//! The fid table: small fids index a vector, the rest live in a map.
//!
//! Clients hand out fids from 0 and reuse freed ones (lib9pclient's and Plan 9's do), so
//! nearly every fid is small: looking one up is an index, and binding one in a slot freed
//! earlier allocates nothing. Any other fid still works, through the map.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Fids below this index the vector; a slot costs one entry's size, so this bounds the
/// vector a client with unusual fid numbers can make the server grow.
const DIRECT: u32 = 256;

pub(crate) struct FidTable<E> {
    direct: Vec<Option<E>>,
    others: BTreeMap<u32, E>,
    count: usize,
}

impl<E> FidTable<E> {
    pub(crate) const fn new() -> Self {
        Self {
            direct: Vec::new(),
            others: BTreeMap::new(),
            count: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn get(&self, fid: u32) -> Option<&E> {
        if fid < DIRECT {
            self.direct.get(fid as usize)?.as_ref()
        } else {
            self.others.get(&fid)
        }
    }

    pub(crate) fn get_mut(&mut self, fid: u32) -> Option<&mut E> {
        if fid < DIRECT {
            self.direct.get_mut(fid as usize)?.as_mut()
        } else {
            self.others.get_mut(&fid)
        }
    }

    pub(crate) fn contains(&self, fid: u32) -> bool {
        self.get(fid).is_some()
    }

    /// Binds `fid`, returning the entry it replaces.
    pub(crate) fn insert(&mut self, fid: u32, entry: E) -> Option<E> {
        let old = if fid < DIRECT {
            let i = fid as usize;
            if self.direct.len() <= i {
                self.direct.resize_with(i + 1, || None);
            }
            self.direct[i].replace(entry)
        } else {
            self.others.insert(fid, entry)
        };
        if old.is_none() {
            self.count += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, fid: u32) -> Option<E> {
        let old = if fid < DIRECT {
            self.direct.get_mut(fid as usize)?.take()
        } else {
            self.others.remove(&fid)
        };
        if old.is_some() {
            self.count -= 1;
        }
        old
    }

    /// Empties the table, returning every entry (small fids first, in fid order).
    pub(crate) fn take_all(&mut self) -> Vec<E> {
        let mut all: Vec<E> = Vec::with_capacity(self.count);
        all.extend(self.direct.iter_mut().filter_map(Option::take));
        all.extend(core::mem::take(&mut self.others).into_values());
        self.count = 0;
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_fids() {
        let mut t: FidTable<u32> = FidTable::new();
        for fid in [0, 3, 255, 256, 70_000, u32::MAX - 1] {
            assert_eq!(t.insert(fid, fid), None);
            assert!(t.contains(fid));
        }
        assert_eq!(t.len(), 6);
        assert_eq!(t.insert(3, 33), Some(3));
        assert_eq!(t.len(), 6);
        assert_eq!(t.get(3), Some(&33));
        *t.get_mut(256).unwrap() = 7;
        assert_eq!(t.get(256), Some(&7));
        assert_eq!(t.remove(3), Some(33));
        assert_eq!(t.remove(3), None);
        assert_eq!(t.remove(1000), None);
        assert_eq!(t.remove(100), None);
        assert!(!t.contains(3));
        assert_eq!(t.len(), 5);
        assert_eq!(t.take_all(), [0, 255, 7, 70_000, u32::MAX - 1]);
        assert_eq!(t.len(), 0);
        assert!(!t.contains(0));
        assert_eq!(t.insert(0, 1), None);
        assert_eq!(t.len(), 1);
    }
}
