//! Device interrupt routing: ISA IRQs through the I/O APICs the MADT lists.

use alloc::vec::Vec;

use lux9_kernel_core::irq_routing::{self, IoApicInfo, IsaOverride, Route};

use crate::arch::acpi::InterruptControllers;
use crate::arch::interrupts;
use crate::arch::ioapic::IoApic;
use crate::arch::sync::IrqMutex;
use crate::arch::{lapic, pic};

/// ISA IRQ n is delivered as vector `ISA_VECTOR_BASE + n`.
pub const ISA_VECTOR_BASE: u8 = 0x30;

struct Router {
    ioapics: Vec<(IoApic, IoApicInfo)>,
    overrides: Vec<IsaOverride>,
    apic_id: u8,
}

static ROUTER: IrqMutex<Option<Router>> = IrqMutex::new(None);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No I/O APIC serves the interrupt's GSI.
    NoIoApic { gsi: u32 },
}

/// Finds the I/O APICs, masks every pin, and installs handlers for spurious vectors.
pub fn init(controllers: &InterruptControllers) -> usize {
    let ioapics: Vec<_> = controllers
        .ioapics
        .iter()
        .map(|&(id, address, gsi_base)| {
            let ioapic = IoApic::new(address);
            let info = IoApicInfo {
                id,
                address,
                gsi_base,
                pins: ioapic.pins(),
            };
            for pin in 0..info.pins {
                ioapic.set_entry(pin, 1 << 16);
            }
            (ioapic, info)
        })
        .collect();
    let pins = ioapics.iter().map(|(_, info)| info.pins as usize).sum();
    *ROUTER.lock() = Some(Router {
        ioapics,
        overrides: controllers.overrides.clone(),
        apic_id: lapic::id(),
    });
    interrupts::register(lapic::SPURIOUS_VECTOR, |_| {});
    interrupts::register(pic::SPURIOUS_PRIMARY, |_| {});
    interrupts::register(pic::SPURIOUS_SECONDARY, |_| {});
    interrupts::register(lapic::ERROR_VECTOR, |_| {
        let status = lapic::take_error_status();
        lapic::end_of_interrupt();
        log::warn!("local APIC error, status {status:#x}");
    });
    pins
}

/// The vector ISA IRQ `irq` is delivered on.
pub const fn isa_vector(irq: u8) -> u8 {
    ISA_VECTOR_BASE + irq
}

fn program(irq: u8, masked: bool) -> Result<Route, RouteError> {
    let router = ROUTER.lock();
    let router = router.as_ref().expect("irq::init runs before routing");
    let route = irq_routing::route_isa_irq(irq, &router.overrides);
    let infos: Vec<IoApicInfo> = router.ioapics.iter().map(|(_, info)| *info).collect();
    let (index, pin) = irq_routing::ioapic_for_gsi(route.gsi, &infos)
        .ok_or(RouteError::NoIoApic { gsi: route.gsi })?;
    let entry = irq_routing::redirection_entry(isa_vector(irq), route, router.apic_id, masked);
    router.ioapics[index].0.set_entry(pin, entry);
    Ok(route)
}

/// Delivers ISA IRQ `irq` to `handler` on vector [`isa_vector`]`(irq)`.
pub fn route_isa(irq: u8, handler: interrupts::Handler) -> Result<Route, RouteError> {
    interrupts::register(isa_vector(irq), handler);
    program(irq, false)
}

/// Masks ISA IRQ `irq` again.
pub fn mask_isa(irq: u8) -> Result<(), RouteError> {
    program(irq, true).map(|_| ())
}
