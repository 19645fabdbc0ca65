//! Physical address ranges and a fixed-capacity set of them.
//!
//! The frame allocator is built before the heap exists, so the set lives in an array. It keeps
//! ranges sorted, disjoint and merged, which makes "available minus reserved" a few removals.

use core::fmt;

use crate::units::{PAGE_SIZE, align_down, align_up};

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    pub const fn from_len(start: u64, len: u64) -> Self {
        Self {
            start,
            end: start.saturating_add(len),
        }
    }

    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The whole pages inside this range (start rounded up, end rounded down).
    pub const fn shrink_to_pages(&self) -> PhysRange {
        PhysRange {
            start: align_up(self.start, PAGE_SIZE),
            end: align_down(self.end, PAGE_SIZE),
        }
    }

    /// The pages touching this range (start rounded down, end rounded up).
    pub const fn grow_to_pages(&self) -> PhysRange {
        PhysRange {
            start: align_down(self.start, PAGE_SIZE),
            end: align_up(self.end, PAGE_SIZE),
        }
    }
}

impl fmt::Debug for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}..{:#x}", self.start, self.end)
    }
}

/// The set ran out of slots; the caller should report which input was too fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSetFull;

/// A sorted set of disjoint, non-adjacent ranges with room for `N` of them.
#[derive(Clone)]
pub struct RangeSet<const N: usize> {
    ranges: [PhysRange; N],
    len: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RangeSet<N> {
    pub const fn new() -> Self {
        Self {
            ranges: [PhysRange::new(0, 0); N],
            len: 0,
        }
    }

    pub fn as_slice(&self) -> &[PhysRange] {
        &self.ranges[..self.len]
    }

    pub fn iter(&self) -> impl Iterator<Item = PhysRange> + '_ {
        self.as_slice().iter().copied()
    }

    /// Total bytes covered.
    pub fn total(&self) -> u64 {
        self.iter().map(|range| range.len()).sum()
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.iter().any(|range| range.contains(addr))
    }

    /// Adds `range`, merging it with any range it overlaps or touches.
    pub fn insert(&mut self, range: PhysRange) -> Result<(), RangeSetFull> {
        if range.is_empty() {
            return Ok(());
        }
        let mut merged = range;
        // Ranges that overlap or touch `range` form one contiguous run [first, last).
        let first = self.ranges[..self.len].partition_point(|r| r.end < merged.start);
        let mut last = first;
        while last < self.len && self.ranges[last].start <= merged.end {
            merged.start = merged.start.min(self.ranges[last].start);
            merged.end = merged.end.max(self.ranges[last].end);
            last += 1;
        }
        let removed = last - first;
        if removed == 0 {
            if self.len == N {
                return Err(RangeSetFull);
            }
            self.ranges.copy_within(first..self.len, first + 1);
            self.len += 1;
        } else {
            self.ranges.copy_within(last..self.len, first + 1);
            self.len -= removed - 1;
        }
        self.ranges[first] = merged;
        Ok(())
    }

    /// Removes every address of `range` from the set, splitting a range if needed.
    pub fn remove(&mut self, range: PhysRange) -> Result<(), RangeSetFull> {
        if range.is_empty() {
            return Ok(());
        }
        let mut index = 0;
        while index < self.len {
            let current = self.ranges[index];
            if !current.overlaps(&range) {
                index += 1;
                continue;
            }
            let left = PhysRange::new(current.start, range.start.max(current.start));
            let right = PhysRange::new(range.end.min(current.end), current.end);
            match (left.is_empty(), right.is_empty()) {
                (true, true) => {
                    self.ranges.copy_within(index + 1..self.len, index);
                    self.len -= 1;
                }
                (false, true) => {
                    self.ranges[index] = left;
                    index += 1;
                }
                (true, false) => {
                    self.ranges[index] = right;
                    index += 1;
                }
                (false, false) => {
                    if self.len == N {
                        return Err(RangeSetFull);
                    }
                    self.ranges.copy_within(index + 1..self.len, index + 2);
                    self.ranges[index] = left;
                    self.ranges[index + 1] = right;
                    self.len += 1;
                    index += 2;
                }
            }
        }
        Ok(())
    }

    /// Shrinks every range to whole pages, dropping those that hold none.
    pub fn shrink_to_pages(&mut self) {
        let mut kept = 0;
        for index in 0..self.len {
            let range = self.ranges[index].shrink_to_pages();
            if !range.is_empty() {
                self.ranges[kept] = range;
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// Takes `len` bytes aligned to `align` from the lowest range that can hold them.
    pub fn take(&mut self, len: u64, align: u64) -> Option<PhysRange> {
        let found = self.iter().find_map(|range| {
            let start = align_up(range.start, align);
            let end = start.checked_add(len)?;
            (end <= range.end).then_some(PhysRange::new(start, end))
        })?;
        // Alignment can leave a gap below the taken piece, so removing it may split a range;
        // a full set then cannot record the split and the take fails instead.
        match self.remove(found) {
            Ok(()) => Some(found),
            Err(RangeSetFull) => None,
        }
    }
}

impl<const N: usize> fmt::Debug for RangeSet<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> PhysRange {
        PhysRange::new(start, end)
    }

    #[test]
    fn insert_merges_overlapping_and_touching() {
        let mut set = RangeSet::<8>::new();
        set.insert(r(10, 20)).unwrap();
        set.insert(r(30, 40)).unwrap();
        set.insert(r(0, 5)).unwrap();
        assert_eq!(set.as_slice(), &[r(0, 5), r(10, 20), r(30, 40)]);
        set.insert(r(20, 30)).unwrap();
        assert_eq!(set.as_slice(), &[r(0, 5), r(10, 40)]);
        set.insert(r(3, 12)).unwrap();
        assert_eq!(set.as_slice(), &[r(0, 40)]);
        set.insert(r(50, 50)).unwrap();
        assert_eq!(set.as_slice(), &[r(0, 40)], "empty ranges are ignored");
    }

    #[test]
    fn remove_splits_and_trims() {
        let mut set = RangeSet::<8>::new();
        set.insert(r(0, 100)).unwrap();
        set.remove(r(10, 20)).unwrap();
        assert_eq!(set.as_slice(), &[r(0, 10), r(20, 100)]);
        set.remove(r(0, 5)).unwrap();
        set.remove(r(90, 200)).unwrap();
        assert_eq!(set.as_slice(), &[r(5, 10), r(20, 90)]);
        set.remove(r(0, 1000)).unwrap();
        assert!(set.as_slice().is_empty());
    }

    #[test]
    fn full_set_reports_instead_of_dropping() {
        let mut set = RangeSet::<2>::new();
        set.insert(r(0, 10)).unwrap();
        set.insert(r(20, 30)).unwrap();
        assert_eq!(set.insert(r(40, 50)), Err(RangeSetFull));
        assert_eq!(set.remove(r(2, 4)), Err(RangeSetFull));
        assert_eq!(
            set.total(),
            20,
            "a failed operation leaves the set as it was"
        );
    }

    #[test]
    fn shrink_to_pages_drops_slivers() {
        let mut set = RangeSet::<4>::new();
        set.insert(r(0x1001, 0x3fff)).unwrap();
        set.insert(r(0x5000, 0x5800)).unwrap();
        set.shrink_to_pages();
        assert_eq!(set.as_slice(), &[r(0x2000, 0x3000)]);
    }

    #[test]
    fn take_respects_alignment() {
        let mut set = RangeSet::<4>::new();
        set.insert(r(0x1000, 0x3000)).unwrap();
        set.insert(r(0x10_0000, 0x20_0000)).unwrap();
        let taken = set.take(0x4000, 0x1000).unwrap();
        assert_eq!(taken, r(0x10_0000, 0x10_4000));
        assert_eq!(
            set.as_slice(),
            &[r(0x1000, 0x3000), r(0x10_4000, 0x20_0000)]
        );
        assert_eq!(set.take(0x100_0000, 0x1000), None);
    }

    /// Compares the set against a plain bitmap model over a small address space.
    #[test]
    fn matches_a_bitmap_model() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut set = RangeSet::<64>::new();
            let mut model = [false; 256];
            for _ in 0..40 {
                let a = next() % 256;
                let b = next() % 256;
                let range = r(a.min(b), a.max(b));
                let add = next() % 3 != 0;
                let result = if add {
                    set.insert(range)
                } else {
                    set.remove(range)
                };
                if result.is_ok() {
                    for cell in &mut model[range.start as usize..range.end as usize] {
                        *cell = add;
                    }
                }
                for (addr, &present) in model.iter().enumerate() {
                    assert_eq!(
                        set.contains(addr as u64),
                        present,
                        "address {addr} in {set:?}"
                    );
                }
                for pair in set.as_slice().windows(2) {
                    assert!(
                        pair[0].end < pair[1].start,
                        "sorted, disjoint, merged: {set:?}"
                    );
                }
            }
        }
    }
}
