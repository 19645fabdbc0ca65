//! QEMU's isa-debug-exit device: lets a test kernel end the emulator with a status.
//!
//! QEMU exits with `(code << 1) | 1`, so [`ExitCode::Success`] (0x10) becomes 33 and
//! [`ExitCode::Failure`] (0x11) becomes 35. On a machine without the device the write does
//! nothing and the caller halts instead.

use x86_64::instructions::port::Port;

const DEBUG_EXIT_PORT: u16 = 0xf4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    Success = 0x10,
    Failure = 0x11,
}

/// Asks QEMU to exit. Returns only if no isa-debug-exit device is present.
pub fn exit(code: ExitCode) {
    let mut port = Port::<u32>::new(DEBUG_EXIT_PORT);
    // SAFETY: port 0xf4 is unused on PCs; on QEMU with isa-debug-exit it ends the emulator,
    // elsewhere the write is ignored. No memory is affected.
    unsafe { port.write(code as u32) };
}
