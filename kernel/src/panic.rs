//! Stopping the machine: the Rust panic handler and fatal CPU exceptions both end here.
//!
//! The report goes to serial and the screen, taking the console locks by force because the
//! failing code may hold them. Under `test=` the kernel then exits QEMU with a failing status so
//! the harness sees the failure at once; otherwise the CPU halts.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::{cpu, qemu};

static DYING: AtomicBool = AtomicBool::new(false);

struct EmergencyConsole;

impl Write for EmergencyConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::console::emergency_write_fmt(format_args!("{s}"));
        Ok(())
    }
}

/// Prints the report `write_report` produces and stops the machine.
pub fn die(write_report: impl FnOnce(&mut dyn Write)) -> ! {
    x86_64::instructions::interrupts::disable();
    if DYING.swap(true, Ordering::SeqCst) {
        // A fault while reporting a fault: print the bare minimum and stop.
        crate::console::emergency_write_fmt(format_args!(
            "lux9: panic: fault while reporting a fault\n"
        ));
    } else {
        write_report(&mut EmergencyConsole);
    }
    if crate::ktest::active() {
        qemu::exit(qemu::ExitCode::Failure);
    }
    cpu::halt_forever()
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    die(|out| {
        let _ = write!(out, "lux9: panic: {}", info.message());
        if let Some(location) = info.location() {
            let _ = write!(
                out,
                " at {}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            );
        }
        let _ = writeln!(out);
    })
}
