//! Turning the boot loader's memory map into the set of frames the allocator may hand out.
//!
//! Usable memory is what the map calls available, minus:
//! - everything below 1 MiB (real-mode structures, and room for AP start-up code later);
//! - every area the map marks as anything else, in case entries overlap;
//! - the ranges the kernel must keep: its image, the boot information and GRUB modules, which
//!   GRUB may place anywhere, even between the kernel's segments;
//! - the frame bitmap itself, which is carved out of the first usable range large enough.
//!
//! Partial pages are never usable: reserved ranges grow to whole pages, usable ones shrink.

use crate::frame_bitmap::FrameBitmap;
use crate::phys_range::{PhysRange, RangeSet, RangeSetFull};
use crate::units::PAGE_SIZE;

/// Memory below this address is never handed out.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// Room for the usable ranges; real firmware maps have a few dozen entries.
pub const MAX_RANGES: usize = 128;

/// One entry of the firmware memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapArea {
    pub range: PhysRange,
    pub usable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No available memory remained after removing the reserved ranges.
    NoUsableMemory,
    /// The map has more disjoint usable ranges than [`MAX_RANGES`].
    TooFragmented,
    /// No usable range can hold the frame bitmap.
    NoRoomForBitmap { bytes: u64 },
}

impl From<RangeSetFull> for PlanError {
    fn from(_: RangeSetFull) -> Self {
        PlanError::TooFragmented
    }
}

/// The result: which frames are free, and where the bitmap that tracks them lives.
#[derive(Clone, Debug)]
pub struct MemoryPlan {
    /// Whole free pages, excluding the bitmap storage.
    pub usable: RangeSet<MAX_RANGES>,
    /// Physical pages holding the bitmap.
    pub bitmap_storage: PhysRange,
    /// Frame number of the bitmap's first bit.
    pub first_frame: u64,
    /// Frames covered by the bitmap.
    pub frame_count: u64,
    /// Bytes the memory map calls available, before anything is reserved.
    pub available_bytes: u64,
}

/// Computes the memory plan. `reserved` may be in any order and may overlap.
pub fn plan(
    areas: impl Iterator<Item = MapArea> + Clone,
    reserved: &[PhysRange],
) -> Result<MemoryPlan, PlanError> {
    let mut usable = RangeSet::<MAX_RANGES>::new();
    for area in areas.clone().filter(|area| area.usable) {
        usable.insert(area.range)?;
    }
    let available_bytes = usable.total();
    usable.remove(PhysRange::new(0, LOW_MEMORY_END))?;
    for area in areas.filter(|area| !area.usable) {
        usable.remove(area.range.grow_to_pages())?;
    }
    for range in reserved {
        usable.remove(range.grow_to_pages())?;
    }
    usable.shrink_to_pages();

    let (first, last) = match (usable.as_slice().first(), usable.as_slice().last()) {
        (Some(first), Some(last)) => (first.start, last.end),
        _ => return Err(PlanError::NoUsableMemory),
    };
    let first_frame = first / PAGE_SIZE;
    let frame_count = last / PAGE_SIZE - first_frame;
    let bytes = (FrameBitmap::words_for(frame_count) * 8) as u64;
    let bitmap_storage = usable
        .take(bytes.next_multiple_of(PAGE_SIZE), PAGE_SIZE)
        .ok_or(PlanError::NoRoomForBitmap { bytes })?;
    if usable.total() == 0 {
        return Err(PlanError::NoUsableMemory);
    }
    Ok(MemoryPlan {
        usable,
        bitmap_storage,
        first_frame,
        frame_count,
        available_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(start: u64, end: u64, usable: bool) -> MapArea {
        MapArea {
            range: PhysRange::new(start, end),
            usable,
        }
    }

    /// What SeaBIOS reports to GRUB for `-m 512M` on q35.
    fn qemu_map() -> Vec<MapArea> {
        vec![
            area(0, 0x9fc00, true),
            area(0x9fc00, 0xa0000, false),
            area(0xf0000, 0x10_0000, false),
            area(0x10_0000, 0x1ffd_f000, true),
            area(0x1ffd_f000, 0x2000_0000, false),
            area(0xb000_0000, 0xc000_0000, false),
            area(0xfed1_c000, 0xfed2_0000, false),
            area(0xfeff_c000, 0xff00_0000, false),
            area(0xfffc_0000, 0x1_0000_0000, false),
        ]
    }

    fn assert_disjoint(plan: &MemoryPlan, reserved: &[PhysRange]) {
        for range in plan.usable.iter() {
            assert_eq!(range.start % PAGE_SIZE, 0);
            assert_eq!(range.end % PAGE_SIZE, 0);
            assert!(range.start >= LOW_MEMORY_END, "{range:?} is in low memory");
            assert!(
                !range.overlaps(&plan.bitmap_storage),
                "{range:?} overlaps the bitmap"
            );
            for r in reserved {
                assert!(
                    !range.overlaps(&r.grow_to_pages()),
                    "{range:?} overlaps reserved {r:?}"
                );
            }
        }
    }

    #[test]
    fn kernel_boot_info_and_modules_are_kept_out() {
        let reserved = [
            PhysRange::new(0x10_0000, 0x2d_3000),     // kernel image
            PhysRange::new(0x1c_4a10, 0x1c_5b40),     // boot info between kernel segments
            PhysRange::new(0x2e_0000, 0x5e_0123),     // a module, ending mid-page
            PhysRange::new(0x1000_0000, 0x1000_0001), // a one-byte module
        ];
        let plan = plan(qemu_map().into_iter(), &reserved).unwrap();
        assert_disjoint(&plan, &reserved);
        assert_eq!(plan.available_bytes, 0x9fc00 + 0x1fedf000);
        assert!(
            plan.usable.contains(0x5e_1000),
            "the page after the module is free"
        );
        assert!(
            !plan.usable.contains(0x5e_0fff),
            "the module's last partial page is not"
        );
        assert!(!plan.usable.contains(0x1000_0fff));
        // Bitmap covers up to the top of usable memory: 512 MiB / 4 KiB / 8 bits = 16 KiB.
        assert_eq!(plan.bitmap_storage.len(), 16 * 1024);
        assert_eq!(plan.first_frame, 0x2d3);
        assert_eq!(plan.frame_count, 0x1ffdf - 0x2d3);
    }

    #[test]
    fn overlapping_firmware_entries_lose_to_reserved_ones() {
        let areas = vec![
            area(0x10_0000, 0x100_0000, true),
            area(0x80_0000, 0x80_1000, false),
        ];
        let plan = plan(areas.into_iter(), &[]).unwrap();
        assert!(!plan.usable.contains(0x80_0000));
        assert!(plan.usable.contains(0x80_1000));
    }

    #[test]
    fn nothing_usable_is_an_error() {
        let areas = vec![area(0, 0x9f000, true), area(0x10_0000, 0x20_0000, false)];
        assert_eq!(
            plan(areas.into_iter(), &[]).unwrap_err(),
            PlanError::NoUsableMemory
        );
        let areas = vec![area(0x10_0000, 0x20_0000, true)];
        let reserved = [PhysRange::new(0, 0x20_0000)];
        assert_eq!(
            plan(areas.into_iter(), &reserved).unwrap_err(),
            PlanError::NoUsableMemory
        );
    }

    #[test]
    fn memory_above_4gib_is_included() {
        let areas = vec![
            area(0x10_0000, 0x8000_0000, true),
            area(0x1_0000_0000, 0x6_0000_0000, true),
        ];
        let plan = plan(areas.into_iter(), &[]).unwrap();
        assert!(plan.usable.contains(0x5_ffff_f000));
        assert_eq!(plan.first_frame * PAGE_SIZE, 0x10_0000);
        assert_eq!(
            (plan.first_frame + plan.frame_count) * PAGE_SIZE,
            0x6_0000_0000
        );
        assert_disjoint(&plan, &[]);
    }

    /// Random maps and reservations: usable memory never overlaps anything kept out.
    /// Whole free pages by a plain reading of the rules, on a vector of ranges: the reference
    /// `random_maps_never_overlap_reservations` holds `plan` to.
    fn reference_pages(areas: &[MapArea], reserved: &[PhysRange]) -> Vec<(u64, u64)> {
        fn subtract(set: Vec<(u64, u64)>, (cut_start, cut_end): (u64, u64)) -> Vec<(u64, u64)> {
            let mut out = Vec::new();
            for (start, end) in set {
                if cut_end <= start || end <= cut_start {
                    out.push((start, end));
                    continue;
                }
                if start < cut_start {
                    out.push((start, cut_start));
                }
                if cut_end < end {
                    out.push((cut_end, end));
                }
            }
            out
        }
        let mut set: Vec<(u64, u64)> = areas
            .iter()
            .filter(|a| a.usable)
            .map(|a| (a.range.start, a.range.end))
            .collect();
        set = subtract(set, (0, LOW_MEMORY_END));
        for cut in areas
            .iter()
            .filter(|a| !a.usable)
            .map(|a| a.range)
            .chain(reserved.iter().copied())
        {
            let page_start = cut.start / PAGE_SIZE * PAGE_SIZE;
            let page_end = cut.end.div_ceil(PAGE_SIZE) * PAGE_SIZE;
            set = subtract(set, (page_start, page_end));
        }
        let mut pages: Vec<(u64, u64)> = set
            .into_iter()
            .map(|(start, end)| {
                (
                    start.div_ceil(PAGE_SIZE) * PAGE_SIZE,
                    end / PAGE_SIZE * PAGE_SIZE,
                )
            })
            .filter(|(start, end)| start < end)
            .collect();
        // Overlapping usable areas: merge, so lengths can be compared.
        pages.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (start, end) in pages {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    #[test]
    fn random_maps_never_overlap_reservations() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        let mut planned = 0;
        for _ in 0..500 {
            let mut areas = Vec::new();
            for _ in 0..1 + next(12) {
                let start = next(1 << 32);
                areas.push(area(start, start + next(1 << 28), next(3) != 0));
            }
            let reserved: Vec<_> = (0..next(8))
                .map(|_| PhysRange::from_len(next(1 << 32), next(1 << 24)))
                .collect();
            let reference = reference_pages(&areas, &reserved);
            let reference_total: u64 = reference.iter().map(|(s, e)| e - s).sum();
            match plan(areas.clone().into_iter(), &reserved) {
                Ok(plan) => {
                    planned += 1;
                    assert_disjoint(&plan, &reserved);
                    for range in plan.usable.iter() {
                        for a in areas.iter().filter(|a| !a.usable) {
                            assert!(!range.overlaps(&a.range), "{range:?} overlaps {a:?}");
                        }
                    }
                    // Every free page is in the plan, except the bitmap's.
                    assert_eq!(
                        plan.usable.total() + plan.bitmap_storage.len(),
                        reference_total,
                        "{areas:?} {reserved:?}"
                    );
                }
                // Each failure must be one the reference agrees with: a valid plan never fails.
                Err(PlanError::NoUsableMemory) => assert!(
                    reference.iter().all(|(s, e)| e - s <= PAGE_SIZE),
                    "no usable memory, but the reference has {reference:?}"
                ),
                Err(PlanError::NoRoomForBitmap { bytes }) => assert!(
                    reference
                        .iter()
                        .all(|(s, e)| e - s < bytes.next_multiple_of(PAGE_SIZE)),
                    "no room for a {bytes}-byte bitmap in {reference:?}"
                ),
                Err(PlanError::TooFragmented) => {
                    panic!("{} ranges cannot overflow {MAX_RANGES}", reference.len())
                }
            }
        }
        // The maps are mostly valid ones, so the checks above ran on real plans.
        assert!(planned > 400, "only {planned} of 500 maps planned");
    }
}
