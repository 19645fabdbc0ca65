//! PCI configuration space access: ECAM (memory-mapped, from ACPI's MCFG) where the firmware
//! offers it, through the direct map, and configuration mechanism #1 (ports 0xCF8/0xCFC)
//! otherwise. Enumeration itself is pure logic in `crate::pci` (host-tested).

use alloc::vec::Vec;

use pci_types::{ConfigRegionAccess, PciAddress};
use x86_64::instructions::port::Port;

use super::phys_to_virt;
use super::sync::IrqMutex;

/// One MCFG entry: the configuration space of buses `bus_start..=bus_end` of `segment`, 4 KiB
/// per function, at `base` (the address of bus 0, even when `bus_start` is higher).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcamRegion {
    pub base: u64,
    pub segment: u16,
    pub bus_start: u8,
    pub bus_end: u8,
}

/// How configuration space is reached.
#[derive(Clone, Debug)]
pub struct ConfigAccess {
    ecam: Vec<EcamRegion>,
}

/// Serialises mechanism #1's address/data port pair.
static PORTS: IrqMutex<()> = IrqMutex::new(());

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;

impl ConfigAccess {
    /// Access through `ecam` where it covers an address, through the ports elsewhere (segment 0
    /// only). ECAM regions must lie in the direct map (below 4 GiB, or below the top of RAM).
    pub fn new(ecam: Vec<EcamRegion>) -> Self {
        Self { ecam }
    }

    /// The ECAM regions in use.
    pub fn ecam(&self) -> &[EcamRegion] {
        &self.ecam
    }

    fn ecam_address(&self, address: PciAddress, offset: u16) -> Option<u64> {
        let region = self.ecam.iter().find(|r| {
            r.segment == address.segment() && (r.bus_start..=r.bus_end).contains(&address.bus())
        })?;
        Some(
            region.base
                + (u64::from(address.bus()) << 20
                    | u64::from(address.device()) << 15
                    | u64::from(address.function()) << 12
                    | u64::from(offset & 0xffc)),
        )
    }

    fn port_address(address: PciAddress, offset: u16) -> Option<u32> {
        (address.segment() == 0 && offset < 256).then(|| {
            1 << 31
                | u32::from(address.bus()) << 16
                | u32::from(address.device()) << 11
                | u32::from(address.function()) << 8
                | u32::from(offset & 0xfc)
        })
    }
}

impl ConfigRegionAccess for ConfigAccess {
    /// Reads the dword at `offset` (rounded down to 4) of `address`'s configuration space;
    /// all ones where nothing answers or the address cannot be reached.
    unsafe fn read(&self, address: PciAddress, offset: u16) -> u32 {
        if let Some(phys) = self.ecam_address(address, offset) {
            // SAFETY: the address lies in an MCFG region, which the firmware reserves for
            // configuration space and the direct map covers; an aligned dword read is how ECAM
            // is accessed and has no effect beyond the device's own config read semantics.
            return unsafe { core::ptr::read_volatile(phys_to_virt(phys) as *const u32) };
        }
        let Some(value) = Self::port_address(address, offset) else {
            return u32::MAX;
        };
        let _ports = PORTS.lock();
        // SAFETY: 0xCF8/0xCFC are the PCI configuration mechanism's ports; the pair is used
        // under the lock above, so no other access interleaves between address and data.
        unsafe {
            Port::<u32>::new(CONFIG_ADDRESS).write(value);
            Port::<u32>::new(CONFIG_DATA).read()
        }
    }

    /// Writes the dword at `offset` of `address`'s configuration space (ignored where it cannot
    /// be reached).
    unsafe fn write(&self, address: PciAddress, offset: u16, value: u32) {
        if let Some(phys) = self.ecam_address(address, offset) {
            // SAFETY: as for reads; the caller (the `ConfigRegionAccess` contract) vouches
            // that the register may be written.
            unsafe { core::ptr::write_volatile(phys_to_virt(phys) as *mut u32, value) };
            return;
        }
        let Some(port_value) = Self::port_address(address, offset) else {
            return;
        };
        let _ports = PORTS.lock();
        // SAFETY: as for reads; the caller vouches that the register may be written.
        unsafe {
            Port::<u32>::new(CONFIG_ADDRESS).write(port_value);
            Port::<u32>::new(CONFIG_DATA).write(value);
        }
    }
}
