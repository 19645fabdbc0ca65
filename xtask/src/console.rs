//! The scripted console sessions of `cargo xtask test`: boot Lux9 on every machine in every
//! isolation preset, type commands at the shell over the serial line and on the PS/2 keyboard,
//! check what comes back on the serial line and on the screen, then reboot or power off and
//! check how the machine stopped.

use std::time::Duration;

use lux9_tests::qemu::{Machine, QemuConfig};
use lux9_tests::qmp::Qmp;

use crate::power::{Started, power_off, reboot, start_session};
use lux9_tests::results::Tally;
use lux9_tests::session::Session;

pub const PROMPT: &str = "lux9% ";
/// A configuration word with a bad value, on every session's command line.
pub const BAD_SETTING: &str = "ext4srv=sideways";

/// The `mount=` setting the `strict` sessions boot with (the others take the default, `auto`,
/// which finds the same volume): init must mount exactly what it names.
pub fn explicit_mount(preset: &str) -> Option<&'static str> {
    (preset == "strict").then_some("/dev/sd1/p1:/mnt")
}
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

/// What a check knows besides the output of its own command.
pub struct Context<'a> {
    /// The isolation preset of the session.
    pub mode: &'a str,
    /// The machine the session runs on.
    pub machine: Machine,
    /// The commands run before this one in the session, with their outputs.
    pub earlier: &'a [(&'a str, String)],
}

impl Context<'_> {
    /// The output of an earlier command of the session.
    fn output_of(&self, command: &str) -> Result<&str, String> {
        self.earlier
            .iter()
            .find(|(run, _)| *run == command)
            .map(|(_, out)| out.as_str())
            .ok_or_else(|| format!("`{command}` did not run before this step"))
    }
}

type Check = fn(&str, &Context) -> Result<(), String>;

fn check_ls_dev(out: &str, _: &Context) -> Result<(), String> {
    let names: Vec<&str> = out.split_whitespace().collect();
    // sd0 and sd1: the two blank disks every session attaches, driven.
    for wanted in [
        "cons", "consctl", "null", "zero", "random", "kmsg", "sd0", "sd1",
    ] {
        if !names.contains(&wanted) {
            return Err(format!("{wanted} missing from the listing:\n{out}"));
        }
    }
    Ok(())
}

fn check_uptime(out: &str, _: &Context) -> Result<(), String> {
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

fn check_ipcstats(out: &str, _: &Context) -> Result<(), String> {
    for key in ["total_switches ", "fastpath_hits ", "colocated_calls "] {
        if !out.lines().any(|line| line.starts_with(key)) {
            return Err(format!("no {key:?}line in:\n{out}"));
        }
    }
    Ok(())
}

fn check_silent(out: &str, _: &Context) -> Result<(), String> {
    if out.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("expected no output, got:\n{out}"))
    }
}

fn check_isolation(out: &str, context: &Context) -> Result<(), String> {
    let mode = context.mode;
    let placement = if mode == "strict" {
        "isolated"
    } else {
        "colocated"
    };
    let ext4srv = if mode == "off" {
        "colocated"
    } else {
        "isolated"
    };
    let wanted = [
        format!("preset {mode}"),
        format!("sysserver {placement}"),
        format!("ext4srv {ext4srv}"),
    ];
    match wanted
        .iter()
        .find(|w| !out.lines().any(|line| line.trim() == w.as_str()))
    {
        None => Ok(()),
        Some(missing) => Err(format!("no line {missing:?} in:\n{out}")),
    }
}

fn check_missing_file(out: &str, _: &Context) -> Result<(), String> {
    if out.contains("/nonexistent") && out.contains("does not exist") {
        Ok(())
    } else {
        Err(format!(
            "expected an error naming /nonexistent, got:\n{out}"
        ))
    }
}

fn check_config(out: &str, context: &Context) -> Result<(), String> {
    let wanted = format!("isolation = {}", context.mode);
    if !out.lines().any(|line| line.starts_with(&wanted)) {
        return Err(format!("no line starting {wanted:?} in:\n{out}"));
    }
    let mount = match explicit_mount(context.mode) {
        Some(list) => format!("mount = {list}  # command line"),
        None => "mount = auto".to_string(),
    };
    if !out.lines().any(|line| line.starts_with(&mount)) {
        return Err(format!("no line starting {mount:?} in:\n{out}"));
    }
    if !out.ends_with('\n') {
        return Err(format!(
            "expected a text ending with a newline, got:\n{out}"
        ));
    }
    Ok(())
}

/// The command whose output [`check_sha256sum`] hashes on the host, and the command it checks:
/// the same file by name and as standard input, with a missing file between them.
const CAT_CONFIG: &str = "cat /sys/config";
const SHA256SUM: &str = "sha256sum /sys/config /nonexistent - < /sys/config";

/// The raw disks the session attached, read through sysserver's `/dev/sdN/data`.
const DISK_SUMS: &str = "sha256sum /dev/sd0/data /dev/sd1/data";

/// Files of the ext4 disk read back through the volume init mounted at boot.
const EXT4_SUMS: &str = "sha256sum /mnt/hello.txt /mnt/big.bin /mnt/dir/sub/deep.txt";

/// `sha256sum /mnt/...`: each file's hash is the one the host computed for it.
fn check_ext4_sums(out: &str, _: &Context) -> Result<(), String> {
    let sums = ext4_sums()?;
    let wanted: Vec<String> = ["hello.txt", "big.bin", "dir/sub/deep.txt"]
        .iter()
        .map(|name| {
            sums.lines()
                .find_map(|l| l.strip_suffix(&format!("  {name}")))
                .map(|hex| format!("{hex}  /mnt/{name}"))
                .ok_or_else(|| format!("{name} is not in SHA256SUMS"))
        })
        .collect::<Result<_, _>>()?;
    let lines: Vec<&str> = out.lines().collect();
    if lines == wanted {
        Ok(())
    } else {
        Err(format!("expected\n{}\ngot:\n{out}", wanted.join("\n")))
    }
}

/// The ext4 volume's files as the host wrote them (`target/lux9-test/ext4-tree`).
fn ext4_tree() -> std::path::PathBuf {
    crate::build::target_dir()
        .join("lux9-test")
        .join("ext4-tree")
}

/// `ls /mnt`: exactly the top-level names of the host's tree and mkfs's `lost+found` (a
/// directory may carry a `/`).
fn check_ls_mnt(out: &str, _: &Context) -> Result<(), String> {
    let tree = ext4_tree();
    let mut wanted: Vec<String> = std::fs::read_dir(&tree)
        .map_err(|e| format!("reading {}: {e}", tree.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    // mkfs.ext4 adds its own.
    wanted.push("lost+found".into());
    wanted.sort();
    let mut got: Vec<String> = out
        .split_whitespace()
        .map(|w| w.trim_end_matches('/').to_string())
        .collect();
    got.sort();
    if got == wanted {
        Ok(())
    } else {
        Err(format!("expected the names {wanted:?}, got:\n{out}"))
    }
}

/// `cat /mnt/hello.txt`: the bytes the host wrote.
fn check_cat_hello(out: &str, _: &Context) -> Result<(), String> {
    let path = ext4_tree().join("hello.txt");
    let wanted =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if out.trim_end() == wanted.trim_end() {
        Ok(())
    } else {
        Err(format!("expected {wanted:?}, got {out:?}"))
    }
}

/// `stat /mnt/big.bin`: a `length` field with the host file's size.
fn check_stat_big(out: &str, _: &Context) -> Result<(), String> {
    let path = ext4_tree().join("big.bin");
    let size = std::fs::metadata(&path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .len();
    let found = out.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.first() == Some(&"length") && words.get(1) == Some(&size.to_string().as_str())
    });
    if found {
        Ok(())
    } else {
        Err(format!("no `length {size}` line in:\n{out}"))
    }
}

/// `cat /proc/mounts`: init mounted the ext4 disk's partition at /mnt at boot, served by an
/// isolated ext4srv, or colocated in the kernel with `isolation=off`.
fn check_boot_mount(out: &str, context: &Context) -> Result<(), String> {
    let wanted = if context.mode == "off" {
        "/mnt ext4.sd1p1 - colocated"
    } else {
        "/mnt ext4.sd1p1 - isolated:"
    };
    if out.lines().any(|l| l.starts_with(wanted)) {
        Ok(())
    } else {
        Err(format!("no line starting {wanted:?} in:\n{out}"))
    }
}

/// The bytes of the session's disk `n` (1 MiB; xtask/src/test.rs writes them): different for
/// each disk and each sector, so a wrong disk, sector or offset changes the hash.
pub fn disk_bytes(n: usize) -> Vec<u8> {
    (0..1usize << 20)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 9).wrapping_mul(131) ^ n.wrapping_mul(0x5b)) as u8)
        .collect()
}

/// The ext4 disk xtask writes (xtask/src/test.rs), the sessions' second disk, which init mounts
/// at `/mnt`, and the host's `sha256sum` of the files on it.
fn ext4_disk() -> std::path::PathBuf {
    crate::build::target_dir()
        .join("lux9-test")
        .join("lux9-ext4-disk.img")
}

fn ext4_sums() -> Result<String, String> {
    let path = crate::build::target_dir()
        .join("lux9-test")
        .join("ext4-tree")
        .join("SHA256SUMS");
    std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// `sha256sum /dev/sd0/data /dev/sd1/data`: each disk's hash is the host's hash of its image.
fn check_disk_sums(out: &str, _: &Context) -> Result<(), String> {
    let ext4 = std::fs::read(ext4_disk()).map_err(|e| format!("reading the ext4 disk: {e}"))?;
    let wanted = [
        format!("{}  /dev/sd0/data", host_sha256(&disk_bytes(0))?),
        format!("{}  /dev/sd1/data", host_sha256(&ext4)?),
    ];
    let lines: Vec<&str> = out.lines().collect();
    if lines == wanted {
        Ok(())
    } else {
        Err(format!(
            "expected\n{}\n{}\ngot:\n{out}",
            wanted[0], wanted[1]
        ))
    }
}

/// The SHA-256 of `bytes` from the host's coreutils `sha256sum`: 64 hex digits.
fn host_sha256(bytes: &[u8]) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the host's sha256sum: {e}"))?;
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(bytes))
        .unwrap_or(Ok(()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("the host's sha256sum: {e}"))?;
    written.map_err(|e| format!("feeding the host's sha256sum: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.split_once("  ") {
        Some((hex, _)) if output.status.success() && hex.len() == 64 => Ok(hex.to_string()),
        _ => Err(format!(
            "unexpected output from the host's sha256sum: {text:?}"
        )),
    }
}

/// `sha256sum` in Lux9 prints coreutils' lines, with the sum the host computes from the bytes
/// that `cat` showed of the same file, and reports the missing file between them.
fn check_sha256sum(out: &str, context: &Context) -> Result<(), String> {
    let expected = host_sha256(context.output_of(CAT_CONFIG)?.as_bytes())?;
    let wanted = [
        format!("{expected}  /sys/config"),
        "sha256sum: /nonexistent: ".to_string(),
        format!("{expected}  -"),
    ];
    let lines: Vec<&str> = out.lines().collect();
    let matches = lines.len() == 3
        && lines[0] == wanted[0]
        && lines[1].starts_with(&wanted[1])
        && lines[1].ends_with("does not exist")
        && lines[2] == wanted[2];
    if matches {
        Ok(())
    } else {
        Err(format!(
            "expected\n{}...does not exist\n{}\ngot:\n{out}",
            wanted[0..2].join("\n"),
            wanted[2]
        ))
    }
}

fn check_alive(out: &str, _: &Context) -> Result<(), String> {
    if out.trim() == "alive" {
        Ok(())
    } else {
        Err(format!("expected 'alive', got:\n{out}"))
    }
}

/// `bench sys`: the sysserver benchmarks run from the shell. Colocated, no operation may
/// switch context; isolated, a stat costs 2 switches and pipelined reads travel through the
/// ring, 8 to a notify (at most 0.5 switches per read).
fn check_bench(out: &str, context: &Context) -> Result<(), String> {
    let mode = context.mode;
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

/// `cat /sys/pci`: well-formed lines, the chipset's host bridge and disk controller, and the
/// controllers of the disks the session attached (xtask/src/test.rs: the machine's default bus
/// and AHCI), each with the driver that took it.
fn check_pci(out: &str, context: &Context) -> Result<(), String> {
    for line in out.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let well_formed = fields.len() == 5
            && fields[0].len() == 12
            && fields[1].len() == 9
            && fields[1].as_bytes()[4] == b':'
            && fields[2].len() == 8;
        if !well_formed {
            return Err(format!("malformed line {line:?} in:\n{out}"));
        }
    }
    let wanted: &[(&str, &str, &str)] = match context.machine {
        Machine::PcIde => &[
            ("8086:1237", "the i440FX host bridge", "-"),
            (
                "8086:7010",
                "the PIIX3 IDE controller (the CD and the IDE disk)",
                "ide",
            ),
            (
                "8086:2922",
                "the AHCI controller added for the SATA disk",
                "ahci",
            ),
        ],
        Machine::Q35Bios | Machine::Q35Uefi => &[
            ("8086:29c0", "the q35 host bridge", "-"),
            (
                "8086:2922",
                "the ICH9 AHCI controller (the CD and the SATA disk)",
                "ahci",
            ),
            (
                "1af4:1042",
                "the virtio-blk disk (modern transport)",
                "virtio-blk",
            ),
        ],
    };
    match wanted.iter().find(|(id, _, driver)| {
        !out.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(id) && fields.get(4) == Some(driver)
        })
    }) {
        None => Ok(()),
        Some((id, what, driver)) => {
            Err(format!("no {id} ({what}) with driver {driver} in:\n{out}"))
        }
    }
}

/// A check that the whole output is `$expected` (trimmed).
macro_rules! exactly {
    ($expected:expr) => {{
        fn check(out: &str, _: &Context) -> Result<(), String> {
            let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
            if lines.join("\n").trim() == $expected {
                Ok(())
            } else {
                Err(format!("expected {:?}, got:\n{out}", $expected))
            }
        }
        check as Check
    }};
}

/// `ipcstat 1`: the system's counters, then `pid 1:` and init's own (`/proc/1/ipcstats`).
fn check_ipcstat_init(out: &str, _: &Context) -> Result<(), String> {
    let switches = out
        .lines()
        .filter(|line| line.split_whitespace().next() == Some("total_switches"))
        .count();
    if switches == 2 && out.lines().any(|line| line.trim() == "pid 1:") {
        Ok(())
    } else {
        Err(format!(
            "expected the system's and pid 1's counters, got:\n{out}"
        ))
    }
}

/// `cat /proc/ipcstats | grep total_switches`: the one matching line of the table.
fn check_grep_switches(out: &str, _: &Context) -> Result<(), String> {
    let lines: Vec<&str> = out.lines().collect();
    match lines.as_slice() {
        [line] if line.split_whitespace().next() == Some("total_switches") => Ok(()),
        _ => Err(format!("expected one total_switches line, got:\n{out}")),
    }
}

/// `lspci | wc -l`: as many devices as `/sys/pci` lists.
fn check_lspci_count(out: &str, context: &Context) -> Result<(), String> {
    let listed = context.output_of("cat /sys/pci")?.lines().count();
    if out.trim() == listed.to_string() {
        Ok(())
    } else {
        Err(format!(
            "expected {listed} (the lines of /sys/pci), got:\n{out}"
        ))
    }
}

/// `ls /mnt | sort | uniq | wc -l`: the host tree's entries and lost+found.
fn check_mnt_count(out: &str, _: &Context) -> Result<(), String> {
    let tree = ext4_tree();
    let entries = std::fs::read_dir(&tree)
        .map_err(|e| format!("reading {}: {e}", tree.display()))?
        .count()
        + 1;
    if out.trim() == entries.to_string() {
        Ok(())
    } else {
        Err(format!("expected {entries} entries, got:\n{out}"))
    }
}

/// `hexdump -C /mnt/hello.txt | head -n 1`: the first 16 bytes of the host's file.
fn check_hexdump_hello(out: &str, _: &Context) -> Result<(), String> {
    let path = ext4_tree().join("hello.txt");
    let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let wanted = format!("00000000  {}", hex.join(" "));
    if out.lines().count() == 1 && out.starts_with(&wanted) {
        Ok(())
    } else {
        Err(format!(
            "expected one line starting {wanted:?}, got:\n{out}"
        ))
    }
}

/// The commands, each checked by its output: the full list, run on one machine per preset.
const STEPS: [(&str, Check); 29] = [
    ("ls /dev", check_ls_dev),
    ("cat /sys/pci", check_pci),
    ("cat /proc/uptime", check_uptime),
    ("cat /proc/ipcstats", check_ipcstats),
    ("ipcstat 1", check_ipcstat_init),
    ("echo hi > /dev/null", check_silent),
    ("cat /sys/isolation", check_isolation),
    (CAT_CONFIG, check_config),
    (SHA256SUM, check_sha256sum),
    (DISK_SUMS, check_disk_sums),
    ("cat /proc/mounts", check_boot_mount),
    (EXT4_SUMS, check_ext4_sums),
    ("ls /mnt", check_ls_mnt),
    ("cat /mnt/hello.txt", check_cat_hello),
    ("stat /mnt/big.bin", check_stat_big),
    // Every file of the MBR disk's volume against the host's SHA256SUMS, every LISTINGS count,
    // and the read-only refusals (programs/src/bin/utest/ext4.rs); silent when all hold.
    ("utest ext4-check /mnt", check_silent),
    ("cat /nonexistent", check_missing_file),
    ("echo alive", check_alive),
    // Pipes and lists (issue 14).
    ("echo abc | wc -c", exactly!("4")),
    (
        "cat /proc/ipcstats | grep total_switches",
        check_grep_switches,
    ),
    (
        "cat /dev/zero | head -c 1000000 | wc -c",
        exactly!("1000000"),
    ),
    ("false || echo ok", exactly!("ok")),
    ("true && false; echo $?", exactly!("1")),
    ("lspci | wc -l", check_lspci_count),
    ("ls /mnt | sort | uniq | wc -l", check_mnt_count),
    ("find /mnt -name hello.txt", exactly!("/mnt/hello.txt")),
    ("hexdump -C /mnt/hello.txt | head -n 1", check_hexdump_hello),
    (
        "nosuch | wc -c; echo $?",
        exactly!("sh: nosuch: command not found\n0\n0"),
    ),
    ("bench sys", check_bench),
];

/// The short list for the other sessions: two user programs, one of them through sysserver.
const SHORT_STEPS: [(&str, Check); 4] = [
    ("ls /dev", check_ls_dev),
    ("cat /sys/pci", check_pci),
    ("cat /sys/isolation", check_isolation),
    ("cat /proc/mounts", check_boot_mount),
];

/// One session of the matrix: a machine, an isolation preset, and what it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub machine: Machine,
    pub preset: &'static str,
    /// The full step list ([`STEPS`]) instead of [`SHORT_STEPS`].
    pub full: bool,
    /// `reboot` before the final `poweroff`: the machine must come back to the prompt.
    pub reboot: bool,
}

/// The sessions: every machine in every preset. Each row and each column of the 3 x 3 square
/// gets the full step list once and a reboot once, on different sessions.
pub const MATRIX: [Plan; 9] = {
    const fn plan(machine: Machine, preset: &'static str, full: bool, reboot: bool) -> Plan {
        Plan {
            machine,
            preset,
            full,
            reboot,
        }
    }
    use Machine::{PcIde, Q35Bios, Q35Uefi};
    [
        plan(Q35Bios, "hybrid", true, false),
        plan(Q35Bios, "strict", false, true),
        plan(Q35Bios, "off", false, false),
        plan(PcIde, "hybrid", false, false),
        plan(PcIde, "strict", true, false),
        plan(PcIde, "off", false, true),
        plan(Q35Uefi, "hybrid", false, true),
        plan(Q35Uefi, "strict", false, false),
        plan(Q35Uefi, "off", true, false),
    ]
};

impl Plan {
    /// The job's name (`console q35-bios hybrid`), which `--only` matches.
    pub fn job(&self) -> String {
        format!("console {} {}", self.machine.name(), self.preset)
    }

    /// The preset of `target/lux9.iso`'s configuration (`grub/lux9.conf`): its sessions boot
    /// that ISO unchanged; the others boot one with `isolation=PRESET` and [`BAD_SETTING`].
    pub fn uses_default_iso(&self) -> bool {
        self.preset == DEFAULT_PRESET
    }
}

/// The preset `grub/lux9.conf` selects.
pub const DEFAULT_PRESET: &str = "hybrid";

/// Types `echo kbd` and Enter on the PS/2 keyboard and expects the shell to run it; returns
/// what the serial console showed (the echoed line, the output and the prompt).
fn keyboard_step(session: &mut Session, qmp: &mut Qmp) -> Result<String, String> {
    qmp.press_keys(&["e", "c", "h", "o", "spc", "k", "b", "d", "ret"])?;
    let seen = session.expect(PROMPT, COMMAND_TIMEOUT)?;
    if command_output(&seen).trim() == "kbd" && seen.starts_with("echo kbd") {
        Ok(seen)
    } else {
        Err(format!(
            "expected the shell to echo and run `echo kbd`, got:\n{seen}"
        ))
    }
}

/// Checks that the screen ends with the prompt, the command `seen` shows on the serial console
/// (its echo and output) and the new prompt. The screen is drawn right after the serial line,
/// so it is read a few times before giving up.
fn screen_step(qmp: &mut Qmp, machine: Machine, seen: &str, tag: &str) -> Result<(), String> {
    let transcript = format!("{PROMPT}{seen}");
    let expected: Vec<&str> = transcript.lines().collect();
    let scratch = std::env::temp_dir().join(format!(
        "lux9-screen-{}-{}.bin",
        std::process::id(),
        tag.replace(' ', "-")
    ));
    let mut verdict = Err(String::new());
    for _ in 0..5 {
        verdict = crate::screen::read(qmp, machine == Machine::Q35Uefi, &scratch)
            .and_then(|rows| crate::screen::ends_with(&rows, &expected));
        if verdict.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(&scratch);
    verdict
}

/// Runs one session of the matrix; one tally entry per step. After a step that ends QEMU, the
/// rest are not run.
pub fn session(plan: Plan, config: &QemuConfig, verbose: bool) -> Tally {
    let tag = format!("{} {}", plan.machine.name(), plan.preset);
    let mode = plan.preset;
    let mut tally = Tally::default();
    let name = |step: &str| format!("console[{tag}]::{step}");
    let mut config = config.clone();
    config.reboot = plan.reboot;
    let started = std::time::Instant::now();
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
    match session.expect("lux9: ready", BOOT_TIMEOUT) {
        Ok(_) => tally.record(
            "qemu",
            &name("reaches lux9: ready"),
            true,
            format!("after {:.1} s", started.elapsed().as_secs_f64()),
        ),
        Err(why) => {
            tally.record("qemu", &name("reaches lux9: ready"), false, why);
            return tally;
        }
    }
    if let Err(why) = session.expect(PROMPT, BOOT_TIMEOUT) {
        tally.record("qemu", &name("boot to the prompt"), false, why);
        return tally;
    }
    tally.record("qemu", &name("boot to the prompt"), true, "");
    if !plan.uses_default_iso() {
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
    }
    let steps: &[(&str, Check)] = if plan.full { &STEPS } else { &SHORT_STEPS };
    let mut earlier: Vec<(&str, String)> = Vec::new();
    for &(command, check) in steps {
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
                let out = command_output(&seen);
                let context = Context {
                    mode,
                    machine: plan.machine,
                    earlier: &earlier,
                };
                let verdict = check(out, &context);
                earlier.push((command, out.to_string()));
                verdict
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
    if plan.full {
        for (step, verdict) in crate::jobs::interrupt_steps(&mut session, verbose) {
            let gone = verdict
                .as_ref()
                .is_err_and(|why| why.starts_with("QEMU exited"));
            let ok = verdict.is_ok();
            let detail = verdict.unwrap_or_else(|why| why);
            tally.record("qemu", &name(step), ok, detail);
            if gone {
                return tally;
            }
        }
    }
    let typed = keyboard_step(&mut session, &mut qmp);
    tally.record(
        "qemu",
        &name("typing on the PS/2 keyboard"),
        typed.is_ok(),
        typed.as_ref().err().cloned().unwrap_or_default(),
    );
    if let Ok(seen) = &typed {
        let verdict = screen_step(&mut qmp, plan.machine, seen, &tag);
        let keyboard_ctrl_c = plan
            .full
            .then(|| crate::jobs::keyboard_interrupt(&mut session, &mut qmp));
        let what = if plan.machine == Machine::Q35Uefi {
            "the framebuffer shows the prompt and `echo kbd`"
        } else {
            "the VGA text screen shows the prompt and `echo kbd`"
        };
        tally.record(
            "qemu",
            &name(what),
            verdict.is_ok(),
            verdict.err().unwrap_or_default(),
        );
        if let Some(verdict) = keyboard_ctrl_c {
            let ok = verdict.is_ok();
            tally.record(
                "qemu",
                &name("Ctrl-C on the PS/2 keyboard stops `cat /dev/zero`"),
                ok,
                verdict.unwrap_or_else(|why| why),
            );
        }
    }
    if plan.reboot {
        let verdict = reboot(&mut session, &mut qmp).and_then(|()| {
            // The shell works after the reboot, in the same preset.
            session
                .send("cat /sys/isolation\r")
                .and_then(|()| session.expect(PROMPT, COMMAND_TIMEOUT))
                .and_then(|seen| {
                    let context = Context {
                        mode,
                        machine: plan.machine,
                        earlier: &[],
                    };
                    check_isolation(command_output(&seen), &context)
                })
        });
        let ok = verdict.is_ok();
        tally.record(
            "qemu",
            &name("reboot comes back to lux9: ready and the prompt"),
            ok,
            verdict.err().unwrap_or_default(),
        );
        if !ok {
            return tally;
        }
    }
    let verdict = power_off(&mut session, &mut qmp);
    tally.record(
        "qemu",
        &name("poweroff turns the machine off (ACPI S5, not a reset)"),
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
    fn the_matrix_covers_every_machine_and_preset_once() {
        let presets = ["hybrid", "strict", "off"];
        for machine in Machine::ALL {
            for preset in presets {
                let runs = MATRIX
                    .iter()
                    .filter(|p| p.machine == machine && p.preset == preset)
                    .count();
                assert_eq!(runs, 1, "{} {preset}", machine.name());
            }
        }
        assert_eq!(MATRIX.len(), Machine::ALL.len() * presets.len());
        // Each machine and each preset gets the full list once and a reboot once, apart.
        for plan in MATRIX {
            assert!(!(plan.full && plan.reboot), "{}", plan.job());
        }
        for machine in Machine::ALL {
            let on = |f: fn(&Plan) -> bool| {
                MATRIX
                    .iter()
                    .filter(|p| p.machine == machine && f(p))
                    .count()
            };
            assert_eq!(
                (on(|p| p.full), on(|p| p.reboot)),
                (1, 1),
                "{}",
                machine.name()
            );
        }
        for preset in presets {
            let on =
                |f: fn(&Plan) -> bool| MATRIX.iter().filter(|p| p.preset == preset && f(p)).count();
            assert_eq!((on(|p| p.full), on(|p| p.reboot)), (1, 1), "{preset}");
        }
    }

    fn mode(mode: &str) -> Context<'_> {
        Context {
            mode,
            machine: Machine::Q35Bios,
            earlier: &[],
        }
    }

    #[test]
    fn the_pci_check_wants_the_attached_controllers() {
        let q35 = "0000:00:00.0 8086:29c0 06.00.00 bridge/host -\n\
                   0000:00:03.0 1af4:1042 01.00.00 storage/scsi virtio-blk\n\
                   0000:00:1f.2 8086:2922 01.06.01 storage/sata ahci\n";
        assert_eq!(check_pci(q35, &mode("")), Ok(()));
        // A controller without its driver is refused.
        assert!(check_pci(&q35.replace(" ahci", " -"), &mode("")).is_err());
        assert!(check_pci(&q35.replace(" virtio-blk", " -"), &mode("")).is_err());
        // Without the virtio disk, on the wrong machine, or with a malformed line: refused.
        let no_virtio: String = q35
            .lines()
            .filter(|l| !l.contains("1af4"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(check_pci(&no_virtio, &mode("")).is_err());
        let pc = Context {
            mode: "",
            machine: Machine::PcIde,
            earlier: &[],
        };
        assert!(check_pci(q35, &pc).is_err());
        assert!(check_pci(&format!("{q35}0000:00:04.0 8086:2922\n"), &mode("")).is_err());
    }

    #[test]
    fn checks_reject_wrong_output() {
        assert!(check_uptime("12.345\n", &mode("")).is_ok());
        assert!(check_uptime("12.3\n", &mode("")).is_err());
        assert!(check_uptime("soon\n", &mode("")).is_err());
        assert!(
            check_isolation(
                "preset strict\nsysserver isolated\next4srv isolated\n",
                &mode("strict")
            )
            .is_ok()
        );
        assert!(check_isolation("preset hybrid\nsysserver colocated\n", &mode("strict")).is_err());
        assert!(
            check_isolation(
                "preset off\nsysserver colocated\next4srv colocated\n",
                &mode("off")
            )
            .is_ok()
        );
        assert!(check_boot_mount("/mnt ext4.sd1p1 - colocated\n", &mode("off")).is_ok());
        assert!(check_boot_mount("/mnt ext4.sd1p1 - isolated:7\n", &mode("off")).is_err());
        assert!(check_boot_mount("/mnt ext4.sd1p1 - isolated:7\n", &mode("")).is_ok());
        // ext4srv must run where the preset puts it.
        assert!(
            check_isolation(
                "preset off\nsysserver colocated\next4srv isolated\n",
                &mode("off")
            )
            .is_err()
        );
        assert!(check_ls_dev("cons consctl null zero random kmsg sd0 sd1\n", &mode("")).is_ok());
        // The two attached disks must be there, driven.
        assert!(check_ls_dev("cons consctl null zero random kmsg sd0\n", &mode("")).is_err());
        assert!(check_ls_dev("cons null\n", &mode("")).is_err());
        assert!(
            check_missing_file(
                "cat: /nonexistent: 'nonexistent' file does not exist\n",
                &mode("")
            )
            .is_ok()
        );
        assert!(check_silent("hi\n", &mode("")).is_err());
        let config = "isolation = strict  # command line\nlog = info  # default\n\
                      mount = /dev/sd1/p1:/mnt  # command line\n";
        assert!(check_config(config, &mode("strict")).is_ok());
        assert!(check_config(config, &mode("hybrid")).is_err());
        assert!(check_config(config.trim_end(), &mode("strict")).is_err());
        // The explicit mount must be what the session booted with.
        let auto = "isolation = strict  # command line\nmount = auto  # default\n";
        assert!(check_config(auto, &mode("strict")).is_err());
        let hybrid = "isolation = hybrid  # lux9.conf\nmount = auto  # default\n";
        assert!(check_config(hybrid, &mode("hybrid")).is_ok());
    }

    /// The sums are what the host's sha256sum prints for "abc\n" (`printf 'abc\n' |
    /// sha256sum`) and for no bytes at all.
    #[test]
    fn the_sha256sum_check_hashes_what_cat_showed() {
        let abc = "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb";
        let earlier = [(CAT_CONFIG, "abc\n".to_string())];
        let context = Context {
            mode: "hybrid",
            machine: Machine::Q35Bios,
            earlier: &earlier,
        };
        let missing = "sha256sum: /nonexistent: file does not exist";
        let good = format!("{abc}  /sys/config\n{missing}\n{abc}  -\n");
        assert_eq!(check_sha256sum(&good, &context), Ok(()));
        // Another sum, a missing error line, one space, or no earlier `cat`: all refused.
        let other = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for bad in [
            format!("{other}  /sys/config\n{missing}\n{other}  -\n"),
            format!("{abc}  /sys/config\n{abc}  -\n"),
            format!("{abc} /sys/config\n{missing}\n{abc}  -\n"),
        ] {
            assert!(check_sha256sum(&bad, &context).is_err(), "{bad}");
        }
        assert!(check_sha256sum(&good, &mode("hybrid")).is_err());
    }
}
