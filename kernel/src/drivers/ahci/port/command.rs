//! A port's commands: the block layer's requests as READ/WRITE DMA (EXT) and FLUSH CACHE
//! (EXT), written into the command slots, issued together and waited for; and what happens
//! when one fails or the port stops answering.
//!
//! Errors: the HBA stops a port on a failed command (PxIS.TFES and the fatal errors). The
//! driver then stops the port, clears its errors and restarts it; if several commands were in
//! flight, each is run again alone, so the error lands on the request that caused it (reads,
//! writes and flushes can all be repeated). A command that does not complete in `TIMEOUT_MS`
//! gives up the port: its engines are stopped, its memory is never reused, and every later
//! request fails.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, fence};

use log::warn;
use lux9_kernel_core::ahci as hba;
use lux9_kernel_core::ata::TaskFile;

use super::super::{pause, poll, ticks};
use super::{Disk, PortState, STOP_MS};
use crate::block::{Driver, IoError, Op, Request};
use crate::completion;
use crate::dma::DmaBuffer;
use crate::drivers::timeout_ms;
use crate::time;

/// After a failed command, how long the other commands in flight get to finish: an HBA that
/// goes on after an error (QEMU's does) must be idle before the port restarts.
const DRAIN_MS: u64 = 100;
/// Bytes of the register FIS in a command table.
const FIS_BYTES: usize = 20;

/// One ATA command for a slot: its registers and the memory it moves (none for a flush).
#[derive(Clone, Copy)]
pub(super) struct Command {
    pub(super) task: TaskFile,
    pub(super) write: bool,
    pub(super) phys: u64,
    pub(super) bytes: u64,
}

pub(super) enum Outcome {
    Done,
    /// The device or the HBA reported an error: PxTFD (status, error register), PxIS.
    Failed {
        tfd: u32,
        status: u32,
    },
    TimedOut,
}

/// Writes dword `value` at `offset` of the port's memory.
fn put(memory: &DmaBuffer, offset: usize, value: u32) {
    // SAFETY: `ptr` checked that the dword lies inside the buffer, which belongs to this port;
    // the HBA reads it only after the driver sets PxCI for its slot, and the slot is not in
    // flight while the driver fills it.
    unsafe { memory.ptr::<u32>(offset).write_volatile(value) }
}

impl Disk {
    /// The command for request `r`, or why the HBA cannot be given it.
    fn command(&self, r: &Request) -> Result<Command, IoError> {
        let write = match r.op {
            Op::Flush => {
                return Ok(Command {
                    task: TaskFile::flush(self.identify.lba48),
                    write: false,
                    phys: 0,
                    bytes: 0,
                });
            }
            Op::Read => false,
            Op::Write => true,
        };
        if r.sectors > self.max_sectors {
            return Err(IoError::Unsupported);
        }
        let task = TaskFile::transfer(write, self.identify.lba48, r.lba, r.sectors)
            .ok_or(IoError::Unsupported)?;
        let bytes = u64::from(r.sectors) * u64::from(self.identify.sector_size);
        if hba::regions(r.phys, bytes).is_none() {
            return Err(IoError::Unsupported);
        }
        if self.hba.cap & hba::CAP_S64A == 0 && r.phys + bytes > 1 << 32 {
            warn!(
                "{}: memory at {:#x} is above 4 GiB, which this HBA cannot reach",
                self.name, r.phys
            );
            return Err(IoError::Unsupported);
        }
        Ok(Command {
            task,
            write,
            phys: r.phys,
            bytes,
        })
    }

    /// Fills slot `slot`'s command header and table with `command`.
    fn prepare(&self, memory: &DmaBuffer, slot: usize, command: &Command) {
        let table = hba::command_table(slot);
        let fis = command.task.h2d_fis();
        for (i, bytes) in fis.chunks_exact(4).enumerate() {
            let word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            put(memory, table + 4 * i, word);
        }
        let mut prds = 0;
        if command.bytes > 0 {
            let regions = hba::regions(command.phys, command.bytes)
                .expect("the request was checked against the PRD table");
            for (i, region) in regions.enumerate() {
                for (j, word) in region.prd().into_iter().enumerate() {
                    put(memory, table + hba::PRDT + i * hba::PRD + 4 * j, word);
                }
                prds += 1;
            }
        }
        let header = hba::command_header(slot);
        let table_phys = memory.phys() + table as u64;
        put(
            memory,
            header,
            hba::header_dword0(FIS_BYTES, command.write, prds),
        );
        put(memory, header + 4, 0);
        put(memory, header + 8, table_phys as u32);
        put(memory, header + 12, (table_phys >> 32) as u32);
    }

    /// Waits until no slot of `issued` is in PxCI, an error is reported, or `TIMEOUT_MS`
    /// passes. The port's status is read after PxCI: an HBA that completes a failed command
    /// (clears its PxCI bit) has set TFES by then.
    /// `lost` (the timeout test): the commands were never issued, so they stay pending.
    fn wait(&self, issued: u32, lost: bool) -> Outcome {
        let events = &self.hba.events[self.number];
        let polled = self.hba.polled();
        let deadline = time::ticks() + ticks(timeout_ms());
        loop {
            let pending = if lost {
                issued
            } else {
                self.read(hba::PX_CI) & issued
            };
            let status = events.status.swap(0, Ordering::AcqRel) | self.read(hba::PX_IS);
            if polled {
                self.write(hba::PX_IS, status);
            }
            if status & hba::IS_ERRORS != 0 {
                return Outcome::Failed {
                    tfd: self.read(hba::PX_TFD),
                    status,
                };
            }
            if pending == 0 {
                return Outcome::Done;
            }
            let now = time::ticks();
            if now >= deadline {
                return Outcome::TimedOut;
            }
            if polled {
                pause();
            } else {
                events
                    .done
                    .wait(((deadline - now) * 1000 / time::HZ).max(1));
            }
        }
    }

    /// Brings the port back after a failed command: lets the other commands in flight end,
    /// stops it, clears its errors, clears BSY/DRQ by command list override if the device
    /// still holds them, and starts it again. `false` when that fails (the port is then given
    /// up).
    fn recover(&self, issued: u32) -> bool {
        poll(DRAIN_MS, || self.read(hba::PX_CI) & issued == 0);
        if !self.stop_commands() {
            warn!("{}: the port does not stop after an error", self.name);
            return false;
        }
        if self.read(hba::PX_CI) != 0 {
            warn!(
                "{}: commands stay issued (PxCI {:#x}) after the port stopped",
                self.name,
                self.read(hba::PX_CI)
            );
            return false;
        }
        self.clear_errors();
        if hba::tfd_busy(self.read(hba::PX_TFD)) && self.hba.cap & hba::CAP_SCLO != 0 {
            self.set(hba::PX_CMD, hba::CMD_CLO);
            poll(STOP_MS, || self.read(hba::PX_CMD) & hba::CMD_CLO == 0);
        }
        match self.start_commands() {
            Ok(()) => true,
            Err(why) => {
                warn!("{}: cannot restart after an error: {why}", self.name);
                false
            }
        }
    }

    /// Issues `commands` (at most one per slot) at once and waits for them all.
    fn issue(&self, state: &mut PortState, commands: &[Command]) -> Outcome {
        for (slot, command) in commands.iter().enumerate() {
            self.prepare(&state.memory, slot, command);
        }
        let issued = (1u64 << commands.len()).wrapping_sub(1) as u32;
        // The headers and tables must be in memory before the HBA fetches them.
        fence(Ordering::SeqCst);
        let lost = core::mem::take(&mut state.lose_next);
        if !lost {
            self.write(hba::PX_CI, issued);
        }
        // The timeout test leaves them unissued: nothing completes.
        let outcome = self.wait(issued, lost);
        match outcome {
            // What the device wrote is read only after it said it is done.
            Outcome::Done => fence(Ordering::SeqCst),
            Outcome::Failed { tfd, status } => {
                warn!(
                    "{}: command {:#04x} failed: PxTFD {tfd:#x}, PxIS {status:#x}{}",
                    self.name,
                    commands[0].task.command,
                    if commands.len() > 1 {
                        " (one of several in flight; each is run again alone)"
                    } else {
                        ""
                    }
                );
                if !self.recover(issued) {
                    state.broken = true;
                }
            }
            Outcome::TimedOut => {
                warn!(
                    "{}: no completion in {} ms (PxCI {:#x}, PxTFD {:#x}, PxIS {:#x}); the port is given up",
                    self.name,
                    timeout_ms(),
                    self.read(hba::PX_CI),
                    self.read(hba::PX_TFD),
                    self.read(hba::PX_IS),
                );
                // The HBA may still own the memory: stop it, and never reuse what it holds.
                state.broken = true;
                self.shut_down();
            }
        }
        outcome
    }

    /// Runs `commands`, as many at once as there are slots, and sets `results`.
    pub(super) fn execute(
        &self,
        state: &mut PortState,
        commands: &[Command],
        results: &mut [Result<(), IoError>],
    ) {
        for (batch, out) in commands
            .chunks(self.slots)
            .zip(results.chunks_mut(self.slots))
        {
            if state.broken {
                out.fill(Err(IoError::TimedOut));
                continue;
            }
            match self.issue(state, batch) {
                Outcome::Done => out.fill(Ok(())),
                Outcome::TimedOut => out.fill(Err(IoError::TimedOut)),
                Outcome::Failed { tfd, .. } if batch.len() == 1 => {
                    out[0] = Err(IoError::Device(tfd))
                }
                Outcome::Failed { .. } => {
                    for (command, result) in batch.iter().zip(out.iter_mut()) {
                        *result = if state.broken {
                            Err(IoError::TimedOut)
                        } else {
                            match self.issue(state, core::slice::from_ref(command)) {
                                Outcome::Done => Ok(()),
                                Outcome::Failed { tfd, .. } => Err(IoError::Device(tfd)),
                                Outcome::TimedOut => Err(IoError::TimedOut),
                            }
                        };
                    }
                }
            }
        }
    }
}

impl Driver for Disk {
    fn max_sectors(&self) -> u32 {
        self.max_sectors
    }

    fn lose_next_batch(&self) -> bool {
        completion::lock(&self.state).lose_next = true;
        true
    }

    fn run(&self, requests: &mut [Request]) {
        let mut state = completion::lock(&self.state);
        let mut commands = Vec::with_capacity(requests.len());
        let mut owners = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter_mut().enumerate() {
            match self.command(request) {
                Ok(command) => {
                    commands.push(command);
                    owners.push(index);
                }
                Err(error) => request.result = Err(error),
            }
        }
        let mut results = vec![Err(IoError::TimedOut); commands.len()];
        self.execute(&mut state, &commands, &mut results);
        for (index, result) in owners.into_iter().zip(results) {
            requests[index].result = result;
        }
    }
}
