//! Memory that devices read and write by DMA: physically contiguous frames, zeroed, reached by
//! the kernel through the direct map and by the device at their physical address. Freed when
//! dropped. No IOMMU is programmed: a device sees all of physical memory, so drivers give it only
//! addresses from here or ones the block layer checked.

use lux9_kernel::units::PAGE_SIZE;

use crate::arch::phys_to_virt;
use crate::memory::frames;

/// `pages` contiguous frames owned by the kernel for a device.
pub struct DmaBuffer {
    phys: u64,
    pages: usize,
}

impl DmaBuffer {
    /// Zeroed frames, the first aligned to a page; `None` when no run that long is free.
    pub fn new(pages: usize) -> Option<Self> {
        let phys = frames::alloc_contiguous(pages as u64, 1)?;
        let buffer = Self { phys, pages };
        // SAFETY: the frames were just allocated, so nothing else refers to them, and the direct
        // map covers all RAM.
        unsafe { core::ptr::write_bytes(buffer.virt() as *mut u8, 0, buffer.len()) };
        Some(buffer)
    }

    /// Where the device finds it.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Where the kernel finds it (the direct map).
    pub fn virt(&self) -> u64 {
        phys_to_virt(self.phys)
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
        for page in 0..self.pages as u64 {
            frames::free(self.phys + page * PAGE_SIZE);
        }
    }
}

// SAFETY: the buffer is plain memory owned by the value; sharing it between threads is governed
// by the `&`/`&mut` methods above, and raw pointers from `ptr` are used volatilely by drivers.
unsafe impl Send for DmaBuffer {}
// SAFETY: as above.
unsafe impl Sync for DmaBuffer {}
