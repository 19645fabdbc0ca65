//! The ACPI power-management timer: a free-running 3.579545 MHz counter in I/O space, set up by
//! nothing in Lux9. It is the reference clock the tests hold the local APIC tick, the TSC and
//! sleeps to, since those are calibrated against the PIT at boot and cannot check themselves.

use x86_64::instructions::port::Port;

use super::sync::IrqMutex;

/// Counts per second, fixed by the ACPI specification.
pub const FREQUENCY_HZ: u64 = 3_579_545;

/// The timer's port and counter width (24 or 32 bits), from the FADT.
static TIMER: spin::Once<(u16, u32)> = spin::Once::new();

/// The 64-bit count: the last raw reading and the counts accumulated up to it.
static EXTENDED: IrqMutex<(u32, u64)> = IrqMutex::new((0, 0));

/// Records the timer found in the FADT.
pub fn init(port: u16, bits32: bool) {
    TIMER.call_once(|| (port, if bits32 { 32 } else { 24 }));
    let raw = read_raw(port, if bits32 { 32 } else { 24 });
    *EXTENDED.lock() = (raw, 0);
}

fn read_raw(port: u16, bits: u32) -> u32 {
    // SAFETY: the port is the FADT's PM timer block; reading it has no side effects.
    let value = unsafe { Port::<u32>::new(port).read() };
    if bits == 32 {
        value
    } else {
        value & 0x00ff_ffff
    }
}

/// Counts since [`init`], extended past the counter's wrap (every 4.7 s at 24 bits). Exact as
/// long as it is called at least once per wrap; the timer tick calls it once a second.
pub fn counts() -> Option<u64> {
    let &(port, bits) = TIMER.get()?;
    let mask = if bits == 32 {
        u64::from(u32::MAX)
    } else {
        0x00ff_ffff
    };
    let mut state = EXTENDED.lock();
    let raw = read_raw(port, bits);
    let delta = (u64::from(raw).wrapping_sub(u64::from(state.0))) & mask;
    *state = (raw, state.1 + delta);
    Some(state.1)
}

/// Microseconds since [`init`] by the PM timer, or `None` without one.
pub fn micros() -> Option<u64> {
    counts().map(|c| (u128::from(c) * 1_000_000 / u128::from(FREQUENCY_HZ)) as u64)
}
