//! The 8254 PIT, used once at boot as a known clock to calibrate the TSC and local APIC timer,
//! and programmable as a periodic source for tests of I/O APIC routing.

use x86_64::instructions::port::Port;

/// The PIT's input clock in Hz.
pub const FREQUENCY_HZ: u64 = 1_193_182;

const CHANNEL0: u16 = 0x40;
const CHANNEL2: u16 = 0x42;
const COMMAND: u16 = 0x43;
const SPEAKER_CONTROL: u16 = 0x61;

fn outb(port: u16, value: u8) {
    // SAFETY: only the PIT and speaker-control ports are passed here; writing them has no
    // memory effects.
    unsafe { Port::<u8>::new(port).write(value) }
}

fn inb(port: u16) -> u8 {
    // SAFETY: as above; reading them has no side effects beyond the PIT's own state.
    unsafe { Port::<u8>::new(port).read() }
}

/// Runs `start`, busy-waits `ms` milliseconds on PIT channel 2 (at most 50), then runs `end`.
/// This is the method Linux uses: channel 2 in mode 0 raises its output when the count expires,
/// and the output is readable in port 0x61 without interrupts.
pub fn time_window<S, E>(ms: u64, start: impl FnOnce() -> S, end: impl FnOnce() -> E) -> (S, E) {
    assert!((1..=50).contains(&ms), "the PIT window is 1..=50 ms");
    let latch = (FREQUENCY_HZ * ms / 1000) as u16;
    // Gate high, speaker off.
    outb(SPEAKER_CONTROL, (inb(SPEAKER_CONTROL) & !0x02) | 0x01);
    outb(COMMAND, 0b1011_0000); // channel 2, lobyte/hibyte, mode 0, binary
    outb(CHANNEL2, latch as u8);
    outb(CHANNEL2, (latch >> 8) as u8);
    let started = start();
    while inb(SPEAKER_CONTROL) & 0x20 == 0 {
        core::hint::spin_loop();
    }
    let ended = end();
    (started, ended)
}

/// Programs channel 0 as a periodic rate generator at about `hz` (IRQ 0).
pub fn start_periodic(hz: u64) {
    let divisor = (FREQUENCY_HZ / hz.max(19)).min(0xffff) as u16;
    outb(COMMAND, 0b0011_0100); // channel 0, lobyte/hibyte, mode 2, binary
    outb(CHANNEL0, divisor as u8);
    outb(CHANNEL0, (divisor >> 8) as u8);
}

/// Stops channel 0 by switching it to one-shot mode with no count loaded.
pub fn stop() {
    outb(COMMAND, 0b0011_0000); // channel 0, mode 0; waits for a count that never comes
}
