//! Routing ISA interrupts through I/O APICs, from what ACPI's MADT reports.
//!
//! ISA IRQ n arrives on global system interrupt (GSI) n, edge-triggered and active-high,
//! unless the MADT lists an interrupt source override for it (QEMU and most PCs move the PIT's
//! IRQ 0 to GSI 2). Each I/O APIC serves the GSIs from its base upwards, one pin each.

/// An interrupt source override entry from the MADT (bus 0, ISA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaOverride {
    pub isa_irq: u8,
    pub gsi: u32,
    /// MPS INTI flags: bits 0-1 polarity, bits 2-3 trigger mode.
    pub flags: u16,
}

/// Where and how an interrupt line is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub gsi: u32,
    pub active_low: bool,
    pub level_triggered: bool,
}

/// Resolves ISA IRQ `irq` to its GSI, polarity and trigger mode.
pub fn route_isa_irq(irq: u8, overrides: &[IsaOverride]) -> Route {
    match overrides.iter().find(|o| o.isa_irq == irq) {
        None => Route {
            gsi: u32::from(irq),
            active_low: false,
            level_triggered: false,
        },
        Some(o) => Route {
            gsi: o.gsi,
            // 0b00 means "conforms to the bus": ISA is active-high and edge-triggered.
            active_low: o.flags & 0b11 == 0b11,
            level_triggered: (o.flags >> 2) & 0b11 == 0b11,
        },
    }
}

/// An I/O APIC as found in the MADT, plus its pin count read from the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicInfo {
    pub id: u8,
    pub address: u64,
    pub gsi_base: u32,
    pub pins: u32,
}

/// Finds the I/O APIC serving `gsi` and the pin on it.
pub fn ioapic_for_gsi(gsi: u32, ioapics: &[IoApicInfo]) -> Option<(usize, u32)> {
    ioapics.iter().enumerate().find_map(|(index, ioapic)| {
        let pin = gsi.checked_sub(ioapic.gsi_base)?;
        (pin < ioapic.pins).then_some((index, pin))
    })
}

/// The 64-bit redirection-table entry delivering `route` as `vector` to local APIC `apic_id`
/// (fixed delivery, physical destination).
pub fn redirection_entry(vector: u8, route: Route, apic_id: u8, masked: bool) -> u64 {
    let mut low = u64::from(vector);
    if route.active_low {
        low |= 1 << 13;
    }
    if route.level_triggered {
        low |= 1 << 15;
    }
    if masked {
        low |= 1 << 16;
    }
    low | (u64::from(apic_id) << 56)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_OVERRIDES: [IsaOverride; 2] = [
        IsaOverride {
            isa_irq: 0,
            gsi: 2,
            flags: 0,
        },
        IsaOverride {
            isa_irq: 9,
            gsi: 9,
            flags: 0b1101,
        },
    ];

    #[test]
    fn identity_without_override() {
        assert_eq!(
            route_isa_irq(4, &QEMU_OVERRIDES),
            Route {
                gsi: 4,
                active_low: false,
                level_triggered: false
            }
        );
    }

    #[test]
    fn override_moves_and_reconfigures() {
        assert_eq!(route_isa_irq(0, &QEMU_OVERRIDES).gsi, 2);
        assert_eq!(
            route_isa_irq(9, &QEMU_OVERRIDES),
            Route {
                gsi: 9,
                active_low: false,
                level_triggered: true
            }
        );
        let low = IsaOverride {
            isa_irq: 11,
            gsi: 11,
            flags: 0b1111,
        };
        assert_eq!(
            route_isa_irq(11, &[low]),
            Route {
                gsi: 11,
                active_low: true,
                level_triggered: true
            }
        );
    }

    #[test]
    fn finds_the_right_ioapic_and_pin() {
        let ioapics = [
            IoApicInfo {
                id: 0,
                address: 0xfec0_0000,
                gsi_base: 0,
                pins: 24,
            },
            IoApicInfo {
                id: 1,
                address: 0xfec0_1000,
                gsi_base: 24,
                pins: 32,
            },
        ];
        assert_eq!(ioapic_for_gsi(2, &ioapics), Some((0, 2)));
        assert_eq!(ioapic_for_gsi(24, &ioapics), Some((1, 0)));
        assert_eq!(ioapic_for_gsi(55, &ioapics), Some((1, 31)));
        assert_eq!(ioapic_for_gsi(56, &ioapics), None);
    }

    #[test]
    fn entry_bits() {
        let route = Route {
            gsi: 9,
            active_low: true,
            level_triggered: true,
        };
        let entry = redirection_entry(0x39, route, 3, true);
        assert_eq!(entry & 0xff, 0x39);
        assert_ne!(entry & (1 << 13), 0);
        assert_ne!(entry & (1 << 15), 0);
        assert_ne!(entry & (1 << 16), 0);
        assert_eq!(entry >> 56, 3);
        let plain = redirection_entry(0x30, route_isa_irq(1, &[]), 0, false);
        assert_eq!(plain, 0x30);
    }
}
