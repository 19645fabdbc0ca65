//! One IDE channel: its task-file registers (ATA/ATAPI-8 ATA8-APT), its bus-master registers
//! (SFF-8038i), its interrupt, and the bounded waits for a device that may never answer.
//!
//! A channel runs one command at a time for both of its drives. It completes by interrupt
//! (IRQ 14 or 15 in compatibility mode, with nIEN clear) or, for a channel in native mode, whose
//! PCI interrupt this kernel cannot route yet, or one whose interrupt never arrives, by polling
//! the alternate status register between sleeps.

use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use log::warn;
use lux9_kernel_core::prd;
use x86_64::instructions::port::Port;

use crate::arch::interrupts::TrapFrame;
use crate::arch::{cpu, lapic};
use crate::completion::Completion;
use crate::dma::DmaBuffer;
use crate::{irq, sched, time};

/// Task-file registers, from the command block's base port.
pub const DATA: u16 = 0;
pub const ERROR: u16 = 1;
pub const FEATURES: u16 = 1;
pub const COUNT: u16 = 2;
pub const LBA_LOW: u16 = 3;
pub const LBA_MID: u16 = 4;
pub const LBA_HIGH: u16 = 5;
pub const DEVICE: u16 = 6;
pub const STATUS: u16 = 7;
pub const COMMAND: u16 = 7;

/// Status register bits.
pub const BSY: u8 = 0x80;
pub const DF: u8 = 0x20;
pub const DRQ: u8 = 0x08;
pub const ERR: u8 = 0x01;
/// Error register: the command was aborted.
pub const ABRT: u8 = 0x04;

/// Device control register bits.
const NIEN: u8 = 0x02;
const SRST: u8 = 0x04;

/// Bus-master registers, from the channel's 8 bytes at BAR4.
const BM_COMMAND: u16 = 0;
const BM_STATUS: u16 = 2;
const BM_PRD: u16 = 4;
/// Bus-master command: start, and the direction (set: the controller writes memory).
const BM_START: u8 = 0x01;
const BM_TO_MEMORY: u8 = 0x08;
/// Bus-master status: active, error, interrupt (the last two cleared by writing 1).
const BM_ERROR: u8 = 0x02;
const BM_INTERRUPT: u8 = 0x04;

/// Entries the PRD table has room for per request: 256 sectors (128 KiB) need 3.
const PRD_ENTRIES: usize = 8;

/// Where a channel's registers are.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// Command block: data, error/features, count, LBA, device, status/command.
    pub command: u16,
    /// Alternate status / device control.
    pub control: u16,
    /// The channel's bus-master registers, if the controller has them.
    pub bus_master: Option<u16>,
}

fn inb(port: u16) -> u8 {
    // SAFETY: callers pass only registers of an IDE channel this driver owns; reading them has
    // no effect beyond the device's (acknowledging an interrupt, advancing the data FIFO).
    unsafe { Port::<u8>::new(port).read() }
}

fn outb(port: u16, value: u8) {
    // SAFETY: as for `inb`; writes to these registers only drive the IDE channel.
    unsafe { Port::<u8>::new(port).write(value) }
}

/// What an interrupt handler shares with the thread waiting on its channel.
pub struct Signal {
    /// The channel's command block, 0 until a channel claims this signal.
    command: AtomicU16,
    /// Its bus-master registers, 0 for none.
    bus_master: AtomicU16,
    /// The last interrupt's `FRESH | bus-master status << 8 | status`, 0 once taken.
    seen: AtomicU32,
    done: Completion,
}

const FRESH: u32 = 1 << 16;

impl Signal {
    const fn new() -> Self {
        Self {
            command: AtomicU16::new(0),
            bus_master: AtomicU16::new(0),
            seen: AtomicU32::new(0),
            done: Completion::new(),
        }
    }
}

/// The primary (IRQ 14) and secondary (IRQ 15) channels in compatibility mode.
static SIGNALS: [Signal; 2] = [const { Signal::new() }; 2];

fn on_irq14(_frame: &mut TrapFrame) {
    on_interrupt(&SIGNALS[0]);
}

fn on_irq15(_frame: &mut TrapFrame) {
    on_interrupt(&SIGNALS[1]);
}

/// Reads the bus-master status, reads the status register (which acknowledges the device's
/// interrupt), clears the bus-master interrupt and error bits, and wakes the waiter. The end of
/// interrupt goes first: the wake-up may switch threads before this returns.
fn on_interrupt(signal: &Signal) {
    let command = signal.command.load(Ordering::Acquire);
    if command != 0 {
        let bus_master = signal.bus_master.load(Ordering::Acquire);
        let bm_status = if bus_master != 0 {
            inb(bus_master + BM_STATUS)
        } else {
            0
        };
        let status = inb(command + STATUS);
        if bus_master != 0 {
            // Writing the bits back clears interrupt and error and keeps the drive-capable bits.
            outb(bus_master + BM_STATUS, bm_status);
        }
        signal.seen.store(
            FRESH | u32::from(bm_status) << 8 | u32::from(status),
            Ordering::Release,
        );
    }
    lapic::end_of_interrupt();
    signal.done.signal();
}

/// What a wait looks for: a data block (DRQ), or the end of the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Data,
    Done,
}

/// How a command ended: the status register and the bus-master status.
#[derive(Clone, Copy, Debug)]
pub struct Ended {
    pub status: u8,
    pub bus_master: u8,
}

impl Ended {
    /// Whether the device reported an error (ERR) or a fault (DF).
    pub fn failed(&self) -> bool {
        self.status & (ERR | DF) != 0
    }
}

/// One channel: its registers, how its commands complete, its PRD table.
pub struct Channel {
    /// "primary" or "secondary".
    pub name: &'static str,
    ports: Ports,
    /// The interrupt's signal, or `None` for a polled channel.
    signal: Option<&'static Signal>,
    /// The PRD table (one page, below 4 GiB), or `None` without bus-master DMA.
    prd: Option<DmaBuffer>,
    /// A reset did not bring the channel back; every request fails at once.
    pub broken: bool,
    /// Test hook: the next command is never written, as if the device did not answer.
    pub lose_next: bool,
}

impl Channel {
    /// Whether nothing drives the channel's bus: both drives' status reads as all ones.
    pub fn is_empty(ports: &Ports) -> bool {
        [0xa0, 0xb0].iter().all(|&device| {
            outb(ports.command + DEVICE, device);
            (0..4).for_each(|_| {
                inb(ports.control);
            });
            inb(ports.command + STATUS) == 0xff
        })
    }

    /// The channel at `ports`, completing by `irq` if given (routed here) or by polling.
    pub fn new(index: usize, name: &'static str, mut ports: Ports, irq: Option<u8>) -> Self {
        let prd = match ports.bus_master {
            None => None,
            Some(_) => match DmaBuffer::new(1) {
                Some(table) if table.phys() + table.len() as u64 <= 1 << 32 => Some(table),
                _ => {
                    warn!("ide {name}: no PRD table below 4 GiB; PIO only");
                    None
                }
            },
        };
        if prd.is_none() {
            ports.bus_master = None;
        }
        let mut channel = Self {
            name,
            ports,
            signal: None,
            prd,
            broken: false,
            lose_next: false,
        };
        channel.stop_dma();
        if let Some(irq) = irq {
            channel.signal = channel.claim(index, irq);
        }
        channel
    }

    /// Takes the compatibility-mode signal `index` and routes `irq` to it.
    fn claim(&self, index: usize, irq: u8) -> Option<&'static Signal> {
        let signal = SIGNALS.get(index)?;
        let claimed = signal.command.compare_exchange(
            0,
            self.ports.command,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if claimed.is_err() {
            warn!("ide {}: IRQ {irq} is taken; polling", self.name);
            return None;
        }
        signal
            .bus_master
            .store(self.ports.bus_master.unwrap_or(0), Ordering::Release);
        // Drop whatever interrupt the device holds before the route exists.
        self.set_interrupts(false);
        inb(self.ports.command + STATUS);
        let handler = if index == 0 { on_irq14 } else { on_irq15 };
        match irq::route_isa(irq, handler) {
            Ok(_) => Some(signal),
            Err(e) => {
                warn!("ide {}: IRQ {irq}: {e:?}; polling", self.name);
                signal.command.store(0, Ordering::Release);
                None
            }
        }
    }

    pub fn uses_dma(&self) -> bool {
        self.prd.is_some()
    }

    pub fn is_polled(&self) -> bool {
        self.signal.is_none()
    }

    /// Stops waiting for the interrupt, which does not come: from now on the channel polls.
    pub fn poll_from_now_on(&mut self) {
        if let Some(signal) = self.signal.take() {
            signal.bus_master.store(0, Ordering::Release);
        }
        self.set_interrupts(false);
    }

    pub fn read(&self, register: u16) -> u8 {
        inb(self.ports.command + register)
    }

    pub fn write(&self, register: u16, value: u8) {
        outb(self.ports.command + register, value)
    }

    /// The status without acknowledging an interrupt.
    pub fn alternate_status(&self) -> u8 {
        inb(self.ports.control)
    }

    fn set_interrupts(&self, on: bool) {
        outb(self.ports.control, if on { 0 } else { NIEN });
    }

    /// The 400 ns a device may take to show a valid status after a command or a selection: four
    /// reads of the alternate status.
    pub fn settle(&self) {
        for _ in 0..4 {
            self.alternate_status();
        }
    }

    /// Reads one data block of 256 words into `words`.
    pub fn read_block(&self, words: &mut [u16; 256]) {
        let mut port = Port::<u16>::new(self.ports.command + DATA);
        for word in words.iter_mut() {
            // SAFETY: the data register of this channel, whose device announced a block (DRQ).
            *word = unsafe { port.read() };
        }
    }

    /// Writes one data block of 256 words.
    pub fn write_block(&self, words: &[u16; 256]) {
        let mut port = Port::<u16>::new(self.ports.command + DATA);
        for &word in words {
            // SAFETY: as for `read_block`; the device asked for a block (DRQ).
            unsafe { port.write(word) };
        }
    }

    /// Waits until `done(alternate status)` holds, at most `ms` milliseconds: spinning for the
    /// first tick, then giving the CPU away between looks. Returns the last status either way.
    pub fn poll(&self, ms: u64, done: impl Fn(u8) -> bool) -> Result<u8, u8> {
        let start = time::ticks();
        let deadline = start + ms_to_ticks(ms);
        loop {
            let status = self.alternate_status();
            if done(status) {
                return Ok(status);
            }
            let now = time::ticks();
            if now >= deadline {
                return Err(status);
            }
            if now > start + 1 {
                pause();
            } else {
                core::hint::spin_loop();
            }
        }
    }

    /// Selects `drive` (0 master, 1 slave) with LBA addressing and `head` (LBA bits 27-24 for a
    /// 28-bit command), and waits until it can take a command (BSY and DRQ clear).
    pub fn select(&self, drive: u8, head: u8) -> Result<(), u8> {
        self.write(DEVICE, 0xe0 | drive << 4 | (head & 0x0f));
        self.settle();
        self.poll(super::super::timeout_ms(), |s| s & (BSY | DRQ) == 0)
            .map(|_| ())
    }

    /// Writes the address and count of a command: 48-bit (the high bytes first, through the
    /// registers' two-deep FIFO) or, after `select` gave the top bits, 28-bit (a count of 256
    /// is 0).
    pub fn address(&self, lba: u64, count: u32, lba48: bool) {
        if lba48 {
            self.write(COUNT, (count >> 8) as u8);
            self.write(LBA_LOW, (lba >> 24) as u8);
            self.write(LBA_MID, (lba >> 32) as u8);
            self.write(LBA_HIGH, (lba >> 40) as u8);
        }
        self.write(COUNT, count as u8);
        self.write(LBA_LOW, lba as u8);
        self.write(LBA_MID, (lba >> 8) as u8);
        self.write(LBA_HIGH, (lba >> 16) as u8);
    }

    /// Issues `command` (the task file is written) and forgets any earlier interrupt, so that
    /// the next wait sees this command's.
    pub fn issue(&mut self, command: u8) {
        if let Some(signal) = self.signal {
            signal.seen.store(0, Ordering::Release);
        }
        if core::mem::take(&mut self.lose_next) {
            return; // the timeout test: the device never sees the command
        }
        self.write(COMMAND, command);
    }

    /// Waits for the device's interrupt (or, polled, for BSY to clear and, with `Expect::Data`,
    /// DRQ or ERR to set) at most [`timeout_ms`](super::super::timeout_ms); `None` on time-out.
    pub fn wait(&self, expect: Expect) -> Option<Ended> {
        let timeout = super::super::timeout_ms();
        if let Some(signal) = self.signal {
            let deadline = time::ticks() + ms_to_ticks(timeout);
            loop {
                let seen = signal.seen.swap(0, Ordering::AcqRel);
                if seen & FRESH != 0 {
                    return Some(Ended {
                        status: seen as u8,
                        bus_master: (seen >> 8) as u8,
                    });
                }
                let now = time::ticks();
                if now >= deadline {
                    return None;
                }
                signal.done.wait((deadline - now) * 1000 / time::HZ);
            }
        }
        self.settle();
        let ready = |s: u8| {
            s & BSY == 0
                && match expect {
                    Expect::Data => s & (DRQ | ERR | DF) != 0,
                    Expect::Done => s & DRQ == 0 || s & (ERR | DF) != 0,
                }
        };
        self.poll(timeout, ready).ok()?;
        let bus_master = match self.ports.bus_master {
            Some(port) => {
                let status = inb(port + BM_STATUS);
                outb(port + BM_STATUS, status);
                status
            }
            None => 0,
        };
        Some(Ended {
            status: self.read(STATUS),
            bus_master,
        })
    }

    /// The device's error as `IoError::Device` numbers it: error register << 8 | status.
    pub fn error(&self, status: u8) -> u32 {
        u32::from(self.read(ERROR)) << 8 | u32::from(status)
    }

    /// Points the bus master at `len` bytes of memory at `phys`, in the direction of a read
    /// from the disk (`to_memory`) or a write; `false` when the channel has no bus master or the
    /// memory is out of its reach (odd, or above 4 GiB), for PIO to move the request instead.
    pub fn load_dma(&mut self, phys: u64, len: u64, to_memory: bool) -> bool {
        let (Some(port), Some(table)) = (self.ports.bus_master, self.prd.as_ref()) else {
            return false;
        };
        let mut entries = [0u64; PRD_ENTRIES];
        let Ok(used) = prd::fill(phys, len, &mut entries) else {
            return false;
        };
        for (i, entry) in entries[..used].iter().enumerate() {
            // SAFETY: the table is this channel's own page; the bus master is stopped, so it
            // does not read the table while it changes.
            unsafe { table.ptr::<u64>(i * 8).write_volatile(*entry) };
        }
        // The table must be in memory before the controller is pointed at it.
        core::sync::atomic::fence(Ordering::SeqCst);
        let direction = if to_memory { BM_TO_MEMORY } else { 0 };
        outb(port + BM_COMMAND, direction);
        outb(
            port + BM_STATUS,
            inb(port + BM_STATUS) | BM_ERROR | BM_INTERRUPT,
        );
        // SAFETY: the channel's PRD table address register; the table lies below 4 GiB (`new`).
        unsafe { Port::<u32>::new(port + BM_PRD).write(table.phys() as u32) };
        true
    }

    /// Starts the transfer `load_dma` prepared (after the command is issued).
    pub fn start_dma(&self) {
        if let Some(port) = self.ports.bus_master {
            outb(port + BM_COMMAND, inb(port + BM_COMMAND) | BM_START);
        }
    }

    /// Stops the bus master (after the transfer ended, or to give it up).
    pub fn stop_dma(&self) {
        if let Some(port) = self.ports.bus_master {
            outb(port + BM_COMMAND, inb(port + BM_COMMAND) & !BM_START);
        }
        // Whatever the device wrote is read only after this.
        core::sync::atomic::fence(Ordering::SeqCst);
    }

    /// Whether the bus master reported an error for the transfer that `ended`.
    pub fn dma_failed(ended: &Ended) -> bool {
        ended.bus_master & BM_ERROR != 0
    }

    /// Resets both devices (SRST) and waits for them; `false` if they stay busy. Interrupts are
    /// left on for an interrupt-driven channel.
    pub fn reset(&mut self) -> bool {
        self.stop_dma();
        outb(self.ports.control, SRST | NIEN);
        // SRST must be held at least 5 us, and BSY may take 2 ms to show after it is released.
        delay_ms(1);
        outb(self.ports.control, NIEN);
        delay_ms(2);
        let settled = self.poll(super::super::timeout_ms(), |s| s & BSY == 0);
        self.set_interrupts(self.signal.is_some());
        if let Err(status) = settled {
            warn!(
                "ide {}: still busy (status {status:#04x}) after a reset",
                self.name
            );
            return false;
        }
        true
    }

    /// Resets the channel after a command that never ended; marks it broken if that fails.
    pub fn recover(&mut self) {
        if !self.reset() {
            warn!("ide {}: given up", self.name);
            self.broken = true;
        }
    }
}

/// Timer ticks for `ms` milliseconds, plus one: the current tick may be about to end.
fn ms_to_ticks(ms: u64) -> u64 {
    (ms * time::HZ).div_ceil(1000) + 1
}

/// Gives the CPU away for about a millisecond: other threads run, or, during boot, the CPU
/// halts until the next interrupt.
fn pause() {
    if sched::current_is_idle() {
        cpu::wait_for_interrupt();
    } else {
        time::sleep_ms(1);
    }
}

/// Waits at least `ms` milliseconds.
fn delay_ms(ms: u64) {
    let end = time::ticks() + ms_to_ticks(ms);
    while time::ticks() < end {
        pause();
    }
}
