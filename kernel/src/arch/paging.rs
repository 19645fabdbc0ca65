//! Kernel page tables: the direct map of physical memory, the kernel image with per-section
//! permissions, and mapping/unmapping of single pages in the shared higher half.
//!
//! Every upper-half PML4 slot (256..512) gets its page-directory-pointer table at boot, so the
//! higher half is one shared set of tables: a process address space will copy those 256 entries
//! and see every later kernel mapping without further work.

use bitflags::bitflags;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::mapper::{MapToError, TranslateResult, UnmapError};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size2MiB,
    Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::sync::IrqMutex;
use super::{DIRECT_MAP_BASE, KERNEL_OFFSET, phys_to_virt};
use crate::memory::frames;

bitflags! {
    /// What a kernel mapping allows, beyond "present and readable".
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MapFlags: u8 {
        const WRITABLE = 1 << 0;
        const EXECUTABLE = 1 << 1;
        /// Uncached, for device registers outside the direct map.
        const NO_CACHE = 1 << 2;
    }
}

impl MapFlags {
    fn page_table_flags(self) -> PageTableFlags {
        let mut flags = PageTableFlags::PRESENT | PageTableFlags::GLOBAL;
        if self.contains(MapFlags::WRITABLE) {
            flags |= PageTableFlags::WRITABLE;
        }
        if !self.contains(MapFlags::EXECUTABLE) {
            flags |= PageTableFlags::NO_EXECUTE;
        }
        if self.contains(MapFlags::NO_CACHE) {
            flags |= PageTableFlags::NO_CACHE | PageTableFlags::WRITE_THROUGH;
        }
        flags
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No free frame for a page table.
    OutOfMemory,
    /// The page is already mapped.
    AlreadyMapped,
    /// The page is not mapped (unmap), or is part of a huge page.
    NotMapped,
    /// The address is in the lower half, which belongs to processes.
    NotKernelAddress,
    /// The page belongs to a shared ring, which alone may unmap it.
    Shared,
}

/// Hands page-table frames from the physical frame allocator to the `x86_64` mapper.
struct TableFrames;

// SAFETY: `frames::alloc` returns frames that are free and owned by the caller from then on.
unsafe impl FrameAllocator<Size4KiB> for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        frames::alloc()
    }
}

static KERNEL_SPACE: IrqMutex<Option<OffsetPageTable<'static>>> = IrqMutex::new(None);

/// Where the direct map ends (exclusive); 0 until `init`.
static DIRECT_MAP_END: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Where the direct map ends: physical addresses below it are reachable at `phys_to_virt`.
pub fn direct_map_end() -> u64 {
    DIRECT_MAP_END.load(core::sync::atomic::Ordering::Relaxed)
}

/// Physical address of the kernel's top-level table (0 until `init`).
static KERNEL_PML4: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Physical address of the kernel's top-level table, whose upper half every address space shares.
pub fn kernel_pml4_phys() -> u64 {
    let phys = KERNEL_PML4.load(core::sync::atomic::Ordering::Relaxed);
    assert_ne!(phys, 0, "paging::init has not run");
    phys
}

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
    static __boot_stack_guard: u8;
}

fn symbol_address(symbol: *const u8) -> u64 {
    symbol as u64
}

/// Fills a frame with zeroes through the direct map.
///
/// # Safety
/// Nothing may use the frame: the caller has just taken it from the frame allocator.
unsafe fn zero_frame(frame: PhysFrame) {
    let phys = frame.start_address().as_u64();
    // SAFETY: the caller owns the frame alone, and the direct map covers all RAM.
    unsafe { core::ptr::write_bytes(phys_to_virt(phys) as *mut u8, 0, 4096) };
}

/// A frame from the frame allocator, filled with zeroes; `None` when memory is exhausted.
pub fn alloc_zeroed_frame() -> Option<PhysFrame> {
    let frame = frames::alloc()?;
    // SAFETY: the frame was just allocated, so nothing else uses it.
    unsafe { zero_frame(frame) };
    Some(frame)
}

fn alloc_zeroed_table() -> PhysFrame {
    alloc_zeroed_frame().expect("out of memory while building the kernel page tables")
}

/// Builds the kernel's page tables and switches to them.
///
/// `direct_map_end` is the highest physical address that must be reachable through the direct
/// map (the top of RAM, the framebuffer, ACPI tables); at least the first 4 GiB are always mapped
/// so that local APIC and I/O APIC registers are too.
pub fn init(direct_map_end: u64) {
    let pml4_frame = alloc_zeroed_table();
    let pml4_phys = pml4_frame.start_address().as_u64();
    // The boot tables map the first 4 GiB at DIRECT_MAP_BASE, and the bitmap hands out the
    // lowest frames first, so every table built here is reachable through that boot mapping.
    // SAFETY: the frame is zeroed, exclusively ours, and reachable through the direct map.
    let pml4 = unsafe { &mut *(phys_to_virt(pml4_phys) as *mut PageTable) };
    // SAFETY: DIRECT_MAP_BASE maps all physical memory in the tables being built and (for the
    // first 4 GiB, where every table frame lies) in the boot tables that are live now.
    let mut table = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(DIRECT_MAP_BASE)) };

    // Direct map, 2 MiB pages, no execute.
    let end = direct_map_end.max(4 << 30).next_multiple_of(2 << 20);
    DIRECT_MAP_END.store(end, core::sync::atomic::Ordering::Relaxed);
    let flags = PageTableFlags::PRESENT
        | PageTableFlags::WRITABLE
        | PageTableFlags::NO_EXECUTE
        | PageTableFlags::GLOBAL;
    for phys in (0..end).step_by(2 << 20) {
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(phys_to_virt(phys)));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(phys));
        // SAFETY: the direct map aliases physical memory at a fixed offset; nothing else is
        // mapped in that range, and the tables are not active yet, so no flush is needed.
        unsafe { table.map_to(page, frame, flags, &mut TableFrames) }
            .expect("building the direct map")
            .ignore();
    }

    // The kernel image, one 4 KiB page at a time with the permissions of its section.
    let text = (
        symbol_address(&raw const __text_start),
        symbol_address(&raw const __text_end),
    );
    let rodata = (
        symbol_address(&raw const __rodata_start),
        symbol_address(&raw const __rodata_end),
    );
    let data = (
        symbol_address(&raw const __data_start),
        symbol_address(&raw const __data_end),
    );
    let guard = symbol_address(&raw const __boot_stack_guard);
    let sections = [
        (text, MapFlags::EXECUTABLE),
        (rodata, MapFlags::empty()),
        (data, MapFlags::WRITABLE),
    ];
    for ((start, end), section_flags) in sections {
        for virt in (start..end).step_by(4096) {
            if virt == guard {
                continue; // stack overflow hits an unmapped page and faults
            }
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
            let frame = PhysFrame::containing_address(PhysAddr::new(virt - KERNEL_OFFSET));
            // SAFETY: maps the kernel's own image at its link address, as the boot tables do.
            unsafe {
                table.map_to(
                    page,
                    frame,
                    section_flags.page_table_flags(),
                    &mut TableFrames,
                )
            }
            .expect("mapping the kernel image")
            .ignore();
        }
    }

    // Give every other upper-half slot its table now, so the higher half is shared for good.
    let pml4 = table.level_4_table_mut();
    for index in 256..512 {
        if pml4[index].is_unused() {
            let frame = alloc_zeroed_table();
            pml4[index].set_frame(frame, PageTableFlags::PRESENT | PageTableFlags::WRITABLE);
        }
    }

    // SAFETY: the new tables map the running code, its stack, the direct map (including the
    // boot information) and all kernel data at the same addresses as the boot tables.
    unsafe { Cr3::write(pml4_frame, Cr3Flags::empty()) };
    super::cpu::enable_global_pages();
    KERNEL_PML4.store(pml4_phys, core::sync::atomic::Ordering::Relaxed);
    *KERNEL_SPACE.lock() = Some(table);
}

fn with_kernel_space<R>(f: impl FnOnce(&mut OffsetPageTable<'static>) -> R) -> R {
    let mut guard = KERNEL_SPACE.lock();
    f(guard
        .as_mut()
        .expect("paging::init runs before any mapping"))
}

fn check_kernel_address(virt: u64) -> Result<Page<Size4KiB>, MapError> {
    let addr = VirtAddr::try_new(virt).map_err(|_| MapError::NotKernelAddress)?;
    if virt < DIRECT_MAP_BASE {
        return Err(MapError::NotKernelAddress);
    }
    Ok(Page::containing_address(addr))
}

/// Maps the 4 KiB page at `virt` (upper half) to `frame`.
pub fn map(virt: u64, frame: PhysFrame, flags: MapFlags) -> Result<(), MapError> {
    let page = check_kernel_address(virt)?;
    with_kernel_space(|table| {
        // SAFETY: only upper-half addresses outside the direct map and image reach here (the
        // callers own their virtual ranges: heap, test scratch), so no live reference aliases.
        match unsafe { table.map_to(page, frame, flags.page_table_flags(), &mut TableFrames) } {
            Ok(flush) => {
                flush.flush();
                Ok(())
            }
            Err(MapToError::FrameAllocationFailed) => Err(MapError::OutOfMemory),
            Err(MapToError::PageAlreadyMapped(_)) => Err(MapError::AlreadyMapped),
            Err(MapToError::ParentEntryHugePage) => Err(MapError::AlreadyMapped),
        }
    })
}

/// Unmaps the 4 KiB page at `virt` and returns the physical frame it pointed to. The caller
/// decides whether to free the frame.
pub fn unmap(virt: u64) -> Result<PhysFrame, MapError> {
    let page = check_kernel_address(virt)?;
    with_kernel_space(|table| match table.unmap(page) {
        Ok((frame, flush)) => {
            flush.flush();
            Ok(frame)
        }
        Err(UnmapError::PageNotMapped | UnmapError::ParentEntryHugePage) => {
            Err(MapError::NotMapped)
        }
        Err(UnmapError::InvalidFrameAddress(_)) => Err(MapError::NotMapped),
    })
}

/// The physical address `virt` maps to in the kernel's tables, if any.
pub fn translate(virt: u64) -> Option<u64> {
    let addr = VirtAddr::try_new(virt).ok()?;
    with_kernel_space(|table| match table.translate(addr) {
        TranslateResult::Mapped { frame, offset, .. } => {
            Some(frame.start_address().as_u64() + offset)
        }
        _ => None,
    })
}

/// The frame bitmap's storage: the pages the memory plan carved out for it. Callable once.
pub fn frame_bitmap_storage(
    plan: &lux9_kernel_core::memory_plan::MemoryPlan,
) -> &'static mut [u64] {
    static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    assert!(
        !TAKEN.swap(true, core::sync::atomic::Ordering::SeqCst),
        "the frame bitmap storage is taken once"
    );
    let range = plan.bitmap_storage;
    assert!(
        range.end <= 4 << 30,
        "the bitmap must lie in the boot direct map (below 4 GiB)"
    );
    // SAFETY: the plan removed `range` from usable memory and from every reservation, so no
    // other code uses it; it is taken once (checked above), page-aligned, and reachable through
    // the boot direct map, which covers the first 4 GiB and stays valid in the final tables.
    unsafe {
        core::slice::from_raw_parts_mut(
            phys_to_virt(range.start) as *mut u64,
            (range.len() / 8) as usize,
        )
    }
}

/// Reads a `u64` at physical address `phys` through the direct map.
pub fn read_phys_u64(phys: u64) -> u64 {
    assert_eq!(phys % 8, 0, "unaligned physical read");
    // SAFETY: the direct map covers all RAM; reading a u64 has no side effects on RAM.
    unsafe { core::ptr::read_volatile(phys_to_virt(phys) as *const u64) }
}

/// Reads a `u32` at physical address `phys` through the direct map.
pub fn read_phys_u32(phys: u64) -> u32 {
    assert_eq!(phys % 4, 0, "unaligned physical read");
    // SAFETY: the direct map covers all RAM; reading a u32 has no side effects on RAM.
    unsafe { core::ptr::read_volatile(phys_to_virt(phys) as *const u32) }
}

/// Writes a `u32` at physical address `phys`: a word of user memory the kernel was asked to
/// set (a process's interrupt word), found through that process's page tables.
pub fn write_phys_u32(phys: u64, value: u32) {
    assert_eq!(phys % 4, 0, "unaligned physical write");
    // SAFETY: the direct map covers all RAM; the frame is mapped writable into a user address
    // space, so it holds that process's data, never the kernel's.
    unsafe { core::ptr::write_volatile(phys_to_virt(phys) as *mut u32, value) }
}

/// Writes a `u64` at physical address `phys`. Only for frames the caller owns.
pub fn write_phys_u64(phys: u64, value: u64) {
    assert_eq!(phys % 8, 0, "unaligned physical write");
    assert!(
        !frames::is_free(PhysFrame::containing_address(PhysAddr::new(phys))),
        "write to a free frame at {phys:#x}"
    );
    // SAFETY: the frame is allocated (checked above) and owned by the caller; the direct map
    // covers it. The kernel keeps no Rust references into frames it hands out.
    unsafe { core::ptr::write_volatile(phys_to_virt(phys) as *mut u64, value) };
}

/// The bytes of `len` bytes at physical address `phys`, for data the boot loader left in memory
/// that is reserved from the allocator (modules, boot information).
pub fn reserved_phys_bytes(phys: u64, len: u64) -> &'static [u8] {
    assert!(
        crate::memory::is_reserved(phys, len),
        "{phys:#x}+{len:#x} is not reserved memory"
    );
    // SAFETY: the range is reserved for the kernel's lifetime (checked above), nothing writes
    // it, and the direct map covers it.
    unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len as usize) }
}

/// What the mapping of `virt` allows, or `None` if it is unmapped.
pub fn flags(virt: u64) -> Option<MapFlags> {
    let addr = VirtAddr::try_new(virt).ok()?;
    with_kernel_space(|table| match table.translate(addr) {
        TranslateResult::Mapped { flags, .. } => {
            let mut result = MapFlags::empty();
            result.set(MapFlags::WRITABLE, flags.contains(PageTableFlags::WRITABLE));
            result.set(
                MapFlags::EXECUTABLE,
                !flags.contains(PageTableFlags::NO_EXECUTE),
            );
            result.set(MapFlags::NO_CACHE, flags.contains(PageTableFlags::NO_CACHE));
            Some(result)
        }
        _ => None,
    })
}

fn check_test_address(virt: u64) {
    assert!(
        (super::TEST_MAP_BASE..super::TEST_MAP_BASE + (1 << 30)).contains(&virt)
            && virt.is_multiple_of(8),
        "{virt:#x} is outside the test mapping range"
    );
    assert!(
        flags(virt).is_some_and(|f| f.contains(MapFlags::WRITABLE)),
        "{virt:#x} is not mapped writable"
    );
}

/// Writes through a test mapping (the range `TEST_MAP_BASE..+1 GiB`, which only tests use).
pub fn test_write(virt: u64, value: u64) {
    check_test_address(virt);
    // SAFETY: the address is in the test-only range and mapped writable (checked above); no Rust
    // reference points into that range.
    unsafe { core::ptr::write_volatile(virt as *mut u64, value) }
}

/// Reads through a test mapping.
pub fn test_read(virt: u64) -> u64 {
    check_test_address(virt);
    // SAFETY: as in `test_write`.
    unsafe { core::ptr::read_volatile(virt as *const u64) }
}
