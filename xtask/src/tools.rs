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
    present: || on_path("mkfs.ext4") || Path::new("/sbin/mkfs.ext4").exists(),
};

pub const SFDISK: Tool = Tool {
    what: "sfdisk",
    package: "fdisk",
    present: || on_path("sfdisk") || Path::new("/sbin/sfdisk").exists(),
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

/// Makes sure the pinned toolchain has the kernel's target, running `rustup toolchain install`
/// in the repository root (which reads rust-toolchain.toml) when it does not.
pub fn ensure_toolchain(root: &Path) -> Result<(), String> {
    let has_target = || {
        Command::new("rustc")
            .current_dir(root)
            .args([
                "--print",
                "target-libdir",
                "--target",
                "x86_64-unknown-none",
            ])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .and_then(|dir| std::fs::read_dir(dir).ok())
            .is_some_and(|mut entries| {
                entries.any(|e| {
                    e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
                })
            })
    };
    if has_target() {
        return Ok(());
    }
    println!("xtask: the pinned toolchain or its x86_64-unknown-none target is missing");
    let status = Command::new("rustup")
        .current_dir(root)
        .args(["toolchain", "install"])
        .status()
        .map_err(|e| format!("cannot run rustup ({e}); install rustup from https://rustup.rs"))?;
    if !status.success() || !has_target() {
        return Err(
            "`rustup toolchain install` did not provide the x86_64-unknown-none target".into(),
        );
    }
    Ok(())
}
