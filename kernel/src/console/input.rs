//! Console input: bytes from COM1 (IRQ 4) and keys from the PS/2 keyboard (IRQ 1) go through
//! the line discipline (`lux9_kernel_core::line_discipline`) to readers of the console.
//!
//! Cooked input is echoed on the console (serial and screen) as it is typed. Readers block
//! until a line (cooked) or any byte (raw) is ready; a server that must not block reads with
//! `NOTIFY` instead and receives an IPC notification from the kernel when input arrives.

use alloc::vec::Vec;

use lux9_abi::Error;
use lux9_kernel_core::line_discipline::LineDiscipline;
use pc_keyboard::{DecodedKey, HandleControl, KeyCode, Keyboard, ScancodeSet1, layouts};
use x86_64::instructions::interrupts;

use crate::arch::interrupts::TrapFrame;
use crate::arch::serial::COM1;
use crate::arch::sync::IrqMutex;
use crate::arch::{lapic, ps2};
use crate::sched::{self, Tid};

struct Input {
    discipline: LineDiscipline,
    /// Threads blocked in a read.
    readers: Vec<Tid>,
    /// Threads that asked to be notified (non-blocking readers).
    listeners: Vec<Tid>,
}

static INPUT: IrqMutex<Input> = IrqMutex::new(Input {
    discipline: LineDiscipline::new(),
    readers: Vec::new(),
    listeners: Vec::new(),
});

static KEYBOARD: IrqMutex<Option<Keyboard<layouts::Us104Key, ScancodeSet1>>> = IrqMutex::new(None);

/// Which input devices are connected.
#[derive(Clone, Copy, Debug)]
pub struct Sources {
    pub serial: bool,
    pub keyboard: bool,
}

/// Routes the serial and keyboard interrupts. Interrupts must still be disabled.
pub fn init() -> Sources {
    let serial =
        COM1.lock().enable_receive_interrupt() && crate::irq::route_isa(4, on_serial).is_ok();
    let keyboard = ps2::present() && {
        *KEYBOARD.lock() = Some(Keyboard::new(
            ScancodeSet1::new(),
            layouts::Us104Key,
            HandleControl::MapLettersToUnicode,
        ));
        // Drop whatever the firmware left in the output buffer.
        while ps2::read_keyboard_byte().is_some() {}
        crate::irq::route_isa(1, on_keyboard).is_ok()
    };
    Sources { serial, keyboard }
}

fn on_serial(_frame: &mut TrapFrame) {
    let mut buf = [0u8; 64];
    loop {
        let n = COM1.lock().receive(&mut buf);
        if n == 0 {
            break;
        }
        push(&buf[..n]);
    }
    lapic::end_of_interrupt();
}

fn on_keyboard(_frame: &mut TrapFrame) {
    while let Some(scancode) = ps2::read_keyboard_byte() {
        let mut bytes = [0u8; 4];
        let len = {
            let mut keyboard = KEYBOARD.lock();
            let Some(keyboard) = keyboard.as_mut() else {
                break;
            };
            match keyboard.add_byte(scancode) {
                Ok(Some(event)) => match keyboard.process_keyevent(event) {
                    Some(DecodedKey::Unicode(c)) => c.encode_utf8(&mut bytes).len(),
                    Some(DecodedKey::RawKey(code)) => {
                        let arrow = match code {
                            KeyCode::ArrowUp => b'A',
                            KeyCode::ArrowDown => b'B',
                            KeyCode::ArrowRight => b'C',
                            KeyCode::ArrowLeft => b'D',
                            _ => 0,
                        };
                        if arrow == 0 {
                            0
                        } else {
                            bytes[..3].copy_from_slice(&[0x1b, b'[', arrow]);
                            3
                        }
                    }
                    None => 0,
                },
                _ => 0,
            }
        };
        // Enter on a PC keyboard decodes as LF: terminals send CR, and both complete a line.
        push(&bytes[..len]);
    }
    lapic::end_of_interrupt();
}

/// Feeds typed bytes to the line discipline, echoes, and wakes readers once input is ready.
pub fn push(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let mut echo = Vec::new();
    let (readers, listeners, interrupt) = {
        let mut input = INPUT.lock();
        for &byte in bytes {
            input.discipline.input(byte, &mut echo);
        }
        let interrupt = input.discipline.take_interrupt();
        if input.discipline.ready() {
            (
                core::mem::take(&mut input.readers),
                core::mem::take(&mut input.listeners),
                interrupt,
            )
        } else {
            (Vec::new(), Vec::new(), interrupt)
        }
    };
    if interrupt {
        crate::process::interrupt::interrupt_foreground();
    }
    if !echo.is_empty() {
        crate::print!("{}", alloc::string::String::from_utf8_lossy(&echo));
    }
    for tid in readers {
        sched::wake(tid);
    }
    for tid in listeners {
        crate::ipc::notify(tid, lux9_abi::ipc::NOTIFY_CONSOLE);
    }
}

/// How a read waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Block until input is ready.
    Block,
    /// Fail with `WouldBlock` at once.
    Poll,
    /// Fail with `WouldBlock`, and notify the caller when input arrives.
    Notify,
}

/// Reads console input into `buf` (see the line discipline for what one read returns).
pub fn read(buf: &mut [u8], wait: Wait) -> Result<usize, Error> {
    loop {
        let outcome = interrupts::without_interrupts(|| {
            let mut input = INPUT.lock();
            if let Some(n) = input.discipline.read(buf) {
                return Some(Ok(n));
            }
            let me = sched::current();
            match wait {
                Wait::Poll => Some(Err(Error::WouldBlock)),
                Wait::Notify => {
                    if !input.listeners.contains(&me) {
                        input.listeners.push(me);
                    }
                    Some(Err(Error::WouldBlock))
                }
                Wait::Block => {
                    if !input.readers.contains(&me) {
                        input.readers.push(me);
                    }
                    drop(input);
                    // Interrupts stay off until the switch: input arriving now wakes us after.
                    if sched::block_current_interruptible() {
                        return None;
                    }
                    // Killed: leave the readers; the thread ends on its way out.
                    INPUT.lock().readers.retain(|&t| t != me);
                    Some(Err(Error::PeerDead))
                }
            }
        });
        if let Some(result) = outcome {
            return result;
        }
    }
}

/// Sets raw (`true`) or cooked input; returns the previous mode.
pub fn set_raw(raw: bool) -> bool {
    let (old, ready, readers) = {
        let mut input = INPUT.lock();
        let old = input.discipline.is_raw();
        input.discipline.set_raw(raw);
        let ready = input.discipline.ready();
        let readers = if ready {
            core::mem::take(&mut input.readers)
        } else {
            Vec::new()
        };
        (old, ready, readers)
    };
    // Typed-ahead input may now be readable.
    if ready {
        for tid in readers {
            sched::wake(tid);
        }
    }
    old
}

/// Whether input is raw.
pub fn is_raw() -> bool {
    INPUT.lock().discipline.is_raw()
}

/// Forgets a thread that ended (it may have been waiting or listening).
pub fn thread_exiting(tid: Tid) {
    let mut input = INPUT.lock();
    input.readers.retain(|&t| t != tid);
    input.listeners.retain(|&t| t != tid);
}
