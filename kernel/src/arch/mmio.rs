//! Device registers: physical ranges mapped uncached for drivers. Ranges inside the direct map
//! (all of the first 4 GiB, where 32-bit BARs live and where the firmware's MTRRs make device
//! memory uncached) are used through it; ranges above it (64-bit BARs that UEFI places high) get
//! uncached pages in the `MMIO_BASE` window, which are never unmapped: devices live as long as
//! the kernel.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

use super::paging::{self, MapError, MapFlags};
use super::{MMIO_BASE, MMIO_MAX, phys_to_virt};

/// The next free address of the window.
static NEXT: AtomicU64 = AtomicU64::new(MMIO_BASE);

/// The virtual address of physical device memory `phys..phys + len`.
pub fn map(phys: u64, len: u64) -> Result<u64, MapError> {
    let end = phys.checked_add(len).ok_or(MapError::NotKernelAddress)?;
    if end <= paging::direct_map_end() {
        return Ok(phys_to_virt(phys));
    }
    let first = phys & !0xfff;
    let pages = (end - first).div_ceil(4096);
    let virt = NEXT.fetch_add(pages * 4096, Ordering::Relaxed);
    if virt + pages * 4096 > MMIO_BASE + MMIO_MAX {
        return Err(MapError::OutOfMemory);
    }
    for page in 0..pages {
        paging::map(
            virt + page * 4096,
            PhysFrame::containing_address(PhysAddr::new(first + page * 4096)),
            MapFlags::WRITABLE | MapFlags::NO_CACHE,
        )?;
    }
    Ok(virt + (phys - first))
}
