//! The unsafe fence: every raw hardware and memory access of the kernel lives here.
//!
//! Port and MMIO access, MSRs and control registers, page-table writes, the boot stub, the
//! interrupt entry stubs and the direct map of physical memory all sit in this module, behind
//! safe functions. The rest of the kernel may not use it (the workspace denies `unsafe_code`). Every `unsafe` block
//! carries a `// SAFETY:` comment naming the invariant it relies on.

pub mod acpi;
pub mod address_space;
mod boot;
pub mod context;
pub mod cpu;
pub mod fault;
pub mod fpu;
pub mod framebuffer;
pub mod gdt;
pub mod heap;
pub mod interrupts;
pub mod ioapic;
pub mod lapic;
pub mod mmio;
pub mod msi;
pub mod multiboot;
pub mod paging;
pub mod pci;
pub mod percpu;
pub mod pic;
pub mod pit;
pub mod pm_timer;
pub mod power;
pub mod ps2;
pub mod qemu;
pub mod serial;
pub mod shared_page;
pub mod sync;
pub mod syscall;
pub mod usercopy;
pub mod vga_text;

/// Start of the direct map: physical address `p` is readable at `DIRECT_MAP_BASE + p`.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// Where the kernel image is linked: physical address `p` of the image runs at `KERNEL_OFFSET + p`.
pub const KERNEL_OFFSET: u64 = 0xffff_ffff_8000_0000;
/// The kernel heap grows upwards from here.
pub const HEAP_BASE: u64 = 0xffff_c000_0000_0000;
/// Room reserved for the heap's virtual range.
pub const HEAP_MAX: u64 = 64 << 30;
/// Scratch range for tests that map and unmap pages.
pub const TEST_MAP_BASE: u64 = 0xffff_d000_0000_0000;
/// Device registers above the direct map (64-bit BARs), mapped uncached by `mmio::map`.
pub const MMIO_BASE: u64 = 0xffff_d800_0000_0000;
/// Room reserved for those mappings.
pub const MMIO_MAX: u64 = 64 << 30;
/// Kernel stacks of threads, one fixed-size slot each (see `memory::kstack`).
pub const KERNEL_STACKS_BASE: u64 = 0xffff_e000_0000_0000;
/// Size of one kernel-stack slot; stacks end at slot boundaries.
pub const KERNEL_STACK_SLOT: u64 = 64 * 1024;

/// The direct-map address of physical address `phys`.
pub const fn phys_to_virt(phys: u64) -> u64 {
    DIRECT_MAP_BASE + phys
}

unsafe extern "C" {
    static __kernel_virt_start: u8;
    static __kernel_virt_end: u8;
}

/// The physical range of the kernel image: boot stub, code, data, bss and boot stack.
pub fn kernel_image_phys() -> lux9_kernel_core::phys_range::PhysRange {
    let start = &raw const __kernel_virt_start as u64 - KERNEL_OFFSET;
    let end = &raw const __kernel_virt_end as u64 - KERNEL_OFFSET;
    lux9_kernel_core::phys_range::PhysRange::new(start, end)
}

/// The bytes of a boot module (such as `lux9.conf`). Modules stay reserved, never handed to the
/// frame allocator, for as long as the kernel runs, so the slice lives as long.
pub fn module_bytes(range: lux9_kernel_core::phys_range::PhysRange) -> &'static [u8] {
    assert!(
        crate::memory::is_reserved(range.start, range.len()),
        "module_bytes of memory that is not a reserved module"
    );
    // SAFETY: the range is reserved (asserted), so nothing else ever writes it, and the direct
    // map covers all memory the firmware map lists, modules included.
    unsafe {
        core::slice::from_raw_parts(phys_to_virt(range.start) as *const u8, range.len() as usize)
    }
}
