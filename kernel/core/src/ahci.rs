//! AHCI's registers and the memory structures it shares with the driver (AHCI 1.3.1): their
//! offsets and bits, where each lives in a port's DMA memory, command headers and physical
//! region descriptors. The driver (`drivers::ahci` in the kernel binary) does the I/O.

/// HBA (generic host control) registers, offsets from ABAR.
pub const CAP: usize = 0x00;
pub const GHC: usize = 0x04;
pub const IS: usize = 0x08;
pub const PI: usize = 0x0c;
pub const VS: usize = 0x10;
pub const CAP2: usize = 0x24;
pub const BOHC: usize = 0x28;

/// CAP bits: 64-bit addressing, command list override, staggered spin-up.
pub const CAP_S64A: u32 = 1 << 31;
pub const CAP_SCLO: u32 = 1 << 24;
pub const CAP_SSS: u32 = 1 << 27;
/// GHC bits: HBA reset, interrupt enable, AHCI enable.
pub const GHC_HR: u32 = 1 << 0;
pub const GHC_IE: u32 = 1 << 1;
pub const GHC_AE: u32 = 1 << 31;
/// CAP2: BIOS/OS handoff supported.
pub const CAP2_BOH: u32 = 1 << 0;
/// BOHC bits: BIOS owned semaphore, OS owned semaphore, OS ownership change, BIOS busy.
pub const BOHC_BOS: u32 = 1 << 0;
pub const BOHC_OOS: u32 = 1 << 1;
pub const BOHC_OOC: u32 = 1 << 3;
pub const BOHC_BB: u32 = 1 << 4;

/// Port registers, offsets from the port's base ([`port_base`]).
pub const PX_CLB: usize = 0x00;
pub const PX_CLBU: usize = 0x04;
pub const PX_FB: usize = 0x08;
pub const PX_FBU: usize = 0x0c;
pub const PX_IS: usize = 0x10;
pub const PX_IE: usize = 0x14;
pub const PX_CMD: usize = 0x18;
pub const PX_TFD: usize = 0x20;
pub const PX_SIG: usize = 0x24;
pub const PX_SSTS: usize = 0x28;
pub const PX_SCTL: usize = 0x2c;
pub const PX_SERR: usize = 0x30;
pub const PX_CI: usize = 0x38;
/// Bytes of registers per port.
pub const PORT_REGISTERS: usize = 0x80;

/// PxCMD bits: start, spin-up device, power on device, command list override, FIS receive
/// enable, FIS receive running, command list running.
pub const CMD_ST: u32 = 1 << 0;
pub const CMD_SUD: u32 = 1 << 1;
pub const CMD_POD: u32 = 1 << 2;
pub const CMD_CLO: u32 = 1 << 3;
pub const CMD_FRE: u32 = 1 << 4;
pub const CMD_FR: u32 = 1 << 14;
pub const CMD_CR: u32 = 1 << 15;

/// PxIS / PxIE bits.
pub const IS_DHRS: u32 = 1 << 0;
pub const IS_PSS: u32 = 1 << 1;
pub const IS_DSS: u32 = 1 << 2;
pub const IS_SDBS: u32 = 1 << 3;
pub const IS_OFS: u32 = 1 << 24;
pub const IS_INFS: u32 = 1 << 26;
pub const IS_IFS: u32 = 1 << 27;
pub const IS_HBDS: u32 = 1 << 28;
pub const IS_HBFS: u32 = 1 << 29;
pub const IS_TFES: u32 = 1 << 30;
/// The port interrupts the driver takes: a command's end (D2H register, PIO setup, DMA setup
/// and set-device-bits FISes) and every error that stops the port. Hot-plug (PCS, PRCS) is not
/// enabled: its status stays set until SERR is cleared, which would repeat the interrupt.
pub const IS_DONE: u32 = IS_DHRS | IS_PSS | IS_DSS | IS_SDBS;
pub const IS_ERRORS: u32 = IS_TFES | IS_HBFS | IS_HBDS | IS_IFS | IS_INFS | IS_OFS;

/// PxSSTS.DET: a device is present and the PHY has established communication.
pub const SSTS_DET_PRESENT: u32 = 3;

/// Device signatures (PxSIG) after the first D2H register FIS.
pub const SIG_ATA: u32 = 0x0000_0101;
pub const SIG_ATAPI: u32 = 0xeb14_0101;
pub const SIG_SEMB: u32 = 0xc33c_0101;
pub const SIG_PORT_MULTIPLIER: u32 = 0x9669_0101;
/// What PxSIG reads before the device's first FIS arrived.
pub const SIG_NONE: u32 = 0xffff_ffff;

/// What sits on a port, by its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Ata,
    Atapi,
    EnclosureBridge,
    PortMultiplier,
    Unknown(u32),
}

impl DeviceKind {
    pub fn from_signature(signature: u32) -> DeviceKind {
        match signature {
            SIG_ATA => DeviceKind::Ata,
            SIG_ATAPI => DeviceKind::Atapi,
            SIG_SEMB => DeviceKind::EnclosureBridge,
            SIG_PORT_MULTIPLIER => DeviceKind::PortMultiplier,
            other => DeviceKind::Unknown(other),
        }
    }

    /// What it is, in words for the log.
    pub fn describe(&self) -> &'static str {
        match self {
            DeviceKind::Ata => "an ATA disk",
            DeviceKind::Atapi => "an ATAPI device (CD/DVD drive)",
            DeviceKind::EnclosureBridge => "an enclosure management bridge",
            DeviceKind::PortMultiplier => "a port multiplier (not supported)",
            DeviceKind::Unknown(_) => "an unknown device",
        }
    }
}

/// Where port `port`'s registers start, from ABAR.
pub fn port_base(port: usize) -> usize {
    0x100 + port * PORT_REGISTERS
}

/// Command slots the HBA has (CAP.NCS + 1; at most 32).
pub fn command_slots(cap: u32) -> usize {
    (((cap >> 8) & 0x1f) + 1) as usize
}

/// PxTFD: the status register in bits 0-7, the error register in 8-15.
pub fn tfd_busy(tfd: u32) -> bool {
    tfd as u8 & (crate::ata::STATUS_BSY | crate::ata::STATUS_DRQ) != 0
}

// A port's DMA memory, one buffer of `PORT_MEMORY_PAGES` pages: the command list (32 headers of
// 32 bytes, 1 KiB-aligned), the received-FIS area (256 bytes, 256-aligned) and one command
// table per slot (128-byte aligned: the 64-byte command FIS, the ATAPI command, reserved
// bytes, then the PRD table).

/// Offset of the command list.
pub const COMMAND_LIST: usize = 0;
/// Bytes of one command header.
pub const COMMAND_HEADER: usize = 32;
/// Offset of the received-FIS area.
pub const RECEIVED_FIS: usize = 0x400;
/// Offset of slot 0's command table.
pub const COMMAND_TABLES: usize = 0x1000;
/// Where the PRD table starts in a command table.
pub const PRDT: usize = 0x80;
/// PRD entries per command table: each moves up to [`PRD_MAX_BYTES`].
pub const PRDS_PER_TABLE: usize = 8;
/// Bytes of one PRD entry.
pub const PRD: usize = 16;
/// Bytes of one command table.
pub const COMMAND_TABLE: usize = PRDT + PRDS_PER_TABLE * PRD;
/// The whole port's memory, in 4 KiB pages (room for 32 slots).
pub const PORT_MEMORY_PAGES: usize =
    (COMMAND_TABLES + 32 * COMMAND_TABLE).div_ceil(crate::units::PAGE_BYTES);
/// The most one PRD entry moves (its byte count is 22 bits, less one).
pub const PRD_MAX_BYTES: u64 = 4 << 20;
/// The most one command moves, whatever its sector size: 1 MiB.
pub const MAX_TRANSFER_BYTES: u64 = 1 << 20;

// The layout's alignments and order, checked at compile time.
const _: () = {
    assert!(COMMAND_LIST.is_multiple_of(1024));
    assert!(RECEIVED_FIS.is_multiple_of(256));
    assert!(RECEIVED_FIS >= COMMAND_LIST + 32 * COMMAND_HEADER);
    assert!(COMMAND_TABLES >= RECEIVED_FIS + 256);
    assert!(COMMAND_TABLES.is_multiple_of(128) && COMMAND_TABLE.is_multiple_of(128));
};

/// Offset of slot `slot`'s command header.
pub fn command_header(slot: usize) -> usize {
    COMMAND_LIST + slot * COMMAND_HEADER
}

/// Offset of slot `slot`'s command table.
pub fn command_table(slot: usize) -> usize {
    COMMAND_TABLES + slot * COMMAND_TABLE
}

/// Dword 0 of a command header: the command FIS length in dwords (CFL), the write bit (data
/// flows to the device) and the number of PRD entries (PRDTL).
pub fn header_dword0(fis_bytes: usize, write: bool, prds: usize) -> u32 {
    let cfl = (fis_bytes / 4) as u32 & 0x1f;
    cfl | u32::from(write) << 6 | (prds as u32 & 0xffff) << 16
}

/// One physical region: `bytes` at `address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub address: u64,
    pub bytes: u32,
}

impl Region {
    /// The PRD entry's four dwords: data base address (low, high), reserved, and the byte
    /// count less one with the interrupt-on-completion bit clear (the command's end
    /// interrupts anyway).
    pub fn prd(&self) -> [u32; 4] {
        [
            self.address as u32,
            (self.address >> 32) as u32,
            0,
            (self.bytes - 1) & 0x3f_ffff,
        ]
    }
}

/// Splits `bytes` of contiguous memory at `address` into PRD regions of at most
/// [`PRD_MAX_BYTES`]; `None` when they would not fit in one command table, when the address
/// is odd or the length odd or zero (the HBA moves whole words).
pub fn regions(address: u64, bytes: u64) -> Option<impl Iterator<Item = Region>> {
    if bytes == 0 || !address.is_multiple_of(2) || !bytes.is_multiple_of(2) {
        return None;
    }
    if bytes.div_ceil(PRD_MAX_BYTES) > PRDS_PER_TABLE as u64 {
        return None;
    }
    address.checked_add(bytes)?;
    let count = bytes.div_ceil(PRD_MAX_BYTES);
    Some((0..count).map(move |i| {
        let done = i * PRD_MAX_BYTES;
        Region {
            address: address + done,
            bytes: (bytes - done).min(PRD_MAX_BYTES) as u32,
        }
    }))
}

/// The most sectors one command moves on a disk with `sector_size`-byte sectors: what fits in
/// [`MAX_TRANSFER_BYTES`] and what the command's count register holds.
pub fn max_sectors(sector_size: u32, lba48: bool) -> u32 {
    let limit = if lba48 {
        crate::ata::MAX_SECTORS_LBA48
    } else {
        crate::ata::MAX_SECTORS_LBA28
    };
    ((MAX_TRANSFER_BYTES / u64::from(sector_size.max(1))) as u32).clamp(1, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn the_port_memory_layout_keeps_its_alignments() {
        for slot in 0..32 {
            assert_eq!(command_table(slot) % 128, 0);
            assert!(
                command_table(slot) + COMMAND_TABLE <= PORT_MEMORY_PAGES * crate::units::PAGE_BYTES
            );
        }
        assert_eq!(command_header(31), 31 * 32);
        assert_eq!(PORT_MEMORY_PAGES, 3);
    }

    #[test]
    fn registers_and_slots() {
        assert_eq!(port_base(0), 0x100);
        assert_eq!(port_base(31), 0x100 + 31 * 0x80);
        assert_eq!(command_slots(0), 1);
        assert_eq!(command_slots(31 << 8), 32);
        // QEMU's ICH9: 32 slots, 6 ports, 64-bit, NCQ.
        assert_eq!(command_slots(0xc030_1f05), 32);
        assert!(tfd_busy(0x80));
        assert!(tfd_busy(0x08));
        assert!(!tfd_busy(0x0450)); // an error register, DRDY and DSC: not busy
    }

    #[test]
    fn signatures() {
        assert_eq!(DeviceKind::from_signature(0x101), DeviceKind::Ata);
        assert_eq!(DeviceKind::from_signature(0xeb14_0101), DeviceKind::Atapi);
        assert_eq!(
            DeviceKind::from_signature(0x9669_0101),
            DeviceKind::PortMultiplier
        );
        assert_eq!(
            DeviceKind::from_signature(SIG_NONE),
            DeviceKind::Unknown(SIG_NONE)
        );
    }

    #[test]
    fn command_headers() {
        // A 20-byte register FIS is 5 dwords; a write sets bit 6; PRDTL is in the top half.
        assert_eq!(header_dword0(20, false, 1), 5 | 1 << 16);
        assert_eq!(header_dword0(20, true, 3), 5 | 1 << 6 | 3 << 16);
        assert_eq!(header_dword0(20, false, 0), 5);
    }

    #[test]
    fn regions_split_at_four_mib() {
        let one: Vec<Region> = regions(0x1000, 512).unwrap().collect();
        assert_eq!(
            one,
            [Region {
                address: 0x1000,
                bytes: 512
            }]
        );
        assert_eq!(one[0].prd(), [0x1000, 0, 0, 511]);
        let big: Vec<Region> = regions(0x1_2345_6000, 9 << 20).unwrap().collect();
        assert_eq!(big.len(), 3);
        assert_eq!(big[0].bytes, 4 << 20);
        assert_eq!(big[1].address, 0x1_2345_6000 + (4 << 20));
        assert_eq!(big[2].bytes, 1 << 20);
        assert_eq!(big.iter().map(|r| u64::from(r.bytes)).sum::<u64>(), 9 << 20);
        assert_eq!(big[0].prd(), [0x2345_6000, 1, 0, 0x3f_ffff]);
        // Exactly full, one byte pair too many, odd, empty, overflowing.
        assert_eq!(regions(0, 32 << 20).unwrap().count(), 8);
        assert!(regions(0, (32 << 20) + 2).is_none());
        assert!(regions(1, 512).is_none());
        assert!(regions(0, 511).is_none());
        assert!(regions(0, 0).is_none());
        assert!(regions(u64::MAX - 511, 512).is_none());
    }

    #[test]
    fn one_command_moves_at_most_a_mib() {
        assert_eq!(max_sectors(512, true), 2048);
        assert_eq!(max_sectors(4096, true), 256);
        assert_eq!(max_sectors(512, false), 256);
        assert_eq!(max_sectors(1 << 21, true), 1);
        // Whatever max_sectors allows fits one command table.
        for size in [512u32, 1024, 2048, 4096, 8192, 65536] {
            let bytes = u64::from(max_sectors(size, true)) * u64::from(size);
            assert!(regions(0, bytes).is_some());
        }
    }
}
