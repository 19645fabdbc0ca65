//! COM1, the primary console: a 16550 UART at I/O port 0x3f8, 115200 8N1.

use uart_16550::backend::PioBackend;
use uart_16550::{Config, Uart16550};

use super::sync::IrqMutex;

const COM1_PORT: u16 = 0x3f8;

pub struct SerialPort {
    uart: Option<Uart16550<PioBackend>>,
}

impl SerialPort {
    const fn new() -> Self {
        Self { uart: None }
    }

    /// Writes bytes, turning `\n` into `\r\n` for terminals. Without a UART this does nothing.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        let Some(uart) = self.uart.as_mut() else {
            return;
        };
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            match chunk.split_last() {
                Some((b'\n', body)) => {
                    uart.send_bytes_exact(body);
                    uart.send_bytes_exact(b"\r\n");
                }
                _ => uart.send_bytes_exact(chunk),
            }
        }
    }
}

impl SerialPort {
    /// Takes the bytes the UART has received (up to `buf.len()`); returns how many.
    pub fn receive(&mut self, buf: &mut [u8]) -> usize {
        let Some(uart) = self.uart.as_mut() else {
            return 0;
        };
        let mut count = 0;
        while count < buf.len() {
            match uart.try_receive_byte() {
                Ok(byte) => {
                    buf[count] = byte;
                    count += 1;
                }
                Err(_) => break,
            }
        }
        count
    }

    /// Raises IRQ 4 when a byte arrives. Returns false without a UART.
    pub fn enable_receive_interrupt(&mut self) -> bool {
        match self.uart.as_mut() {
            Some(uart) => {
                uart.enable_interrupts(uart_16550::spec::registers::IER::DATA_READY);
                true
            }
            None => false,
        }
    }
}

impl core::fmt::Write for SerialPort {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

pub static COM1: IrqMutex<SerialPort> = IrqMutex::new(SerialPort::new());

/// Initialises COM1. Returns false when no UART answers (the console then has only the screen).
pub fn init() -> bool {
    // SAFETY: 0x3f8..0x3ff are COM1's registers on every PC; only this module touches them.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1_PORT) }) else {
        return false;
    };
    let config = Config {
        baud_rate: uart_16550::BaudRate::Baud115200,
        ..Config::DEFAULT
    };
    if uart.init(config).is_err() {
        return false;
    }
    COM1.lock().uart = Some(uart);
    true
}
