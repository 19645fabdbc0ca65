//! The block cache: 4 KiB pages of the device, segmented LRU, between
//! ext4-view and the block source.
//!
//! ext4-view keeps its own small cache (256 KiB of filesystem blocks, filled
//! 32 KiB at a time); this one sits below it and holds far more, so that the
//! metadata a walk or a directory read needs again (inode tables, extent
//! nodes, directory blocks, group descriptors) comes from memory rather than
//! from the device. Pages are keyed by device offset / 4096 and live in one
//! of two segments: a page enters *probation* on a miss and moves to the
//! *protected* segment (at most 3/4 of the pages) when it is read again. A
//! long file read streams through probation only, so it cannot flush the
//! metadata that was used twice; and a request that misses entirely and
//! starts where the previous one ended (ext4-view reading a file's blocks in
//! order) is read straight into the caller's buffer without being cached.
//!
//! A device that holds the cache's memory itself ([`BlockDevice::cache_pages`]: on Lux9 the
//! block ring's data region) is filled in place instead: a miss takes cache pages first and
//! the device writes the disk's bytes straight into them (by DMA), all pages of a miss in one
//! batch. There a sequential miss is not streamed past the cache but *read ahead*: the run of
//! missing pages is extended by up to [`READ_AHEAD_PAGES`], so that the reads that follow hit.

use super::{BlockDevice, DeviceError, PageFill, check_range};
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use hashbrown::HashMap;

/// Bytes per cache page.
pub const PAGE_SIZE: usize = 4096;
/// Most pages read from the device in one request on a miss.
const MAX_RUN: usize = 32;
/// Pages read ahead of a sequential miss, on devices that hold the cache's pages (128 KiB).
pub const READ_AHEAD_PAGES: usize = 32;
/// The page number of a slot whose fill failed: it holds nothing.
const NO_PAGE: u64 = u64::MAX;
const NONE: u32 = u32::MAX;
const PROBATION: usize = 0;
const PROTECTED: usize = 1;

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Page lookups served from memory.
    pub hits: u64,
    /// Page lookups that went to the device.
    pub misses: u64,
    /// Requests sent to the device.
    pub device_reads: u64,
    /// Bytes read from the device.
    pub device_bytes: u64,
    /// Requests recognised as part of a sequential stream and not cached.
    pub streamed: u64,
    /// Pages read ahead of a sequential miss.
    pub read_ahead: u64,
}

struct Slot {
    page: u64,
    prev: u32,
    next: u32,
    segment: usize,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

const EMPTY: List = List {
    head: NONE,
    tail: NONE,
    len: 0,
};

/// A page cache over a [`BlockDevice`].
pub struct BlockCache {
    device: Box<dyn BlockDevice>,
    capacity: usize,
    data: Vec<u8>,
    slots: Vec<Slot>,
    map: HashMap<u64, u32>,
    lists: [List; 2],
    scratch: Vec<u8>,
    stats: CacheStats,
    /// Where the last request that missed every page ended.
    stream_end: u64,
    /// The pages live in the device (see the module's text).
    in_device: bool,
    /// Where the last read (hit or miss) ended: a read from there continues a sequence.
    last_end: u64,
}

impl BlockCache {
    /// A cache of at most `capacity_bytes` (rounded down to whole pages; 0
    /// turns caching off). Memory is taken as pages are first used.
    pub fn new(device: Box<dyn BlockDevice>, capacity_bytes: usize) -> Self {
        let pages = device.cache_pages();
        Self {
            capacity: match pages {
                0 => capacity_bytes / PAGE_SIZE,
                pages => pages.min(capacity_bytes / PAGE_SIZE),
            }
            .min(NONE as usize - 1),
            in_device: pages > 0,
            last_end: u64::MAX,
            device,
            data: Vec::new(),
            slots: Vec::new(),
            map: HashMap::new(),
            lists: [EMPTY; 2],
            scratch: Vec::new(),
            stats: CacheStats::default(),
            stream_end: u64::MAX,
        }
    }

    /// The size of the device.
    pub fn size(&self) -> u64 {
        self.device.size()
    }

    /// The most bytes the cache holds.
    pub fn capacity_bytes(&self) -> usize {
        self.capacity * PAGE_SIZE
    }

    /// Bytes held now.
    pub fn resident_bytes(&self) -> usize {
        self.slots.len() * PAGE_SIZE
    }

    /// Hit and miss counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Fills `buf` with the device bytes at `offset`, from the cache where it can.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let size = self.device.size();
        check_range(offset, buf.len(), size)?;
        if self.capacity == 0 {
            self.stats.device_reads += 1;
            self.stats.device_bytes += buf.len() as u64;
            return self.device.read_at(offset, buf);
        }
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let page = at / PAGE_SIZE as u64;
            let in_page = (at % PAGE_SIZE as u64) as usize;
            let n = (PAGE_SIZE - in_page).min(buf.len() - done);
            if let Some(&slot) = self.map.get(&page) {
                self.stats.hits += 1;
                self.touch(slot);
                self.copy_out(slot, in_page, &mut buf[done..done + n]);
                done += n;
                continue;
            }
            if self.in_device {
                done += self.fill_in_device(offset, done, page, in_page, buf)?;
                continue;
            }
            // A request that misses entirely and starts where the previous
            // such request ended is a stream (a file read): it goes straight
            // to the caller's buffer and is not cached, so it neither costs a
            // copy nor evicts anything.
            if done == 0 && offset == self.stream_end && self.all_missing(offset, buf.len()) {
                self.stats.misses += buf.len().div_ceil(PAGE_SIZE) as u64;
                self.stats.device_reads += 1;
                self.stats.device_bytes += buf.len() as u64;
                self.stats.streamed += 1;
                self.stream_end = offset + buf.len() as u64;
                return self.device.read_at(offset, buf);
            }
            if done == 0 {
                self.stream_end = offset + buf.len() as u64;
            }
            // A miss: read this page and the missing pages after it that the
            // request also covers, in one device request.
            let last_page = (offset + buf.len() as u64 - 1) / PAGE_SIZE as u64;
            let limit = MAX_RUN.min(self.capacity.div_ceil(2)).max(1) as u64;
            let mut run = 1u64;
            while run < limit && page + run <= last_page && !self.map.contains_key(&(page + run)) {
                run += 1;
            }
            let run_start = page * PAGE_SIZE as u64;
            let run_end = ((page + run) * PAGE_SIZE as u64).min(size);
            let run_len = (run_end - run_start) as usize;
            let mut scratch = core::mem::take(&mut self.scratch);
            scratch.resize(run_len, 0);
            self.stats.misses += run;
            self.stats.device_reads += 1;
            self.stats.device_bytes += run_len as u64;
            let result = self.device.read_at(run_start, &mut scratch[..run_len]);
            if let Err(e) = result {
                self.scratch = scratch;
                return Err(e);
            }
            for i in 0..run as usize {
                let lo = i * PAGE_SIZE;
                let hi = (lo + PAGE_SIZE).min(run_len);
                self.insert(page + i as u64, &scratch[lo..hi]);
            }
            // Copy what the request wanted out of the run.
            let want = (run_len - in_page).min(buf.len() - done);
            buf[done..done + want].copy_from_slice(&scratch[in_page..in_page + want]);
            done += want;
            self.scratch = scratch;
        }
        self.last_end = offset + buf.len() as u64;
        Ok(())
    }

    fn all_missing(&self, offset: u64, len: usize) -> bool {
        let first = offset / PAGE_SIZE as u64;
        let last = (offset + len as u64 - 1) / PAGE_SIZE as u64;
        (first..=last).all(|page| !self.map.contains_key(&page))
    }

    /// Copies from cache slot `slot`, `in_page` bytes in, into `buf`.
    fn copy_out(&self, slot: u32, in_page: usize, buf: &mut [u8]) {
        if self.in_device {
            self.device.read_page(slot as usize, in_page, buf);
        } else {
            let start = slot as usize * PAGE_SIZE + in_page;
            buf.copy_from_slice(&self.data[start..start + buf.len()]);
        }
    }

    /// A miss on a device that holds the pages: takes slots for the run of missing pages
    /// from `page` (extended by read-ahead when the read continues the previous one), has the
    /// device fill them in one batch, and copies what `buf` wants from them. Returns the
    /// bytes of `buf` filled from `done` on.
    fn fill_in_device(
        &mut self,
        offset: u64,
        done: usize,
        page: u64,
        in_page: usize,
        buf: &mut [u8],
    ) -> Result<usize, DeviceError> {
        let size = self.device.size();
        let last_wanted = (offset + buf.len() as u64 - 1) / PAGE_SIZE as u64;
        let last_page = (size - 1) / PAGE_SIZE as u64;
        // The read continues the one before, or this read itself is past its first page.
        let ahead = if done > 0 || offset == self.last_end {
            READ_AHEAD_PAGES as u64
        } else {
            0
        };
        // At most a quarter of the cache: probation always holds that many pages that are not
        // this run's (protected holds at most three quarters), so taking slots never evicts a
        // page this run has just taken.
        let limit = (MAX_RUN as u64 + ahead).min((self.capacity / 4).max(1) as u64);
        let mut run = 1u64;
        while run < limit
            && page + run <= (last_wanted + ahead).min(last_page)
            && !self.map.contains_key(&(page + run))
        {
            run += 1;
        }
        let mut fills = Vec::with_capacity(run as usize);
        for i in 0..run {
            let device_offset = (page + i) * PAGE_SIZE as u64;
            let len = (size - device_offset).min(PAGE_SIZE as u64) as usize;
            let slot = self.take_slot(page + i);
            fills.push(PageFill {
                offset: device_offset,
                page: slot as usize,
                len,
            });
        }
        let wanted = (last_wanted + 1).saturating_sub(page).min(run);
        self.stats.misses += wanted;
        self.stats.read_ahead += run - wanted;
        self.stats.device_reads += 1;
        self.stats.device_bytes += fills.iter().map(|f| f.len as u64).sum::<u64>();
        if let Err(e) = self.device.fill_pages(&fills) {
            // The pages hold nothing: forget them, so that no read finds them.
            for fill in &fills {
                let slot = &mut self.slots[fill.page];
                self.map.remove(&slot.page);
                slot.page = NO_PAGE;
            }
            return Err(e);
        }
        let mut filled = 0;
        let mut in_page = in_page;
        for fill in &fills {
            let n = fill
                .len
                .saturating_sub(in_page)
                .min(buf.len() - done - filled);
            if n == 0 {
                break;
            }
            self.device.read_page(
                fill.page,
                in_page,
                &mut buf[done + filled..done + filled + n],
            );
            filled += n;
            in_page = 0;
        }
        Ok(filled)
    }

    /// A slot for `page` (a new one, or the least recently used one's), mapped and on
    /// probation; its bytes are the caller's to fill.
    fn take_slot(&mut self, page: u64) -> u32 {
        let slot = if self.slots.len() < self.capacity {
            self.slots.push(Slot {
                page,
                prev: NONE,
                next: NONE,
                segment: PROBATION,
            });
            if !self.in_device {
                self.data.resize(self.slots.len() * PAGE_SIZE, 0);
            }
            (self.slots.len() - 1) as u32
        } else {
            let victim = if self.lists[PROBATION].tail != NONE {
                self.lists[PROBATION].tail
            } else {
                self.lists[PROTECTED].tail
            };
            self.unlink(victim);
            let old = self.slots[victim as usize].page;
            self.map.remove(&old);
            self.slots[victim as usize].page = page;
            victim
        };
        self.map.insert(page, slot);
        self.push_front(slot, PROBATION);
        slot
    }

    fn insert(&mut self, page: u64, bytes: &[u8]) {
        let slot = self.take_slot(page);
        let start = slot as usize * PAGE_SIZE;
        self.data[start..start + bytes.len()].copy_from_slice(bytes);
        self.data[start + bytes.len()..start + PAGE_SIZE].fill(0);
    }

    /// A hit: a page on probation is promoted; a protected page moves to the front.
    fn touch(&mut self, slot: u32) {
        if self.lists[PROTECTED].head == slot {
            return; // already the most recent
        }
        self.unlink(slot);
        self.push_front(slot, PROTECTED);
        let quota = (self.capacity * 3 / 4).max(1);
        if self.lists[PROTECTED].len > quota {
            let demoted = self.lists[PROTECTED].tail;
            self.unlink(demoted);
            self.push_front(demoted, PROBATION);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next, segment) = {
            let s = &self.slots[slot as usize];
            (s.prev, s.next, s.segment)
        };
        if prev == NONE {
            self.lists[segment].head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NONE {
            self.lists[segment].tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        self.lists[segment].len -= 1;
    }

    fn push_front(&mut self, slot: u32, segment: usize) {
        let head = self.lists[segment].head;
        {
            let s = &mut self.slots[slot as usize];
            s.prev = NONE;
            s.next = head;
            s.segment = segment;
        }
        if head == NONE {
            self.lists[segment].tail = slot;
        } else {
            self.slots[head as usize].prev = slot;
        }
        self.lists[segment].head = slot;
        self.lists[segment].len += 1;
    }

    #[cfg(test)]
    fn segment_lens(&self) -> (usize, usize) {
        (self.lists[PROBATION].len, self.lists[PROTECTED].len)
    }
}

/// A shared handle on one [`BlockCache`]: ext4-view reads through it (it is
/// the `Ext4Read` given to `Ext4::load`), and so does ext4srv's own inode
/// index. Single-threaded, like ext4-view itself.
#[derive(Clone)]
pub struct CacheHandle(Rc<RefCell<BlockCache>>);

impl CacheHandle {
    /// Wraps `cache` for sharing.
    pub fn new(cache: BlockCache) -> Self {
        Self(Rc::new(RefCell::new(cache)))
    }

    /// Reads through the cache.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        // Reads never nest (neither reader calls back into the other), so the
        // borrow cannot fail; if it ever did, it is an I/O error, not a panic.
        let mut cache = self
            .0
            .try_borrow_mut()
            .map_err(|_| DeviceError::Io("block cache is busy".into()))?;
        cache.read_at(offset, buf)
    }

    /// Size of the device.
    pub fn size(&self) -> u64 {
        self.0.try_borrow().map(|c| c.size()).unwrap_or(0)
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        self.0.try_borrow().map(|c| c.stats()).unwrap_or_default()
    }

    /// Capacity in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.0.try_borrow().map(|c| c.capacity_bytes()).unwrap_or(0)
    }
}

impl ext4_view::Ext4Read for CacheHandle {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn core::error::Error + Send + Sync + 'static>> {
        self.read_at(start_byte, dst).map_err(|e| Box::new(e) as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemoryDevice;

    struct Counting {
        bytes: Vec<u8>,
        reads: Rc<RefCell<u32>>,
    }

    impl BlockDevice for Counting {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
            *self.reads.borrow_mut() += 1;
            MemoryDevice(&self.bytes[..]).read_at(offset, buf)
        }
        fn size(&self) -> u64 {
            self.bytes.len() as u64
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    fn cache(len: usize, pages: usize) -> (BlockCache, Rc<RefCell<u32>>, Vec<u8>) {
        let bytes = pattern(len);
        let reads = Rc::new(RefCell::new(0));
        let dev = Counting {
            bytes: bytes.clone(),
            reads: reads.clone(),
        };
        (
            BlockCache::new(Box::new(dev), pages * PAGE_SIZE),
            reads,
            bytes,
        )
    }

    #[test]
    fn reads_match_the_device_at_every_alignment() {
        let len = 10 * PAGE_SIZE + 123;
        for pages in [0, 1, 2, 3, 16] {
            let (mut c, _, bytes) = cache(len, pages);
            for (offset, n) in [
                (0, 1),
                (4095, 2),
                (100, 9000),
                (len - 7, 7),
                (0, len),
                (8191, 4097),
            ] {
                let mut buf = vec![0; n];
                c.read_at(offset as u64, &mut buf).unwrap();
                assert_eq!(
                    buf,
                    bytes[offset..offset + n],
                    "pages {pages} offset {offset} len {n}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_is_an_error() {
        let (mut c, _, _) = cache(3 * PAGE_SIZE, 4);
        let mut buf = [0u8; 2];
        assert!(matches!(
            c.read_at(3 * PAGE_SIZE as u64 - 1, &mut buf),
            Err(DeviceError::OutOfRange { .. })
        ));
        assert!(c.read_at(u64::MAX, &mut buf).is_err());
    }

    #[test]
    fn second_read_is_a_hit_and_runs_are_one_request() {
        let (mut c, reads, _) = cache(64 * PAGE_SIZE, 16);
        let mut buf = vec![0; 8 * PAGE_SIZE];
        c.read_at(0, &mut buf).unwrap();
        assert_eq!(*reads.borrow(), 1, "eight missing pages, one request");
        c.read_at(0, &mut buf).unwrap();
        assert_eq!(*reads.borrow(), 1);
        assert_eq!(c.stats().hits, 8);
        assert_eq!(c.resident_bytes(), 8 * PAGE_SIZE);
    }

    #[test]
    fn a_stream_does_not_evict_pages_used_twice() {
        let (mut c, reads, _) = cache(200 * PAGE_SIZE, 16);
        let mut page = vec![0; PAGE_SIZE];
        // "Metadata": pages 0-3, read twice (not in order, which would be a
        // stream), become protected.
        for _ in 0..2 {
            for p in [0, 2, 1, 3u64] {
                c.read_at(p * PAGE_SIZE as u64, &mut page).unwrap();
            }
        }
        assert_eq!(c.segment_lens().1, 4);
        // Many pages read once (backwards, so they are cached, on probation).
        for p in (10..190u64).rev() {
            c.read_at(p * PAGE_SIZE as u64, &mut page).unwrap();
        }
        let before = *reads.borrow();
        for p in [0, 2, 1, 3u64] {
            c.read_at(p * PAGE_SIZE as u64, &mut page).unwrap();
        }
        assert_eq!(
            *reads.borrow(),
            before,
            "protected pages survived the stream"
        );
        assert!(c.resident_bytes() <= 16 * PAGE_SIZE);
    }

    #[test]
    fn sequential_misses_bypass_the_cache() {
        let (mut c, reads, bytes) = cache(64 * PAGE_SIZE, 16);
        let mut buf = vec![0; 8 * PAGE_SIZE];
        for i in 0..4 {
            c.read_at((i * 8 * PAGE_SIZE) as u64, &mut buf).unwrap();
            assert_eq!(buf, bytes[i * 8 * PAGE_SIZE..(i + 1) * 8 * PAGE_SIZE]);
        }
        assert_eq!(*reads.borrow(), 4);
        assert_eq!(
            c.stats().streamed,
            3,
            "the first request is cached, the rest stream"
        );
        assert_eq!(c.resident_bytes(), 8 * PAGE_SIZE);
        // Unaligned streams too.
        let mut odd = vec![0; 5000];
        c.read_at(40 * PAGE_SIZE as u64 + 7, &mut odd).unwrap();
        c.read_at(40 * PAGE_SIZE as u64 + 5007, &mut odd).unwrap();
        assert_eq!(odd, bytes[40 * PAGE_SIZE + 5007..40 * PAGE_SIZE + 10007]);
    }

    #[test]
    fn protected_segment_is_bounded() {
        let (mut c, _, bytes) = cache(64 * PAGE_SIZE, 8);
        let mut page = vec![0; PAGE_SIZE];
        for _ in 0..3 {
            for p in 0..20u64 {
                c.read_at(p * PAGE_SIZE as u64, &mut page).unwrap();
                let at = p as usize * PAGE_SIZE;
                assert_eq!(page, bytes[at..at + PAGE_SIZE]);
            }
        }
        let (probation, protected) = c.segment_lens();
        assert!(protected <= 6 && probation + protected <= 8);
    }

    /// A device that holds the cache's pages and fills them in place, as a block ring's data
    /// region does; it can be told to fail the next fill.
    struct Holding {
        bytes: Vec<u8>,
        pages: RefCell<Vec<u8>>,
        fills: Rc<RefCell<Vec<usize>>>,
        fail_next: Rc<RefCell<bool>>,
    }

    impl BlockDevice for Holding {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
            MemoryDevice(&self.bytes[..]).read_at(offset, buf)
        }
        fn size(&self) -> u64 {
            self.bytes.len() as u64
        }
        fn cache_pages(&self) -> usize {
            self.pages.borrow().len() / PAGE_SIZE
        }
        fn fill_pages(&mut self, fills: &[PageFill]) -> Result<(), DeviceError> {
            if core::mem::take(&mut *self.fail_next.borrow_mut()) {
                // A failed batch may leave anything in the pages.
                for fill in fills {
                    self.pages.borrow_mut()[fill.page * PAGE_SIZE..][..PAGE_SIZE].fill(0xee);
                }
                return Err(DeviceError::Io("disk error".into()));
            }
            self.fills.borrow_mut().push(fills.len());
            let mut pages = self.pages.borrow_mut();
            for fill in fills {
                assert!(fill.offset % PAGE_SIZE as u64 == 0 && fill.len <= PAGE_SIZE);
                let at = fill.offset as usize;
                pages[fill.page * PAGE_SIZE..][..fill.len]
                    .copy_from_slice(&self.bytes[at..at + fill.len]);
            }
            Ok(())
        }
        fn read_page(&self, page: usize, in_page: usize, buf: &mut [u8]) {
            buf.copy_from_slice(&self.pages.borrow()[page * PAGE_SIZE + in_page..][..buf.len()]);
        }
    }

    /// A cache over a [`Holding`] device: (cache, the fills' sizes, the fail switch, the bytes).
    type Held = (
        BlockCache,
        Rc<RefCell<Vec<usize>>>,
        Rc<RefCell<bool>>,
        Vec<u8>,
    );

    fn holding(len: usize, pages: usize) -> Held {
        let bytes = pattern(len);
        let fills = Rc::new(RefCell::new(Vec::new()));
        let fail = Rc::new(RefCell::new(false));
        let dev = Holding {
            bytes: bytes.clone(),
            pages: RefCell::new(vec![0; pages * PAGE_SIZE]),
            fills: fills.clone(),
            fail_next: fail.clone(),
        };
        // Asked for more than the device holds: the device's pages are the bound.
        (
            BlockCache::new(Box::new(dev), 4 * pages * PAGE_SIZE),
            fills,
            fail,
            bytes,
        )
    }

    #[test]
    fn pages_held_by_the_device_are_filled_in_place_and_read_back_exactly() {
        // Not a whole number of pages: the last fill is short.
        let len = 300 * PAGE_SIZE + 1536;
        let (mut c, fills, _, bytes) = holding(len, 64);
        assert_eq!(c.capacity_bytes(), 64 * PAGE_SIZE);
        let mut x = 12345u64;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (x >> 20) as usize % len;
            let n = 1 + (x >> 50) as usize % (3 * PAGE_SIZE);
            let n = n.min(len - at);
            let mut buf = vec![0; n];
            c.read_at(at as u64, &mut buf).unwrap();
            assert!(buf == bytes[at..at + n], "{n} bytes at {at}");
        }
        // Each miss was one batch, never more than a quarter of the cache.
        assert!(fills.borrow().iter().all(|&n| (1..=16).contains(&n)));
        assert!(c.resident_bytes() <= 64 * PAGE_SIZE);
    }

    #[test]
    fn sequential_reads_read_ahead_into_the_cache() {
        let (mut c, fills, _, bytes) = holding(256 * PAGE_SIZE, 512);
        let mut buf = vec![0; 16 * 1024];
        for i in 0..32 {
            let at = i * buf.len();
            c.read_at(at as u64, &mut buf).unwrap();
            assert!(buf[..] == bytes[at..at + buf.len()]);
        }
        let s = c.stats();
        // 512 KiB read in order: the first miss reads what was asked, the next ones 128 KiB
        // more each, so most reads hit.
        assert!(s.read_ahead >= 64, "{s:?}");
        assert!(fills.borrow().len() <= 6, "{} fills", fills.borrow().len());
        assert_eq!(s.streamed, 0);
    }

    #[test]
    fn a_failed_fill_leaves_no_page_behind() {
        let (mut c, _, fail, bytes) = holding(64 * PAGE_SIZE, 32);
        let mut buf = vec![0; 3 * PAGE_SIZE];
        *fail.borrow_mut() = true;
        assert!(c.read_at(PAGE_SIZE as u64, &mut buf).is_err());
        // The same pages again: read from the device, not the garbage the failure left.
        c.read_at(PAGE_SIZE as u64, &mut buf).unwrap();
        assert!(buf[..] == bytes[PAGE_SIZE..4 * PAGE_SIZE]);
        // And the cache keeps working around the dead slots.
        for page in 0..64 {
            let mut one = vec![0; 100];
            c.read_at((page * PAGE_SIZE + 7) as u64, &mut one).unwrap();
            assert!(one[..] == bytes[page * PAGE_SIZE + 7..][..100]);
        }
    }
}
