//! The GDT, the TSS and the interrupt stacks (IST) for faults that must not use the current stack.
//!
//! Segment order follows what `syscall`/`sysret` will need: kernel code, kernel data, user data,
//! user code, then the TSS.

use core::cell::UnsafeCell;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (1-based in the IDT, 0-based here) for each fault with its own stack.
pub const DOUBLE_FAULT_IST: u16 = 0;
pub const NMI_IST: u16 = 1;
pub const MACHINE_CHECK_IST: u16 = 2;

const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct IstStack([u8; IST_STACK_SIZE]);

/// One stack per IST slot. Only the CPU writes to them, on fault entry.
struct IstStacks(UnsafeCell<[IstStack; 3]>);

// SAFETY: the kernel never reads or writes these stacks; it only computes their top addresses.
unsafe impl Sync for IstStacks {}

static IST_STACKS: IstStacks = IstStacks(UnsafeCell::new([
    IstStack([0; IST_STACK_SIZE]),
    IstStack([0; IST_STACK_SIZE]),
    IstStack([0; IST_STACK_SIZE]),
]));

/// The TSS lives in a cell because the scheduler will rewrite `rsp0` on every switch to a
/// user thread; the CPU reads it through the GDT descriptor.
struct TssCell(UnsafeCell<TaskStateSegment>);

// SAFETY: only this module writes the TSS, before it is loaded and (later) with interrupts off.
unsafe impl Sync for TssCell {}

static TSS: TssCell = TssCell(UnsafeCell::new(TaskStateSegment::new()));

#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Builds and loads the GDT and TSS, and reloads every segment register.
pub fn init() {
    let stacks = IST_STACKS.0.get();
    // SAFETY: called once at boot before interrupts are enabled and before the TSS is loaded,
    // so nothing else reads or writes it concurrently.
    let tss = unsafe { &mut *TSS.0.get() };
    for (slot, index) in [DOUBLE_FAULT_IST, NMI_IST, MACHINE_CHECK_IST]
        .into_iter()
        .enumerate()
    {
        // SAFETY: `slot` < 3 indexes the static array; we only form an address, never a reference.
        let top = unsafe { (&raw mut (*stacks)[slot]).add(1) } as u64;
        tss.interrupt_stack_table[usize::from(index)] = VirtAddr::new(top);
    }

    let (gdt, selectors) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        // User data then user code: the order `sysret` expects (STAR bases).
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS is a static that lives forever and is not moved.
        let tss = gdt.append(unsafe { Descriptor::tss_segment_unchecked(TSS.0.get()) });
        (
            gdt,
            Selectors {
                kernel_code,
                kernel_data,
                user_data,
                user_code,
                tss,
            },
        )
    });
    gdt.load();
    // SAFETY: the selectors point at valid descriptors of the GDT just loaded, and the TSS
    // descriptor is not busy because it has never been loaded.
    unsafe {
        CS::set_reg(selectors.kernel_code);
        SS::set_reg(selectors.kernel_data);
        DS::set_reg(selectors.kernel_data);
        ES::set_reg(selectors.kernel_data);
        load_tss(selectors.tss);
    }
}

/// Sets the stack the CPU switches to when an interrupt arrives in ring 3 (TSS.RSP0).
#[inline]
pub fn set_interrupt_stack(top: u64) {
    // SAFETY: the TSS is only written here and in `init`, always with interrupts disabled, and
    // the CPU reads RSP0 only on a privilege change, which cannot happen concurrently on one CPU.
    unsafe { (*TSS.0.get()).privilege_stack_table[0] = VirtAddr::new_truncate(top) };
}

/// Selectors for ring-3 code and data (with RPL 3), in the order `sysret` needs.
pub fn user_selectors() -> (SegmentSelector, SegmentSelector) {
    let selectors = GDT.get().expect("gdt::init has run").1;
    (selectors.user_code, selectors.user_data)
}

pub fn kernel_selectors() -> (SegmentSelector, SegmentSelector) {
    let selectors = GDT.get().expect("gdt::init has run").1;
    (selectors.kernel_code, selectors.kernel_data)
}
