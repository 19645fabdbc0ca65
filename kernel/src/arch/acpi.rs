//! Reading ACPI tables through the direct map, with the `acpi` crate.

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};

use super::phys_to_virt;
use lux9_kernel::irq_routing::IsaOverride;

/// Tables are read in place through the direct map, so mapping is address arithmetic.
#[derive(Clone, Copy, Debug)]
struct DirectMapHandler;

impl AcpiHandler for DirectMapHandler {
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = NonNull::new(phys_to_virt(phys as u64) as *mut T)
            .expect("direct-map addresses are never null");
        // SAFETY: the direct map covers all memory the firmware map lists, ACPI tables
        // included; the caller guarantees a valid `T` lives at `phys`.
        unsafe { PhysicalMapping::new(phys, virt, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Where the root table is, from the boot loader's copy of the RSDP.
#[derive(Clone, Copy, Debug)]
pub enum RootTable {
    /// ACPI 1.0: 32-bit RSDT.
    Rsdt(u64),
    /// ACPI 2.0+: 64-bit XSDT.
    Xsdt(u64),
}

/// What the MADT says about interrupt controllers.
#[derive(Clone, Debug, Default)]
pub struct InterruptControllers {
    pub local_apic_address: u64,
    pub ioapics: Vec<(u8, u64, u32)>,
    pub overrides: Vec<IsaOverride>,
    pub has_legacy_pics: bool,
    pub cpus: usize,
}

#[derive(Debug)]
pub enum AcpiError {
    /// The root table was invalid.
    RootTable(acpi::AcpiError),
    /// No valid MADT.
    Madt(acpi::AcpiError),
}

impl core::fmt::Display for AcpiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AcpiError::RootTable(e) => write!(f, "invalid ACPI root table: {e:?}"),
            AcpiError::Madt(e) => write!(f, "no valid MADT: {e:?}"),
        }
    }
}

/// Parses the MADT.
pub fn interrupt_controllers(root: RootTable) -> Result<InterruptControllers, AcpiError> {
    let (revision, address) = match root {
        RootTable::Rsdt(address) => (0, address),
        RootTable::Xsdt(address) => (2, address),
    };
    // SAFETY: the address comes from an RSDP whose checksum the boot-info parser verified, so
    // it names the firmware's root table, which the direct map covers.
    let tables = unsafe { AcpiTables::from_rsdt(DirectMapHandler, revision, address as usize) }
        .map_err(AcpiError::RootTable)?;
    let madt = tables.find_table::<Madt>().map_err(AcpiError::Madt)?;
    let mut info = InterruptControllers {
        local_apic_address: u64::from(madt.get().local_apic_address),
        has_legacy_pics: madt.get().supports_8259(),
        ..InterruptControllers::default()
    };
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::LocalApic(lapic) if lapic.flags & 1 != 0 => info.cpus += 1,
            MadtEntry::IoApic(ioapic) => info.ioapics.push((
                ioapic.io_apic_id,
                u64::from(ioapic.io_apic_address),
                ioapic.global_system_interrupt_base,
            )),
            MadtEntry::InterruptSourceOverride(o) if o.bus == 0 => {
                info.overrides.push(IsaOverride {
                    isa_irq: o.irq,
                    gsi: o.global_system_interrupt,
                    flags: o.flags,
                })
            }
            MadtEntry::LocalApicAddressOverride(o) => {
                info.local_apic_address = o.local_apic_address
            }
            _ => {}
        }
    }
    Ok(info)
}
