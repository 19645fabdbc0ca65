//! The initial program archive embedded in the kernel image by `cargo xtask`.

use lux9_abi::archive::{Archive, ArchiveError};

/// The archive's bytes. `kernel/build.rs` points `LUX9_INITRD_FILE` at the archive `cargo xtask`
/// built, or at an empty archive when the kernel is built without it.
static ARCHIVE: &[u8] = include_bytes!(env!("LUX9_INITRD_FILE"));

/// The parsed archive.
pub fn archive() -> Result<Archive<'static>, ArchiveError> {
    Archive::parse(ARCHIVE)
}

/// The ELF image of program `name`.
pub fn program(name: &str) -> Option<&'static [u8]> {
    archive().ok()?.get(name)
}
