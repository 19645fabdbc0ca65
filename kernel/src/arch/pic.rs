//! The legacy 8259 PICs: remapped away from the exception vectors, then fully masked.
//!
//! Lux9 routes device interrupts through the I/O APIC. The PICs are still initialised so that a
//! spurious IRQ 7 or 15 they may raise lands on a known vector ([`SPURIOUS_PRIMARY`],
//! [`SPURIOUS_SECONDARY`]) instead of looking like a CPU exception.

use pic8259::ChainedPics;

/// Vector base of the primary PIC; the secondary follows at +8.
pub const PIC_BASE: u8 = 0xe0;
pub const SPURIOUS_PRIMARY: u8 = PIC_BASE + 7;
pub const SPURIOUS_SECONDARY: u8 = PIC_BASE + 15;

/// Remaps both PICs to `PIC_BASE..PIC_BASE + 16` and masks every line.
pub fn init_and_mask() {
    // SAFETY: ports 0x20/0x21/0xa0/0xa1 are the PICs on every PC; this runs once at boot with
    // interrupts disabled, and the chosen vectors are reserved for them.
    unsafe {
        let mut pics = ChainedPics::new(PIC_BASE, PIC_BASE + 8);
        pics.initialize();
        pics.disable();
    }
}
