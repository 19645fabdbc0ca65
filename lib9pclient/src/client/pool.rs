//! Tag and fid allocators: free lists that reuse released numbers first.

use crate::codec::{NOFID, NOTAG};
use alloc::vec::Vec;

/// Hands out tags 0..=0xFFFE (NOTAG is reserved for Tversion).
#[derive(Default)]
pub(crate) struct TagPool {
    next: u32,
    free: Vec<u16>,
}

impl TagPool {
    pub(crate) fn alloc(&mut self) -> Option<u16> {
        if let Some(t) = self.free.pop() {
            return Some(t);
        }
        if self.next >= NOTAG as u32 {
            return None;
        }
        let t = self.next as u16;
        self.next += 1;
        Some(t)
    }

    pub(crate) fn release(&mut self, tag: u16) {
        self.free.push(tag);
    }

    /// How many tags are currently handed out.
    pub(crate) fn in_use(&self) -> usize {
        self.next as usize - self.free.len()
    }
}

/// Hands out fids 0..NOFID.
#[derive(Default)]
pub(crate) struct FidPool {
    next: u64,
    free: Vec<u32>,
}

impl FidPool {
    pub(crate) fn alloc(&mut self) -> Option<u32> {
        if let Some(f) = self.free.pop() {
            return Some(f);
        }
        if self.next >= NOFID as u64 {
            return None;
        }
        let f = self.next as u32;
        self.next += 1;
        Some(f)
    }

    pub(crate) fn release(&mut self, fid: u32) {
        debug_assert!(!self.free.contains(&fid), "fid {fid} released twice");
        self.free.push(fid);
    }

    pub(crate) fn in_use(&self) -> usize {
        self.next as usize - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_reused_and_never_notag() {
        let mut p = TagPool::default();
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        assert_ne!(a, b);
        p.release(a);
        assert_eq!(p.alloc(), Some(a));
        let mut all = TagPool::default();
        let mut n = 0;
        while let Some(t) = all.alloc() {
            assert_ne!(t, NOTAG);
            n += 1;
        }
        assert_eq!(n, 0xFFFF);
        assert_eq!(all.in_use(), 0xFFFF);
    }

    #[test]
    fn fids_are_reused() {
        let mut p = FidPool::default();
        let a = p.alloc().unwrap();
        let _b = p.alloc().unwrap();
        p.release(a);
        assert_eq!(p.in_use(), 1);
        assert_eq!(p.alloc(), Some(a));
    }
}
