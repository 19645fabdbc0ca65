//! `cargo xtask bench`: boots the kernel with `test=bench` under QEMU with
//! `-icount shift=0,align=off -cpu max`, where the TSC counts guest instructions, and prints the
//! `BENCH` lines the `bench` program writes (see ../shared/BENCHMARKS.md for the unit).

use std::time::Duration;

use lux9_tests::qemu::{self, EXIT_SUCCESS, Machine, QemuConfig};

use crate::build::{self, Profile, target_dir};
use crate::{Options, tools};

/// Linux 6.1 in the same emulator, from BENCHMARKS.md, for the side-by-side table.
const LINUX_TICKS: [(&str, u64); 11] = [
    ("null_syscall", 337),
    ("yield_pair", 890),
    ("ipc_fastpath_roundtrip", 11_359),
    ("ipc_slowpath_roundtrip", 11_359),
    ("pipe_roundtrip", 11_359),
    ("ring_roundtrip", 10_629),
    ("ring_batch64_per_op", 10_629),
    // stat + open + read 1 KiB + close on tmpfs (BENCHMARKS.md): the nearest Linux figure.
    ("sys_stat_colocated", 11_560),
    ("sys_stat_isolated", 11_560),
    // pread 1 KiB from an open tmpfs file.
    ("sys_read4k_colocated", 1_466),
    ("sys_read4k_isolated", 1_466),
];

/// One `BENCH name=... ops=... ticks_per_op=... switches_per_op=...` line.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchLine {
    pub name: String,
    pub ops: u64,
    pub ticks_per_op: u64,
    pub switches_per_op: String,
}

pub fn parse_bench_line(line: &str) -> Option<BenchLine> {
    let rest = line.trim().strip_prefix("BENCH ")?;
    let field = |key: &str| {
        rest.split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some(BenchLine {
        name: field("name")?,
        ops: field("ops")?.parse().ok()?,
        ticks_per_op: field("ticks_per_op")?.parse().ok()?,
        switches_per_op: field("switches_per_op")?,
    })
}

/// The figures of a `test=bench` boot (the default hybrid preset), in the order printed.
pub const KERNEL_FIGURES: [&str; 14] = [
    "calibration_nop10",
    "null_syscall",
    "yield_pair",
    "ipc_fastpath_roundtrip",
    "ipc_slowpath_roundtrip",
    "pipe_roundtrip",
    "pipe_throughput",
    "ring_roundtrip",
    "ring_batch64_per_op",
    "ring_futex_skip",
    "sys_stat_colocated",
    "sys_read4k_colocated",
    "sys_read16k_pipelined_colocated",
    "sys_stat_raw_colocated",
];

/// The disks of the q35 block benchmark run (sd0, sd1 in PCI order) and of the pc one.
const BLOCK_BUSES_Q35: [(&str, qemu::DiskBus); 2] = [
    ("virtio.img", qemu::DiskBus::Virtio),
    ("ahci.img", qemu::DiskBus::Ahci),
];
const BLOCK_BUSES_PC: [(&str, qemu::DiskBus); 1] = [("ide.img", qemu::DiskBus::Ide)];

/// The QEMU arguments under which a tick is a guest instruction.
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,align=off"];

/// Checks the `calibration_nop10` line: ten `nop`s must measure exactly 10 ticks, or ticks are
/// not instructions (QEMU without `-icount shift=0`, or a TSC that does not follow it).
pub fn check_calibration(lines: &[BenchLine]) -> Result<(), String> {
    let line = lines
        .iter()
        .find(|line| line.name == "calibration_nop10")
        .ok_or("no BENCH line for calibration_nop10")?;
    if line.ticks_per_op == 10 && line.switches_per_op == "0.00" {
        Ok(())
    } else {
        Err(format!(
            "calibration_nop10 measured {} ticks for ten nops ({} switches per op), not 10: \
             ticks are not instructions in this run",
            line.ticks_per_op, line.switches_per_op
        ))
    }
}

pub fn bench_command(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args, &["--verbose"], &["--only"])?;
    // `--only TEXT`: only the runs whose command-line words contain TEXT (`--only ext4`).
    let only = options.value("--only");
    tools::ensure(&[tools::FOR_ISO, tools::FOR_RUN])?;
    let kernel = build::build_kernel(Profile::Release)?;
    let mut lines: Vec<BenchLine> = Vec::new();
    // The kernel figures and sysserver colocated (the default hybrid preset), then sysserver
    // isolated (strict): the same tree code, placed the other way. Then raw block reads through
    // each disk driver: q35 with a virtio disk and an AHCI disk, pc with an IDE disk (16 MiB
    // blank images, read only).
    let scratch = target_dir().join("bench-disks");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    let disk = |name: &str, bus: qemu::DiskBus| -> Result<qemu::Disk, String> {
        let image = scratch.join(name);
        std::fs::write(&image, vec![0u8; 16 << 20])
            .map_err(|e| format!("writing {}: {e}", image.display()))?;
        Ok(qemu::Disk { image, bus })
    };
    let runs = [
        (
            "lux9-bench.iso",
            vec!["test=bench", "isolation=hybrid"],
            Machine::Q35Bios,
            vec![],
        ),
        (
            "lux9-bench-strict.iso",
            vec!["test=bench-sys", "isolation=strict"],
            Machine::Q35Bios,
            vec![],
        ),
        (
            "lux9-bench-blk.iso",
            vec!["test=bench-blk"],
            Machine::Q35Bios,
            BLOCK_BUSES_Q35
                .iter()
                .map(|&(name, bus)| disk(name, bus))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        // ext4 on a virtio disk: ext4srv isolated (hybrid), then colocated (off).
        (
            "lux9-bench-ext4.iso",
            vec!["test=bench-ext4", "isolation=hybrid"],
            Machine::Q35Bios,
            {
                let image = crate::test::write_ext4_disk(&scratch)?;
                vec![qemu::Disk {
                    image,
                    bus: qemu::DiskBus::Virtio,
                }]
            },
        ),
        (
            "lux9-bench-ext4-off.iso",
            vec!["test=bench-ext4", "isolation=off"],
            Machine::Q35Bios,
            {
                // A copy of its own: QEMU locks the image it has open.
                let image = scratch.join("lux9-ext4-disk-off.img");
                std::fs::copy(crate::test::write_ext4_disk(&scratch)?, &image)
                    .map_err(|e| format!("copying the ext4 disk: {e}"))?;
                vec![qemu::Disk {
                    image,
                    bus: qemu::DiskBus::Virtio,
                }]
            },
        ),
        (
            "lux9-bench-blk.iso",
            vec!["test=bench-blk"],
            Machine::PcIde,
            BLOCK_BUSES_PC
                .iter()
                .map(|&(name, bus)| disk(name, bus))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    ];
    for (name, words, machine, disks) in runs {
        if disks.is_empty() && words[0] == "test=bench-blk" {
            continue;
        }
        if only.is_some_and(|text| !words.iter().any(|w| w.contains(text))) {
            continue;
        }
        let iso = target_dir().join(name);
        let mut cmdline: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        cmdline.push("log=warn".into());
        build::make_iso(&kernel, &cmdline, Vec::new(), &iso)?;
        let mut config = QemuConfig::new(machine, &iso);
        config.cpu = "max".into();
        config.extra = ICOUNT.iter().map(|a| a.to_string()).collect();
        config.disks = disks;
        eprintln!(
            "xtask: benchmarking ({}) under QEMU -icount shift=0,align=off -cpu max (ticks = guest instructions)",
            words.join(" ")
        );
        let run = qemu::run(
            config.command(),
            Duration::from_secs(600),
            None,
            options.flag("--verbose"),
        )
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
        let found: Vec<BenchLine> = run.output.lines().filter_map(parse_bench_line).collect();
        // The block benchmarks' notes (zero-copy transfers and doorbells per request).
        for note in run.output.lines().filter(|l| l.starts_with("blk: ")) {
            eprintln!("{note}");
        }
        for line in &found {
            println!(
                "BENCH name={} ops={} ticks_per_op={} switches_per_op={}",
                line.name, line.ops, line.ticks_per_op, line.switches_per_op
            );
        }
        if run.timed_out || run.status != Some(EXIT_SUCCESS) || found.is_empty() {
            return Err(format!(
                "the benchmark run ({}) failed (exit status {:?}, timed out: {}); last output:\n{}",
                words.join(" "),
                run.status,
                run.timed_out,
                run.tail(20)
            ));
        }
        lines.extend(found);
    }
    if only.is_none() {
        check_calibration(&lines)?;
    }
    if let Some(svg) = crate::plot::ext4_techniques(&lines) {
        let path = crate::root().join("docs/ext4-techniques.svg");
        std::fs::write(&path, svg).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("xtask: drew {} from these figures", path.display());
    }
    eprintln!(
        "\n{:<24} {:>12} {:>14} {:>12}",
        "benchmark", "Lux9 ticks", "Linux ticks", "switches/op"
    );
    for line in &lines {
        let linux = LINUX_TICKS
            .iter()
            .find(|(name, _)| *name == line.name)
            .map_or("-".to_string(), |(_, t)| t.to_string());
        eprintln!(
            "{:<24} {:>12} {:>14} {:>12}",
            line.name, line.ticks_per_op, linux, line.switches_per_op
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines() {
        let line = parse_bench_line(
            "BENCH name=null_syscall ops=20000 ticks_per_op=97 switches_per_op=0.00",
        )
        .unwrap();
        assert_eq!(line.name, "null_syscall");
        assert_eq!((line.ops, line.ticks_per_op), (20000, 97));
        assert_eq!(line.switches_per_op, "0.00");
        assert_eq!(parse_bench_line("BENCH name=x ops=1"), None);
        assert_eq!(parse_bench_line("hello"), None);
    }

    #[test]
    fn calibration_must_be_ten_ticks() {
        let line = |text: &str| parse_bench_line(text).unwrap();
        let ok = line("BENCH name=calibration_nop10 ops=1000 ticks_per_op=10 switches_per_op=0.00");
        assert!(check_calibration(&[ok]).is_ok());
        let off = line("BENCH name=calibration_nop10 ops=1000 ticks_per_op=3 switches_per_op=0.00");
        assert!(check_calibration(&[off]).is_err());
        let switched =
            line("BENCH name=calibration_nop10 ops=1000 ticks_per_op=10 switches_per_op=0.01");
        assert!(check_calibration(&[switched]).is_err());
        let other = line("BENCH name=null_syscall ops=1 ticks_per_op=10 switches_per_op=0.00");
        assert!(check_calibration(&[other]).is_err());
    }
}
