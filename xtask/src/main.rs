//! cargo xtask: the one build entry point for Lux9.
//!
//! `cargo xtask iso` builds the kernel and writes `target/lux9.iso`; `cargo xtask run` boots it
//! in QEMU with the serial console on the terminal; `cargo xtask test` runs every test. Each
//! command first checks the host tools it needs (see `tools.rs`).

mod bench;
mod build;
mod cases;
mod console;
mod faults;
mod jobs;
mod menu;
mod plot;
mod power;
mod screen;
mod test;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build [--debug]              build the kernel (release unless --debug)
  iso [--debug] [--cmdline WORDS] [--output PATH] [--disk-module IMG]
                               build the kernel and write the hybrid BIOS+UEFI ISO
                               (default target/lux9.iso); --disk-module puts a raw disk
                               image in it, which the kernel serves as rd0 (read-only)
  run [--uefi] [--machine q35|pc] [--memory SIZE] [--cpu MODEL] [--display] [--kvm] [--debug]
      [--menu] [--disk IMG]... [--disk-bus virtio|ahci|ide] [--disk-module IMG] [-- WORDS...]
                               build the ISO and boot it in QEMU with COM1 on this terminal;
                               WORDS are appended to the kernel command line (e.g. log=debug);
                               --display opens a window showing the screen console;
                               --kvm uses hardware virtualisation instead of TCG;
                               --menu keeps GRUB's 3-second countdown (Esc opens the boot
                               menu), which QEMU runs from xtask otherwise skip;
                               --disk attaches a raw disk image (repeatable) on the
                               --disk-bus controller (default virtio on q35, ide on pc)
  test [--host-only | --qemu-only] [--verbose] [--jobs N] [--only TEXT]
                               run every test: host unit tests, in-QEMU kernel tests, the
                               boot menu, and the scripted console session on q35/BIOS, pc/IDE
                               and q35/UEFI in each of isolation=hybrid, strict and off;
                               --only runs just the QEMU runs whose name contains TEXT
                               (e.g. `strict`, `q35-uefi`, `user`)
  bench [--verbose]            boot with -icount shift=0,align=off -cpu max and print one
                               `BENCH name=... ops=... ticks_per_op=... switches_per_op=...`
                               line per figure (ticks = guest instructions)
  help                         show this text

Missing host tools are installed with apt-get when running as root; otherwise the exact
apt-get command is printed.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "build" => build::build_command(rest),
        "iso" => build::iso_command(rest),
        "run" => build::run_command(rest),
        "test" => test::test_command(rest),
        "bench" => bench::bench_command(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the workspace that holds xtask).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Options shared by the commands: `--flag`, `--key value`, and words after `--`.
#[derive(Debug, Default)]
struct Options {
    flags: Vec<String>,
    values: Vec<(String, String)>,
    words: Vec<String>,
}

impl Options {
    /// Parses `args`, accepting only the listed flags and value options.
    fn parse(args: &[String], flags: &[&str], values: &[&str]) -> Result<Self, String> {
        let mut options = Options::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                options.words.extend(iter.by_ref().cloned());
            } else if flags.contains(&arg.as_str()) {
                options.flags.push(arg.clone());
            } else if let Some((key, value)) =
                arg.split_once('=').filter(|(k, _)| values.contains(k))
            {
                options.values.push((key.to_string(), value.to_string()));
            } else if values.contains(&arg.as_str()) {
                let value = iter.next().ok_or(format!("{arg} needs a value"))?;
                options.values.push((arg.clone(), value.clone()));
            } else if arg == "--help" || arg == "-h" {
                return Err(USAGE.to_string());
            } else {
                return Err(format!("unknown option '{arg}' (see `cargo xtask help`)"));
            }
        }
        Ok(options)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// Every value given for a repeatable option, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Options;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_flags_values_and_words() {
        let options = Options::parse(
            &strings(&[
                "--uefi",
                "--memory",
                "1G",
                "--machine=pc",
                "--",
                "log=debug",
                "x",
            ]),
            &["--uefi"],
            &["--memory", "--machine"],
        )
        .unwrap();
        assert!(options.flag("--uefi"));
        assert_eq!(options.value("--memory"), Some("1G"));
        assert_eq!(options.value("--machine"), Some("pc"));
        assert_eq!(options.words, strings(&["log=debug", "x"]));
    }

    #[test]
    fn rejects_unknown_and_incomplete_options() {
        assert!(Options::parse(&strings(&["--bogus"]), &[], &[]).is_err());
        assert!(Options::parse(&strings(&["--memory"]), &[], &["--memory"]).is_err());
    }
}
