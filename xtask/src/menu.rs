//! The boot-menu test of `cargo xtask test`: boots `target/lux9.iso` as a user would (GRUB's
//! countdown not skipped), opens the hidden menu with Esc, picks an entry with the arrow keys and
//! checks that the kernel booted with that entry's words and reaches the shell.
//!
//! Two runs: one types on the serial console (q35, BIOS), the other on the screen's PS/2
//! keyboard through QMP's `send-key` (q35, UEFI), so the menu is shown to be reachable from both.

use std::time::Duration;

use lux9_tests::qemu::QemuConfig;
use lux9_tests::qmp::Qmp;
use lux9_tests::results::Tally;
use lux9_tests::session::Session;

use crate::console::{BOOT_TIMEOUT, COMMAND_TIMEOUT, PROMPT, command_output};
use crate::power::{Started, power_off, start_session};

/// What GRUB prints before its countdown (grub/grub.cfg).
const COUNTDOWN: &str = "press Esc within 3 seconds for the boot menu";
/// The last entry's title, which shows that the whole menu is drawn.
const LAST_ENTRY: &str = "Lux9 (debug log)";
/// How long GRUB may take to reach its countdown (firmware and GRUB under TCG).
const GRUB_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// The serial console (VT100 sequences, as a terminal sends them).
    Serial,
    /// The emulated PS/2 keyboard.
    Keyboard,
}

/// One menu run: the keys' source, how many entries down to move, and what the chosen entry
/// puts on the kernel command line.
pub struct MenuRun {
    pub keys: Keys,
    pub downs: usize,
    pub preset: &'static str,
}

/// The two runs, by job name.
pub fn run_for(job: &str) -> MenuRun {
    if job.contains("keyboard") {
        MenuRun {
            keys: Keys::Keyboard,
            downs: 1,
            preset: "strict",
        }
    } else {
        MenuRun {
            keys: Keys::Serial,
            downs: 2,
            preset: "off",
        }
    }
}

fn press(session: &mut Session, qmp: &mut Qmp, keys: Keys, key: &str) -> Result<(), String> {
    match keys {
        Keys::Keyboard => qmp.press_keys(&[key]),
        Keys::Serial => {
            let bytes = match key {
                "esc" => "\x1b",
                "down" => "\x1b[B",
                "ret" => "\r",
                other => return Err(format!("no serial sequence for key {other:?}")),
            };
            session.send(bytes)?;
            // GRUB tells a lone Esc from the start of a sequence by the pause after it.
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        }
    }
}

fn steps(
    session: &mut Session,
    qmp: &mut Qmp,
    run: &MenuRun,
    verbose: bool,
    mut record: impl FnMut(&str, Result<(), String>) -> bool,
) {
    let keys = run.keys;
    let countdown = session.expect(COUNTDOWN, GRUB_TIMEOUT).map(|_| ());
    if !record("GRUB shows its countdown", countdown) {
        return;
    }
    let menu = press(session, qmp, keys, "esc")
        .and_then(|()| session.expect(LAST_ENTRY, COMMAND_TIMEOUT))
        .map(|seen| {
            if verbose {
                println!("{seen}");
            }
        });
    if !record("Esc opens the menu", menu) {
        return;
    }
    let preset = run.preset;
    let chosen = (0..run.downs)
        .try_for_each(|_| press(session, qmp, keys, "down"))
        .and_then(|()| press(session, qmp, keys, "ret"))
        .and_then(|()| {
            session.expect(
                &format!("command line: \"isolation={preset}\""),
                BOOT_TIMEOUT,
            )
        })
        .and_then(|_| session.expect("lux9: ready", BOOT_TIMEOUT))
        .and_then(|_| session.expect(PROMPT, BOOT_TIMEOUT))
        .map(|_| ());
    if !record(&format!("the isolation={preset} entry boots"), chosen) {
        return;
    }
    let isolation = session
        .send("cat /sys/isolation\r")
        .and_then(|()| session.expect(PROMPT, COMMAND_TIMEOUT))
        .and_then(|seen| {
            let out = command_output(&seen);
            if out
                .lines()
                .any(|line| line.trim() == format!("preset {preset}"))
            {
                Ok(())
            } else {
                Err(format!("expected `preset {preset}` in:\n{out}"))
            }
        });
    if !record(&format!("/sys/isolation says preset {preset}"), isolation) {
        return;
    }
    record(
        "poweroff turns the machine off (ACPI S5, not a reset)",
        power_off(session, qmp),
    );
}

/// Runs one menu test; one tally entry per step, and none after the first that fails.
pub fn session(job: &str, config: &QemuConfig, verbose: bool) -> Tally {
    let run = run_for(job);
    let tag = job.replace(' ', "-");
    let mut tally = Tally::default();
    let mut config = config.clone();
    config.boot_menu = true;
    let name = |step: &str| format!("{job}::{step}");
    let Started {
        mut session,
        mut qmp,
        socket: _socket,
    } = match start_session(&config, &tag) {
        Ok(started) => started,
        Err(why) => {
            tally.record("qemu", &name("boot"), false, why);
            return tally;
        }
    };
    steps(&mut session, &mut qmp, &run, verbose, |step, verdict| {
        let ok = verdict.is_ok();
        tally.record("qemu", &name(step), ok, verdict.err().unwrap_or_default());
        ok
    });
    tally
}
