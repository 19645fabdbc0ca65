//! The PCI functions found at boot, kept for drivers and `/sys/pci`.

use alloc::string::String;
use alloc::vec::Vec;

use log::info;
use lux9_kernel_core::pci::{self, Function};

use crate::arch::pci::{ConfigAccess, EcamRegion};

static ACCESS: spin::Once<ConfigAccess> = spin::Once::new();
static FUNCTIONS: spin::Once<Vec<Function>> = spin::Once::new();
/// The driver bound to each function that has one.
static BOUND: spin::Mutex<Vec<(pci_types::PciAddress, &'static str)>> =
    spin::Mutex::new(Vec::new());

/// Enumerates every bus: those of the MCFG's ECAM regions, or segment 0's 256 buses through
/// the configuration ports when there are none.
pub fn init(ecam: Vec<EcamRegion>) {
    let access = ACCESS.call_once(|| ConfigAccess::new(ecam));
    let functions = FUNCTIONS.call_once(|| {
        if access.ecam().is_empty() {
            pci::enumerate(access, 0, 0..=255)
        } else {
            access
                .ecam()
                .iter()
                .flat_map(|r| pci::enumerate(access, r.segment, r.bus_start..=r.bus_end))
                .collect()
        }
    });
    let how = match access.ecam().first() {
        Some(region) => alloc::format!(
            "ECAM at {:#x} (buses {}-{})",
            region.base,
            region.bus_start,
            region.bus_end
        ),
        None => String::from("configuration ports"),
    };
    info!("pci: {} functions, through {how}", functions.len());
}

/// Every function found at boot, in address order.
pub fn functions() -> &'static [Function] {
    FUNCTIONS.get().map_or(&[], Vec::as_slice)
}

/// Whether configuration space is reached through ECAM (else through the ports).
pub fn uses_ecam() -> bool {
    ACCESS.get().is_some_and(|a| !a.ecam().is_empty())
}

/// How configuration space is reached (after `init`).
pub fn access() -> &'static ConfigAccess {
    ACCESS.get().expect("pci_bus::init runs before drivers")
}

/// Records that `driver` drives the function at `address` (shown in `/sys/pci`).
pub fn bind(address: pci_types::PciAddress, driver: &'static str) {
    BOUND.lock().push((address, driver));
}

/// `/sys/pci`'s text.
pub fn text() -> String {
    let bound = BOUND.lock().clone();
    let functions: Vec<Function> = functions()
        .iter()
        .map(|f| Function {
            driver: bound
                .iter()
                .find(|(address, _)| *address == f.address)
                .map(|(_, driver)| *driver),
            ..f.clone()
        })
        .collect();
    pci::text(&functions)
}
