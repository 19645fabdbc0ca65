//! AHCI SATA controllers (PCI class 01/06/01; QEMU's ICH9, on q35 built in): the controller's
//! registers, its hand-over from the BIOS and its one MSI vector, and a disk for every port
//! whose device is an ATA disk ([`port`]). Registers and memory layouts come from
//! `lux9_kernel_core::ahci` (AHCI 1.3.1), the ATA commands from `lux9_kernel_core::ata`.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use log::{info, warn};
use lux9_kernel_core::ahci as hba;
use lux9_kernel_core::pci::Function;

use crate::completion::Completion;
use crate::{pci_bus, sched, time};

mod port;

const CLASS_STORAGE: u8 = 0x01;
const SUBCLASS_SATA: u8 = 0x06;
const INTERFACE_AHCI: u8 = 0x01;
/// The BAR holding the controller's registers (ABAR).
const ABAR: u8 = 5;
/// How long the BIOS has to answer the OS's ownership request, and how long it may then stay
/// busy (AHCI 1.3.1 section 10.6.3).
const HANDOFF_MS: u64 = 25;
const BIOS_BUSY_MS: u64 = 2_000;

/// Whether `function` is an AHCI controller.
pub fn matches(function: &Function) -> bool {
    (function.class, function.subclass, function.interface)
        == (CLASS_STORAGE, SUBCLASS_SATA, INTERFACE_AHCI)
}

/// The controller's registers, mapped uncached: every access is a volatile 32-bit access at
/// an offset checked against the BAR's size.
#[derive(Clone, Copy)]
struct Abar {
    virt: u64,
    len: usize,
}

impl Abar {
    fn read(&self, offset: usize) -> u32 {
        assert!(
            offset + 4 <= self.len,
            "ahci: register {offset:#x} past ABAR"
        );
        // SAFETY: `virt..virt + len` maps the controller's ABAR (`mmio::map`), and the offset is
        // inside it and 4-aligned (every register offset is); reading a register has no effect
        // on memory.
        unsafe { core::ptr::read_volatile((self.virt as usize + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        assert!(
            offset + 4 <= self.len,
            "ahci: register {offset:#x} past ABAR"
        );
        // SAFETY: as for `read`. What the controller does then with memory is governed by the
        // DMA structures the driver set up, which stay valid while it may use them.
        unsafe { core::ptr::write_volatile((self.virt as usize + offset) as *mut u32, value) }
    }

    /// Whether port `port`'s registers lie inside the BAR.
    fn holds_port(&self, port: usize) -> bool {
        port < 32 && hba::port_base(port) + hba::PORT_REGISTERS <= self.len
    }
}

/// What the interrupt handler hands one port's waiting thread: the port's interrupt status
/// bits it cleared, and a wake-up.
struct Events {
    done: Completion,
    status: AtomicU32,
}

/// One controller, shared by its interrupt handler and its ports' disks.
struct Hba {
    abar: Abar,
    cap: u32,
    events: [Events; 32],
    /// No MSI: the waiting threads read the ports' status themselves, every millisecond.
    polled: AtomicBool,
}

impl Hba {
    /// The MSI handler (interrupts disabled; it must not allocate or block): clears each
    /// port's status, then the controller's, and wakes the ports' waiters. A port that raises
    /// its status again meanwhile sets IS again and is taken in the next round.
    fn interrupt(&self) {
        for _ in 0..4 {
            let pending = self.abar.read(hba::IS);
            if pending == 0 {
                return;
            }
            for port in (0..32).filter(|p| pending & 1 << p != 0) {
                if !self.abar.holds_port(port) {
                    continue;
                }
                let base = hba::port_base(port);
                let status = self.abar.read(base + hba::PX_IS);
                self.abar.write(base + hba::PX_IS, status);
                self.events[port].status.fetch_or(status, Ordering::AcqRel);
                self.events[port].done.signal();
            }
            self.abar.write(hba::IS, pending);
        }
    }

    fn polled(&self) -> bool {
        self.polled.load(Ordering::Relaxed)
    }
}

/// Waits a moment: halts until the next interrupt during boot (no other thread to run), else
/// sleeps a millisecond.
fn pause() {
    if sched::current_is_idle() {
        crate::arch::cpu::wait_for_interrupt();
    } else {
        time::sleep_ms(1);
    }
}

/// Timer ticks in `ms` milliseconds, plus one for the tick under way.
fn ticks(ms: u64) -> u64 {
    (ms * time::HZ).div_ceil(1000) + 1
}

/// Waits until `ready` holds, at most `ms` milliseconds; whether it does.
fn poll(ms: u64, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = time::ticks() + ticks(ms);
    loop {
        if ready() {
            return true;
        }
        if time::ticks() >= deadline {
            return ready();
        }
        pause();
    }
}

/// Starts the controller at `function` and registers its disks.
pub fn probe(function: &Function) {
    let a = function.address;
    let name = format!("ahci {:02x}:{:02x}.{}", a.bus(), a.device(), a.function());
    if let Err(why) = start(function, &name) {
        warn!("{name}: not used: {why}");
    }
}

/// Asks the BIOS to give the controller up (BIOS/OS handoff): sets the OS-owned semaphore and
/// waits for the BIOS to clear its own, and for it to finish if it says it is busy.
fn bios_handoff(abar: Abar, name: &str) {
    abar.write(hba::BOHC, abar.read(hba::BOHC) | hba::BOHC_OOS);
    let bohc = || abar.read(hba::BOHC);
    poll(HANDOFF_MS, || {
        bohc() & hba::BOHC_BOS == 0 || bohc() & hba::BOHC_BB != 0
    });
    if bohc() & (hba::BOHC_BOS | hba::BOHC_BB) != 0 {
        poll(BIOS_BUSY_MS, || {
            bohc() & (hba::BOHC_BOS | hba::BOHC_BB) == 0
        });
    }
    if bohc() & hba::BOHC_BOS != 0 {
        warn!("{name}: the BIOS did not release the controller; taking it anyway");
    }
}

fn version(vs: u32) -> String {
    let (major, minor, patch) = (vs >> 16, (vs >> 8) & 0xff, vs & 0xff);
    if patch == 0 {
        format!("{major:x}.{minor:x}")
    } else {
        format!("{major:x}.{minor:x}.{patch:x}")
    }
}

fn start(function: &Function, name: &str) -> Result<(), String> {
    let mut header = super::endpoint(function).ok_or("not an endpoint")?;
    let (base, size) =
        super::memory_bar(&header, ABAR).ok_or("BAR5 (ABAR) is not assigned memory")?;
    // Interrupts come by MSI or not at all (the ports are then polled): INTx stays off.
    super::enable(&mut header, true);
    let virt = crate::arch::mmio::map(base, size)
        .map_err(|e| format!("cannot map ABAR {base:#x}: {e:?}"))?;
    let abar = Abar {
        virt,
        len: size as usize,
    };
    abar.write(hba::GHC, abar.read(hba::GHC) | hba::GHC_AE);
    if abar.read(hba::CAP2) & hba::CAP2_BOH != 0 {
        bios_handoff(abar, name);
    }
    // No interrupts until the vector is set.
    abar.write(hba::GHC, (abar.read(hba::GHC) | hba::GHC_AE) & !hba::GHC_IE);
    let cap = abar.read(hba::CAP);
    let controller: &'static Hba = Box::leak(Box::new(Hba {
        abar,
        cap,
        events: [const {
            Events {
                done: Completion::new(),
                status: AtomicU32::new(0),
            }
        }; 32],
        polled: AtomicBool::new(true),
    }));
    let vector = crate::arch::msi::alloc_vector(move || controller.interrupt())
        .filter(|&vector| super::enable_msi(&header, vector));
    let interrupts = match vector {
        Some(vector) => {
            controller.polled.store(false, Ordering::Relaxed);
            abar.write(hba::IS, abar.read(hba::IS));
            abar.write(hba::GHC, abar.read(hba::GHC) | hba::GHC_IE);
            format!("MSI vector {vector:#x}")
        }
        None => {
            warn!("{name}: no MSI; its ports are polled every millisecond instead");
            String::from("polled")
        }
    };
    pci_bus::bind(function.address, "ahci");
    let implemented = abar.read(hba::PI);
    info!(
        "{name}: AHCI {}, ports {implemented:#x}, {} command slots, {}-bit DMA, {interrupts}",
        version(abar.read(hba::VS)),
        hba::command_slots(cap),
        if cap & hba::CAP_S64A != 0 { 64 } else { 32 }
    );
    for number in (0..32).filter(|p| implemented & 1 << p != 0) {
        let port_name = format!("{name} port {number}");
        if !abar.holds_port(number) {
            warn!("{port_name}: not used: its registers lie past ABAR's end");
            continue;
        }
        match port::start(controller, number, &port_name) {
            Ok(Some(disk)) => disk.register(),
            Ok(None) => {}
            Err(why) => warn!("{port_name}: not used: {why}"),
        }
    }
    Ok(())
}
