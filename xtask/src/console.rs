//! The scripted console session of `cargo xtask test`: boots Lux9 in each isolation mode, types
//! commands at the shell over the serial line and checks what comes back.

use std::time::Duration;

use lux9_tests::qemu::QemuConfig;
use lux9_tests::results::Tally;
use lux9_tests::session::Session;

/// The isolation presets the session runs under (the kernel command line's `isolation=`).
pub const MODES: [&str; 2] = ["hybrid", "strict"];

pub const PROMPT: &str = "lux9% ";
/// A configuration word with a bad value, on every session's command line.
pub const BAD_SETTING: &str = "ext4srv=sideways";
/// Boot to the first prompt (TCG, release kernel: a few seconds).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// One command, up to the next prompt.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The output of a command: what came between its echoed line and the next prompt.
pub fn command_output(seen: &str) -> &str {
    let body = seen.strip_suffix(PROMPT).unwrap_or(seen);
    match body.split_once('\n') {
        Some((_, rest)) => rest,
        None => "",
    }
}

type Check = fn(&str, &str) -> Result<(), String>;

fn check_ls_dev(out: &str, _: &str) -> Result<(), String> {
    let names: Vec<&str> = out.split_whitespace().collect();
    for wanted in ["cons", "consctl", "null", "zero", "random", "kmsg"] {
        if !names.contains(&wanted) {
            return Err(format!("{wanted} missing from the listing:\n{out}"));
        }
    }
    Ok(())
}

fn check_uptime(out: &str, _: &str) -> Result<(), String> {
    let line = out.trim();
    let seconds: f64 = line
        .parse()
        .map_err(|_| format!("not a number of seconds: {line:?}"))?;
    let decimals = line.split_once('.').map_or(0, |(_, d)| d.len());
    if seconds > 0.0 && decimals == 3 {
        Ok(())
    } else {
        Err(format!("expected seconds with 3 decimals, got {line:?}"))
    }
}

fn check_ipcstats(out: &str, _: &str) -> Result<(), String> {
    for key in ["total_switches ", "fastpath_hits ", "colocated_calls "] {
        if !out.lines().any(|line| line.starts_with(key)) {
            return Err(format!("no {key:?}line in:\n{out}"));
        }
    }
    Ok(())
}

fn check_silent(out: &str, _: &str) -> Result<(), String> {
    if out.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("expected no output, got:\n{out}"))
    }
}

fn check_isolation(out: &str, mode: &str) -> Result<(), String> {
    let placement = if mode == "strict" {
        "isolated"
    } else {
        "colocated"
    };
    let wanted = [format!("preset {mode}"), format!("sysserver {placement}")];
    match wanted
        .iter()
        .find(|w| !out.lines().any(|line| line.trim() == w.as_str()))
    {
        None => Ok(()),
        Some(missing) => Err(format!("no line {missing:?} in:\n{out}")),
    }
}

fn check_missing_file(out: &str, _: &str) -> Result<(), String> {
    if out.contains("/nonexistent") && out.contains("does not exist") {
        Ok(())
    } else {
        Err(format!(
            "expected an error naming /nonexistent, got:\n{out}"
        ))
    }
}

fn check_alive(out: &str, _: &str) -> Result<(), String> {
    if out.trim() == "alive" {
        Ok(())
    } else {
        Err(format!("expected 'alive', got:\n{out}"))
    }
}

/// `bench sys`: the sysserver benchmarks run from the shell. Colocated, no operation may
/// switch context; isolated, a stat costs 2 switches and pipelined reads travel through the
/// ring, 8 to a notify (at most 0.5 switches per read).
fn check_bench(out: &str, mode: &str) -> Result<(), String> {
    let placement = if mode == "strict" {
        "isolated"
    } else {
        "colocated"
    };
    let switches = |name: &str| -> Result<f64, String> {
        let line = out
            .lines()
            .find(|line| line.starts_with(&format!("BENCH name={name}_{placement} ")))
            .ok_or_else(|| format!("no BENCH line for {name}_{placement} in:\n{out}"))?;
        line.rsplit("switches_per_op=")
            .next()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("no switch count in {line:?}"))
    };
    let stat = switches("sys_stat")?;
    let pipelined = switches("sys_read16k_pipelined")?;
    let ok = if placement == "colocated" {
        stat == 0.0 && pipelined == 0.0
    } else {
        (1.9..=2.1).contains(&stat) && pipelined <= 0.5
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{placement}: {stat} switches per stat, {pipelined} per pipelined read:\n{out}"
        ))
    }
}

/// The commands, each checked by its output.
const STEPS: [(&str, Check); 8] = [
    ("ls /dev", check_ls_dev),
    ("cat /proc/uptime", check_uptime),
    ("cat /proc/ipcstats", check_ipcstats),
    ("echo hi > /dev/null", check_silent),
    ("cat /sys/isolation", check_isolation),
    ("cat /nonexistent", check_missing_file),
    ("echo alive", check_alive),
    ("bench sys", check_bench),
];

/// Presses `keys` (QEMU key names: `e`, `spc`, `ret`, `esc`, `down`) one after the other on the
/// emulated PS/2 keyboard with the monitor's `sendkey`, as a person at the screen would.
pub fn press_keys(monitor: &std::path::Path, keys: &[&str]) -> Result<(), String> {
    use std::io::Write;
    let mut socket = std::os::unix::net::UnixStream::connect(monitor).map_err(|e| {
        format!(
            "cannot reach the QEMU monitor at {}: {e}",
            monitor.display()
        )
    })?;
    for key in keys {
        socket
            .write_all(format!("sendkey {key}\n").as_bytes())
            .map_err(|e| format!("monitor: {e}"))?;
        std::thread::sleep(Duration::from_millis(30));
    }
    Ok(())
}

/// A QEMU monitor on a Unix socket for one run, to type on the emulated keyboard; the socket
/// file is removed when this is dropped, however the run ends.
pub struct Monitor(pub std::path::PathBuf);

impl Monitor {
    /// Adds the monitor to `config` under a name unique to this process and `tag`.
    pub fn attach(config: &mut QemuConfig, tag: &str) -> Monitor {
        let path =
            std::env::temp_dir().join(format!("lux9-monitor-{}-{tag}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        config.extra.extend([
            "-monitor".into(),
            format!("unix:{},server,nowait", path.display()),
        ]);
        Monitor(path)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Types `echo kbd` and Enter on the PS/2 keyboard and expects the shell to run it.
fn keyboard_step(session: &mut Session, monitor: &std::path::Path) -> Result<(), String> {
    press_keys(monitor, &["e", "c", "h", "o", "spc", "k", "b", "d", "ret"])?;
    let seen = session.expect(PROMPT, COMMAND_TIMEOUT)?;
    if command_output(&seen).trim() == "kbd" && seen.starts_with("echo kbd") {
        Ok(())
    } else {
        Err(format!(
            "expected the shell to echo and run `echo kbd`, got:\n{seen}"
        ))
    }
}

/// Runs the session in isolation mode `mode`; one tally entry per step.
pub fn session(job: &str, config: &QemuConfig, verbose: bool) -> Tally {
    let mode = job.strip_prefix("console ").unwrap_or(job);
    let mut tally = Tally::default();
    let name = |step: &str| format!("console[{mode}]::{step}");
    // The QEMU monitor on a socket, to type on the emulated PS/2 keyboard (`sendkey`).
    let mut config = config.clone();
    let socket = Monitor::attach(&mut config, mode);
    let monitor = socket.0.clone();
    let mut session = match Session::start(config.command()) {
        Ok(session) => session,
        Err(error) => {
            tally.record(
                "qemu",
                &name("boot"),
                false,
                format!("cannot start QEMU: {error}"),
            );
            return tally;
        }
    };
    if let Err(why) = session.expect(PROMPT, BOOT_TIMEOUT) {
        tally.record("qemu", &name("boot to the prompt"), false, why);
        return tally;
    }
    tally.record("qemu", &name("boot to the prompt"), true, "");
    let booted = session.output();
    let warned = booted.lines().any(|line| {
        line.contains("config: command line: ext4srv = \"sideways\" is not valid")
            && line.contains("keeping the default")
    });
    tally.record(
        "qemu",
        &name("a bad configuration value is reported at boot"),
        warned,
        if warned {
            String::new()
        } else {
            format!("no warning about {BAD_SETTING} in the boot output")
        },
    );
    for (command, check) in STEPS {
        let verdict = session
            .send(&format!("{command}\r"))
            .and_then(|()| session.expect(PROMPT, COMMAND_TIMEOUT))
            .and_then(|seen| {
                if verbose {
                    print!("{seen}");
                }
                if !seen.starts_with(command) {
                    return Err(format!("the shell did not echo {command:?}:\n{seen}"));
                }
                check(command_output(&seen), mode)
            });
        let gone = verdict
            .as_ref()
            .is_err_and(|why| why.starts_with("QEMU exited"));
        tally.record(
            "qemu",
            &name(command),
            verdict.is_ok(),
            verdict.err().unwrap_or_default(),
        );
        if gone {
            return tally; // the remaining steps cannot run
        }
    }
    let verdict = keyboard_step(&mut session, &monitor);
    tally.record(
        "qemu",
        &name("typing on the PS/2 keyboard"),
        verdict.is_ok(),
        verdict.err().unwrap_or_default(),
    );
    let verdict =
        session
            .send("poweroff\r")
            .and_then(|()| match session.wait_exit(COMMAND_TIMEOUT) {
                Some(0) => Ok(()),
                Some(status) => Err(format!("QEMU exited with status {status}, expected 0")),
                None => Err(format!(
                    "QEMU was still running {} s after poweroff; output:\n{}",
                    COMMAND_TIMEOUT.as_secs(),
                    session.unmatched()
                )),
            });
    tally.record(
        "qemu",
        &name("poweroff"),
        verdict.is_ok(),
        verdict.err().unwrap_or_default(),
    );
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_drops_the_echo_and_the_prompt() {
        assert_eq!(
            command_output("ls /dev\ncons\nnull\nlux9% "),
            "cons\nnull\n"
        );
        assert_eq!(command_output("echo hi > /dev/null\nlux9% "), "");
    }

    #[test]
    fn checks_reject_wrong_output() {
        assert!(check_uptime("12.345\n", "").is_ok());
        assert!(check_uptime("12.3\n", "").is_err());
        assert!(check_uptime("soon\n", "").is_err());
        assert!(
            check_isolation(
                "preset strict\nsysserver isolated\next4srv isolated\n",
                "strict"
            )
            .is_ok()
        );
        assert!(check_isolation("preset hybrid\nsysserver colocated\n", "strict").is_err());
        assert!(check_ls_dev("cons consctl null zero random kmsg\n", "").is_ok());
        assert!(check_ls_dev("cons null\n", "").is_err());
        assert!(
            check_missing_file("cat: /nonexistent: 'nonexistent' file does not exist\n", "")
                .is_ok()
        );
        assert!(check_silent("hi\n", "").is_err());
    }
}
