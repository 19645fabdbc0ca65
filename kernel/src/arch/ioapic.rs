//! I/O APIC registers: reading the pin count and writing redirection entries.

use super::phys_to_virt;

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION_BASE: u32 = 0x10;

/// One I/O APIC, addressed through the direct map.
#[derive(Clone, Copy, Debug)]
pub struct IoApic {
    base: u64,
}

impl IoApic {
    /// The I/O APIC whose registers are at physical address `phys` (from the MADT).
    pub fn new(phys: u64) -> Self {
        Self {
            base: phys_to_virt(phys),
        }
    }

    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` is the direct-map address of an I/O APIC listed in the MADT;
        // IOREGSEL/IOWIN are its index/data registers. Callers hold the routing lock, so the
        // select-then-read pair is not interleaved.
        unsafe {
            core::ptr::write_volatile((self.base + IOREGSEL) as *mut u32, reg);
            core::ptr::read_volatile((self.base + IOWIN) as *const u32)
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            core::ptr::write_volatile((self.base + IOREGSEL) as *mut u32, reg);
            core::ptr::write_volatile((self.base + IOWIN) as *mut u32, value);
        }
    }

    /// Number of redirection entries (input pins).
    pub fn pins(&self) -> u32 {
        ((self.read(REG_VERSION) >> 16) & 0xff) + 1
    }

    /// Writes the 64-bit redirection entry for `pin`. The high half goes first so the entry is
    /// never unmasked with a stale destination.
    pub fn set_entry(&self, pin: u32, entry: u64) {
        let reg = REG_REDIRECTION_BASE + pin * 2;
        self.write(reg, (1 << 16) as u32); // mask while changing
        self.write(reg + 1, (entry >> 32) as u32);
        self.write(reg, entry as u32);
    }
}
