//! The 8042 PS/2 controller's keyboard port: data at 0x60, status at 0x64.

use x86_64::instructions::port::Port;

const DATA: u16 = 0x60;
const STATUS: u16 = 0x64;
/// Status bit: the output buffer holds a byte for the CPU.
const OUTPUT_FULL: u8 = 1 << 0;
/// Status bit: that byte came from the second (mouse) port.
const FROM_MOUSE: u8 = 1 << 5;

fn status() -> u8 {
    // SAFETY: reading the 8042 status port has no side effects.
    unsafe { Port::<u8>::new(STATUS).read() }
}

/// Whether an 8042 seems present (a missing controller reads as all ones).
pub fn present() -> bool {
    status() != 0xff
}

/// The next keyboard byte, if one is waiting. Mouse bytes are read and dropped.
pub fn read_keyboard_byte() -> Option<u8> {
    let status = status();
    if status & OUTPUT_FULL == 0 || status == 0xff {
        return None;
    }
    // SAFETY: reading the data port takes the byte the status port announced; only this
    // module touches the 8042.
    let byte = unsafe { Port::<u8>::new(DATA).read() };
    (status & FROM_MOUSE == 0).then_some(byte)
}

/// Writes the 8042's command port; used for the reset line (command 0xfe pulses it).
pub fn command(byte: u8) {
    // Wait (briefly) for the input buffer to empty.
    for _ in 0..100_000 {
        if status() & 0x02 == 0 {
            break;
        }
        core::hint::spin_loop();
    }
    // SAFETY: writing the 8042 command port; callers pass documented commands only.
    unsafe { Port::<u8>::new(STATUS).write(byte) }
}
