//! The console: COM1 serial (primary) and the screen, both carrying the same text.
//!
//! `print!`/`println!` write to both, and to the kernel log ring (`kmsg`). The screen is VGA text
//! under BIOS and a framebuffer text console under UEFI; it starts once the heap exists (the
//! framebuffer console keeps a shadow buffer) and then replays the log, so the screen shows the
//! whole boot.

mod framebuffer;
pub mod input;
pub mod logger;
mod text;

use core::fmt::{self, Write};

use alloc::vec::Vec;

use lux9_kernel_core::log_ring::LogRing;

use crate::arch::serial::{COM1, SerialPort};
use crate::arch::sync::{IrqMutex, force_unlock};
use crate::boot_info;

enum Screen {
    None,
    Text(text::TextConsole),
    Pixels(framebuffer::FramebufferConsole),
}

impl Screen {
    fn write_str(&mut self, s: &str) {
        match self {
            Screen::None => {}
            Screen::Text(console) => console.write_str(s),
            Screen::Pixels(console) => console.write_str(s),
        }
    }
}

static SCREEN: IrqMutex<Screen> = IrqMutex::new(Screen::None);

/// Size of the kernel log ring.
pub const KMSG_SIZE: usize = lux9_abi::sysinfo::KMSG_CAPACITY;

/// Everything printed on the console, newest `KMSG_SIZE` bytes.
static KMSG: IrqMutex<LogRing<KMSG_SIZE>> = IrqMutex::new(LogRing::new());

/// Starts the screen console on what the boot loader reported. Returns whether a screen console
/// is running.
pub fn init_screen(screen: boot_info::Screen) -> bool {
    let console = match screen {
        boot_info::Screen::Text {
            phys,
            width,
            height,
            pitch,
        } => text::TextConsole::new(phys, width, height, pitch).map(Screen::Text),
        boot_info::Screen::Pixels(info) => {
            framebuffer::FramebufferConsole::new(info).map(Screen::Pixels)
        }
        boot_info::Screen::None => None,
    };
    let Some(mut console) = console else {
        return false;
    };
    let history: Vec<u8> = {
        let kmsg = KMSG.lock();
        let (older, newer) = kmsg.as_slices();
        [older, newer].concat()
    };
    console.write_str(&alloc::string::String::from_utf8_lossy(&history));
    *SCREEN.lock() = console;
    true
}

/// Copies kernel-log bytes from `offset` (a running count of bytes logged since boot) into
/// `buf`. Bytes the ring no longer holds are skipped: a read from an old offset starts at the
/// oldest byte kept. Returns (bytes copied, total logged so far).
pub fn kmsg_read(offset: u64, buf: &mut [u8]) -> (usize, u64) {
    let kmsg = KMSG.lock();
    let total = kmsg.total_written();
    let (older, newer) = kmsg.as_slices();
    let kept = (older.len() + newer.len()) as u64;
    let oldest = total - kept;
    let mut skip = offset.max(oldest).saturating_sub(oldest) as usize;
    let mut copied = 0;
    for part in [older, newer] {
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        let take = (part.len() - skip).min(buf.len() - copied);
        buf[copied..copied + take].copy_from_slice(&part[skip..skip + take]);
        copied += take;
        skip = 0;
    }
    (copied, total)
}

/// Every byte the kernel log ring holds, oldest first, and the running position of the first
/// (bytes logged since boot before it): what `/dev/kmsg` snapshots at each open.
pub fn kmsg_kept() -> (Vec<u8>, u64) {
    // Allocated before taking the lock: nothing that might print runs under it.
    let mut bytes = Vec::with_capacity(KMSG_SIZE);
    let kmsg = KMSG.lock();
    let (older, newer) = kmsg.as_slices();
    bytes.extend_from_slice(older);
    bytes.extend_from_slice(newer);
    let first = kmsg.total_written() - bytes.len() as u64;
    (bytes, first)
}

/// Writes raw bytes (from programs) to the console, like `print!`.
pub fn write_bytes(bytes: &[u8]) {
    write_fmt(format_args!(
        "{}",
        alloc::string::String::from_utf8_lossy(bytes)
    ));
}

struct Outputs<'a> {
    serial: &'a mut SerialPort,
    screen: &'a mut Screen,
    kmsg: &'a mut LogRing<KMSG_SIZE>,
}

impl Write for Outputs<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.serial.write_bytes(s.as_bytes());
        self.screen.write_str(s);
        self.kmsg.write(s.as_bytes());
        Ok(())
    }
}

/// Writes formatted text to serial, screen and the log ring. Used by `print!` and the logger.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let mut serial = COM1.lock();
    let mut screen = SCREEN.lock();
    let mut kmsg = KMSG.lock();
    let mut outputs = Outputs {
        serial: &mut serial,
        screen: &mut screen,
        kmsg: &mut kmsg,
    };
    let _ = outputs.write_fmt(args);
}

/// Writes on the panic path: takes the console even if the panicking code held it.
pub fn emergency_write_fmt(args: fmt::Arguments<'_>) {
    force_unlock(&COM1);
    force_unlock(&SCREEN);
    force_unlock(&KMSG);
    write_fmt(args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::write_fmt(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))));
}
