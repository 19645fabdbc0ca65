//! The PCI functions found at boot, kept for drivers and `/sys/pci`.

use alloc::string::String;
use alloc::vec::Vec;

use log::info;
use lux9_kernel::pci::{self, Function};

use crate::arch::pci::{ConfigAccess, EcamRegion};

static ACCESS: spin::Once<ConfigAccess> = spin::Once::new();
static FUNCTIONS: spin::Once<Vec<Function>> = spin::Once::new();

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

/// `/sys/pci`'s text.
pub fn text() -> String {
    pci::text(functions())
}
