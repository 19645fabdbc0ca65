//! IDE (parallel ATA) disks on a PCI IDE controller (class 01/01): the PIIX3 of QEMU's `pc`
//! machine and the PIIX4 of VirtualBox's default chipset. Both channels, master and slave, in
//! that order; ATAPI devices (CD drives) are skipped. Transfers use bus-master DMA (SFF-8038i)
//! where the controller and the disk have it and PIO otherwise, one command at a time per
//! channel, each completing by the channel's interrupt ([`channel`]).

use alloc::boxed::Box;
use alloc::vec::Vec;

use log::{info, warn};
use lux9_kernel_core::ata::Identify;
use lux9_kernel_core::pci::Function;
use pci_types::{Bar, EndpointHeader};

use crate::arch::phys_to_virt;
use crate::block::{Driver, IoError, Op, Request};
use crate::{completion, pci_bus};

mod channel;

use channel::{ABRT, BSY, Channel, DEVICE, DRQ, ERR, Ended, Expect, FEATURES, Ports, STATUS};

/// Sectors per request: 128 KiB, 3 PRD entries at most.
const MAX_SECTORS: u32 = 256;
const SECTOR: usize = 512;

/// ATA commands (ACS-2).
const IDENTIFY_DEVICE: u8 = 0xec;
const READ_SECTORS: u8 = 0x20;
const READ_SECTORS_EXT: u8 = 0x24;
const WRITE_SECTORS: u8 = 0x30;
const WRITE_SECTORS_EXT: u8 = 0x34;
const READ_DMA: u8 = 0xc8;
const READ_DMA_EXT: u8 = 0x25;
const WRITE_DMA: u8 = 0xca;
const WRITE_DMA_EXT: u8 = 0x35;
const FLUSH_CACHE: u8 = 0xe7;
const FLUSH_CACHE_EXT: u8 = 0xea;

/// LBA mid and high of a device that implements the PACKET feature set (ATAPI), after a reset
/// or an aborted IDENTIFY DEVICE.
const ATAPI_SIGNATURE: (u8, u8) = (0x14, 0xeb);

/// The channels in compatibility mode: name, command block, control port, ISA IRQ.
const LEGACY: [(&str, u16, u16, u8); 2] = [
    ("primary", 0x1f0, 0x3f6, 14),
    ("secondary", 0x170, 0x376, 15),
];
const DRIVES: [&str; 2] = ["master", "slave"];

/// Whether `function` is an IDE controller.
pub fn matches(function: &Function) -> bool {
    function.class == 0x01 && function.subclass == 0x01
}

/// The port of I/O BAR `slot`, if it is one and assigned.
fn io_bar(header: &EndpointHeader, slot: u8) -> Option<u16> {
    match super::bar(header, slot)? {
        Bar::Io { port } if port != 0 => u16::try_from(port).ok(),
        _ => None,
    }
}

/// Finds the disks of both channels of the controller at `function` and registers them.
pub fn probe(function: &Function) {
    let a = function.address;
    let name = alloc::format!("ide {:02x}:{:02x}.{}", a.bus(), a.device(), a.function());
    let Some(mut header) = super::endpoint(function) else {
        warn!("{name}: not an endpoint; not used");
        return;
    };
    super::enable(&mut header, false);
    let bus_master = io_bar(&header, 4);
    let mut used = false;
    for (index, &(channel_name, command, control, irq)) in LEGACY.iter().enumerate() {
        // Programming interface bit 0 (primary) or 2 (secondary): the channel is in native
        // mode, at BARs 0-1 or 2-3 (its control register at offset 2 of the second), with the
        // function's PCI interrupt, which is not routed here: such a channel polls.
        let native = function.interface & (1 << (2 * index)) != 0;
        let (command, control) = if native {
            let slot = 2 * index as u8;
            match (io_bar(&header, slot), io_bar(&header, slot + 1)) {
                (Some(command), Some(control)) => (command, control + 2),
                _ => {
                    warn!("{name}: {channel_name} channel in native mode without I/O BARs");
                    continue;
                }
            }
        } else {
            (command, control)
        };
        let ports = Ports {
            command,
            control,
            bus_master: bus_master.map(|port| port + 8 * index as u16),
        };
        if Channel::is_empty(&ports) {
            continue;
        }
        info!(
            "{name}: {channel_name} channel at {:#x}/{:#x}, {}, {}",
            ports.command,
            ports.control,
            if native {
                "native mode (polled)".into()
            } else {
                alloc::format!("IRQ {irq}")
            },
            match ports.bus_master {
                Some(port) => alloc::format!("bus master at {port:#x}"),
                None => "no bus master (PIO)".into(),
            }
        );
        let mut channel = Channel::new(index, channel_name, ports, (!native).then_some(irq));
        if !channel.reset() {
            warn!("{name}: {channel_name} channel does not come out of reset; not used");
            continue;
        }
        used = true;
        let channel: &'static spin::Mutex<Channel> = Box::leak(Box::new(spin::Mutex::new(channel)));
        // Both drives are identified before either is registered: registering reads the
        // partition table, through the channel.
        let found: Vec<(u8, Identify)> = {
            let mut held = completion::lock(channel);
            let present = [present(&held, 0), present(&held, 1)];
            (0..2u8)
                .filter(|&drive| present[usize::from(drive)])
                .filter_map(|drive| Some((drive, identify(&mut held, drive)?)))
                .collect()
        };
        for (drive, id) in found {
            register(channel, drive, id);
        }
    }
    if used {
        pci_bus::bind(a, "ide");
    }
}

/// Whether `drive` is there and may be an ATA disk, by its status and the signature a reset left
/// in LBA mid and high (before any command: the task file is written to both drives at once).
/// A packet device (ATAPI, a CD drive) is reported and skipped.
fn present(channel: &Channel, drive: u8) -> bool {
    channel.write(DEVICE, 0xa0 | drive << 4);
    channel.settle();
    let status = channel.alternate_status();
    let signature = (
        channel.read(channel::LBA_MID),
        channel.read(channel::LBA_HIGH),
    );
    if signature == ATAPI_SIGNATURE {
        info!(
            "ide {} {}: ATAPI device (a CD or DVD drive); skipped",
            channel.name,
            DRIVES[usize::from(drive)]
        );
        return false;
    }
    // A packet device's status is 0 after a reset, but it has its signature; an absent drive
    // reads 0 (the other drive answers for it) or all ones (nothing drives the bus).
    status != 0 && status != 0xff
}

/// Asks `drive` for its IDENTIFY DEVICE data; `None` (with a log line saying why) when it is
/// not an ATA disk that answers.
fn identify(channel: &mut Channel, drive: u8) -> Option<Identify> {
    let what = alloc::format!("ide {} {}", channel.name, DRIVES[usize::from(drive)]);
    channel.write(DEVICE, 0xa0 | drive << 4);
    channel.settle();
    if let Err(status) = channel.poll(super::timeout_ms(), |s| s & BSY == 0) {
        warn!("{what}: busy (status {status:#04x}); not used");
        return None;
    }
    channel.write(FEATURES, 0);
    channel.address(0, 0, false);
    channel.issue(IDENTIFY_DEVICE);
    let ended = match channel.wait(Expect::Data) {
        Some(ended) => ended,
        None => {
            let status = channel.alternate_status();
            if channel.is_polled() || status & BSY != 0 || status & (DRQ | ERR) == 0 {
                warn!("{what}: no answer to IDENTIFY DEVICE (status {status:#04x})");
                channel.recover();
                return None;
            }
            // The device answered, but its interrupt never arrived.
            warn!(
                "{what}: IDENTIFY DEVICE ended without an interrupt; the {} channel polls from now on",
                channel.name
            );
            channel.poll_from_now_on();
            Ended {
                status: channel.read(STATUS),
                bus_master: 0,
            }
        }
    };
    if ended.failed() {
        let signature = (
            channel.read(channel::LBA_MID),
            channel.read(channel::LBA_HIGH),
        );
        if signature == ATAPI_SIGNATURE {
            info!("{what}: ATAPI device (a CD or DVD drive); skipped");
        } else {
            warn!(
                "{what}: IDENTIFY DEVICE failed (error {:#x}, signature {signature:02x?}); not used",
                channel.error(ended.status) >> 8
            );
        }
        return None;
    }
    if ended.status & DRQ == 0 {
        warn!(
            "{what}: IDENTIFY DEVICE sent no data (status {:#04x})",
            ended.status
        );
        return None;
    }
    let mut words = [0u16; 256];
    channel.read_block(&mut words);
    if words[0] & 0x8000 != 0 {
        info!(
            "{what}: not an ATA device (word 0 {:#06x}); skipped",
            words[0]
        );
        return None;
    }
    Some(Identify::parse(&words))
}

/// Registers `drive`'s disk with the block layer, unless it cannot be driven.
fn register(channel: &'static spin::Mutex<Channel>, drive: u8, id: Identify) {
    let (channel_name, dma) = {
        let held = completion::lock(channel);
        (held.name, id.dma && held.uses_dma())
    };
    let what = alloc::format!("ide {channel_name} {}", DRIVES[usize::from(drive)]);
    if id.sectors == 0 {
        warn!("{what}: {:?} has no LBA addressing; not used", id.model);
        return;
    }
    if id.sector_size != SECTOR as u32 {
        warn!(
            "{what}: {:?} has {}-byte logical sectors; not used",
            id.model, id.sector_size
        );
        return;
    }
    info!(
        "{what}: {}, {} sectors, {}-bit LBA, {}",
        id.model,
        id.sectors,
        if id.lba48 { 48 } else { 28 },
        if dma { "DMA" } else { "PIO" }
    );
    let model = if id.model.is_empty() {
        "IDE disk".into()
    } else {
        id.model
    };
    crate::block::add_disk(
        model,
        "ide",
        SECTOR as u32,
        id.sectors,
        false,
        Box::new(IdeDisk {
            channel,
            drive,
            lba48: id.lba48,
            dma,
        }),
    );
}

/// Why a command failed.
enum Fail {
    /// The device did not answer in time (what it was asked).
    TimedOut(&'static str),
    Io(IoError),
}

/// One disk: a drive on a channel it shares with the other drive.
struct IdeDisk {
    channel: &'static spin::Mutex<Channel>,
    drive: u8,
    lba48: bool,
    dma: bool,
}

impl Driver for IdeDisk {
    fn max_sectors(&self) -> u32 {
        MAX_SECTORS
    }

    fn lose_next_batch(&self) -> bool {
        completion::lock(self.channel).lose_next = true;
        true
    }

    fn run(&self, requests: &mut [Request]) {
        let mut channel = completion::lock(self.channel);
        for request in requests.iter_mut() {
            request.result = if channel.broken {
                Err(IoError::TimedOut)
            } else {
                self.one(&mut channel, request)
            };
        }
    }
}

impl IdeDisk {
    fn one(&self, channel: &mut Channel, request: &Request) -> Result<(), IoError> {
        let result = match request.op {
            Op::Flush => self.flush(channel),
            Op::Read | Op::Write => self.transfer(channel, request),
        };
        match result {
            Ok(()) => Ok(()),
            Err(Fail::Io(error)) => Err(error),
            Err(Fail::TimedOut(what)) => {
                warn!(
                    "ide {} {}: {what} at sector {}: no completion in {} ms; resetting the channel",
                    channel.name,
                    DRIVES[usize::from(self.drive)],
                    request.lba,
                    super::timeout_ms()
                );
                channel.recover();
                Err(IoError::TimedOut)
            }
        }
    }

    /// The device's error for a command that ended with `status`.
    fn device_error(channel: &Channel, status: u8) -> Fail {
        Fail::Io(IoError::Device(channel.error(status)))
    }

    /// Checks that a data block is offered (DRQ, no error).
    fn check_block(channel: &Channel, status: u8) -> Result<(), Fail> {
        if status & (ERR | channel::DF) != 0 || status & DRQ == 0 {
            return Err(Self::device_error(channel, status));
        }
        Ok(())
    }

    fn transfer(&self, channel: &mut Channel, r: &Request) -> Result<(), Fail> {
        let count = r.sectors;
        if count == 0 {
            return Ok(());
        }
        let fits_28_bits = count <= 256 && r.lba + u64::from(count) <= 1 << 28;
        if count > MAX_SECTORS || !(self.lba48 || fits_28_bits) {
            return Err(Fail::Io(IoError::Unsupported));
        }
        let read = r.op == Op::Read;
        let len = u64::from(count) * SECTOR as u64;
        let dma = self.dma && channel.load_dma(r.phys, len, read);
        let head = if self.lba48 { 0 } else { (r.lba >> 24) as u8 };
        channel
            .select(self.drive, head)
            .map_err(|_| Fail::TimedOut("selecting the drive"))?;
        channel.address(r.lba, count, self.lba48);
        let command = match (read, dma, self.lba48) {
            (true, true, true) => READ_DMA_EXT,
            (true, true, false) => READ_DMA,
            (true, false, true) => READ_SECTORS_EXT,
            (true, false, false) => READ_SECTORS,
            (false, true, true) => WRITE_DMA_EXT,
            (false, true, false) => WRITE_DMA,
            (false, false, true) => WRITE_SECTORS_EXT,
            (false, false, false) => WRITE_SECTORS,
        };
        channel.issue(command);
        if dma {
            channel.start_dma();
            let ended = channel.wait(Expect::Done);
            channel.stop_dma();
            let ended = ended.ok_or(Fail::TimedOut(if read { "DMA read" } else { "DMA write" }))?;
            if ended.failed() {
                return Err(Self::device_error(channel, ended.status));
            }
            if Channel::dma_failed(&ended) {
                return Err(Fail::Io(IoError::Device(
                    u32::from(ended.bus_master) << 16 | u32::from(ended.status),
                )));
            }
            return Ok(());
        }
        let memory = phys_to_virt(r.phys) as *mut u8;
        let mut block = [0u16; 256];
        if read {
            for i in 0..count as usize {
                let ended = channel
                    .wait(Expect::Data)
                    .ok_or(Fail::TimedOut("PIO read"))?;
                Self::check_block(channel, ended.status)?;
                channel.read_block(&mut block);
                // SAFETY: the block layer vouches that `phys` holds `count` sectors of RAM, in
                // the direct map, that nothing else touches during the request; this is sector
                // `i` of them. The data port gives the bytes in memory order, low byte first.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        block.as_ptr().cast::<u8>(),
                        memory.add(i * SECTOR),
                        SECTOR,
                    );
                }
            }
            return Ok(());
        }
        // PIO out: the device asks for the first block without an interrupt, and interrupts
        // after each block it took (asking for the next, or done after the last).
        let first = channel
            .poll(super::timeout_ms(), |s| {
                s & BSY == 0 && s & (DRQ | ERR | channel::DF) != 0
            })
            .map_err(|_| Fail::TimedOut("PIO write"))?;
        Self::check_block(channel, first)?;
        for i in 0..count as usize {
            // SAFETY: as for reads: sector `i` of the request's memory, only read here.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    memory.add(i * SECTOR),
                    block.as_mut_ptr().cast::<u8>(),
                    SECTOR,
                );
            }
            channel.write_block(&block);
            let last = i + 1 == count as usize;
            let ended = channel
                .wait(if last { Expect::Done } else { Expect::Data })
                .ok_or(Fail::TimedOut("PIO write"))?;
            if last {
                if ended.failed() {
                    return Err(Self::device_error(channel, ended.status));
                }
            } else {
                Self::check_block(channel, ended.status)?;
            }
        }
        Ok(())
    }

    fn flush(&self, channel: &mut Channel) -> Result<(), Fail> {
        channel
            .select(self.drive, 0)
            .map_err(|_| Fail::TimedOut("selecting the drive"))?;
        channel.issue(if self.lba48 {
            FLUSH_CACHE_EXT
        } else {
            FLUSH_CACHE
        });
        let ended = channel
            .wait(Expect::Done)
            .ok_or(Fail::TimedOut("FLUSH CACHE"))?;
        if ended.failed() {
            let error = channel.error(ended.status);
            // A device without the command aborts it: unsupported, as for a virtio disk
            // without the flush feature.
            if (error >> 8) as u8 & ABRT != 0 && ended.status & channel::DF == 0 {
                return Err(Fail::Io(IoError::Unsupported));
            }
            return Err(Fail::Io(IoError::Device(error)));
        }
        Ok(())
    }
}
