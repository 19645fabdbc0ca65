//! Memory that devices read and write by DMA: physically contiguous frames, zeroed, reached by
//! the kernel through the direct map and by the device at their physical address. Freed when
//! dropped. No IOMMU is programmed: a device sees all of physical memory, so drivers give it only
//! addresses from here or ones the block layer checked.

use lux9_kernel_core::units::PAGE_SIZE;
use x86_64::structures::paging::PhysFrame;
use x86_64::structures::paging::frame::PhysFrameRange;

use crate::arch::phys_to_virt;
use crate::memory::frames;

/// `pages` contiguous frames owned by the kernel for a device.
pub struct DmaBuffer {
    first: PhysFrame,
    pages: usize,
}

impl DmaBuffer {
    /// Zeroed frames, the first aligned to a page; `None` when no run that long is free.
    pub fn new(pages: usize) -> Option<Self> {
        let first = frames::alloc_contiguous(pages as u64, 1)?;
        let buffer = Self { first, pages };
        // SAFETY: the frames were just allocated, so nothing else refers to them, and the direct
        // map covers all RAM.
        unsafe { core::ptr::write_bytes(buffer.virt() as *mut u8, 0, buffer.len()) };
        Some(buffer)
    }

    /// Where the device finds it.
    pub fn phys(&self) -> u64 {
        self.first.start_address().as_u64()
    }

    /// Its frames, in order (to map them into a process).
    pub fn frames(&self) -> PhysFrameRange {
        PhysFrame::range(self.first, self.first + self.pages as u64)
    }

    /// Where the kernel finds it (the direct map).
    pub fn virt(&self) -> u64 {
        phys_to_virt(self.phys())
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.pages * PAGE_SIZE as usize
    }

    /// Its bytes. A device may write them while a transfer into them is in flight: callers read
    /// them only after the transfer completed.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the frames are this buffer's alone for its whole life; see the method's note on
        // transfers in flight.
        unsafe { core::slice::from_raw_parts(self.virt() as *const u8, self.len()) }
    }

    /// Its bytes, to fill before a device reads them.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `bytes`, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.virt() as *mut u8, self.len()) }
    }

    /// A raw pointer to byte `offset`, for structures the device shares (volatile access).
    pub fn ptr<T>(&self, offset: usize) -> *mut T {
        assert!(offset + core::mem::size_of::<T>() <= self.len());
        (self.virt() as usize + offset) as *mut T
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        self.frames().for_each(frames::free);
    }
}

// SAFETY: the buffer is plain memory owned by the value; sharing it between threads is governed
// by the `&`/`&mut` methods above, and raw pointers from `ptr` are used volatilely by drivers.
unsafe impl Send for DmaBuffer {}
// SAFETY: as above.
unsafe impl Sync for DmaBuffer {}

/// A [`DmaBuffer`] seen as a shared region for a ring protocol (`lux9_ring::Memory`): every
/// access is atomic and bounds-checked by `RingMemory`, since a process maps the same frames
/// and may write them at any time. Holds the buffer alive.
pub struct SharedRegion {
    buffer: alloc::sync::Arc<DmaBuffer>,
    len: usize,
}

impl SharedRegion {
    /// The first `len` bytes of `buffer` (at most its length).
    pub fn new(buffer: alloc::sync::Arc<DmaBuffer>, len: usize) -> Self {
        let len = len.min(buffer.len());
        Self { buffer, len }
    }

    fn memory(&self) -> lux9_ring::RingMemory<'_> {
        // SAFETY: the buffer's frames stay allocated while `self.buffer` lives (at least as
        // long as the returned value's borrow of `self`); the kernel reaches them only through
        // RingMemory's atomic accesses, and a process that maps them may write them at will,
        // which RingMemory allows. The direct-map address is page aligned.
        unsafe { lux9_ring::RingMemory::new(self.buffer.virt() as *mut u8, self.len) }
            .expect("a page-aligned, non-empty DMA buffer is a valid region")
    }
}

impl lux9_ring::Memory for SharedRegion {
    fn len(&self) -> usize {
        self.len
    }
    fn load_u32(
        &self,
        offset: usize,
        order: core::sync::atomic::Ordering,
    ) -> Result<u32, lux9_ring::RingError> {
        self.memory().load_u32(offset, order)
    }
    fn store_u32(
        &self,
        offset: usize,
        value: u32,
        order: core::sync::atomic::Ordering,
    ) -> Result<(), lux9_ring::RingError> {
        self.memory().store_u32(offset, value, order)
    }
    fn swap_u32(
        &self,
        offset: usize,
        value: u32,
        order: core::sync::atomic::Ordering,
    ) -> Result<u32, lux9_ring::RingError> {
        self.memory().swap_u32(offset, value, order)
    }
    fn fence_seq_cst(&self) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
    fn read(&self, offset: usize, destination: &mut [u8]) -> Result<(), lux9_ring::RingError> {
        self.memory().read(offset, destination)
    }
    fn write(&self, offset: usize, source: &[u8]) -> Result<(), lux9_ring::RingError> {
        self.memory().write(offset, source)
    }
}

/// Copies `bytes` to physical memory at `phys` through the direct map. For the block layer's
/// memory-backed disk, whose direct requests name memory the caller vouched for.
///
/// # Safety
/// `phys..phys + bytes.len()` must be RAM that nothing else reads or writes meanwhile (a DMA
/// buffer the caller owns).
pub unsafe fn copy_to_phys(phys: u64, bytes: &[u8]) {
    // SAFETY: the caller's contract; the direct map covers all RAM.
    unsafe {
        core::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            crate::arch::phys_to_virt(phys) as *mut u8,
            bytes.len(),
        )
    }
}
