//! PCI enumeration over any configuration-space access (ports, ECAM, or a test's fake), and the
//! `/sys/pci` text. The headers are read with the rust-osdev `pci_types` crate; the access
//! itself, which needs port I/O or device memory, lives in `arch::pci`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::ops::RangeInclusive;

use pci_types::{ConfigRegionAccess, HeaderType, PciAddress, PciHeader};

/// One function found on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub address: PciAddress,
    pub vendor: u16,
    pub device: u16,
    pub revision: u8,
    pub class: u8,
    pub subclass: u8,
    pub interface: u8,
    pub header: HeaderType,
    /// The driver bound to it, once one is.
    pub driver: Option<&'static str>,
}

/// Vendor ID of an absent function: reads of missing configuration space return all ones.
const ABSENT: u16 = 0xffff;

/// Finds every function on the buses `buses` of `segment`, in address order. Every device slot
/// of every bus is probed (no reliance on bridges being set up as expected); functions 1-7 only
/// where function 0 says the device has several.
pub fn enumerate(
    access: &impl ConfigRegionAccess,
    segment: u16,
    buses: RangeInclusive<u8>,
) -> Vec<Function> {
    let mut found = Vec::new();
    for bus in buses {
        for device in 0..32u8 {
            let first = PciHeader::new(PciAddress::new(segment, bus, device, 0));
            if first.id(access).0 == ABSENT {
                continue;
            }
            let functions = if first.has_multiple_functions(access) {
                0..8
            } else {
                0..1
            };
            for function in functions {
                let header = PciHeader::new(PciAddress::new(segment, bus, device, function));
                let (vendor, device_id) = header.id(access);
                if vendor == ABSENT {
                    continue;
                }
                let (revision, class, subclass, interface) = header.revision_and_class(access);
                found.push(Function {
                    address: header.address(),
                    vendor,
                    device: device_id,
                    revision,
                    class,
                    subclass,
                    interface,
                    header: header.header_type(access),
                    driver: None,
                });
            }
        }
    }
    found
}

/// A short name for a base class and subclass, as `lspci` groups them.
pub fn class_name(class: u8, subclass: u8) -> &'static str {
    match (class, subclass) {
        (0x00, _) => "unclassified",
        (0x01, 0x01) => "storage/ide",
        (0x01, 0x06) => "storage/sata",
        (0x01, 0x08) => "storage/nvme",
        (0x01, 0x00) => "storage/scsi",
        (0x01, _) => "storage",
        (0x02, _) => "network",
        (0x03, _) => "display",
        (0x04, _) => "multimedia",
        (0x05, _) => "memory",
        (0x06, 0x00) => "bridge/host",
        (0x06, 0x01) => "bridge/isa",
        (0x06, 0x04) => "bridge/pci",
        (0x06, _) => "bridge",
        (0x07, _) => "communication",
        (0x08, _) => "system",
        (0x09, _) => "input",
        (0x0c, 0x03) => "serial/usb",
        (0x0c, 0x05) => "serial/smbus",
        (0x0c, _) => "serial",
        (0xff, _) => "vendor-specific",
        _ => "other",
    }
}

/// `/sys/pci`: one line per function,
/// `SSSS:BB:DD.F VVVV:DDDD CC.SS.II class-name driver` (`-` when no driver is bound).
pub fn text(functions: &[Function]) -> String {
    let mut out = String::new();
    for f in functions {
        let a = f.address;
        let _ = writeln!(
            out,
            "{:04x}:{:02x}:{:02x}.{} {:04x}:{:04x} {:02x}.{:02x}.{:02x} {} {}",
            a.segment(),
            a.bus(),
            a.device(),
            a.function(),
            f.vendor,
            f.device,
            f.class,
            f.subclass,
            f.interface,
            class_name(f.class, f.subclass),
            f.driver.unwrap_or("-"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A configuration space with some functions; everything else reads all ones.
    struct Fake(BTreeMap<(u8, u8, u8), [u32; 4]>);

    #[allow(
        unsafe_code,
        reason = "the trait's methods are unsafe; the fake only looks up its own map"
    )]
    impl ConfigRegionAccess for Fake {
        unsafe fn read(&self, address: PciAddress, offset: u16) -> u32 {
            let key = (address.bus(), address.device(), address.function());
            self.0
                .get(&key)
                .and_then(|words| words.get(usize::from(offset / 4)).copied())
                .unwrap_or(0xffff_ffff)
        }

        unsafe fn write(&self, _: PciAddress, _: u16, _: u32) {}
    }

    fn function(vendor: u16, device: u16, class: [u8; 3], multi: bool) -> [u32; 4] {
        let [class, subclass, interface] = class;
        [
            u32::from(device) << 16 | u32::from(vendor),
            0,
            u32::from(class) << 24 | u32::from(subclass) << 16 | u32::from(interface) << 8 | 2,
            if multi { 0x80 << 16 } else { 0 },
        ]
    }

    /// Roughly QEMU's q35 with a virtio disk on bus 0 and a device behind a bridge on bus 1.
    fn q35() -> Fake {
        let mut map = BTreeMap::new();
        map.insert((0, 0, 0), function(0x8086, 0x29c0, [6, 0, 0], false));
        map.insert((0, 3, 0), function(0x1af4, 0x1042, [1, 0, 0], false));
        map.insert((0, 0x1f, 0), function(0x8086, 0x2918, [6, 1, 0], true));
        map.insert((0, 0x1f, 2), function(0x8086, 0x2922, [1, 6, 1], false));
        map.insert((0, 0x1f, 3), function(0x8086, 0x2930, [0xc, 5, 0], false));
        // A function 5 on a device whose function 0 says it is single-function: not probed.
        map.insert((0, 3, 5), function(0x1234, 0x5678, [2, 0, 0], false));
        map.insert((1, 0, 0), function(0x1b36, 0x000d, [0xc, 3, 0x30], false));
        Fake(map)
    }

    #[test]
    fn every_function_in_address_order() {
        let found = enumerate(&q35(), 0, 0..=255);
        let ids: Vec<(u8, u8, u8, u16, u16)> = found
            .iter()
            .map(|f| {
                let a = f.address;
                (a.bus(), a.device(), a.function(), f.vendor, f.device)
            })
            .collect();
        assert_eq!(
            ids,
            [
                (0, 0, 0, 0x8086, 0x29c0),
                (0, 3, 0, 0x1af4, 0x1042),
                (0, 0x1f, 0, 0x8086, 0x2918),
                (0, 0x1f, 2, 0x8086, 0x2922),
                (0, 0x1f, 3, 0x8086, 0x2930),
                (1, 0, 0, 0x1b36, 0x000d),
            ]
        );
        assert_eq!(
            (
                found[3].class,
                found[3].subclass,
                found[3].interface,
                found[3].revision
            ),
            (1, 6, 1, 2)
        );
        assert!(enumerate(&q35(), 0, 2..=255).is_empty());
    }

    #[test]
    fn the_text_names_address_ids_class_and_driver() {
        let mut found = enumerate(&q35(), 0, 0..=1);
        found[3].driver = Some("ahci");
        assert_eq!(
            text(&found),
            "0000:00:00.0 8086:29c0 06.00.00 bridge/host -\n\
             0000:00:03.0 1af4:1042 01.00.00 storage/scsi -\n\
             0000:00:1f.0 8086:2918 06.01.00 bridge/isa -\n\
             0000:00:1f.2 8086:2922 01.06.01 storage/sata ahci\n\
             0000:00:1f.3 8086:2930 0c.05.00 serial/smbus -\n\
             0000:01:00.0 1b36:000d 0c.03.30 serial/usb -\n"
        );
        assert_eq!(text(&[]), "");
    }
}
