//! Reading ACPI tables through the direct map, with the `acpi` crate.

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};

use super::phys_to_virt;
use lux9_kernel_core::irq_routing::IsaOverride;

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

fn tables(root: RootTable) -> Result<AcpiTables<DirectMapHandler>, acpi::AcpiError> {
    let (revision, address) = match root {
        RootTable::Rsdt(address) => (0, address),
        RootTable::Xsdt(address) => (2, address),
    };
    // SAFETY: the address comes from an RSDP whose checksum the boot-info parser verified, so
    // it names the firmware's root table, which the direct map covers.
    unsafe { AcpiTables::from_rsdt(DirectMapHandler, revision, address as usize) }
}

/// What powering off and resetting need from the FADT and DSDT.
#[derive(Clone, Copy, Debug, Default)]
pub struct PowerControl {
    /// PM1a and PM1b control ports (I/O space).
    pub pm1a_control: Option<u16>,
    pub pm1b_control: Option<u16>,
    /// `\_S5_` sleep types, from the DSDT.
    pub s5: Option<(u8, u8)>,
    /// Port and value that switch the chipset to ACPI mode (0 port: always in ACPI mode).
    pub smi_command: u16,
    pub acpi_enable: u8,
    /// The FADT's reset register (I/O space) and value, when it has one.
    pub reset: Option<(u16, u8)>,
    /// The PM timer's port and whether it counts 32 bits (else 24), when it has one in I/O
    /// space.
    pub pm_timer: Option<(u16, bool)>,
}

fn io_port(address: &acpi::address::GenericAddress) -> Option<u16> {
    (address.address_space == acpi::address::AddressSpace::SystemIo && address.address != 0)
        .then(|| u16::try_from(address.address).ok())
        .flatten()
}

/// Reads the FADT and scans the DSDT for `\_S5_`.
pub fn power_control(root: RootTable) -> Result<PowerControl, acpi::AcpiError> {
    let tables = tables(root)?;
    let fadt = tables.find_table::<acpi::fadt::Fadt>()?;
    let fadt = fadt.get();
    let mut control = PowerControl {
        pm1a_control: fadt.pm1a_control_block().ok().as_ref().and_then(io_port),
        pm1b_control: fadt
            .pm1b_control_block()
            .ok()
            .flatten()
            .as_ref()
            .and_then(io_port),
        smi_command: u16::try_from(fadt.smi_cmd_port).unwrap_or(0),
        acpi_enable: fadt.acpi_enable,
        ..Default::default()
    };
    let flags = fadt.flags;
    control.pm_timer = fadt
        .pm_timer_block()
        .ok()
        .flatten()
        .as_ref()
        .and_then(io_port)
        .map(|port| (port, flags.pm_timer_is_32_bit()));
    if flags.supports_system_reset_via_fadt()
        && let Ok(register) = fadt.reset_register()
        && let Some(port) = io_port(&register)
    {
        control.reset = Some((port, fadt.reset_value));
    }
    if let Ok(dsdt) = tables.dsdt() {
        let virt = phys_to_virt(dsdt.address as u64) as *const u8;
        // SAFETY: the DSDT's AML stream lies in firmware memory the direct map covers; the
        // acpi crate read its length from the validated table header.
        let aml = unsafe { core::slice::from_raw_parts(virt, dsdt.length as usize) };
        control.s5 = lux9_kernel_core::acpi_s5::find_s5(aml);
    }
    Ok(control)
}

/// The ECAM regions of ACPI's MCFG table (none when the firmware has no MCFG, as on the pc
/// machine: configuration mechanism #1 then reaches segment 0).
pub fn ecam_regions(root: RootTable) -> Vec<super::pci::EcamRegion> {
    let Ok(tables) = tables(root) else {
        return Vec::new();
    };
    let Ok(mcfg) = tables.find_table::<acpi::mcfg::Mcfg>() else {
        return Vec::new();
    };
    mcfg.get()
        .entries()
        .iter()
        .map(|entry| super::pci::EcamRegion {
            base: entry.base_address,
            segment: entry.pci_segment_group,
            bus_start: entry.bus_number_start,
            bus_end: entry.bus_number_end,
        })
        .collect()
}

/// Parses the MADT.
pub fn interrupt_controllers(root: RootTable) -> Result<InterruptControllers, AcpiError> {
    let tables = tables(root).map_err(AcpiError::RootTable)?;
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
