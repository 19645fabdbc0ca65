//! Console output through the `debug_write` system call.

use core::fmt::{self, Write};

use crate::sys;

/// Formats into a fixed buffer and writes it with as few system calls as possible.
struct Console {
    buffer: [u8; 256],
    len: usize,
}

impl Console {
    fn flush(&mut self) {
        let mut rest = &self.buffer[..self.len];
        while !rest.is_empty() {
            match sys::debug_write(rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest = &rest[n.min(rest.len())..],
            }
        }
        self.len = 0;
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            if self.len == self.buffer.len() {
                self.flush();
            }
            self.buffer[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

/// Writes formatted text to the console.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let mut console = Console {
        buffer: [0; 256],
        len: 0,
    };
    let _ = console.write_fmt(args);
    console.flush();
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::io::write_fmt(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::io::write_fmt(format_args!("{}\n", format_args!($($arg)*))));
}

/// Standard error and standard output are the same console for now.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => ($crate::println!($($arg)*));
}
