//! Turning the machine off (ACPI S5) and restarting it.

use x86_64::instructions::port::Port;

use super::acpi::PowerControl;
use super::sync::IrqMutex;

static CONTROL: IrqMutex<Option<PowerControl>> = IrqMutex::new(None);

/// PM1 control bits.
const SCI_EN: u16 = 1 << 0;
const SLP_EN: u16 = 1 << 13;

/// Remembers what the ACPI tables said, for later.
pub fn init(control: PowerControl) {
    *CONTROL.lock() = Some(control);
}

fn read16(port: u16) -> u16 {
    // SAFETY: only PM1 control ports named by the FADT are passed here.
    unsafe { Port::<u16>::new(port).read() }
}

fn write16(port: u16, value: u16) {
    // SAFETY: as above; writing SLP_TYP|SLP_EN is the documented way to enter a sleep state.
    unsafe { Port::<u16>::new(port).write(value) }
}

fn write8(port: u16, value: u8) {
    // SAFETY: only the FADT's SMI command and reset ports, and the chipset reset port 0xcf9,
    // are passed here; writing them switches ACPI mode or resets the machine.
    unsafe { Port::<u8>::new(port).write(value) }
}

/// Enters ACPI S5 (soft off). Returns why it could not.
pub fn power_off() -> &'static str {
    let Some(control) = *CONTROL.lock() else {
        return "no ACPI tables: the machine cannot be turned off by software";
    };
    let (Some(pm1a), Some((typ_a, typ_b))) = (control.pm1a_control, control.s5) else {
        return "the ACPI tables have no PM1a control port or no \\_S5 sleep type";
    };
    x86_64::instructions::interrupts::disable();
    // Switch the chipset into ACPI mode first if the firmware left it in legacy mode.
    if read16(pm1a) & SCI_EN == 0 && control.smi_command != 0 {
        write8(control.smi_command, control.acpi_enable);
        for _ in 0..1_000_000 {
            if read16(pm1a) & SCI_EN != 0 {
                break;
            }
            core::hint::spin_loop();
        }
    }
    write16(pm1a, (u16::from(typ_a & 7) << 10) | SLP_EN);
    if let Some(pm1b) = control.pm1b_control {
        write16(pm1b, (u16::from(typ_b & 7) << 10) | SLP_EN);
    }
    for _ in 0..10_000_000 {
        core::hint::spin_loop();
    }
    x86_64::instructions::interrupts::enable();
    "the machine did not turn off after the ACPI S5 request"
}

/// Restarts the machine: the FADT's reset register, then the chipset's port 0xcf9, then the
/// keyboard controller's reset line. Returns only if none worked.
pub fn reboot() -> &'static str {
    let control = *CONTROL.lock();
    x86_64::instructions::interrupts::disable();
    let settle = || {
        for _ in 0..1_000_000 {
            core::hint::spin_loop();
        }
    };
    if let Some((port, value)) = control.and_then(|c| c.reset) {
        write8(port, value);
        settle();
    }
    write8(0xcf9, 0x02);
    write8(0xcf9, 0x06);
    settle();
    super::ps2::command(0xfe);
    settle();
    x86_64::instructions::interrupts::enable();
    "the machine did not restart (ACPI reset register, port 0xcf9 and the 8042 all failed)"
}
