//! Building the kernel and the ISO, and booting it in QEMU.

use std::path::{Path, PathBuf};
use std::process::Command;

use lux9_iso::{IsoSpec, Module};
use lux9_tests::qemu::{self, Machine, QemuConfig};

use crate::{Options, root, tools};

/// Release builds are about 8x faster than debug inside QEMU; debug is for stepping through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    fn from_options(options: &Options) -> Self {
        if options.flag("--debug") {
            Profile::Debug
        } else {
            Profile::Release
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// The user programs: every `[[bin]]` of `programs/Cargo.toml`.
fn program_names() -> Result<Vec<String>, String> {
    let manifest = root().join("programs").join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let name = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            names.push(name.to_string());
        }
    }
    if names.is_empty() {
        return Err(format!("{} lists no [[bin]] programs", manifest.display()));
    }
    Ok(names)
}

/// The name a program has in Lux9: its binary's, without a `lux9-` prefix, which marks a
/// program whose name a host binary of the workspace already has (`lux9-ext4srv` is Lux9's
/// `ext4srv`; the host's is ext4srv's own binary).
fn archive_name(bin: &str) -> &str {
    bin.strip_prefix("lux9-").unwrap_or(bin)
}

/// Builds the user programs and packs them into the initial program archive. Returns its path.
pub fn build_programs(profile: Profile) -> Result<PathBuf, String> {
    let mut command = cargo();
    command.args([
        "build",
        "-p",
        "lux9-programs",
        "--target",
        "x86_64-unknown-none",
    ]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the user programs failed".into());
    }
    let dir = target_dir().join("x86_64-unknown-none").join(profile.dir());
    let names = program_names()?;
    let mut images = Vec::new();
    for name in &names {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        images.push((archive_name(name), bytes));
    }
    let files: Vec<(&str, &[u8])> = images
        .iter()
        .map(|(name, bytes)| (*name, bytes.as_slice()))
        .collect();
    let archive =
        lux9_abi::archive::build(&files).map_err(|e| format!("packing the programs: {e:?}"))?;
    let path = dir.join("initrd.lux9");
    // Rewrite only on change, so cargo does not rebuild the kernel for nothing.
    if std::fs::read(&path).ok().as_deref() != Some(archive.as_slice()) {
        std::fs::write(&path, &archive).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(path)
}

/// Builds the user programs, then the kernel ELF with them embedded, and checks that GRUB will
/// accept it. Returns its path.
pub fn build_kernel(profile: Profile) -> Result<PathBuf, String> {
    tools::ensure_toolchain(&root())?;
    let archive = build_programs(profile)?;
    let mut command = cargo();
    command
        .args([
            "build",
            "-p",
            "lux9-kernel",
            "--target",
            "x86_64-unknown-none",
        ])
        .env("LUX9_INITRD", &archive);
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the kernel failed".into());
    }
    let kernel = target_dir()
        .join("x86_64-unknown-none")
        .join(profile.dir())
        .join("lux9-kernel");
    let check = Command::new("grub-file")
        .arg("--is-x86-multiboot2")
        .arg(&kernel)
        .status()
        .map_err(|e| format!("cannot run grub-file: {e}"))?;
    if !check.success() {
        return Err(format!(
            "{} is not a valid multiboot2 kernel (grub-file refused it)",
            kernel.display()
        ));
    }
    Ok(kernel)
}

/// Writes an ISO for `kernel` with extra command-line words and modules.
pub fn make_iso(
    kernel: &Path,
    words: &[String],
    modules: Vec<Module>,
    output: &Path,
) -> Result<(), String> {
    let name = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The configuration file always rides along; command-line words override it.
    let mut modules = modules;
    modules.insert(
        0,
        Module {
            source: root().join("grub").join("lux9.conf"),
            name: "lux9.conf".into(),
            cmdline: "lux9.conf".into(),
        },
    );
    let spec = IsoSpec {
        kernel: kernel.to_path_buf(),
        grub_cfg: root().join("grub").join("grub.cfg"),
        extra_cmdline: words.to_vec(),
        modules,
        staging: target_dir().join("iso-staging").join(name),
        output: output.to_path_buf(),
    };
    lux9_iso::build(&spec).map_err(|e| e.to_string())
}

fn cmdline_words(options: &Options) -> Vec<String> {
    let mut words: Vec<String> = options
        .value("--cmdline")
        .map(|v| v.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    words.extend(options.words.iter().cloned());
    words
}

pub fn build_command(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args, &["--debug"], &[])?;
    tools::ensure(&[&[tools::GRUB_FILE]])?;
    let kernel = build_kernel(Profile::from_options(&options))?;
    println!("xtask: kernel at {}", kernel.display());
    Ok(())
}

/// The boot-module disk of `--disk-module IMG`: GRUB loads the image next to the kernel with the
/// word `lux9-disk`, and the kernel serves it as `rd0` (read-only, 512-byte sectors).
fn disk_module(options: &Options) -> Result<Vec<Module>, String> {
    let Some(image) = options.value("--disk-module") else {
        return Ok(Vec::new());
    };
    let size = std::fs::metadata(image)
        .map_err(|e| format!("--disk-module {image}: {e}"))?
        .len();
    let sector = lux9_blk::pattern::SECTOR as u64;
    if size == 0 || !size.is_multiple_of(sector) {
        return Err(format!(
            "--disk-module {image}: {size} bytes is not a whole number of {sector}-byte sectors"
        ));
    }
    Ok(vec![Module {
        source: PathBuf::from(image),
        name: "lux9-disk.img".into(),
        cmdline: lux9_blk::pattern::MODULE_WORD.into(),
    }])
}

pub fn iso_command(args: &[String]) -> Result<(), String> {
    let options = Options::parse(
        args,
        &["--debug"],
        &["--cmdline", "--output", "--disk-module"],
    )?;
    tools::ensure(&[tools::FOR_ISO])?;
    let kernel = build_kernel(Profile::from_options(&options))?;
    let output = options
        .value("--output")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("lux9.iso"));
    make_iso(
        &kernel,
        &cmdline_words(&options),
        disk_module(&options)?,
        &output,
    )?;
    println!("xtask: wrote {}", output.display());
    Ok(())
}

pub fn run_command(args: &[String]) -> Result<(), String> {
    let options = Options::parse(
        args,
        &["--uefi", "--debug", "--display", "--kvm", "--menu"],
        &[
            "--machine",
            "--memory",
            "--cpu",
            "--cmdline",
            "--disk",
            "--disk-bus",
            "--disk-module",
        ],
    )?;
    let uefi = options.flag("--uefi");
    let machine = match (options.value("--machine").unwrap_or("q35"), uefi) {
        ("q35", false) => Machine::Q35Bios,
        ("q35", true) => Machine::Q35Uefi,
        ("pc", false) => Machine::PcIde,
        ("pc", true) => return Err("--uefi needs the q35 machine".into()),
        (other, _) => return Err(format!("unknown machine '{other}' (q35 or pc)")),
    };
    let mut needed: Vec<&[tools::Tool]> = vec![tools::FOR_ISO, tools::FOR_RUN];
    if uefi {
        needed.push(&[tools::OVMF]);
    }
    tools::ensure(&needed)?;
    let kernel = build_kernel(Profile::from_options(&options))?;
    let words = cmdline_words(&options);
    let modules = disk_module(&options)?;
    // Extra words or a disk module go into a separate image so that target/lux9.iso stays the
    // plain one.
    let iso = if words.is_empty() && modules.is_empty() {
        target_dir().join("lux9.iso")
    } else {
        target_dir().join("lux9-custom.iso")
    };
    make_iso(&kernel, &words, modules, &iso)?;

    let mut config = QemuConfig::new(machine, &iso);
    config.memory = options.value("--memory").unwrap_or("512M").to_string();
    if let Some(cpu) = options.value("--cpu") {
        config.cpu = cpu.to_string();
    }
    config.interactive = true;
    config.display = options.flag("--display");
    config.boot_menu = options.flag("--menu");
    let bus = match options.value("--disk-bus") {
        Some(name) => qemu::DiskBus::parse(name)
            .ok_or(format!("unknown --disk-bus '{name}' (virtio, ahci or ide)"))?,
        None => qemu::DiskBus::default_for(machine),
    };
    for image in options.all("--disk") {
        let image = PathBuf::from(image);
        if !image.is_file() {
            return Err(format!("--disk {}: no such file", image.display()));
        }
        config.disks.push(qemu::Disk { image, bus });
    }
    config.disk_args()?;
    if options.flag("--kvm") {
        config.accel = "kvm".into();
    }
    if uefi {
        let ovmf = qemu::find_ovmf().ok_or("OVMF firmware not found")?;
        config.ovmf = Some((ovmf, target_dir().join("ovmf-vars-run.fd")));
    }
    config
        .prepare()
        .map_err(|e| format!("preparing QEMU: {e}"))?;
    println!(
        "xtask: booting {} on {} (Ctrl-A X quits QEMU, Ctrl-A C opens its monitor)",
        iso.display(),
        machine.name()
    );
    let status = config
        .command()
        .status()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    match status.code() {
        Some(0) | Some(qemu::EXIT_SUCCESS) => Ok(()),
        Some(code) => Err(format!("QEMU exited with status {code}")),
        None => Err("QEMU was killed by a signal".into()),
    }
}
