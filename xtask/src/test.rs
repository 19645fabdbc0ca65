//! `cargo xtask test`: host unit tests, in-QEMU kernel scenarios, the boot menu and the console
//! sessions on every machine, with one
//! tally at the end (`N passed, N failed`) and a failing exit status if anything failed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use lux9_iso::Module;
use lux9_kernel_core::test_pattern;
use lux9_tests::qemu::{self, EXIT_FAILURE, EXIT_SUCCESS, Machine, QemuConfig, QemuRun};
use lux9_tests::results::{self, Tally};

use crate::build::{self, Profile, target_dir};
use crate::{Options, root, tools};

/// How long one QEMU boot may take before it counts as hung. TCG with OVMF is the slowest.
const QEMU_TIMEOUT: Duration = Duration::from_secs(90);

/// Fault scenarios: the kernel must print a report containing every listed text and then exit
/// QEMU with the failure status.
const FAULT_SCENARIOS: [(&str, &[&str]); 6] = [
    (
        "pagefault",
        &[
            "lux9: panic: CPU exception 14 #PF (page fault) in kernel mode",
            "error code 0x0 (read, page not present, kernel)",
            "cr2 0x00000000deadb000",
            "rip 0xffffffff8",
            "rax 0x",
            "r15 0x",
        ],
    ),
    (
        "doublefault",
        &[
            "lux9: panic: CPU exception 8 #DF (double fault) in kernel mode",
            "rsp 0x00000000dead0000",
        ],
    ),
    (
        "stackoverflow",
        &[
            "#DF (double fault)",
            "kernel stack overflow: the stack reached its guard page",
        ],
    ),
    (
        "panic",
        &["lux9: panic: deliberate panic from the panic test scenario at kernel/src/ktest.rs:"],
    ),
    (
        "smap",
        &[
            "lux9: panic: CPU exception 14 #PF (page fault) in kernel mode",
            "error code 0x1 (read, protection violation, kernel)",
            "cr2 0x0000000000400000",
        ],
    ),
    (
        "smep",
        &[
            "lux9: panic: CPU exception 14 #PF (page fault) in kernel mode",
            "error code 0x11 (instruction fetch, protection violation, kernel)",
            "cr2 0x0000000000400000",
            "rip 0x0000000000400000",
        ],
    ),
];

pub fn test_command(args: &[String]) -> Result<(), String> {
    let options = Options::parse(
        args,
        &["--host-only", "--qemu-only", "--verbose"],
        &["--jobs", "--only"],
    )?;
    let verbose = options.flag("--verbose");
    let jobs = match options.value("--jobs") {
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!("--jobs wants a positive number, not {n}"))?,
        None => thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(4),
    };
    let started = Instant::now();
    let mut tally = Tally::default();
    // The pinned toolchain with its kernel target, rustfmt and clippy: the kernel build needs
    // the target, and CI runs `cargo fmt` and `cargo clippy` right after this command.
    tools::ensure_toolchain(&crate::root())?;
    if !options.flag("--qemu-only") {
        tools::ensure(&[tools::FOR_TEST])?;
        host_tests(&mut tally, verbose)?;
    }
    if !options.flag("--host-only") {
        tools::ensure(&[tools::FOR_ISO, tools::FOR_TEST])?;
        qemu_tests(&mut tally, verbose, jobs, options.value("--only"))?;
    }
    println!(
        "\nxtask: test summary ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    println!("{tally}");
    if tally.failed() == 0 && tally.passed() > 0 {
        Ok(())
    } else {
        Err(format!("{} test(s) failed", tally.failed()))
    }
}

fn host_tests(tally: &mut Tally, verbose: bool) -> Result<(), String> {
    println!("xtask: host unit tests: cargo test --workspace");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root())
        .args(["test", "--workspace", "--color", "never"]);
    let run = qemu::run(command, Duration::from_secs(40 * 60), None, verbose)
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    match (results::cargo_test_totals(&run.output), run.status) {
        (Some((passed, failed)), Some(0)) => {
            tally.record_batch("host", "cargo test --workspace", passed, failed, "")
        }
        (Some((passed, failed)), _) => {
            if !verbose {
                println!("{}", run.tail(80));
            }
            tally.record_batch(
                "host",
                "cargo test --workspace",
                passed,
                failed.max(1),
                "see the output above",
            );
        }
        (None, _) => {
            println!("{}", run.tail(80));
            tally.record(
                "host",
                "cargo test --workspace",
                false,
                "did not build or run; see above",
            );
        }
    }
    Ok(())
}

/// Turns one QEMU run into tally entries.
type Judge = Box<dyn Fn(&QemuRun, &mut Tally) + Send + Sync>;

/// A scripted session on a QEMU configuration (with `--verbose`), one tally entry per step.
type Session = Box<dyn Fn(&QemuConfig, bool) -> Tally + Send + Sync>;

/// One QEMU boot to run, and how to judge it.
struct Job {
    name: String,
    config: QemuConfig,
    judge: Judge,
    /// A scripted console session instead of a plain run (the judge is then unused).
    session: Option<Session>,
}

fn qemu_tests(
    tally: &mut Tally,
    verbose: bool,
    jobs: usize,
    only: Option<&str>,
) -> Result<(), String> {
    let kernel = build::build_kernel(Profile::Release)?;
    let dir = target_dir().join("lux9-test");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let blob = write_test_blob(&dir)?;

    println!("xtask: building ISOs");
    let real_iso = target_dir().join("lux9.iso");
    build::make_iso(&kernel, &[], Vec::new(), &real_iso)?;
    let ovmf = qemu::find_ovmf().ok_or("OVMF firmware not found (apt-get install ovmf)")?;

    let mut work: Vec<Job> = Vec::new();
    let mut iso_built: Vec<&str> = Vec::new();
    let pattern_disk = write_pattern_disk(&dir)?;
    // What every scenario ISO carries: the test blob and the pattern disk.
    let test_modules = || {
        vec![
            Module {
                source: blob.clone(),
                name: "lux9-test-blob.bin".into(),
                cmdline: test_pattern::MODULE_NAME.into(),
            },
            Module {
                source: pattern_disk.clone(),
                name: "lux9-pattern-disk.img".into(),
                cmdline: lux9_blk::pattern::MODULE_WORD.into(),
            },
        ]
    };
    let scenario_iso = |scenario: &str| -> Result<PathBuf, String> {
        let iso = dir.join(format!("test-{scenario}.iso"));
        build::make_iso(&kernel, &[format!("test={scenario}")], test_modules(), &iso)?;
        Ok(iso)
    };

    // The case scenarios on q35 with `-cpu max`, and both once more on the pc machine with
    // `-cpu qemu64`: no SMEP or SMAP, so ring 3's pointers and faults are checked on the
    // kernel's path for CPUs without them, and the kernel cases (the I/O APIC routing of the
    // PIT's IRQ 0 through the pc's own MADT among them) run on the other chipset.
    for (label, scenario, machine) in [
        ("kernel", "kernel", Machine::Q35Bios),
        ("kernel[pc-ide-bios]", "kernel", Machine::PcIde),
        ("user", "user", Machine::Q35Bios),
        ("user[pc-ide-bios]", "user", Machine::PcIde),
    ] {
        let iso = dir.join(format!("test-{scenario}.iso"));
        let iso = if iso_built.contains(&scenario) {
            iso
        } else {
            iso_built.push(scenario);
            scenario_iso(scenario)?
        };
        let mut config = QemuConfig::new(machine, iso);
        if machine == Machine::PcIde {
            config.cpu = "qemu64".into();
        }
        work.push(Job {
            name: label.into(),
            config,
            judge: Box::new(move |run, tally| judge_cases(label, scenario, run, tally)),
            session: None,
        });
    }
    // The disk drivers: the same `disks` cases once per bus, each boot with a copy of the
    // pattern disk as sd0 and a blank scratch disk as sd1 on that bus. The judge also wants
    // the kernel's word that sd0 went through the driver meant.
    let ext4_disk = write_ext4_disk(&dir)?;
    let ext4_gpt_disk = write_ext4_gpt_disk(&dir)?;
    let mut disks_isos = Vec::new();
    for preset in ["hybrid", "strict", "off"] {
        let iso = dir.join(format!("test-disks-{preset}.iso"));
        let words = ["test=disks".to_string(), format!("isolation={preset}")];
        build::make_iso(&kernel, &words, test_modules(), &iso)?;
        disks_isos.push((preset, iso));
    }
    for (label, bus, machine, driver, preset) in DISK_JOBS {
        let iso = disks_isos
            .iter()
            .find(|(p, _)| *p == preset)
            .map(|(_, iso)| iso.clone())
            .expect("every preset has its ISO");
        let mut config = QemuConfig::new(machine, iso);
        let tag = label
            .trim_start_matches("disks[")
            .trim_end_matches(']')
            .replace(',', "-");
        let pattern = dir.join(format!("disks-{tag}-pattern.img"));
        std::fs::copy(&pattern_disk, &pattern)
            .map_err(|e| format!("copying the pattern disk to {}: {e}", pattern.display()))?;
        let scratch = dir.join(format!("disks-{tag}-scratch.img"));
        write_scratch_disk(&scratch)?;
        let ext4 = dir.join(format!("disks-{tag}-ext4.img"));
        std::fs::copy(&ext4_gpt_disk, &ext4)
            .map_err(|e| format!("copying the ext4 disk to {}: {e}", ext4.display()))?;
        for image in [pattern, scratch, ext4] {
            config.disks.push(qemu::Disk { image, bus });
        }
        work.push(Job {
            name: label.into(),
            config,
            judge: Box::new(move |run, tally| {
                judge_cases(label, "disks", run, tally);
                // The volume ext4-view cannot read is refused with the feature named, by the
                // isolated ext4srv or by the kernel for the colocated one.
                let named = run.output.contains(INLINE_DATA_REFUSAL);
                tally.record(
                    "qemu",
                    &format!("{label}::mount_names_the_unsupported_feature"),
                    named,
                    if named {
                        String::new()
                    } else {
                        format!("nobody said {INLINE_DATA_REFUSAL:?}")
                    },
                );
                let said = format!("ktest: disks: sd0 driver {driver} ");
                let ok = run.output.contains(&said);
                tally.record(
                    "qemu",
                    &format!("{label}::sd0_uses_{}", driver.replace('-', "_")),
                    ok,
                    if ok {
                        String::new()
                    } else {
                        format!("the kernel did not say \"{said}\"")
                    },
                );
            }),
            session: None,
        });
    }
    // ext4 on the boot-module disk, and damaged ext4 volumes (faults.rs), read by an isolated
    // and by the colocated ext4srv: rd0 is the `disks` scenario's ext4 GPT disk (in place of
    // the pattern disk, which only the kernel and user scenarios read), sd0 the damaged disk.
    let corrupt_disk = crate::faults::write_corrupt_disk(&dir)?;
    for (label, preset) in EXT4_FAULT_JOBS {
        let iso = dir.join(format!("test-ext4-faults-{preset}.iso"));
        let words = [
            "test=ext4-faults".to_string(),
            format!("isolation={preset}"),
        ];
        let modules = vec![
            Module {
                source: blob.clone(),
                name: "lux9-test-blob.bin".into(),
                cmdline: test_pattern::MODULE_NAME.into(),
            },
            Module {
                source: ext4_gpt_disk.clone(),
                name: "lux9-ext4-gpt-disk.img".into(),
                cmdline: lux9_blk::pattern::MODULE_WORD.into(),
            },
        ];
        build::make_iso(&kernel, &words, modules, &iso)?;
        let mut config = QemuConfig::new(Machine::Q35Bios, iso);
        let image = dir.join(format!("ext4-faults-{preset}-corrupt.img"));
        std::fs::copy(&corrupt_disk, &image)
            .map_err(|e| format!("copying the corrupt disk to {}: {e}", image.display()))?;
        config.disks.push(qemu::Disk {
            image,
            bus: qemu::DiskBus::Virtio,
        });
        work.push(Job {
            name: label.into(),
            config,
            judge: Box::new(move |run, tally| judge_cases(label, "ext4-faults", run, tally)),
            session: None,
        });
    }
    // utest once more with every server isolated: sysserver_serves_concurrent_clients then
    // starts the isolated sysserver (as init would) and goes through it.
    let strict_iso = dir.join("test-user-strict.iso");
    let words = ["test=user".to_string(), "isolation=strict".to_string()];
    build::make_iso(&kernel, &words, test_modules(), &strict_iso)?;
    work.push(Job {
        name: "user strict".into(),
        config: QemuConfig::new(Machine::Q35Bios, strict_iso),
        judge: Box::new(|run, tally| judge_cases("user[strict]", "user", run, tally)),
        session: None,
    });
    for (scenario, expected) in FAULT_SCENARIOS {
        let name = scenario.to_string();
        work.push(Job {
            name: name.clone(),
            config: QemuConfig::new(Machine::Q35Bios, scenario_iso(scenario)?),
            judge: Box::new(move |run, tally| judge_fault(&name, expected, run, tally)),
            session: None,
        });
    }
    // The benchmarks as `cargo xtask bench` runs them (under -icount, about 15 s): they must
    // finish, guard themselves (a fastpath figure without the fastpath fails the run), print
    // every figure, and ten nops must measure 10 ticks.
    let mut config = QemuConfig::new(Machine::Q35Bios, scenario_iso("bench")?);
    config.extra = crate::bench::ICOUNT.iter().map(|a| a.to_string()).collect();
    work.push(Job {
        name: "bench".into(),
        config,
        judge: Box::new(judge_bench),
        session: None,
    });
    // The boot menu, reached as a user would: Esc during GRUB's countdown on the serial console
    // (BIOS) and on the screen's keyboard (UEFI).
    for (job, machine) in [
        ("menu serial", Machine::Q35Bios),
        ("menu keyboard", Machine::Q35Uefi),
    ] {
        let mut config = QemuConfig::new(machine, &real_iso);
        config.memory = "512M".into();
        if machine == Machine::Q35Uefi {
            config.ovmf = Some((ovmf.clone(), dir.join("ovmf-vars-menu.fd")));
        }
        config
            .prepare()
            .map_err(|e| format!("preparing {job}: {e}"))?;
        work.push(Job {
            name: job.into(),
            config,
            judge: Box::new(|_, _| {}),
            session: Some(Box::new(move |config, verbose| {
                crate::menu::session(job, config, verbose)
            })),
        });
    }
    // The console sessions, every machine in every preset (see console::MATRIX). The default
    // preset boots target/lux9.iso itself; the others an ISO with `isolation=PRESET` and a bad
    // value, which must be reported at boot without stopping it.
    for plan in crate::console::MATRIX {
        let iso = if plan.uses_default_iso() {
            real_iso.clone()
        } else {
            let iso = dir.join(format!("console-{}.iso", plan.preset));
            if !iso_built.contains(&plan.preset) {
                let mut words = vec![
                    format!("isolation={}", plan.preset),
                    crate::console::BAD_SETTING.into(),
                ];
                // One preset names its boot mount instead of taking the default (`auto`).
                if let Some(mount) = crate::console::explicit_mount(plan.preset) {
                    words.push(format!("mount={mount}"));
                }
                build::make_iso(&kernel, &words, Vec::new(), &iso)?;
                iso_built.push(plan.preset);
            }
            iso
        };
        let mut config = QemuConfig::new(plan.machine, &iso);
        config.memory = "512M".into();
        if plan.machine == Machine::PcIde {
            // An older, plainer CPU model without SMEP or SMAP, like older VirtualBox hosts.
            config.cpu = "qemu64".into();
        }
        if plan.machine == Machine::Q35Uefi {
            let vars = dir.join(format!("ovmf-vars-{}.fd", plan.preset));
            config.ovmf = Some((ovmf.clone(), vars));
        }
        // Two disks on the machine's controllers, which `cat /sys/pci` must show and whose
        // bytes `sha256sum /dev/sdN/data` must hash as the host does: the machine's default bus
        // (virtio on q35, IDE on pc) with a pattern, and AHCI with the ext4 disk. Each session has its own files, since QEMU
        // locks an image it has open.
        for (n, bus) in [
            qemu::DiskBus::default_for(plan.machine),
            qemu::DiskBus::Ahci,
        ]
        .into_iter()
        .enumerate()
        {
            let image = dir.join(format!(
                "disk-{}-{}-{n}.img",
                plan.machine.name(),
                plan.preset
            ));
            // The second is the ext4 disk, which init mounts at /mnt at boot.
            let bytes = if n == 1 {
                std::fs::read(&ext4_disk)
                    .map_err(|e| format!("reading {}: {e}", ext4_disk.display()))?
            } else {
                crate::console::disk_bytes(n)
            };
            std::fs::write(&image, bytes)
                .map_err(|e| format!("creating {}: {e}", image.display()))?;
            config.disks.push(qemu::Disk { image, bus });
        }
        config.disk_args()?;
        config
            .prepare()
            .map_err(|e| format!("preparing {}: {e}", plan.job()))?;
        work.push(Job {
            name: plan.job(),
            config,
            judge: Box::new(|_, _| {}),
            session: Some(Box::new(move |config, verbose| {
                crate::console::session(plan, config, verbose)
            })),
        });
    }

    if let Some(only) = only {
        work.retain(|job| job.name.contains(only));
        if work.is_empty() {
            return Err(format!("no QEMU run's name contains {only:?}"));
        }
    }
    println!("xtask: {} QEMU runs, {jobs} at a time", work.len());
    let outcomes: Mutex<Vec<(usize, Tally)>> = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    thread::scope(|scope| {
        for _ in 0..jobs.min(work.len()) {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next.lock().expect("job counter");
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some(job) = work.get(index) else { break };
                    println!("xtask: qemu: {} ...", job.name);
                    let mut local = Tally::default();
                    if let Some(session) = &job.session {
                        local = session(&job.config, verbose);
                        outcomes.lock().expect("outcomes").push((index, local));
                        continue;
                    }
                    match qemu::run(job.config.command(), QEMU_TIMEOUT, None, verbose) {
                        Ok(run) => (job.judge)(&run, &mut local),
                        Err(e) => local.record(
                            "qemu",
                            &job.name,
                            false,
                            format!("cannot start QEMU: {e}"),
                        ),
                    }
                    outcomes.lock().expect("outcomes").push((index, local));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("outcomes");
    outcomes.sort_by_key(|(index, _)| *index);
    for (_, local) in outcomes {
        tally.entries.extend(local.entries);
    }
    Ok(())
}

/// The `disks` scenario's boots: label, bus, machine, the driver that must serve sd0, and the
/// isolation preset (`hybrid` and `strict` read the ext4 volume through an isolated ext4srv,
/// `off` through the colocated one).
type DiskJob = (
    &'static str,
    qemu::DiskBus,
    Machine,
    &'static str,
    &'static str,
);
const DISK_JOBS: [DiskJob; 9] = {
    use qemu::DiskBus::{Ahci, Ide, Virtio};
    const VIRTIO: (qemu::DiskBus, Machine, &str) = (Virtio, Machine::Q35Bios, "virtio-blk");
    const AHCI: (qemu::DiskBus, Machine, &str) = (Ahci, Machine::Q35Bios, "ahci");
    const IDE: (qemu::DiskBus, Machine, &str) = (Ide, Machine::PcIde, "ide");
    [
        ("disks[virtio]", VIRTIO.0, VIRTIO.1, VIRTIO.2, "hybrid"),
        (
            "disks[virtio,strict]",
            VIRTIO.0,
            VIRTIO.1,
            VIRTIO.2,
            "strict",
        ),
        ("disks[virtio,off]", VIRTIO.0, VIRTIO.1, VIRTIO.2, "off"),
        ("disks[ahci]", AHCI.0, AHCI.1, AHCI.2, "hybrid"),
        ("disks[ahci,strict]", AHCI.0, AHCI.1, AHCI.2, "strict"),
        ("disks[ahci,off]", AHCI.0, AHCI.1, AHCI.2, "off"),
        ("disks[ide]", IDE.0, IDE.1, IDE.2, "hybrid"),
        ("disks[ide,strict]", IDE.0, IDE.1, IDE.2, "strict"),
        ("disks[ide,off]", IDE.0, IDE.1, IDE.2, "off"),
    ]
};

/// The `ext4-faults` scenario's boots, on q35 with the damaged disk on virtio: label and
/// isolation preset (`hybrid` and `strict` isolate ext4srv, `off` colocates it in the kernel).
const EXT4_FAULT_JOBS: [(&str, &str); 3] = [
    ("ext4-faults", "hybrid"),
    ("ext4-faults[strict]", "strict"),
    ("ext4-faults[off]", "off"),
];

/// The boot-module pattern disk of the test ISOs (`lux9_blk::pattern`), with an MBR written by
/// `sfdisk` over sector 0 (`lux9_blk::pattern::PARTITIONS`: the last one ends at the disk's
/// last sector).
fn write_pattern_disk(dir: &Path) -> Result<PathBuf, String> {
    use lux9_blk::pattern::{MODULE_SECTORS, PARTITIONS, sector};
    let path = dir.join("lux9-pattern-disk.img");
    let bytes: Vec<u8> = (0..MODULE_SECTORS).flat_map(sector).collect();
    std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let script: String = std::iter::once("label: dos\n".to_string())
        .chain(
            PARTITIONS
                .iter()
                .map(|(_, first, count, kind)| format!("{first},{count},{kind:x}\n")),
        )
        .collect();
    lux9_tests::host_tools::sfdisk(&path, &script)?;
    Ok(path)
}

/// A file tree for an ext4 image, made under `dir/name`: `files` (path, bytes) and `symlinks`
/// (path, target), plus `SHA256SUMS` (the host's `sha256sum` of every file and symlink, in
/// coreutils' format) and `LISTINGS` (`directory count` lines for the checker to list).
fn write_ext4_tree(
    dir: &Path,
    name: &str,
    files: &[(String, Vec<u8>)],
    symlinks: &[(&str, &str)],
    listings: &[(&str, usize)],
) -> Result<PathBuf, String> {
    let tree = dir.join(name);
    let _ = std::fs::remove_dir_all(&tree);
    let write = |path: &Path, bytes: &[u8]| -> Result<(), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    for (path, bytes) in files {
        write(&tree.join(path), bytes)?;
    }
    for (path, target) in symlinks {
        std::os::unix::fs::symlink(target, tree.join(path))
            .map_err(|e| format!("making the symlink {path}: {e}"))?;
    }
    let names: Vec<String> = files
        .iter()
        .map(|(path, _)| path.clone())
        .filter(|path| !path.starts_with("dir3000/"))
        .chain(symlinks.iter().map(|(path, _)| path.to_string()))
        .collect();
    write_sums(&tree, &names, listings)?;
    Ok(tree)
}

/// Writes `SHA256SUMS` (the host's `sha256sum` of the files `names`, in coreutils' format) and
/// `LISTINGS` (`directory count` lines) into `tree`.
pub(crate) fn write_sums(
    tree: &Path,
    names: &[String],
    listings: &[(&str, usize)],
) -> Result<(), String> {
    let sums = Command::new("sha256sum")
        .args(names)
        .current_dir(tree)
        .output()
        .map_err(|e| format!("cannot run sha256sum: {e}"))?;
    if !sums.status.success() {
        return Err(format!("sha256sum of {} failed", tree.display()));
    }
    std::fs::write(tree.join("SHA256SUMS"), &sums.stdout)
        .map_err(|e| format!("writing {}/SHA256SUMS: {e}", tree.display()))?;
    let listings: String = listings
        .iter()
        .map(|(dir, count)| format!("{dir} {count}\n"))
        .collect();
    std::fs::write(tree.join("LISTINGS"), listings)
        .map_err(|e| format!("writing {}/LISTINGS: {e}", tree.display()))
}

/// `mkfs.ext4 -d TREE` into an image of `size` with `block` bytes per block and the further
/// mkfs `options`; its bytes.
pub(crate) fn mkfs_ext4(
    tree: &Path,
    image: &Path,
    block: u32,
    size: &str,
    options: &[&str],
) -> Result<Vec<u8>, String> {
    let _ = std::fs::remove_file(image);
    let mkfs = lux9_tests::host_tools::find("mkfs.ext4")
        .ok_or("mkfs.ext4 not found (apt-get install e2fsprogs)")?;
    let status = Command::new(mkfs)
        .args(["-q", "-F", "-b", &block.to_string()])
        .args(options)
        .arg("-d")
        .arg(tree)
        .arg(image)
        .arg(size)
        .status()
        .map_err(|e| format!("cannot run mkfs.ext4: {e}"))?;
    if !status.success() {
        return Err("mkfs.ext4 failed".into());
    }
    std::fs::read(image).map_err(|e| format!("reading {}: {e}", image.display()))
}

/// A disk of `filesystems` one after the other from sector 2048, under a partition table that
/// `sfdisk` writes (`label` dos or gpt), one partition each.
pub(crate) fn partitioned_disk(
    path: &Path,
    label: &str,
    filesystems: &[&[u8]],
) -> Result<(), String> {
    let mut bytes = vec![0u8; 1 << 20];
    let mut script = format!("label: {label}\n");
    for fs in filesystems {
        let first = bytes.len() / 512;
        script.push_str(&format!(
            "{first},{},{}\n",
            fs.len() / 512,
            if label == "gpt" { "L" } else { "83" }
        ));
        bytes.extend_from_slice(fs);
    }
    // Room for the backup GPT.
    bytes.resize(bytes.len() + (1 << 20), 0);
    std::fs::write(path, &bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    lux9_tests::host_tools::sfdisk(path, &script)
}

/// The big tree: a text file, an empty file, 4 MiB and 1 MiB of random bytes, a file three directories
/// down, a symlink, 1,000 small files and a 3,000-entry directory, in ext4 with 4 KiB blocks.
fn big_ext4(dir: &Path) -> Result<Vec<u8>, String> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..4 << 20)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let one_mib: Vec<u8> = (0..1 << 20)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "hello.txt".into(),
            b"hello from ext4 inside Lux9\n".to_vec(),
        ),
        ("empty".into(), Vec::new()),
        ("big.bin".into(), big),
        // The scattered-read benchmarks' file: 1 MiB, the second half of big.bin's stream.
        ("one-mib.bin".into(), one_mib),
        ("dir/sub/deep.txt".into(), b"three levels down\n".to_vec()),
    ];
    files.extend((0..1000).map(|n| {
        (
            format!("many/file-{n:04}"),
            format!("file {n} of the many\n")
                .repeat(n % 7 + 1)
                .into_bytes(),
        )
    }));
    files.extend((0..3000).map(|n| (format!("dir3000/f-{n:04}"), Vec::new())));
    let tree = write_ext4_tree(
        dir,
        "ext4-tree",
        &files,
        &[("link-to-hello", "hello.txt")],
        &[("many", 1000), ("dir3000", 3000)],
    )?;
    mkfs_ext4(&tree, &dir.join("ext4-fs.img"), 4096, "24M", &[])
}

/// The small tree in ext4 with 1 KiB blocks: a file of 300,000 bytes (three levels of 1 KiB
/// blocks' extents), a symlink into a directory, and 500 files.
fn small_ext4(dir: &Path) -> Result<Vec<u8>, String> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "middle.bin".into(),
            (0..300_000u32).map(|i| (i * 31 + i / 1024) as u8).collect(),
        ),
        ("notes/readme.txt".into(), b"1 KiB blocks\n".to_vec()),
    ];
    files.extend((0..500).map(|n| (format!("five-hundred/{n}"), format!("{n}\n").into_bytes())));
    let tree = write_ext4_tree(
        dir,
        "ext4-tree-1k",
        &files,
        &[("readme-link", "notes/readme.txt")],
        &[("five-hundred", 500)],
    )?;
    mkfs_ext4(&tree, &dir.join("ext4-fs-1k.img"), 1024, "4M", &[])
}

/// The ext4 disk of the console sessions and the ext4 benchmarks: an MBR whose partition 1
/// holds [`big_ext4`]. Returns its path.
pub fn write_ext4_disk(dir: &Path) -> Result<PathBuf, String> {
    let fs = big_ext4(dir)?;
    let disk = dir.join("lux9-ext4-disk.img");
    partitioned_disk(&disk, "dos", &[&fs])?;
    Ok(disk)
}

/// An ext4 filesystem with the incompatible feature `inline_data`, which ext4-view cannot read:
/// `mount ext4` must refuse it and name the feature.
fn inline_data_ext4(dir: &Path) -> Result<Vec<u8>, String> {
    let tree = dir.join("ext4-tree-empty");
    std::fs::create_dir_all(&tree).map_err(|e| format!("creating {}: {e}", tree.display()))?;
    mkfs_ext4(
        &tree,
        &dir.join("ext4-inline-data.img"),
        1024,
        "1M",
        &["-O", "inline_data"],
    )
}

/// What `mount ext4` (or the isolated ext4srv it starts) prints for the `inline_data`
/// partition, in every placement.
pub const INLINE_DATA_REFUSAL: &str = "unsupported ext4 feature: inline_data";

/// The `disks` scenario's ext4 disk: a GPT with [`big_ext4`] (4 KiB blocks) as partition 1,
/// [`small_ext4`] (1 KiB blocks) as partition 2 and [`inline_data_ext4`] as partition 3.
/// Returns its path.
fn write_ext4_gpt_disk(dir: &Path) -> Result<PathBuf, String> {
    let big = big_ext4(dir)?;
    let small = small_ext4(dir)?;
    let inline = inline_data_ext4(dir)?;
    let disk = dir.join("lux9-ext4-gpt-disk.img");
    partitioned_disk(&disk, "gpt", &[&big, &small, &inline])?;
    Ok(disk)
}

/// The `disks` scenario's scratch disk: blank, with a GPT that `sfdisk` writes
/// (`lux9_blk::pattern::SCRATCH_GPT`).
fn write_scratch_disk(path: &Path) -> Result<(), String> {
    use lux9_blk::pattern::{SCRATCH_GPT, SCRATCH_SECTORS, SECTOR};
    std::fs::write(path, vec![0u8; SCRATCH_SECTORS as usize * SECTOR])
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let script: String = std::iter::once("label: gpt\n".to_string())
        .chain(
            SCRATCH_GPT
                .iter()
                .map(|(_, first, count)| format!("{first},{count},L\n")),
        )
        .collect();
    lux9_tests::host_tools::sfdisk(path, &script)
}

fn write_test_blob(dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join("lux9-test-blob.bin");
    let bytes: Vec<u8> = (0..test_pattern::MODULE_LEN as u64)
        .map(test_pattern::byte)
        .collect();
    std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// Why a run that should have exited did not.
fn abnormal_end(run: &QemuRun) -> Option<String> {
    if run.timed_out {
        return Some(format!(
            "hung: killed after {} s; last output:\n{}",
            QEMU_TIMEOUT.as_secs(),
            run.tail(15)
        ));
    }
    None
}

/// Judges a scenario that reports `ktest: case` lines (`kernel` from the kernel, `user` from the
/// `utest` program).
fn judge_cases(label: &str, scenario: &str, run: &QemuRun, tally: &mut Tally) {
    let cases = results::kernel_cases(&run.output);
    let expected = crate::cases::expected(scenario);
    let reported: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
    let (missing, unexpected, repeated) = crate::cases::differences(expected, &reported);
    for case in &cases {
        let detail = if unexpected.contains(&case.name.as_str()) {
            "not in the list of expected cases: add it to xtask/src/cases.rs".to_string()
        } else if repeated.contains(&case.name.as_str()) {
            format!("reported more than once; {}", case.detail)
        } else {
            case.detail.clone()
        };
        let expected_once =
            !unexpected.contains(&case.name.as_str()) && !repeated.contains(&case.name.as_str());
        tally.record(
            "qemu",
            &format!("{label}::{}", case.name),
            case.passed && expected_once,
            detail,
        );
    }
    for name in missing {
        tally.record(
            "qemu",
            &format!("{label}::{name}"),
            false,
            "expected (xtask/src/cases.rs) but not reported",
        );
    }
    let complete = match (results::kernel_summary(&run.output), run.status) {
        _ if run.timed_out => Err(abnormal_end(run).unwrap_or_default()),
        (Some((passed, failed)), Some(status)) => {
            if passed + failed != cases.len() {
                Err(format!(
                    "summary says {passed}+{failed} cases but {} were reported",
                    cases.len()
                ))
            } else if (failed == 0) != (status == EXIT_SUCCESS) {
                Err(format!(
                    "exit status {status} does not match {failed} failure(s)"
                ))
            } else {
                Ok(())
            }
        }
        (None, status) => Err(format!(
            "the scenario stopped before its summary (exit status {status:?}); last output:\n{}",
            run.tail(15)
        )),
        (Some(_), None) => Err("QEMU ended without an exit status".into()),
    };
    if let Err(why) = complete {
        tally.record("qemu", &format!("{label} (scenario completed)"), false, why);
    } else if cases.is_empty() {
        tally.record(
            "qemu",
            &format!("{label} (scenario completed)"),
            false,
            "no cases ran",
        );
    }
}

/// The `bench` program under `-icount shift=0`: a clean exit, every kernel figure printed, and
/// ten nops measured as 10 ticks.
fn judge_bench(run: &QemuRun, tally: &mut Tally) {
    if let Some(why) = abnormal_end(run) {
        tally.record("qemu", "bench::runs to the end", false, why);
        return;
    }
    let lines: Vec<_> = run
        .output
        .lines()
        .filter_map(crate::bench::parse_bench_line)
        .collect();
    let status = if run.status == Some(EXIT_SUCCESS) {
        Ok(())
    } else {
        Err(format!(
            "QEMU exited with {:?}; last output:\n{}",
            run.status,
            run.tail(15)
        ))
    };
    let missing: Vec<&str> = crate::bench::KERNEL_FIGURES
        .iter()
        .copied()
        .filter(|name| !lines.iter().any(|line| line.name == *name))
        .collect();
    let figures = if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("no BENCH line for {}", missing.join(", ")))
    };
    for (name, verdict) in [
        ("bench::runs to the end", status),
        ("bench::prints every figure", figures),
        (
            "bench::ten nops measure 10 ticks under icount",
            crate::bench::check_calibration(&lines),
        ),
    ] {
        tally.record(
            "qemu",
            name,
            verdict.is_ok(),
            verdict.err().unwrap_or_default(),
        );
    }
}

fn judge_fault(name: &str, expected: &[&str], run: &QemuRun, tally: &mut Tally) {
    let verdict = if let Some(why) = abnormal_end(run) {
        Err(why)
    } else if let Some(missing) = expected.iter().find(|text| !run.contains(text)) {
        Err(format!(
            "report lacks {missing:?}; last output:\n{}",
            run.tail(15)
        ))
    } else if run.status != Some(EXIT_FAILURE) {
        Err(format!(
            "exit status {:?}, expected {EXIT_FAILURE} (panic under test)",
            run.status
        ))
    } else {
        Ok(())
    };
    match verdict {
        Ok(()) => tally.record(
            "qemu",
            &format!("fault::{name}"),
            true,
            "reported and stopped",
        ),
        Err(why) => tally.record("qemu", &format!("fault::{name}"), false, why),
    }
}
