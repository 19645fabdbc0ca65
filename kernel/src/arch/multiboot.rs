//! Reading the multiboot2 boot information that GRUB leaves in memory.

use multiboot2::{BootInformation, BootInformationHeader};

use super::phys_to_virt;

/// The magic value GRUB puts in EAX for a multiboot2 kernel.
pub const MAGIC: u64 = 0x36d7_6289;

/// Parses the boot information at physical address `phys`.
///
/// The structure stays valid for the kernel's lifetime: `memory::init` reserves its frames
/// before any frame is allocated, and the direct map keeps it reachable.
pub fn load(phys: u64) -> Result<BootInformation<'static>, multiboot2::LoadError> {
    let ptr = phys_to_virt(phys) as *const BootInformationHeader;
    // SAFETY: GRUB passed `phys` in EBX together with the multiboot2 magic (checked by the
    // caller), the direct map covers it, and its frames are never handed out (see above).
    unsafe { BootInformation::load(ptr) }
}
