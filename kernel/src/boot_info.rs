//! What the boot loader told us, parsed once from the multiboot2 information.

use lux9_kernel_core::memory_plan::MapArea;
use lux9_kernel_core::phys_range::PhysRange;
use multiboot2::{BootInformation, FramebufferType, MemoryAreaType};

use crate::arch;
use crate::arch::acpi::RootTable;
use crate::arch::framebuffer::FramebufferInfo;

/// A GRUB module: a file loaded next to the kernel.
#[derive(Clone, Copy, Debug)]
pub struct Module<'a> {
    pub range: PhysRange,
    /// The words after the module path in `grub.cfg`, usually its name.
    pub cmdline: &'a str,
}

/// The screen the boot loader left us.
#[derive(Clone, Copy, Debug)]
pub enum Screen {
    /// VGA text mode (BIOS).
    Text {
        phys: u64,
        width: usize,
        height: usize,
        pitch: usize,
    },
    /// A linear RGB framebuffer (UEFI GOP or VBE).
    Pixels(FramebufferInfo),
    /// Nothing usable (indexed colour, or no framebuffer tag).
    None,
}

static BOOT_INFO: spin::Once<BootInfo> = spin::Once::new();

pub struct BootInfo {
    info: BootInformation<'static>,
}

impl BootInfo {
    /// Parses the boot information at `phys`. `magic` is what the boot loader put in EAX.
    ///
    /// The result is kept in a static: the boot information is reserved from the allocator and
    /// mapped forever, so everything read from it lives as long as the kernel.
    pub fn load(magic: u64, phys: u64) -> &'static Self {
        BOOT_INFO.call_once(|| Self::parse(magic, phys))
    }

    /// The boot information loaded by [`BootInfo::load`].
    pub fn get() -> &'static Self {
        BOOT_INFO.get().expect("BootInfo::load ran at boot")
    }

    fn parse(magic: u64, phys: u64) -> Self {
        if magic != arch::multiboot::MAGIC {
            panic!(
                "not started by a multiboot2 boot loader: magic {magic:#x}, expected {:#x}; boot the ISO with GRUB",
                arch::multiboot::MAGIC
            );
        }
        match arch::multiboot::load(phys) {
            Ok(info) => Self { info },
            Err(error) => {
                panic!("the multiboot2 boot information at {phys:#x} is invalid: {error:?}")
            }
        }
    }

    /// The physical range the boot information occupies.
    pub fn info_range(&self) -> PhysRange {
        let start = (self.info.start_address() as u64).wrapping_sub(arch::DIRECT_MAP_BASE);
        PhysRange::from_len(start, self.info.total_size() as u64)
    }

    pub fn cmdline(&'static self) -> &'static str {
        match self.info.command_line_tag().map(|tag| tag.cmdline()) {
            Some(Ok(text)) => text,
            _ => "",
        }
    }

    pub fn loader_name(&'static self) -> &'static str {
        match self.info.boot_loader_name_tag().map(|tag| tag.name()) {
            Some(Ok(name)) => name,
            _ => "unknown boot loader",
        }
    }

    /// The memory map. Panics if the boot loader gave none: without it no memory is known.
    pub fn memory_areas(&self) -> impl Iterator<Item = MapArea> + Clone + '_ {
        let tag = self
            .info
            .memory_map_tag()
            .expect("the boot loader gave no memory map; Lux9 cannot find its RAM");
        tag.memory_areas().iter().map(|area| MapArea {
            range: PhysRange::new(area.start_address(), area.end_address()),
            usable: area.typ() == MemoryAreaType::Available,
        })
    }

    pub fn modules(&'static self) -> impl Iterator<Item = Module<'static>> {
        self.info.module_tags().map(|tag| Module {
            range: PhysRange::new(u64::from(tag.start_address()), u64::from(tag.end_address())),
            cmdline: tag.cmdline().unwrap_or(""),
        })
    }

    pub fn screen(&self) -> Screen {
        let Some(Ok(tag)) = self.info.framebuffer_tag() else {
            return Screen::None;
        };
        match tag.buffer_type() {
            Ok(FramebufferType::Text) => Screen::Text {
                phys: tag.address(),
                width: tag.width() as usize,
                height: tag.height() as usize,
                pitch: tag.pitch() as usize,
            },
            Ok(FramebufferType::RGB { red, green, blue }) => Screen::Pixels(FramebufferInfo {
                phys: tag.address(),
                width: tag.width() as usize,
                height: tag.height() as usize,
                pitch: tag.pitch() as usize,
                bytes_per_pixel: usize::from(tag.bpp()).div_ceil(8),
                red: (red.position, red.size),
                green: (green.position, green.size),
                blue: (blue.position, blue.size),
            }),
            _ => Screen::None,
        }
    }

    /// Where the ACPI root table is, from the RSDP copy GRUB includes.
    pub fn acpi_root(&self) -> Option<RootTable> {
        if let Some(rsdp) = self.info.rsdp_v2_tag()
            && rsdp.checksum_is_valid()
            && rsdp.xsdt_address() != 0
        {
            return Some(RootTable::Xsdt(rsdp.xsdt_address() as u64));
        }
        self.info
            .rsdp_v1_tag()
            .filter(|rsdp| rsdp.checksum_is_valid())
            .map(|rsdp| RootTable::Rsdt(rsdp.rsdt_address() as u64))
    }
}
