//! `lspci`: reading `/sys/pci` (docs/sysserver.md) and naming what is found, with a small
//! table of the vendors, devices and classes of QEMU's machines (pc and q35, virtio, the
//! usual NICs and displays). Anything else is shown by number.

use alloc::format;
use alloc::string::String;

/// A PCI function, as a line of `/sys/pci` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub segment: u16,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class: u8,
    pub subclass: u8,
    pub interface: u8,
    /// The driver bound to it, if any.
    pub driver: Option<String>,
}

/// Parses a line `SSSS:BB:DD.F VVVV:DDDD CC.SS.II class driver`; `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<Function> {
    let mut fields = line.split_whitespace();
    let (address, ids, class, _class_name, driver) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() {
        return None;
    }
    let (segment, rest) = address.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (device, function) = rest.split_once('.')?;
    let (vendor_id, device_id) = ids.split_once(':')?;
    let mut class = class.split('.');
    let (class, subclass, interface) = (class.next()?, class.next()?, class.next()?);
    let hex16 = |text: &str| (text.len() == 4).then(|| u16::from_str_radix(text, 16).ok())?;
    let hex8 = |text: &str| (text.len() == 2).then(|| u8::from_str_radix(text, 16).ok())?;
    let function = Function {
        segment: hex16(segment)?,
        bus: hex8(bus)?,
        device: hex8(device)?,
        function: u8::from_str_radix(function, 16).ok().filter(|&f| f < 8)?,
        vendor_id: hex16(vendor_id)?,
        device_id: hex16(device_id)?,
        class: hex8(class)?,
        subclass: hex8(subclass)?,
        interface: hex8(interface)?,
        driver: (driver != "-").then(|| driver.into()),
    };
    (function.device < 32).then_some(function)
}

impl Function {
    /// `BB:DD.F`, with `SSSS:` before it outside segment 0 (as `lspci` on Linux).
    pub fn address(&self) -> String {
        let local = format!("{:02x}:{:02x}.{}", self.bus, self.device, self.function);
        if self.segment == 0 {
            local
        } else {
            format!("{:04x}:{local}", self.segment)
        }
    }

    /// `ADDRESS CLASS: VENDOR DEVICE (VVVV:DDDD)`, e.g.
    /// `00:02.0 SCSI storage controller: Red Hat virtio block (1af4:1001)`.
    pub fn describe(&self) -> String {
        let what = match (
            vendor_name(self.vendor_id),
            device_name(self.vendor_id, self.device_id),
        ) {
            (Some(vendor), Some(device)) => format!("{vendor} {device}"),
            (Some(vendor), None) => format!("{vendor} device"),
            _ => String::from("unknown device"),
        };
        format!(
            "{} {}: {what} ({:04x}:{:04x})",
            self.address(),
            class_name(self.class, self.subclass),
            self.vendor_id,
            self.device_id
        )
    }

    /// `ADDRESS CCSS: VVVV:DDDD`, as `lspci -n` on Linux.
    pub fn numeric(&self) -> String {
        format!(
            "{} {:02x}{:02x}: {:04x}:{:04x}",
            self.address(),
            self.class,
            self.subclass,
            self.vendor_id,
            self.device_id
        )
    }
}

/// The name of a class and subclass, as the PCI ID database spells it; `Class CCSS` for
/// those not in the table.
pub fn class_name(class: u8, subclass: u8) -> String {
    let name = match (class, subclass) {
        (0x00, 0x01) => "VGA compatible unclassified device",
        (0x00, _) => "Unclassified device",
        (0x01, 0x00) => "SCSI storage controller",
        (0x01, 0x01) => "IDE interface",
        (0x01, 0x02) => "Floppy disk controller",
        (0x01, 0x04) => "RAID bus controller",
        (0x01, 0x05) => "ATA controller",
        (0x01, 0x06) => "SATA controller",
        (0x01, 0x07) => "Serial Attached SCSI controller",
        (0x01, 0x08) => "Non-Volatile memory controller",
        (0x01, _) => "Mass storage controller",
        (0x02, 0x00) => "Ethernet controller",
        (0x02, _) => "Network controller",
        (0x03, 0x00) => "VGA compatible controller",
        (0x03, 0x02) => "3D controller",
        (0x03, _) => "Display controller",
        (0x04, 0x01) => "Multimedia audio controller",
        (0x04, 0x03) => "Audio device",
        (0x04, _) => "Multimedia controller",
        (0x05, _) => "Memory controller",
        (0x06, 0x00) => "Host bridge",
        (0x06, 0x01) => "ISA bridge",
        (0x06, 0x04) => "PCI bridge",
        (0x06, _) => "Bridge",
        (0x07, 0x00) => "Serial controller",
        (0x07, _) => "Communication controller",
        (0x08, _) => "System peripheral",
        (0x09, _) => "Input device controller",
        (0x0c, 0x03) => "USB controller",
        (0x0c, 0x05) => "SMBus",
        (0x0c, _) => "Serial bus controller",
        (0xff, _) => "Unassigned class",
        _ => return format!("Class {class:02x}{subclass:02x}"),
    };
    String::from(name)
}

/// A vendor's short name.
pub fn vendor_name(vendor: u16) -> Option<&'static str> {
    Some(match vendor {
        0x8086 => "Intel",
        // virtio devices, and QEMU's own devices (bridges, XHCI, NVMe).
        0x1af4 | 0x1b36 => "Red Hat",
        // The standard VGA (Bochs's ID).
        0x1234 => "QEMU",
        0x10ec => "Realtek",
        0x1022 => "AMD",
        0x1013 => "Cirrus Logic",
        _ => return None,
    })
}

/// A device's name, for the devices QEMU emulates.
pub fn device_name(vendor: u16, device: u16) -> Option<&'static str> {
    Some(match (vendor, device) {
        (0x8086, 0x1237) => "440FX host bridge",
        (0x8086, 0x7000) => "PIIX3 ISA bridge",
        (0x8086, 0x7010) => "PIIX3 IDE controller",
        (0x8086, 0x7020) => "PIIX3 USB controller",
        (0x8086, 0x7113) => "PIIX4 ACPI",
        (0x8086, 0x29c0) => "Q35 host bridge",
        (0x8086, 0x2918) => "ICH9 LPC bridge",
        (0x8086, 0x2922) => "ICH9 AHCI SATA controller",
        (0x8086, 0x2930) => "ICH9 SMBus controller",
        (0x8086, 0x2934..=0x2939) => "ICH9 USB UHCI controller",
        (0x8086, 0x293a | 0x293c) => "ICH9 USB EHCI controller",
        (0x8086, 0x293e) => "ICH9 HD Audio controller",
        (0x8086, 0x2415) => "82801AA AC'97 audio",
        (0x8086, 0x100e) => "82540EM Gigabit Ethernet (e1000)",
        (0x8086, 0x10d3) => "82574L Gigabit Ethernet (e1000e)",
        (0x8086, 0x25ab) => "6300ESB watchdog",
        (0x1af4, 0x1000) => "virtio network",
        (0x1af4, 0x1001) => "virtio block",
        (0x1af4, 0x1002) => "virtio memory balloon",
        (0x1af4, 0x1003) => "virtio console",
        (0x1af4, 0x1004) => "virtio SCSI",
        (0x1af4, 0x1005) => "virtio RNG",
        (0x1af4, 0x1009) => "virtio filesystem",
        (0x1af4, 0x1041) => "virtio 1.0 network",
        (0x1af4, 0x1042) => "virtio 1.0 block",
        (0x1af4, 0x1043) => "virtio 1.0 console",
        (0x1af4, 0x1044) => "virtio 1.0 RNG",
        (0x1af4, 0x1045) => "virtio 1.0 memory balloon",
        (0x1af4, 0x1048) => "virtio 1.0 SCSI",
        (0x1af4, 0x1049) => "virtio 1.0 filesystem",
        (0x1af4, 0x1050) => "virtio 1.0 GPU",
        (0x1af4, 0x1052) => "virtio 1.0 input",
        (0x1af4, 0x1053) => "virtio 1.0 socket",
        (0x1af4, 0x1110) => "inter-VM shared memory",
        (0x1b36, 0x0001) => "QEMU PCI-PCI bridge",
        (0x1b36, 0x0002) => "QEMU PCI 16550A serial",
        (0x1b36, 0x0008) => "QEMU PCIe host bridge",
        (0x1b36, 0x000c) => "QEMU PCIe root port",
        (0x1b36, 0x000d) => "QEMU XHCI USB controller",
        (0x1b36, 0x0010) => "QEMU NVMe controller",
        (0x1b36, 0x0100) => "QXL display",
        (0x1234, 0x1111) => "standard VGA",
        (0x10ec, 0x8139) => "RTL8139 Fast Ethernet",
        (0x1022, 0x2000) => "PCnet32 LANCE Ethernet",
        (0x1013, 0x00b8) => "GD 5446 VGA",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a q35 machine with a virtio disk shows (the kernel's format).
    const Q35: &str = "\
0000:00:00.0 8086:29c0 06.00.00 bridge/host -
0000:00:01.0 1234:1111 03.00.00 display -
0000:00:02.0 1af4:1001 01.00.00 storage/scsi virtio-blk
0000:00:1f.0 8086:2918 06.01.00 bridge/isa -
0000:00:1f.2 8086:2922 01.06.01 storage/sata ahci
0000:00:1f.3 8086:2930 0c.05.00 serial/smbus -
";

    fn describe_all(text: &str) -> Vec<String> {
        text.lines()
            .map(|line| parse_line(line).expect(line).describe())
            .collect()
    }

    #[test]
    fn names_what_qemu_shows() {
        assert_eq!(
            describe_all(Q35),
            [
                "00:00.0 Host bridge: Intel Q35 host bridge (8086:29c0)",
                "00:01.0 VGA compatible controller: QEMU standard VGA (1234:1111)",
                "00:02.0 SCSI storage controller: Red Hat virtio block (1af4:1001)",
                "00:1f.0 ISA bridge: Intel ICH9 LPC bridge (8086:2918)",
                "00:1f.2 SATA controller: Intel ICH9 AHCI SATA controller (8086:2922)",
                "00:1f.3 SMBus: Intel ICH9 SMBus controller (8086:2930)",
            ]
        );
        let pc = "0000:00:01.1 8086:7010 01.01.80 storage/ide ide\n\
                  0000:00:03.0 8086:100e 02.00.00 network -\n\
                  0000:00:04.0 1af4:1042 01.80.00 storage virtio-blk\n";
        assert_eq!(
            describe_all(pc),
            [
                "00:01.1 IDE interface: Intel PIIX3 IDE controller (8086:7010)",
                "00:03.0 Ethernet controller: Intel 82540EM Gigabit Ethernet (e1000) (8086:100e)",
                "00:04.0 Mass storage controller: Red Hat virtio 1.0 block (1af4:1042)",
            ]
        );
    }

    #[test]
    fn unknown_devices_by_number() {
        let unknown = "0001:0a:1e.7 8086:abcd 11.00.00 other -\n\
                       0000:00:05.0 1d0f:ec20 02.00.00 network -\n";
        assert_eq!(
            describe_all(unknown),
            [
                "0001:0a:1e.7 Class 1100: Intel device (8086:abcd)",
                "00:05.0 Ethernet controller: unknown device (1d0f:ec20)",
            ]
        );
    }

    #[test]
    fn numeric_lines() {
        let f = parse_line("0000:00:1f.2 8086:2922 01.06.01 storage/sata ahci").unwrap();
        assert_eq!(f.numeric(), "00:1f.2 0106: 8086:2922");
        assert_eq!(f.driver.as_deref(), Some("ahci"));
        assert_eq!(f.interface, 1);
        let f = parse_line("0000:00:00.0 8086:29c0 06.00.00 bridge/host -").unwrap();
        assert_eq!(f.driver, None);
    }

    #[test]
    fn malformed_lines_are_refused() {
        for line in [
            "",
            "0000:00:00.0 8086:29c0 06.00.00 bridge/host",
            "0000:00:00.0 8086:29c0 06.00.00 bridge/host - extra",
            "00:00.0 8086:29c0 06.00.00 bridge/host -",
            "0000:00:00.8 8086:29c0 06.00.00 bridge/host -",
            "0000:00:20.0 8086:29c0 06.00.00 bridge/host -",
            "0000:00:00.0 8086-29c0 06.00.00 bridge/host -",
            "0000:00:00.0 8086:29c0 06.00 bridge/host -",
            "0000:00:00.0 808g:29c0 06.00.00 bridge/host -",
            "0000:00:0.0 8086:29c0 06.00.00 bridge/host -",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }
}
