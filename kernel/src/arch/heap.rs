//! The kernel heap: `talc` over a virtual range that grows on demand.
//!
//! The heap starts empty at [`HEAP_BASE`]. When talc runs out of memory it calls
//! [`GrowingHeap::acquire`], which maps fresh frames at the top of the range and hands them to
//! talc (`claim` the first time, `extend` afterwards). Frames need not be contiguous, so the heap
//! can grow as long as free frames last. It never shrinks, so the bytes in use are counted
//! separately, in the global allocator's wrapper, for leak tests and `/proc/meminfo`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use talc::base::Talc;
use talc::base::binning::Binning;
use talc::source::Source;

use super::paging::{self, MapFlags};
use super::sync::RawIrqSpinlock;
use super::{HEAP_BASE, HEAP_MAX};
use crate::memory::frames;

/// The heap grows by at least this much at a time.
const GROW_MIN: u64 = 1 << 20;

/// Bytes of heap mapped so far.
static MAPPED: AtomicU64 = AtomicU64::new(0);
/// How many times the heap has grown.
static GROWTHS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub struct GrowingHeap {
    /// Where talc's heap currently ends, once it has one.
    heap_end: Option<NonNull<u8>>,
}

// SAFETY: the pointer is only used under the heap lock.
unsafe impl Send for GrowingHeap {}

/// Maps `len` bytes of fresh frames at `start`. On failure unmaps and frees what it mapped.
fn map_fresh(start: u64, len: u64) -> Result<(), ()> {
    for offset in (0..len).step_by(4096) {
        let mapped = frames::alloc().ok_or(()).and_then(|frame| {
            paging::map(start + offset, frame, MapFlags::WRITABLE).map_err(|_| {
                frames::free(frame);
            })
        });
        if mapped.is_err() {
            for undo in (0..offset).step_by(4096) {
                if let Ok(frame) = paging::unmap(start + undo) {
                    frames::free(frame);
                }
            }
            return Err(());
        }
    }
    Ok(())
}

// SAFETY: `acquire` only touches talc through the `talc` argument; mapping pages uses the page
// table and frame locks, which never allocate from the heap.
unsafe impl Source for GrowingHeap {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        let mapped = MAPPED.load(Ordering::Relaxed);
        // Room for the request, its alignment padding and talc's own metadata and tags.
        let needed = layout.size() as u64 + layout.align() as u64 + 64 * 1024;
        let grow = needed.max(GROW_MIN).next_multiple_of(4096);
        if mapped + grow > HEAP_MAX {
            return Err(());
        }
        let start = HEAP_BASE + mapped;
        map_fresh(start, grow)?;
        MAPPED.store(mapped + grow, Ordering::Relaxed);
        GROWTHS.fetch_add(1, Ordering::Relaxed);
        let new_end = (start + grow) as *mut u8;
        let heap_end = match talc.source.heap_end {
            // SAFETY: the range was just mapped, is exclusively the heap's, and stays mapped.
            None => unsafe { talc.claim(HEAP_BASE as *mut u8, grow as usize) },
            // SAFETY: the new range continues the existing heap and was just mapped for it.
            Some(end) => Some(unsafe { talc.extend(end, new_end) }),
        };
        talc.source.heap_end = Some(heap_end.ok_or(())?);
        Ok(())
    }
}

/// Bytes handed out by the allocator and not yet returned: the sum of the live allocations'
/// `Layout::size`, without talc's tags and padding, so a leak of one byte shows.
static IN_USE: AtomicU64 = AtomicU64::new(0);

/// talc behind a counter of the bytes in use.
struct CountingHeap(talc::TalcLock<RawIrqSpinlock, GrowingHeap>);

// SAFETY: every call is passed to talc unchanged; the counter only observes what talc returns.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is talc's.
        let ptr = unsafe { self.0.alloc(layout) };
        if !ptr.is_null() {
            IN_USE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is talc's.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if !ptr.is_null() {
            IN_USE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is talc's.
        unsafe { self.0.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is talc's.
        let moved = unsafe { self.0.realloc(ptr, layout, new_size) };
        // On failure the old block stays allocated at its old size.
        if !moved.is_null() {
            IN_USE.fetch_add(new_size as u64, Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingHeap = CountingHeap(talc::TalcLock::new(GrowingHeap { heap_end: None }));

/// Heap figures for logs and tests.
#[derive(Clone, Copy, Debug)]
pub struct HeapStats {
    pub mapped_bytes: u64,
    pub growths: u64,
    /// Bytes allocated and not yet freed.
    pub in_use_bytes: u64,
}

pub fn stats() -> HeapStats {
    HeapStats {
        mapped_bytes: MAPPED.load(Ordering::Relaxed),
        growths: GROWTHS.load(Ordering::Relaxed),
        in_use_bytes: IN_USE.load(Ordering::Relaxed),
    }
}
