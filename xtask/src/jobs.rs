//! The console sessions' Ctrl-C steps: a running line is stopped from the serial line and the
//! shell comes back, whether the line is one program, a pipeline, a program that asked to be
//! told (and cleans up), or one that was told and ignores it (killed after the grace time).

use std::time::{Duration, Instant};

use lux9_tests::qmp::Qmp;
use lux9_tests::session::Session;

use crate::console::{COMMAND_TIMEOUT, PROMPT, command_output};

/// How soon after Ctrl-C the prompt must be back (issue 14: "within a second").
const PROMPT_AFTER_CTRL_C: Duration = Duration::from_secs(1);
/// How long the kernel lets a told program clean up (`lux9_abi::syscall::INTERRUPT_GRACE_MS`).
const GRACE: Duration = Duration::from_millis(lux9_abi::syscall::INTERRUPT_GRACE_MS);

/// Runs the steps; returns each one's name and verdict.
pub fn interrupt_steps(
    session: &mut Session,
    verbose: bool,
) -> Vec<(&'static str, Result<String, String>)> {
    let mut steps = Vec::new();
    let mut run = |name, verdict: Result<String, String>| steps.push((name, verdict));
    run(
        "Ctrl-C stops `cat /dev/zero` and the prompt is back within a second",
        interrupt(session, "cat /dev/zero", None, verbose).and_then(|(seen, after)| {
            if after > PROMPT_AFTER_CTRL_C {
                return Err(format!(
                    "the prompt came {after:.2?} after Ctrl-C:\n{}",
                    tail(&seen)
                ));
            }
            expect_output(session, "echo alive", "alive", verbose)?;
            Ok(format!("prompt {} ms after Ctrl-C", after.as_millis()))
        }),
    );
    run(
        "Ctrl-C stops every command of `cat /dev/zero | wc -c`, status 130",
        interrupt(session, "cat /dev/zero | wc -c", None, verbose).and_then(|(seen, _)| {
            // wc was killed too: it never printed a count.
            if command_output(&seen).lines().any(is_number) {
                return Err(format!(
                    "wc printed a count, so it was not stopped:\n{}",
                    tail(&seen)
                ));
            }
            expect_output(session, "echo $?", "130", verbose)?;
            Ok(String::new())
        }),
    );
    run(
        "a program told of Ctrl-C cleans up and ends with its own status",
        interrupt(
            session,
            "utest interrupt catch",
            Some("waiting for Ctrl-C"),
            verbose,
        )
        .and_then(|(seen, _)| {
            if !seen.contains("utest interrupt: told, cleaning up") {
                return Err(format!(
                    "the program did not say it was told:\n{}",
                    tail(&seen)
                ));
            }
            expect_output(session, "echo $?", "3", verbose)?;
            Ok(String::new())
        }),
    );
    run(
        "a program that ignores Ctrl-C is killed after the grace time",
        interrupt(
            session,
            "utest interrupt ignore",
            Some("waiting for Ctrl-C"),
            verbose,
        )
        .and_then(|(seen, after)| {
            if !seen.contains("utest interrupt: told, ignoring it") {
                return Err(format!(
                    "the program did not say it was told:\n{}",
                    tail(&seen)
                ));
            }
            // Killed no sooner than the grace allows (less a margin for the timer tick),
            // and not much later.
            if after + Duration::from_millis(50) < GRACE || after > GRACE + Duration::from_secs(2) {
                return Err(format!(
                    "killed {after:.2?} after Ctrl-C, the grace is {GRACE:?}"
                ));
            }
            expect_output(session, "echo $?", "130", verbose)?;
            Ok(format!("killed {} ms after Ctrl-C", after.as_millis()))
        }),
    );
    steps
}

/// Ctrl-C from the PS/2 keyboard (QMP `send-key` ctrl and c together) stops `cat /dev/zero`
/// typed on the serial line, and the prompt comes back.
pub fn keyboard_interrupt(session: &mut Session, qmp: &mut Qmp) -> Result<String, String> {
    session.send("cat /dev/zero\r")?;
    let mut seen = session.expect("cat /dev/zero", COMMAND_TIMEOUT)?;
    std::thread::sleep(Duration::from_secs(1));
    qmp.press_chord(&["ctrl", "c"])?;
    let typed = Instant::now();
    seen.push_str(&session.expect(PROMPT, COMMAND_TIMEOUT)?);
    let after = typed.elapsed();
    if !seen.contains("^C") {
        return Err(format!("the console did not echo ^C:\n{}", tail(&seen)));
    }
    if after > PROMPT_AFTER_CTRL_C {
        return Err(format!("the prompt came {after:.2?} after Ctrl-C"));
    }
    Ok(format!("prompt {} ms after Ctrl-C", after.as_millis()))
}

/// Types `command`, waits for `ready` to be printed (or a moment, for output to flow), types
/// Ctrl-C and waits for the prompt. Returns what was seen since the command and how long the
/// prompt took after Ctrl-C.
fn interrupt(
    session: &mut Session,
    command: &str,
    ready: Option<&str>,
    verbose: bool,
) -> Result<(String, Duration), String> {
    session.send(&format!("{command}\r"))?;
    let mut seen = session.expect(command, COMMAND_TIMEOUT)?;
    match ready {
        Some(text) => seen.push_str(&session.expect(text, COMMAND_TIMEOUT)?),
        None => std::thread::sleep(Duration::from_secs(1)),
    }
    session.send("\x03")?;
    let typed = Instant::now();
    seen.push_str(&session.expect(PROMPT, COMMAND_TIMEOUT)?);
    let after = typed.elapsed();
    if verbose {
        println!("{} (prompt {after:.2?} after Ctrl-C)", tail(&seen));
    }
    if !seen.contains("^C") {
        return Err(format!("the console did not echo ^C:\n{}", tail(&seen)));
    }
    Ok((seen, after))
}

/// Runs `command` and checks that its whole output is `expected`.
fn expect_output(
    session: &mut Session,
    command: &str,
    expected: &str,
    verbose: bool,
) -> Result<(), String> {
    session.send(&format!("{command}\r"))?;
    let seen = session.expect(PROMPT, COMMAND_TIMEOUT)?;
    if verbose {
        print!("{seen}");
    }
    let out = command_output(&seen);
    if seen.starts_with(command) && out.trim() == expected {
        Ok(())
    } else {
        Err(format!(
            "`{command}`: expected {expected:?}, got:\n{}",
            tail(&seen)
        ))
    }
}

fn is_number(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
}

/// The end of `seen` without the NULs `cat /dev/zero` printed, for messages.
fn tail(seen: &str) -> String {
    let text: String = seen.chars().filter(|&c| c != '\0').collect();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}
