//! The Lux9 kernel: boot, memory, interrupts and consoles.
//!
//! GRUB loads this ELF as a multiboot2 kernel; `arch/boot.rs` enters long mode and calls
//! [`kmain`]. On the host (any target but `x86_64-unknown-none`) the crate still compiles, so
//! that `cargo check`, clippy and rust-analyzer see all of it, but the binary only explains how
//! to build the real kernel. The pure logic it builds on (command line, memory plan, frame
//! bitmap, device layouts...) is the host-tested `lux9_kernel_core` crate in `kernel/core/`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        unused_imports,
        reason = "the host build only type-checks the kernel"
    )
)]

extern crate alloc;

#[allow(
    unsafe_code,
    reason = "the unsafe fence: all raw hardware and memory access"
)]
mod arch;
mod blkring;
mod block;
mod boot_info;
mod completion;
mod console;
#[allow(
    unsafe_code,
    reason = "DMA memory: frames the kernel and a device share, reached through the direct map"
)]
mod dma;
#[allow(
    unsafe_code,
    reason = "disk controllers: device registers, DMA descriptors and the virtio crate's Hal"
)]
mod drivers;
mod ipc;
mod irq;
mod ktest;
mod memory;
mod panic;
mod pci_bus;
mod pipe;
mod process;
mod random;
mod sched;
mod services;
#[allow(
    unsafe_code,
    reason = "a lock: its guard hands out the one reference to the value it holds"
)]
mod sleeplock;
mod syscall;
mod time;
mod trap;
mod uaccess;

use log::{info, warn};
use lux9_kernel_core::cmdline::CommandLine;
use lux9_kernel_core::units::Bytes;

use crate::arch::{acpi, address_space, cpu, fpu, gdt, interrupts, lapic, paging, percpu, pic};
use crate::boot_info::BootInfo;
use lux9_kernel_core::units::PAGE_SIZE;

/// The kernel version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "lux9-kernel runs on bare metal, not on {}.\n\
         Build the bootable ISO with `cargo xtask iso`, or boot it in QEMU with `cargo xtask run`.",
        std::env::consts::OS
    );
    std::process::exit(2);
}

/// The Rust entry point, called by the boot stub with the multiboot2 magic and the physical
/// address of the boot information.
pub extern "C" fn kmain(magic: u64, boot_info_phys: u64) -> ! {
    let started_tsc = cpu::rdtsc();
    let serial = arch::serial::init();
    gdt::init();
    interrupts::init();

    let boot = BootInfo::load(magic, boot_info_phys);
    let cmdline = CommandLine::new(boot.cmdline());
    let scenario = cmdline.get("test");
    if scenario.is_some() {
        ktest::set_active();
    }
    let level = cmdline.log_level(log::LevelFilter::Info);
    console::logger::init(*level.as_ref().unwrap_or(&log::LevelFilter::Info));

    println!(
        "lux9 {VERSION} (x86_64) booting, loaded by {}",
        boot.loader_name()
    );
    println!("  command line: {:?}", cmdline.raw());
    if let Err(bad) = level {
        warn!(
            "unknown {}={:?}; using info (levels: off error warn info debug trace)",
            bad.key, bad.value
        );
    }
    if !serial {
        warn!("no UART answered at COM1; output goes to the screen only");
    }

    let memory = memory::init(boot);
    let screen = boot.screen();
    let framebuffer_end = match screen {
        boot_info::Screen::Pixels(fb) => fb.phys + fb.len() as u64,
        _ => 0,
    };
    paging::init(memory.top_of_memory.max(framebuffer_end));
    let screen_started = console::init_screen(screen);
    println!(
        "  memory: {} available, {} free after the kernel, boot data and modules",
        Bytes(memory.available_bytes),
        Bytes(memory.free_bytes)
    );
    let image = arch::kernel_image_phys();
    println!(
        "  kernel image: {:#x}..{:#x} ({})",
        image.start,
        image.end,
        Bytes(image.len())
    );
    for module in boot.modules() {
        println!(
            "  module {:?}: {:#x}..{:#x} ({})",
            module.cmdline,
            module.range.start,
            module.range.end,
            Bytes(module.range.len())
        );
    }
    let config_file = boot
        .modules()
        .find(|module| module.cmdline.rsplit('/').next() == Some("lux9.conf"))
        .map(|module| core::str::from_utf8(arch::module_bytes(module.range)));
    let config_text = match config_file {
        Some(Ok(text)) => Some(text),
        Some(Err(_)) => {
            warn!("lux9.conf is not UTF-8 text; using the defaults and the command line");
            None
        }
        None => None,
    };
    let (config, config_warnings) = lux9_kernel_core::config::load(config_text, &cmdline);
    log::set_max_level(config.log);
    for warning in &config_warnings {
        warn!("config: {}", warning.0);
    }
    info!(
        "config: isolation {} (sysserver {}, ext4srv {}), log {}{}",
        config.isolation.name(),
        config.sysserver.name(),
        config.ext4srv.name(),
        config.log.as_str().to_ascii_lowercase(),
        if config_text.is_some() {
            ", from lux9.conf and the command line"
        } else {
            ", no lux9.conf"
        }
    );

    let features = cpu::features();
    info!(
        "cpu: {}, pcid {}, smep {}, smap {}, x2apic {}, 1 GiB pages {}, invariant tsc {}",
        features.vendor(),
        features.pcid,
        features.smep,
        features.smap,
        features.x2apic,
        features.huge_1gib,
        features.invariant_tsc
    );
    match screen {
        boot_info::Screen::Text { width, height, .. } => info!("screen: VGA text {width}x{height}"),
        boot_info::Screen::Pixels(fb) => info!(
            "screen: framebuffer {}x{}, {} bits per pixel, at {:#x}",
            fb.width,
            fb.height,
            fb.bytes_per_pixel * 8,
            fb.phys
        ),
        boot_info::Screen::None => info!("screen: none reported by the boot loader"),
    }
    if !screen_started && !matches!(screen, boot_info::Screen::None) {
        warn!("the screen the boot loader reported is unusable; console is serial only");
    }

    let controllers = match boot.acpi_root().map(acpi::interrupt_controllers) {
        Some(Ok(controllers)) => controllers,
        other => {
            match other {
                Some(Err(error)) => warn!("{error}; assuming a standard PC interrupt layout"),
                _ => warn!(
                    "no ACPI RSDP from the boot loader; assuming a standard PC interrupt layout"
                ),
            }
            acpi::InterruptControllers {
                local_apic_address: lapic::physical_base(),
                ioapics: alloc::vec![(0, 0xfec0_0000, 0)],
                has_legacy_pics: true,
                cpus: 1,
                ..Default::default()
            }
        }
    };
    if let Some(root) = boot.acpi_root() {
        match acpi::power_control(root) {
            Ok(control) => {
                match control.pm_timer {
                    Some((port, bits32)) => arch::pm_timer::init(port, bits32),
                    None => warn!("ACPI: no PM timer; the tests' reference clock is missing"),
                }
                arch::power::init(control)
            }
            Err(error) => warn!("ACPI: no FADT ({error:?}); poweroff will not work"),
        }
    }
    pci_bus::init(boot.acpi_root().map(acpi::ecam_regions).unwrap_or_default());
    block::init(boot);
    pic::init_and_mask();
    lapic::init(controllers.local_apic_address);
    let pins = irq::init(&controllers);
    info!(
        "interrupts: local APIC {:#x} (id {}), {} I/O APIC(s) with {pins} pins, {} override(s), {} cpu(s), 8259 PICs {}",
        controllers.local_apic_address,
        lapic::id(),
        controllers.ioapics.len(),
        controllers.overrides.len(),
        controllers.cpus,
        if controllers.has_legacy_pics {
            "masked"
        } else {
            "absent"
        }
    );
    let timer = time::init();
    info!(
        "timer: {} Hz local APIC timer ({} counts/ms), TSC {}.{:03} MHz",
        time::HZ,
        timer.timer_per_ms,
        timer.tsc_per_ms / 1000,
        timer.tsc_per_ms % 1000
    );

    // Ring 3: per-CPU data for syscall entry, SSE for user programs, SMEP/SMAP, PCID.
    percpu::init();
    arch::syscall::init();
    fpu::enable();
    let (smep, smap) = cpu::enable_user_protection(&features);
    let pcid = address_space::enable_pcid(features.pcid);
    info!("user mode: syscall/sysret, FXSAVE, SMEP {smep}, SMAP {smap}, PCID {pcid}");
    match process::archive::archive() {
        Ok(archive) if !archive.is_empty() => {
            let names: alloc::vec::Vec<&str> = archive.entries().map(|(name, _)| name).collect();
            info!("programs: {}", names.join(" "));
        }
        Ok(_) => warn!("the kernel was built without user programs; build it with `cargo xtask`"),
        Err(error) => warn!("the initial program archive is damaged: {error:?}"),
    }
    let input = console::input::init();
    info!(
        "console input: serial {}, PS/2 keyboard {}; random bytes from {}",
        if input.serial { "COM1" } else { "none" },
        if input.keyboard { "yes" } else { "none" },
        random::source()
    );
    sched::init();
    let reserved: u64 = memory::reservations().iter().map(|range| range.len()).sum();
    services::init(config, cmdline.raw(), memory.available_bytes, reserved);
    x86_64::instructions::interrupts::enable();
    // Disk drivers wait for their devices' interrupts, so they start once interrupts run.
    drivers::probe();

    let boot_ms = cpu::rdtsc().saturating_sub(started_tsc) / time::tsc_per_ms().max(1);
    println!(
        "lux9: ready in {boot_ms} ms: {} free, {} Hz timer",
        Bytes(memory::frames::free_count() * PAGE_SIZE),
        time::HZ
    );

    match scenario {
        Some(scenario) => ktest::start(scenario),
        None => start_init(cmdline.get("init").unwrap_or("init")),
    }
    sched::idle_loop()
}

/// Starts the first user process.
fn start_init(name: &str) {
    process::on_init_exit(|status| {
        log::warn!("init exited ({status:?}); nothing else runs, the system idles");
    });
    match process::spawn(process::KERNEL_PID, name, "") {
        Ok(pid) => log::debug!("started {name} as pid {pid}"),
        Err(error) => log::error!("cannot start {name}: {error}"),
    }
}
