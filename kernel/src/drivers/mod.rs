//! Disk controller drivers, probed in PCI order once interrupts run: virtio-blk
//! ([`virtio_blk`]), AHCI ([`ahci`]) and IDE ([`ide`]). Each registers its disks with the block
//! layer (`block::add_disk`), which names them `sd0`, `sd1`, ... in the order they are found.
//! What they share lives here: switching a function on, reading its BARs, and pointing its
//! message-signalled interrupts at a vector.

use lux9_kernel_core::pci::Function;
use pci_types::capability::PciCapability;
use pci_types::{Bar, CommandRegister, EndpointHeader, PciHeader};

use crate::arch::msi;
use crate::pci_bus;

pub mod ahci;
pub mod ide;
pub mod virtio_blk;

use core::sync::atomic::{AtomicU64, Ordering};

/// How long a request may take before the driver gives up on it (and says so in the log), in
/// milliseconds; 5 s unless a test shortens it.
static TIMEOUT_MS: AtomicU64 = AtomicU64::new(5_000);

/// The current request timeout in milliseconds.
pub fn timeout_ms() -> u64 {
    TIMEOUT_MS.load(Ordering::Relaxed)
}

/// Sets the request timeout (the timeout test shortens it).
pub fn set_timeout_ms(ms: u64) {
    TIMEOUT_MS.store(ms.max(1), Ordering::Relaxed);
}

/// Probes every PCI function a driver knows, in address order.
pub fn probe() {
    for function in pci_bus::functions() {
        match function {
            f if virtio_blk::matches(f) => virtio_blk::probe(f),
            f if ahci::matches(f) => ahci::probe(f),
            f if ide::matches(f) => ide::probe(f),
            _ => {}
        }
    }
}

/// The function's type-0 header, or `None` for a bridge.
pub fn endpoint(function: &Function) -> Option<EndpointHeader> {
    EndpointHeader::from_header(PciHeader::new(function.address), pci_bus::access())
}

/// Lets the function decode its BARs and master the bus (DMA); with `msi`, also turns its
/// legacy INTx line off, since its interrupts will be messages.
pub fn enable(header: &mut EndpointHeader, msi: bool) {
    header.update_command(pci_bus::access(), |command| {
        let mut command = command
            | CommandRegister::IO_ENABLE
            | CommandRegister::MEMORY_ENABLE
            | CommandRegister::BUS_MASTER_ENABLE;
        if msi {
            command |= CommandRegister::INTERRUPT_DISABLE;
        }
        command
    });
}

/// The BAR in `slot`, as (address or port, size; 0 for I/O).
pub fn bar(header: &EndpointHeader, slot: u8) -> Option<Bar> {
    header.bar(slot, pci_bus::access())
}

/// The physical address of memory BAR `slot`, if it is one and assigned.
pub fn memory_bar(header: &EndpointHeader, slot: u8) -> Option<(u64, u64)> {
    match bar(header, slot)? {
        Bar::Memory32 { address, size, .. } if address != 0 => {
            Some((u64::from(address), u64::from(size)))
        }
        Bar::Memory64 { address, size, .. } if address != 0 => Some((address, size)),
        _ => None,
    }
}

/// Points the function's MSI capability at `vector` and enables it; `false` when it has none.
pub fn enable_msi(header: &EndpointHeader, vector: u8) -> bool {
    let access = pci_bus::access();
    for capability in header.capabilities(access) {
        if let PciCapability::Msi(msi_cap) = capability {
            let (address, data) = msi::message(vector);
            msi_cap.set_message_info(address, data, access);
            msi_cap.set_enabled(true, access);
            return true;
        }
    }
    false
}

/// Points entry `entry` of the function's MSI-X table at `vector`, unmasks it and enables MSI-X;
/// `false` when the function has no MSI-X, the entry does not exist or its table cannot be
/// mapped.
pub fn enable_msix(header: &EndpointHeader, entry: u16, vector: u8) -> bool {
    let access = pci_bus::access();
    for capability in header.capabilities(access) {
        let PciCapability::MsiX(mut msix) = capability else {
            continue;
        };
        if entry >= msix.table_size() {
            return false;
        }
        let Some((base, _)) = memory_bar(header, msix.table_bar()) else {
            return false;
        };
        let phys = base + u64::from(msix.table_offset()) + u64::from(entry) * 16;
        let Ok(virt) = crate::arch::mmio::map(phys, 16) else {
            return false;
        };
        let (address, data) = msi::message(vector);
        let words = [address as u32, (address >> 32) as u32, data, 0];
        for (i, word) in words.into_iter().enumerate() {
            // SAFETY: `virt` maps the 16-byte table entry `entry` of this function's MSI-X
            // table (inside its BAR, checked against the table size); writing it only changes
            // where and how that entry's interrupt is delivered.
            unsafe { core::ptr::write_volatile((virt as *mut u32).add(i), word) };
        }
        msix.set_enabled(true, access);
        msix.set_function_mask(false, access);
        return true;
    }
    false
}
