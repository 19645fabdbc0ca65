//! A ring's header page as the kernel sees it: a physical frame reached through the direct map,
//! accessed only with atomics and volatile copies because both ring parties write it at any
//! time. It implements `lux9_ring::Memory`, so the kernel uses the ring crate's own validated
//! readers and writers instead of a second copy of the layout.

use core::sync::atomic::{AtomicU32, Ordering, fence};

use lux9_ring::{Memory, RingError};
use x86_64::structures::paging::PhysFrame;

use super::phys_to_virt;

/// One 4 KiB frame of a shared ring.
#[derive(Clone, Copy, Debug)]
pub struct SharedPage {
    base: u64,
}

impl SharedPage {
    /// `frame`, which must be a ring frame the caller keeps allocated while it uses this value
    /// (the ring table does).
    pub fn new(frame: PhysFrame) -> Self {
        Self {
            base: phys_to_virt(frame.start_address().as_u64()),
        }
    }

    fn word(&self, offset: usize) -> Result<&AtomicU32, RingError> {
        if offset.is_multiple_of(4) && offset + 4 <= 4096 {
            // SAFETY: the word lies inside the frame (checked), which the direct map covers and
            // the ring keeps allocated; it is only ever accessed atomically here, and the user
            // mappings of the same frame are only accessed atomically by the ring crate.
            Ok(unsafe { &*((self.base + offset as u64) as *const AtomicU32) })
        } else {
            Err(RingError::OutOfBounds { offset, len: 4 })
        }
    }
}

impl Memory for SharedPage {
    fn len(&self) -> usize {
        4096
    }

    fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, RingError> {
        Ok(self.word(offset)?.load(order))
    }

    fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        self.word(offset)?.store(value, order);
        Ok(())
    }

    fn swap_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        Ok(self.word(offset)?.swap(value, order))
    }

    fn fence_seq_cst(&self) {
        fence(Ordering::SeqCst);
    }

    fn read(&self, offset: usize, destination: &mut [u8]) -> Result<(), RingError> {
        let len = destination.len();
        if offset.checked_add(len).is_none_or(|end| end > 4096) {
            return Err(RingError::OutOfBounds { offset, len });
        }
        for (index, byte) in destination.iter_mut().enumerate() {
            // SAFETY: in bounds (checked); volatile because the ring parties write concurrently.
            *byte = unsafe {
                core::ptr::read_volatile((self.base + (offset + index) as u64) as *const u8)
            };
        }
        Ok(())
    }

    fn write(&self, offset: usize, source: &[u8]) -> Result<(), RingError> {
        let len = source.len();
        if offset.checked_add(len).is_none_or(|end| end > 4096) {
            return Err(RingError::OutOfBounds { offset, len });
        }
        for (index, &byte) in source.iter().enumerate() {
            // SAFETY: in bounds (checked); volatile because the ring parties read concurrently.
            unsafe {
                core::ptr::write_volatile((self.base + (offset + index) as u64) as *mut u8, byte)
            };
        }
        Ok(())
    }
}
