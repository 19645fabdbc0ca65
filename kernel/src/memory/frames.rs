//! The physical frame allocator: the host-tested [`FrameBitmap`] behind a lock.

use lux9_kernel_core::frame_bitmap::{FrameBitmap, FreeError};
use lux9_kernel_core::units::PAGE_SIZE;

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

/// Allocates one 4 KiB frame and returns its physical address. Its contents are undefined.
pub fn alloc() -> Option<u64> {
    with(|bitmap| bitmap.alloc()).map(|frame| frame * PAGE_SIZE)
}

/// Returns a frame, reporting a double free or a stray address as an error.
pub fn try_free(phys: u64) -> Result<(), FreeError> {
    if !phys.is_multiple_of(PAGE_SIZE) {
        return Err(FreeError::OutOfRange);
    }
    with(|bitmap| bitmap.free(phys / PAGE_SIZE))
}

/// Returns a frame. A double free is a kernel bug and panics with the address.
pub fn free(phys: u64) {
    if let Err(error) = try_free(phys) {
        panic!("freeing frame {phys:#x}: {error:?}");
    }
}

/// Whether the frame holding `phys` is free.
pub fn is_free(phys: u64) -> bool {
    with(|bitmap| bitmap.is_free(phys / PAGE_SIZE))
}

/// Free frames right now.
pub fn free_count() -> u64 {
    with(|bitmap| bitmap.free_count())
}

/// Allocates `count` physically contiguous frames, the first aligned to `align_frames` frames
/// (a power of two), and returns the first one's address. For device memory (DMA).
pub fn alloc_contiguous(count: u64, align_frames: u64) -> Option<u64> {
    with(|bitmap| bitmap.alloc_contiguous(count, align_frames)).map(|frame| frame * PAGE_SIZE)
}
