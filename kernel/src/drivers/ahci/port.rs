//! One AHCI port with an ATA disk: its DMA memory (command list, received FISes, a command
//! table per slot), starting and stopping its engines, and IDENTIFY DEVICE; its commands are in
//! [`command`].

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::sync::atomic::Ordering;

use log::{debug, info};
use lux9_kernel_core::ahci as hba;
use lux9_kernel_core::ata::{Identify, TaskFile};
use x86_64::instructions::interrupts;

use super::{Hba, poll};
use crate::block::IoError;
use crate::dma::DmaBuffer;

mod command;

use command::Command;

/// How long a port's command list or FIS receive engine may take to stop (AHCI 1.3.1
/// section 10.1.2: 500 ms).
const STOP_MS: u64 = 500;
/// How long a present device may take to send its signature, or to leave BSY/DRQ.
const READY_MS: u64 = 1_000;

/// What only the thread holding the port may touch.
struct PortState {
    /// Command list, received FISes and command tables (`lux9_kernel_core::ahci`'s layout).
    memory: DmaBuffer,
    /// A command timed out: the port is stopped for good and its memory kept.
    broken: bool,
    /// Test hook: the next batch's commands are prepared but never issued.
    lose_next: bool,
}

pub(super) struct Disk {
    hba: &'static Hba,
    number: usize,
    name: String,
    identify: Identify,
    slots: usize,
    max_sectors: u32,
    state: spin::Mutex<PortState>,
}

/// Sets port `number` up if an ATA disk is on it: `Ok(None)` for an empty port or another
/// kind of device (logged), an error for a disk that cannot be used.
pub(super) fn start(
    controller: &'static Hba,
    number: usize,
    name: &str,
) -> Result<Option<Disk>, String> {
    let memory = DmaBuffer::new(hba::PORT_MEMORY_PAGES).ok_or("no memory for its command list")?;
    let mut disk = Disk {
        hba: controller,
        number,
        name: name.into(),
        identify: Identify::parse(&[0; 256]),
        slots: hba::command_slots(controller.cap).min(32),
        max_sectors: 0,
        state: spin::Mutex::new(PortState {
            memory,
            broken: false,
            lose_next: false,
        }),
    };
    match disk.start() {
        Ok(true) => Ok(Some(disk)),
        Ok(false) => {
            disk.abandon();
            Ok(None)
        }
        Err(why) => {
            disk.abandon();
            Err(why)
        }
    }
}

impl Disk {
    fn read(&self, register: usize) -> u32 {
        self.hba.abar.read(hba::port_base(self.number) + register)
    }

    fn write(&self, register: usize, value: u32) {
        self.hba
            .abar
            .write(hba::port_base(self.number) + register, value);
    }

    fn set(&self, register: usize, bits: u32) {
        self.write(register, self.read(register) | bits);
    }

    fn clear(&self, register: usize, bits: u32) {
        self.write(register, self.read(register) & !bits);
    }

    /// Stops the command list engine (PxCMD.ST off, then CR clear); whether it stopped.
    fn stop_commands(&self) -> bool {
        self.clear(hba::PX_CMD, hba::CMD_ST);
        poll(STOP_MS, || self.read(hba::PX_CMD) & hba::CMD_CR == 0)
    }

    /// Stops the FIS receive engine (FRE off, then FR clear); whether it stopped.
    fn stop_fis(&self) -> bool {
        self.clear(hba::PX_CMD, hba::CMD_FRE);
        poll(STOP_MS, || self.read(hba::PX_CMD) & hba::CMD_FR == 0)
    }

    /// Clears the port's errors and interrupt status, the handler's copy included.
    fn clear_errors(&self) {
        self.write(hba::PX_SERR, u32::MAX);
        interrupts::without_interrupts(|| {
            self.write(hba::PX_IS, u32::MAX);
            self.hba.events[self.number]
                .status
                .store(0, Ordering::Release);
        });
    }

    /// Starts the command list engine once the device is ready for commands.
    fn start_commands(&self) -> Result<(), String> {
        if !poll(READY_MS, || !hba::tfd_busy(self.read(hba::PX_TFD))) {
            return Err(format!(
                "the device stays busy (PxTFD {:#x})",
                self.read(hba::PX_TFD)
            ));
        }
        self.set(hba::PX_CMD, hba::CMD_ST);
        Ok(())
    }

    /// Stops both engines for good; whether the HBA no longer uses the port's memory.
    fn shut_down(&self) -> bool {
        self.write(hba::PX_IE, 0);
        self.stop_commands() && self.stop_fis()
    }

    /// Registers the disk with the block layer (the next `sdN`).
    pub(super) fn register(self) {
        let id = self.identify.clone();
        crate::block::add_disk(
            id.model,
            "ahci",
            id.sector_size,
            id.sectors,
            false,
            Box::new(self),
        );
    }

    /// Drops a disk that will not be registered: frees its memory if the HBA has stopped
    /// using it, and otherwise leaks it.
    fn abandon(self) {
        let stopped = !self.state.lock().broken && self.shut_down();
        if !stopped {
            core::mem::forget(self);
        }
    }

    fn detected(&self) -> bool {
        self.read(hba::PX_SSTS) & 0xf == hba::SSTS_DET_PRESENT
    }

    /// Whether the device on the port is an ATA disk, else why not (`None`: not a disk).
    fn classify(&self, signature: u32) -> Option<()> {
        match hba::DeviceKind::from_signature(signature) {
            hba::DeviceKind::Ata => Some(()),
            kind => {
                info!(
                    "{}: signature {signature:#x}, {}: skipped",
                    self.name,
                    kind.describe()
                );
                None
            }
        }
    }

    /// Starts the port and identifies its disk: `Ok(false)` when there is no disk to use.
    fn start(&mut self) -> Result<bool, String> {
        let spin_up =
            self.hba.cap & hba::CAP_SSS != 0 && self.read(hba::PX_CMD) & hba::CMD_SUD == 0;
        if spin_up {
            // Staggered spin-up: the port's PHY stays off until told.
            self.set(hba::PX_CMD, hba::CMD_SUD | hba::CMD_POD);
            poll(100, || self.detected());
        }
        if !self.detected() {
            return Ok(false);
        }
        // A signature already there (the firmware started the port) says at once whether the
        // port is of use. One that is not has its engines stopped all the same (`abandon`):
        // the firmware's command list and FIS area lie in memory the kernel may reuse.
        let signature = self.read(hba::PX_SIG);
        if signature != hba::SIG_NONE && self.classify(signature).is_none() {
            return Ok(false);
        }
        if !self.stop_commands() || !self.stop_fis() {
            return Err("its engines do not stop".into());
        }
        let memory = &self.state.get_mut().memory;
        let (phys, len) = (memory.phys(), memory.len() as u64);
        if self.hba.cap & hba::CAP_S64A == 0 && phys + len > 1 << 32 {
            return Err("its memory lies above 4 GiB, which this HBA cannot reach".into());
        }
        let list = phys + hba::COMMAND_LIST as u64;
        let fis = phys + hba::RECEIVED_FIS as u64;
        self.write(hba::PX_CLB, list as u32);
        self.write(hba::PX_CLBU, (list >> 32) as u32);
        self.write(hba::PX_FB, fis as u32);
        self.write(hba::PX_FBU, (fis >> 32) as u32);
        self.clear_errors();
        self.set(hba::PX_CMD, hba::CMD_FRE);
        if signature == hba::SIG_NONE {
            // The device's first FIS, which carries the signature, arrives once FRE is on.
            poll(READY_MS, || self.read(hba::PX_SIG) != hba::SIG_NONE);
            debug!(
                "{}: signature {:#x} once FIS receive was on",
                self.name,
                self.read(hba::PX_SIG)
            );
            if self.classify(self.read(hba::PX_SIG)).is_none() {
                return Ok(false);
            }
        }
        self.clear_errors();
        self.write(hba::PX_IE, hba::IS_DONE | hba::IS_ERRORS);
        self.start_commands()?;
        self.identify()?;
        Ok(true)
    }

    /// Sends IDENTIFY DEVICE and keeps what it says, if the disk is one the driver can use.
    fn identify(&mut self) -> Result<(), String> {
        let buffer = DmaBuffer::new(1).ok_or("no memory for IDENTIFY DEVICE")?;
        let command = Command {
            task: TaskFile::identify(),
            write: false,
            phys: buffer.phys(),
            bytes: 512,
        };
        let mut result = [Err(IoError::TimedOut)];
        // Not registered yet: nothing else takes the lock.
        let mut state = self.state.lock();
        self.execute(&mut state, &[command], &mut result);
        let broken = state.broken;
        drop(state);
        if let Err(error) = result[0] {
            if broken {
                // The HBA may still write it.
                core::mem::forget(buffer);
            }
            return Err(format!("IDENTIFY DEVICE failed: {error:?}"));
        }
        let mut words = [0u16; 256];
        for (word, bytes) in words.iter_mut().zip(buffer.bytes().chunks_exact(2)) {
            *word = u16::from_le_bytes([bytes[0], bytes[1]]);
        }
        let identify = Identify::parse(&words);
        let size = identify.sector_size;
        if !size.is_power_of_two() || !(512..=65536).contains(&size) {
            return Err(format!("its sectors of {size} bytes are not supported"));
        }
        if identify.sectors == 0 {
            return Err("it reports no sectors (a disk without LBA addressing?)".into());
        }
        self.max_sectors = hba::max_sectors(size, identify.lba48);
        info!(
            "{}: ATA disk \"{}\", {} sectors of {size} bytes, {}-bit LBA, {} slots",
            self.name,
            identify.model,
            identify.sectors,
            if identify.lba48 { 48 } else { 28 },
            self.slots
        );
        self.identify = identify;
        Ok(())
    }
}
