//! Host tools: checks for what each command needs, installed with apt-get when running as root.

use std::path::Path;
use std::process::Command;

/// Something on the host that a command needs, and the Debian package that provides it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    pub what: &'static str,
    pub package: &'static str,
    present: fn() -> bool,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

pub const GRUB_MKRESCUE: Tool = Tool {
    what: "grub-mkrescue",
    package: "grub-common",
    present: || on_path("grub-mkrescue"),
};
pub const GRUB_FILE: Tool = Tool {
    what: "grub-file",
    package: "grub-common",
    present: || on_path("grub-file"),
};
pub const GRUB_BIOS: Tool = Tool {
    what: "GRUB for BIOS (/usr/lib/grub/i386-pc)",
    package: "grub-pc-bin",
    present: || Path::new("/usr/lib/grub/i386-pc/multiboot2.mod").exists(),
};
pub const GRUB_UEFI: Tool = Tool {
    what: "GRUB for UEFI (/usr/lib/grub/x86_64-efi)",
    package: "grub-efi-amd64-bin",
    present: || Path::new("/usr/lib/grub/x86_64-efi/multiboot2.mod").exists(),
};
pub const XORRISO: Tool = Tool {
    what: "xorriso",
    package: "xorriso",
    present: || on_path("xorriso"),
};
pub const MTOOLS: Tool = Tool {
    what: "mformat",
    package: "mtools",
    present: || on_path("mformat"),
};
pub const QEMU: Tool = Tool {
    what: "qemu-system-x86_64",
    package: "qemu-system-x86",
    present: || on_path("qemu-system-x86_64"),
};
pub const OVMF: Tool = Tool {
    what: "OVMF UEFI firmware",
    package: "ovmf",
    present: || lux9_tests::qemu::find_ovmf().is_some(),
};
pub const MKFS_EXT4: Tool = Tool {
    what: "mkfs.ext4",
    package: "e2fsprogs",
    present: || lux9_tests::host_tools::find("mkfs.ext4").is_some(),
};

pub const SFDISK: Tool = Tool {
    what: "sfdisk",
    package: "fdisk",
    present: || lux9_tests::host_tools::find("sfdisk").is_some(),
};

/// What building the ISO needs.
pub const FOR_ISO: &[Tool] = &[
    GRUB_MKRESCUE,
    GRUB_FILE,
    GRUB_BIOS,
    GRUB_UEFI,
    XORRISO,
    MTOOLS,
];
/// What `run` needs on top of the ISO tools.
pub const FOR_RUN: &[Tool] = &[QEMU];
/// What the whole test suite needs.
pub const FOR_TEST: &[Tool] = &[QEMU, OVMF, MKFS_EXT4, SFDISK];

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status.lines().any(|line| {
            line.strip_prefix("Uid:")
                .is_some_and(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
    })
}

fn run_checked(program: &str, args: &[&str]) -> Result<(), String> {
    println!("xtask: running {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed ({status})", args.join(" ")))
    }
}

/// Makes sure every tool in `groups` is present: installs the missing packages with apt-get
/// when running as root, or explains the exact command to run.
pub fn ensure(groups: &[&[Tool]]) -> Result<(), String> {
    let mut missing: Vec<Tool> = groups
        .iter()
        .flat_map(|g| g.iter().copied())
        .filter(|t| !(t.present)())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    packages.sort_unstable();
    packages.dedup();
    let names: Vec<&str> = missing.iter().map(|t| t.what).collect();
    println!("xtask: missing host tools: {}", names.join(", "));
    if !running_as_root() {
        return Err(format!(
            "install them with:\n    sudo apt-get update && sudo apt-get install -y {}",
            packages.join(" ")
        ));
    }
    run_checked("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&packages);
    run_checked("apt-get", &args)?;
    missing.retain(|t| !(t.present)());
    if missing.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = missing.iter().map(|t| t.what).collect();
        Err(format!(
            "still missing after apt-get install: {}",
            names.join(", ")
        ))
    }
}

/// The toolchain that `rust-toolchain.toml` pins: its channel, and the targets and components
/// it lists.
#[derive(Debug, PartialEq, Eq)]
pub struct PinnedToolchain {
    pub channel: String,
    pub profile: Option<String>,
    pub components: Vec<String>,
    pub targets: Vec<String>,
}

impl PinnedToolchain {
    /// Reads the `[toolchain]` table of a rust-toolchain.toml: `channel = "..."`, `profile =
    /// "..."`, and the string arrays `components` and `targets` (each on one line, as rustup's
    /// own documentation writes them).
    pub fn parse(text: &str) -> Result<PinnedToolchain, String> {
        let mut pinned = PinnedToolchain {
            channel: String::new(),
            profile: None,
            components: Vec::new(),
            targets: Vec::new(),
        };
        let mut in_toolchain = false;
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                in_toolchain = line == "[toolchain]";
                continue;
            }
            if !in_toolchain {
                continue;
            }
            let bad = || {
                format!(
                    "rust-toolchain.toml line {}: cannot read `{line}`",
                    number + 1
                )
            };
            let (key, value) = line.split_once('=').ok_or_else(bad)?;
            let value = value.trim();
            let string = |v: &str| -> Result<String, String> {
                v.trim()
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .filter(|v| !v.is_empty() && !v.contains('"'))
                    .map(str::to_string)
                    .ok_or_else(bad)
            };
            let list = |v: &str| -> Result<Vec<String>, String> {
                let inner = v
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .ok_or_else(bad)?;
                inner
                    .split(',')
                    .filter(|item| !item.trim().is_empty())
                    .map(string)
                    .collect()
            };
            match key.trim() {
                "channel" => pinned.channel = string(value)?,
                "profile" => pinned.profile = Some(string(value)?),
                "components" => pinned.components = list(value)?,
                "targets" => pinned.targets = list(value)?,
                _ => {}
            }
        }
        if pinned.channel.is_empty() {
            return Err("rust-toolchain.toml names no channel in [toolchain]".into());
        }
        Ok(pinned)
    }

    /// The command that installs this toolchain with every target and component it lists.
    ///
    /// Cargo runs xtask with `RUSTUP_TOOLCHAIN` set, and under that variable `rustup toolchain
    /// install` installs the named toolchain but ignores rust-toolchain.toml's targets and
    /// components. So the variable is removed and everything is named on the command line.
    pub fn install_command(&self) -> Command {
        let mut command = Command::new("rustup");
        command
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(["toolchain", "install", &self.channel]);
        if let Some(profile) = &self.profile {
            command.args(["--profile", profile]);
        }
        for target in &self.targets {
            command.args(["--target", target]);
        }
        for component in &self.components {
            command.args(["--component", component]);
        }
        command
    }
}

/// Whether `toolchain` has the standard library for `target`.
fn has_target(toolchain: &str, target: &str) -> bool {
    Command::new("rustc")
        .env_remove("RUSTUP_TOOLCHAIN")
        .args([
            &format!("+{toolchain}"),
            "--print",
            "target-libdir",
            "--target",
            target,
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .is_some_and(|mut entries| {
            entries
                .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libcore-")))
        })
}

/// Whether `toolchain` has `component` (`rustfmt`, `clippy`, ...) installed.
fn has_component(toolchain: &str, component: &str) -> bool {
    let program = match component {
        "clippy" => "cargo-clippy",
        other => other,
    };
    // `rust-src` and the like have no program; ask rustup's list for those.
    if matches!(program, "rustfmt" | "cargo-clippy") {
        return Command::new("rustup")
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(["which", "--toolchain", toolchain, program])
            .output()
            .is_ok_and(|out| out.status.success());
    }
    Command::new("rustup")
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["component", "list", "--installed", "--toolchain", toolchain])
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .any(|line| line == component || line.starts_with(&format!("{component}-")))
        })
}

/// Makes sure the toolchain pinned in `root/rust-toolchain.toml` is installed with every target
/// and component it lists (the kernel's `x86_64-unknown-none`, rustfmt, clippy), installing what
/// is missing with rustup whatever `RUSTUP_TOOLCHAIN` says.
pub fn ensure_toolchain(root: &Path) -> Result<(), String> {
    let file = root.join("rust-toolchain.toml");
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let pinned = PinnedToolchain::parse(&text)?;
    let missing = |pinned: &PinnedToolchain| -> Vec<String> {
        let targets = pinned
            .targets
            .iter()
            .filter(|t| !has_target(&pinned.channel, t))
            .map(|t| format!("target {t}"));
        let components = pinned
            .components
            .iter()
            .filter(|c| !has_component(&pinned.channel, c))
            .map(|c| format!("component {c}"));
        targets.chain(components).collect()
    };
    let before = missing(&pinned);
    if before.is_empty() {
        return Ok(());
    }
    println!(
        "xtask: the pinned toolchain {} lacks: {}",
        pinned.channel,
        before.join(", ")
    );
    let mut command = pinned.install_command();
    let shown: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    println!("xtask: running rustup {}", shown.join(" "));
    let status = command
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run rustup ({e}); install rustup from https://rustup.rs"))?;
    if !status.success() {
        return Err(format!("rustup {} failed ({status})", shown.join(" ")));
    }
    let after = missing(&pinned);
    if !after.is_empty() {
        return Err(format!(
            "still missing after rustup toolchain install: {}",
            after.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_command_names_everything_and_ignores_rustup_toolchain() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../rust-toolchain.toml"
        ))
        .unwrap();
        let pinned = PinnedToolchain::parse(&text).unwrap();
        assert!(pinned.targets.iter().any(|t| t == "x86_64-unknown-none"));
        let command = pinned.install_command();
        assert_eq!(command.get_program(), "rustup");
        let args: Vec<&str> = command.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            &args[..3],
            &["toolchain", "install", pinned.channel.as_str()]
        );
        let pairs: Vec<(&str, &str)> = args[3..].chunks(2).map(|p| (p[0], p[1])).collect();
        assert!(pairs.contains(&("--target", "x86_64-unknown-none")));
        for component in &pinned.components {
            assert!(pairs.contains(&("--component", component.as_str())));
        }
        // The variable cargo sets is removed, not passed on.
        assert!(
            command
                .get_envs()
                .any(|(key, value)| key == "RUSTUP_TOOLCHAIN" && value.is_none())
        );
    }

    #[test]
    fn toolchain_files_parse() {
        let pinned = PinnedToolchain::parse(
            "# pinned\n[toolchain]\nchannel = \"1.95.0\" # the release\ncomponents = [\"rustfmt\", \"clippy\"]\ntargets = [ \"x86_64-unknown-none\" ]\nprofile = \"minimal\"\n",
        )
        .unwrap();
        assert_eq!(
            pinned,
            PinnedToolchain {
                channel: "1.95.0".into(),
                profile: Some("minimal".into()),
                components: vec!["rustfmt".into(), "clippy".into()],
                targets: vec!["x86_64-unknown-none".into()],
            }
        );
        assert!(PinnedToolchain::parse("[toolchain]\ntargets = []\n").is_err());
        assert!(PinnedToolchain::parse("[toolchain]\nchannel = 1.95\n").is_err());
        assert!(PinnedToolchain::parse("[toolchain]\ntargets = \"x\"\nchannel=\"a\"\n").is_err());
    }
}
