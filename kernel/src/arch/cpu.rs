//! CPU identification, the time-stamp counter, control registers and halting.

use core::arch::x86_64::{__cpuid, __cpuid_count, _rdtsc};

use x86_64::instructions::{hlt, interrupts};
use x86_64::registers::control::{Cr4, Cr4Flags};

/// The CPU features Lux9 looks at, read once with CPUID.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub vendor: [u8; 12],
    pub pcid: bool,
    pub smep: bool,
    pub smap: bool,
    pub x2apic: bool,
    pub huge_1gib: bool,
    pub invariant_tsc: bool,
}

impl Features {
    pub fn vendor(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("unknown")
    }
}

fn cpuid(leaf: u32, subleaf: u32) -> (u32, u32, u32, u32) {
    let r = __cpuid_count(leaf, subleaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Reads the feature flags with CPUID.
pub fn features() -> Features {
    let max_leaf = __cpuid(0).eax;
    let (_, ebx, ecx, edx) = cpuid(0, 0);
    let mut vendor = [0u8; 12];
    vendor[0..4].copy_from_slice(&ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&edx.to_le_bytes());
    vendor[8..12].copy_from_slice(&ecx.to_le_bytes());
    let (_, _, ecx1, _) = cpuid(1, 0);
    let (_, ebx7, _, _) = if max_leaf >= 7 {
        cpuid(7, 0)
    } else {
        (0, 0, 0, 0)
    };
    let max_ext = cpuid(0x8000_0000, 0).0;
    let (_, _, _, edx_e1) = if max_ext >= 0x8000_0001 {
        cpuid(0x8000_0001, 0)
    } else {
        (0, 0, 0, 0)
    };
    let (_, _, _, edx_e7) = if max_ext >= 0x8000_0007 {
        cpuid(0x8000_0007, 0)
    } else {
        (0, 0, 0, 0)
    };
    Features {
        vendor,
        pcid: ecx1 & (1 << 17) != 0,
        x2apic: ecx1 & (1 << 21) != 0,
        smep: ebx7 & (1 << 7) != 0,
        smap: ebx7 & (1 << 20) != 0,
        huge_1gib: edx_e1 & (1 << 26) != 0,
        invariant_tsc: edx_e7 & (1 << 8) != 0,
    }
}

/// The time-stamp counter. Under QEMU with `-icount shift=0` it counts guest instructions.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged unless CR4.TSD is set, which Lux9 never sets.
    unsafe { _rdtsc() }
}

/// Turns on global pages so kernel mappings survive address-space switches.
pub fn enable_global_pages() {
    // SAFETY: setting PGE only changes TLB retention of entries marked GLOBAL, which the kernel
    // sets on its own higher-half mappings only.
    unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::PAGE_GLOBAL)) };
}

/// Stops this CPU for good: interrupts off, then halt in a loop (an NMI can wake `hlt`).
pub fn halt_forever() -> ! {
    interrupts::disable();
    loop {
        hlt();
    }
}

/// Waits for the next interrupt with interrupts enabled, atomically (`sti; hlt`), so a wake-up
/// that arrives between the check and the halt is not lost.
pub fn wait_for_interrupt() {
    interrupts::enable_and_hlt();
}

/// Reads CR2, the address of the last page fault.
pub fn read_cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

/// Reads CR3, the physical address of the active top-level page table (plus PCID bits).
pub fn read_cr3() -> u64 {
    let (frame, flags) = x86_64::registers::control::Cr3::read_raw();
    frame.start_address().as_u64() | u64::from(flags)
}

/// Turns on SMEP (the kernel never executes user pages) and SMAP (the kernel never touches user
/// pages outside `usercopy`) where the CPU has them. Returns which are on.
pub fn enable_user_protection(features: &Features) -> (bool, bool) {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    if features.smep {
        // SAFETY: the kernel never runs code from user pages.
        unsafe {
            Cr4::update(|flags| flags.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION))
        };
    }
    if features.smap {
        // The copy routines must issue stac/clac before SMAP is on.
        super::usercopy::set_smap(true);
        // SAFETY: the only kernel accesses to user pages are in `usercopy`, which brackets them
        // with stac/clac now that the flag above is set.
        unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION)) };
    }
    (features.smep, features.smap)
}
