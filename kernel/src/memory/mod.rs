//! Physical memory: what is usable, what is reserved, and the frame allocator over it.

pub mod frames;
pub mod kstack;

use alloc::vec::Vec;

use lux9_kernel_core::frame_bitmap::FrameBitmap;
use lux9_kernel_core::memory_plan::{self, MapArea, MemoryPlan};
use lux9_kernel_core::phys_range::PhysRange;
use lux9_kernel_core::units::PAGE_SIZE;
use spin::Once;

use crate::arch;
use crate::boot_info::BootInfo;

/// Ranges the allocator must never hand out, kept for checks and tests.
#[derive(Clone, Debug)]
pub struct Reservations {
    pub kernel_image: PhysRange,
    pub boot_info: PhysRange,
    pub modules: [PhysRange; MAX_MODULES],
    pub module_count: usize,
    pub bitmap: PhysRange,
}

/// Modules beyond this many are refused at boot with a clear message.
pub const MAX_MODULES: usize = 16;

impl Reservations {
    pub fn iter(&self) -> impl Iterator<Item = PhysRange> + '_ {
        [self.kernel_image, self.boot_info, self.bitmap]
            .into_iter()
            .chain(self.modules[..self.module_count].iter().copied())
    }
}

static RESERVATIONS: Once<Reservations> = Once::new();

/// Summary for the boot banner.
#[derive(Clone, Copy, Debug)]
pub struct MemorySummary {
    pub available_bytes: u64,
    pub free_bytes: u64,
    pub top_of_memory: u64,
}

/// Builds the frame allocator from the boot memory map, keeping the kernel, the boot information
/// and the modules out of it. Runs before the heap exists.
pub fn init(boot: &'static BootInfo) -> MemorySummary {
    let areas = boot.memory_areas();
    let mut reservations = Reservations {
        kernel_image: arch::kernel_image_phys(),
        boot_info: boot.info_range(),
        modules: [PhysRange::default(); MAX_MODULES],
        module_count: 0,
        bitmap: PhysRange::default(),
    };
    for module in boot.modules() {
        assert!(
            reservations.module_count < MAX_MODULES,
            "more than {MAX_MODULES} boot modules; Lux9 accepts at most {MAX_MODULES}"
        );
        reservations.modules[reservations.module_count] = module.range;
        reservations.module_count += 1;
    }
    let reserved: [PhysRange; MAX_MODULES + 2] = core::array::from_fn(|index| match index {
        0 => reservations.kernel_image,
        1 => reservations.boot_info,
        i if i - 2 < reservations.module_count => reservations.modules[i - 2],
        _ => PhysRange::default(),
    });
    let plan: MemoryPlan = match memory_plan::plan(areas.clone(), &reserved) {
        Ok(plan) => plan,
        Err(error) => panic!("cannot set up physical memory: {error:?}"),
    };
    reservations.bitmap = plan.bitmap_storage;

    let storage = arch::paging::frame_bitmap_storage(&plan);
    let mut bitmap = FrameBitmap::new(storage, plan.first_frame, plan.frame_count)
        .expect("the plan sized the bitmap storage for its frames");
    for range in plan.usable.iter() {
        bitmap.add_free_range(range.start / PAGE_SIZE, range.end / PAGE_SIZE);
    }
    let free_bytes = bitmap.free_count() * PAGE_SIZE;
    frames::install(bitmap);
    RESERVATIONS.call_once(|| reservations);

    let top_of_memory = areas.map(|area: MapArea| area.range.end).max().unwrap_or(0);
    MemorySummary {
        available_bytes: plan.available_bytes,
        free_bytes,
        top_of_memory,
    }
}

/// The ranges kept out of the allocator.
pub fn reservations() -> &'static Reservations {
    RESERVATIONS.get().expect("memory::init has run")
}

/// Whether `[phys, phys + len)` lies inside one reserved range.
pub fn is_reserved(phys: u64, len: u64) -> bool {
    let wanted = PhysRange::from_len(phys, len);
    reservations()
        .iter()
        .any(|r| r.start <= wanted.start && wanted.end <= r.end)
}

/// Every reserved range, for tests.
pub fn reserved_ranges() -> Vec<PhysRange> {
    reservations().iter().collect()
}
