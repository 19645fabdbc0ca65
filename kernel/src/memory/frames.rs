//! The physical frame allocator: the host-tested [`FrameBitmap`] behind a lock.
//!
//! Frames go out and come back as [`PhysFrame`] (4 KiB), never as bare addresses, so a frame
//! cannot be confused with an arbitrary or unaligned physical address. Code that needs the
//! address (the direct map, a device) takes it with `frame.start_address()`.

use lux9_kernel_core::frame_bitmap::{FrameBitmap, FreeError};
use x86_64::structures::paging::PhysFrame;

use crate::arch::sync::IrqMutex;

static FRAMES: IrqMutex<Option<FrameBitmap<'static>>> = IrqMutex::new(None);

/// Installs the bitmap built at boot. Called once by `memory::init`.
pub(super) fn install(bitmap: FrameBitmap<'static>) {
    let mut frames = FRAMES.lock();
    assert!(frames.is_none(), "the frame allocator is installed once");
    *frames = Some(bitmap);
}

fn with<R>(f: impl FnOnce(&mut FrameBitmap<'static>) -> R) -> R {
    f(FRAMES
        .lock()
        .as_mut()
        .expect("memory::init runs before frames are used"))
}

/// Allocates one 4 KiB frame. Its contents are undefined.
pub fn alloc() -> Option<PhysFrame> {
    with(|bitmap| bitmap.alloc()).map(PhysFrame::from_pfn)
}

/// Returns a frame, reporting a double free or a frame outside the pool as an error.
pub fn try_free(frame: PhysFrame) -> Result<(), FreeError> {
    with(|bitmap| bitmap.free(frame.pfn()))
}

/// Returns a frame. A double free is a kernel bug and panics with the address.
pub fn free(frame: PhysFrame) {
    if let Err(error) = try_free(frame) {
        panic!(
            "freeing frame {:#x}: {error:?}",
            frame.start_address().as_u64()
        );
    }
}

/// Whether `frame` is free.
pub fn is_free(frame: PhysFrame) -> bool {
    with(|bitmap| bitmap.is_free(frame.pfn()))
}

/// Free frames right now.
pub fn free_count() -> u64 {
    with(|bitmap| bitmap.free_count())
}

/// Allocates `count` physically contiguous frames, the first aligned to `align_frames` frames
/// (a power of two), and returns the first one; the rest follow it (`first + i`). For device
/// memory (DMA).
pub fn alloc_contiguous(count: u64, align_frames: u64) -> Option<PhysFrame> {
    with(|bitmap| bitmap.alloc_contiguous(count, align_frames)).map(PhysFrame::from_pfn)
}
