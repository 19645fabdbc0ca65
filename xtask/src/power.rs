//! How a session's machine stops: `poweroff` must turn it off through ACPI S5 and `reboot`
//! must reset it, each told apart from the other (and from a triple fault) by QEMU's own
//! `SHUTDOWN` and `RESET` events on QMP.

use lux9_tests::qemu::QemuConfig;
use lux9_tests::qmp::{Qmp, QmpSocket};
use lux9_tests::session::Session;

use crate::console::{BOOT_TIMEOUT, COMMAND_TIMEOUT, PROMPT};

/// QEMU's arguments for a session: a QMP socket, and a guest power-off that pauses the machine
/// instead of ending QEMU, so that the harness reads the `SHUTDOWN` event's reason first.
pub fn attach_qmp(config: &mut QemuConfig, tag: &str) -> QmpSocket {
    config
        .extra
        .extend(["-action".into(), "shutdown=pause".into()]);
    QmpSocket::attach(config, tag)
}

/// A started session: QEMU on the serial console, its QMP connection, and the socket (removed
/// when dropped).
pub struct Started {
    pub session: Session,
    pub qmp: Qmp,
    pub socket: QmpSocket,
}

/// Starts QEMU for a session with a QMP socket ([`attach_qmp`]) and connects to it; the error
/// says why it could not, for the session's `boot` step.
pub fn start_session(config: &QemuConfig, tag: &str) -> Result<Started, String> {
    let mut config = config.clone();
    let socket = attach_qmp(&mut config, &tag.replace(' ', "-"));
    let session =
        Session::start(config.command()).map_err(|e| format!("cannot start QEMU: {e}"))?;
    let qmp = Qmp::connect(&socket.0, COMMAND_TIMEOUT)?;
    Ok(Started {
        session,
        qmp,
        socket,
    })
}

/// Types `poweroff` and checks that the program says so and that the machine turned itself off
/// through ACPI S5: QMP's `SHUTDOWN` event with reason `guest-shutdown`. A reset (a triple
/// fault, or the reset register) is reported as `RESET` or as `SHUTDOWN` with reason
/// `guest-reset` under `-no-reboot`, and fails. QEMU is then told to quit.
pub fn power_off(session: &mut Session, qmp: &mut Qmp) -> Result<(), String> {
    session.send("poweroff\r")?;
    session.expect("poweroff: turning the machine off", COMMAND_TIMEOUT)?;
    let event = qmp.wait_event(&["SHUTDOWN", "RESET"], COMMAND_TIMEOUT);
    let verdict = match event {
        Some(event)
            if event.name == "SHUTDOWN" && event.reason.as_deref() == Some("guest-shutdown") =>
        {
            Ok(())
        }
        Some(event) => Err(format!(
            "the machine did not power off but: {}; output:\n{}",
            event.line,
            session.unmatched()
        )),
        None => Err(format!(
            "no SHUTDOWN event {} s after poweroff; output:\n{}",
            COMMAND_TIMEOUT.as_secs(),
            session.unmatched()
        )),
    };
    let _ = qmp.execute("quit", "{}");
    if session.wait_exit(COMMAND_TIMEOUT).is_none() && verdict.is_ok() {
        return Err("QEMU did not quit when told to".into());
    }
    verdict
}

/// Types `reboot` and checks that the program says so, that the machine resets itself (QMP's
/// `RESET` event, reason `guest-reset`), and that it boots again to `lux9: ready` and the
/// prompt.
pub fn reboot(session: &mut Session, qmp: &mut Qmp) -> Result<(), String> {
    session.send("reboot\r")?;
    session.expect("reboot: restarting", COMMAND_TIMEOUT)?;
    match qmp.wait_event(&["SHUTDOWN", "RESET"], COMMAND_TIMEOUT) {
        Some(event) if event.name == "RESET" && event.reason.as_deref() == Some("guest-reset") => {}
        Some(event) => return Err(format!("expected a guest reset, got: {}", event.line)),
        None => {
            return Err(format!(
                "no RESET event {} s after reboot; output:\n{}",
                COMMAND_TIMEOUT.as_secs(),
                session.unmatched()
            ));
        }
    }
    session.expect("lux9: ready", BOOT_TIMEOUT)?;
    session.expect(PROMPT, BOOT_TIMEOUT)?;
    // SeaBIOS answers a warm reset with a hard reset of its own: later RESET events belong to
    // the reboot too, not to whatever comes next.
    qmp.skip_events();
    Ok(())
}
