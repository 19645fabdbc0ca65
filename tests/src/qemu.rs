//! QEMU command lines and runs with a timeout.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// QEMU's exit status when the kernel writes `0x10` to isa-debug-exit: `(0x10 << 1) | 1`.
pub const EXIT_SUCCESS: i32 = 33;
/// QEMU's exit status when the kernel writes `0x11` (a failure or panic under test).
pub const EXIT_FAILURE: i32 = 35;

/// The machines Lux9 must boot on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// q35 chipset, SeaBIOS, CD on AHCI.
    Q35Bios,
    /// i440fx/PIIX (VirtualBox's default chipset), SeaBIOS, CD on IDE.
    PcIde,
    /// q35 chipset, OVMF (UEFI).
    Q35Uefi,
}

impl Machine {
    pub const ALL: [Machine; 3] = [Machine::Q35Bios, Machine::PcIde, Machine::Q35Uefi];

    pub fn name(self) -> &'static str {
        match self {
            Machine::Q35Bios => "q35-bios",
            Machine::PcIde => "pc-ide-bios",
            Machine::Q35Uefi => "q35-uefi",
        }
    }
}

/// OVMF firmware files: read-only code and a template for the writable variable store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars_template: PathBuf,
}

/// Finds Debian's OVMF (package `ovmf`).
pub fn find_ovmf() -> Option<Ovmf> {
    let candidates = [
        (
            "/usr/share/OVMF/OVMF_CODE_4M.fd",
            "/usr/share/OVMF/OVMF_VARS_4M.fd",
        ),
        (
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/share/OVMF/OVMF_VARS.fd",
        ),
    ];
    candidates
        .iter()
        .find(|(code, vars)| Path::new(code).exists() && Path::new(vars).exists())
        .map(|(code, vars)| Ovmf {
            code: PathBuf::from(code),
            vars_template: PathBuf::from(vars),
        })
}

/// How to start QEMU.
#[derive(Clone, Debug)]
pub struct QemuConfig {
    pub machine: Machine,
    pub iso: PathBuf,
    pub memory: String,
    /// CPU model; `max` exposes PCID, SMEP and SMAP under TCG.
    pub cpu: String,
    /// For UEFI: the firmware, and where to put this run's copy of the variable store.
    pub ovmf: Option<(Ovmf, PathBuf)>,
    /// Serial on stdio with the QEMU monitor multiplexed (Ctrl-A C), for interactive runs.
    pub interactive: bool,
    /// Show the screen in a window instead of running headless.
    pub display: bool,
    /// Accelerator: `tcg` (software, the default: it works everywhere and with `-icount`) or
    /// `kvm`.
    pub accel: String,
    /// Let GRUB show its boot-menu countdown (3 s, Esc opens the menu). Off by default: the
    /// machine then carries the SMBIOS system version `lux9-nomenu` ([`SKIP_BOOT_MENU`]) and
    /// GRUB boots the first entry at once.
    pub boot_menu: bool,
    /// Let a guest reset restart the machine. Off by default (`-no-reboot`): a reset, or a
    /// triple fault, then ends QEMU like a power-off would.
    pub reboot: bool,
    /// Disk images to attach, in order.
    pub disks: Vec<Disk>,
    /// Extra raw arguments.
    pub extra: Vec<String>,
}

/// The controller a disk image is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskBus {
    /// virtio-blk on PCI, modern transport only (`disable-legacy=on`: device 1af4:1042).
    Virtio,
    /// A SATA port of an AHCI controller: q35's own ICH9 controller, or one added on pc.
    Ahci,
    /// The PIIX IDE controller's channels (pc only).
    Ide,
}

impl DiskBus {
    pub fn parse(name: &str) -> Option<DiskBus> {
        match name {
            "virtio" => Some(DiskBus::Virtio),
            "ahci" => Some(DiskBus::Ahci),
            "ide" => Some(DiskBus::Ide),
            _ => None,
        }
    }

    /// virtio on q35, IDE on pc (the controller each machine's firmware and VirtualBox's
    /// defaults use).
    pub fn default_for(machine: Machine) -> DiskBus {
        match machine {
            Machine::Q35Bios | Machine::Q35Uefi => DiskBus::Virtio,
            Machine::PcIde => DiskBus::Ide,
        }
    }
}

/// A raw disk image and its controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub image: PathBuf,
    pub bus: DiskBus,
}

/// Ports of q35's AHCI controller and channels of pc's IDE controller, in the order disks take
/// them; the CD sits on the third (index 2) of each.
const AHCI_PORTS: [u8; 5] = [0, 1, 3, 4, 5];
const IDE_INDEXES: [u8; 3] = [0, 1, 3];

impl QemuConfig {
    /// The QEMU arguments that attach [`QemuConfig::disks`], or why they cannot be attached
    /// (IDE on q35, more disks than a controller has ports).
    pub fn disk_args(&self) -> Result<Vec<String>, String> {
        let mut args = Vec::new();
        let (mut ahci, mut ide) = (0, 0);
        let mut added_ahci = false;
        for (n, disk) in self.disks.iter().enumerate() {
            let file = disk.image.display();
            let id = format!("disk{n}");
            match disk.bus {
                DiskBus::Virtio => args.extend([
                    "-drive".into(),
                    format!("file={file},format=raw,if=none,id={id}"),
                    "-device".into(),
                    format!("virtio-blk-pci,drive={id},disable-legacy=on"),
                ]),
                DiskBus::Ahci => {
                    let (controller, port) = if self.machine == Machine::PcIde {
                        if !added_ahci {
                            args.extend(["-device".into(), "ahci,id=ahci0".into()]);
                            added_ahci = true;
                        }
                        ("ahci0", (ahci < 6).then_some(ahci as u8))
                    } else {
                        ("ide", AHCI_PORTS.get(ahci).copied())
                    };
                    let port = port.ok_or("more AHCI disks than free SATA ports")?;
                    ahci += 1;
                    args.extend([
                        "-drive".into(),
                        format!("file={file},format=raw,if=none,id={id}"),
                        "-device".into(),
                        format!("ide-hd,drive={id},bus={controller}.{port}"),
                    ]);
                }
                DiskBus::Ide => {
                    if self.machine != Machine::PcIde {
                        return Err(
                            "IDE disks need the pc machine (--machine pc); q35 has AHCI".into()
                        );
                    }
                    let index = IDE_INDEXES
                        .get(ide)
                        .ok_or("more IDE disks than free IDE positions (3)")?;
                    ide += 1;
                    args.extend([
                        "-drive".into(),
                        format!("file={file},format=raw,if=ide,index={index}"),
                    ]);
                }
            }
        }
        Ok(args)
    }
}

/// The QEMU arguments that make `grub/grub.cfg` skip its boot-menu countdown: the SMBIOS
/// system version (type 1) it compares with `lux9-nomenu`.
pub const SKIP_BOOT_MENU: [&str; 2] = ["-smbios", "type=1,version=lux9-nomenu"];

impl QemuConfig {
    pub fn new(machine: Machine, iso: impl Into<PathBuf>) -> Self {
        Self {
            machine,
            iso: iso.into(),
            memory: "256M".into(),
            cpu: "max".into(),
            ovmf: None,
            interactive: false,
            display: false,
            accel: "tcg".into(),
            disks: Vec::new(),
            boot_menu: false,
            reboot: false,
            extra: Vec::new(),
        }
    }

    /// The argument list (without the program name).
    pub fn args(&self) -> Vec<String> {
        let iso = self.iso.display().to_string();
        let mut args: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
        match self.machine {
            Machine::Q35Bios | Machine::Q35Uefi => push(&["-machine", "q35", "-cdrom", &iso]),
            Machine::PcIde => push(&[
                "-machine",
                "pc",
                "-drive",
                &format!("file={iso},format=raw,if=ide,index=2,media=cdrom"),
            ]),
        }
        if let (Machine::Q35Uefi, Some((ovmf, vars))) = (self.machine, &self.ovmf) {
            push(&[
                "-drive",
                &format!(
                    "if=pflash,format=raw,readonly=on,file={}",
                    ovmf.code.display()
                ),
                "-drive",
                &format!("if=pflash,format=raw,file={}", vars.display()),
            ]);
        }
        push(&["-m", &self.memory, "-cpu", &self.cpu]);
        // The CD first: an attached disk with a boot signature (an MBR) must not be booted.
        push(&["-boot", "order=d"]);
        if !self.boot_menu {
            push(&SKIP_BOOT_MENU);
        }
        push(&["-accel", &self.accel]);
        if !self.reboot {
            push(&["-no-reboot"]);
        }
        push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        if self.interactive {
            push(&["-serial", "mon:stdio"]);
        } else {
            push(&["-serial", "stdio", "-monitor", "none"]);
        }
        if !self.display {
            push(&["-display", "none"]);
        }
        // Disks that cannot be attached are refused by `disk_args` where the config is built
        // (`cargo xtask run` checks it first); here they are left out.
        args.extend(self.disk_args().unwrap_or_default());
        args.extend(self.extra.iter().cloned());
        args
    }

    /// Copies the OVMF variable store for this run, so runs never share or dirty the template.
    pub fn prepare(&self) -> io::Result<()> {
        if let (Machine::Q35Uefi, Some((ovmf, vars))) = (self.machine, &self.ovmf) {
            if let Some(parent) = vars.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&ovmf.vars_template, vars)?;
        } else if self.machine == Machine::Q35Uefi {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "UEFI needs OVMF (apt-get install ovmf)",
            ));
        }
        Ok(())
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("qemu-system-x86_64");
        command.args(self.args());
        command
    }
}

/// What happened in one QEMU run.
#[derive(Debug)]
pub struct QemuRun {
    /// Serial output (and QEMU's own messages), with terminal escape sequences removed.
    pub output: String,
    /// QEMU's exit status, if it exited by itself.
    pub status: Option<i32>,
    /// Killed because the timeout passed.
    pub timed_out: bool,
    /// When the `stop_at` text appeared (QEMU was then stopped).
    pub stopped_at: Option<Duration>,
    pub elapsed: Duration,
}

impl QemuRun {
    pub fn contains(&self, text: &str) -> bool {
        self.output.contains(text)
    }

    /// The last `lines` lines of output, for failure messages.
    pub fn tail(&self, lines: usize) -> String {
        let all: Vec<&str> = self.output.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Removes ANSI escape sequences (GRUB's menu draws with them) and carriage returns.
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `command` until it exits, `timeout` passes, or a line containing `stop_at` appears.
/// With `echo`, output is copied to this process's stdout as it arrives.
pub fn run(
    mut command: Command,
    timeout: Duration,
    stop_at: Option<&str>,
    echo: bool,
) -> io::Result<QemuRun> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn()?;
    let (sender, receiver) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().expect("stdout is piped")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("stderr is piped")),
    ]
    .into_iter()
    .map(|stream| {
        let sender = sender.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                if sender
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
                line.clear();
            }
        })
    })
    .collect();
    drop(sender);

    let mut output = String::new();
    let mut stopped_at = None;
    let mut timed_out = false;
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        match receiver.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                let clean = strip_escapes(&line);
                if echo {
                    print!("{clean}");
                }
                output.push_str(&clean);
                if stop_at.is_some_and(|text| clean.contains(text)) {
                    stopped_at = Some(started.elapsed());
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            break;
        }
    }
    let status = if stopped_at.is_some() || timed_out {
        kill(&mut child);
        // Readers finish when the pipes close; a grandchild holding them open must not block
        // the harness, so they are not joined here.
        drop(readers);
        None
    } else {
        for reader in readers {
            let _ = reader.join();
        }
        child.wait()?.code()
    };
    // Whatever arrived between the last read and the end.
    while let Ok(line) = receiver.recv_timeout(Duration::from_millis(50)) {
        output.push_str(&strip_escapes(&line));
    }
    Ok(QemuRun {
        output,
        status,
        timed_out,
        stopped_at,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_get_their_disk_controllers() {
        let q35 = QemuConfig::new(Machine::Q35Bios, "/x/lux9.iso")
            .args()
            .join(" ");
        assert!(q35.contains("-machine q35 -cdrom /x/lux9.iso"));
        let pc = QemuConfig::new(Machine::PcIde, "/x/lux9.iso")
            .args()
            .join(" ");
        assert!(pc.contains("-machine pc"));
        assert!(pc.contains("if=ide,index=2,media=cdrom"));
        let mut uefi = QemuConfig::new(Machine::Q35Uefi, "/x/lux9.iso");
        uefi.ovmf = Some((
            Ovmf {
                code: "/fw/CODE.fd".into(),
                vars_template: "/fw/VARS.fd".into(),
            },
            "/tmp/vars.fd".into(),
        ));
        let uefi = uefi.args().join(" ");
        assert!(uefi.contains("readonly=on,file=/fw/CODE.fd"));
        assert!(uefi.contains("if=pflash,format=raw,file=/tmp/vars.fd"));
        assert!(q35.contains("isa-debug-exit,iobase=0xf4"));
        assert!(q35.contains("-no-reboot"));
        let mut rebooting = QemuConfig::new(Machine::PcIde, "/x/lux9.iso");
        rebooting.reboot = true;
        assert!(!rebooting.args().join(" ").contains("-no-reboot"));
    }

    #[test]
    fn runs_skip_the_boot_menu_unless_asked_and_grub_cfg_agrees() {
        let mut config = QemuConfig::new(Machine::Q35Bios, "a.iso");
        let skip = SKIP_BOOT_MENU.join(" ");
        assert!(config.args().join(" ").contains(&skip));
        config.boot_menu = true;
        assert!(!config.args().join(" ").contains("-smbios"));
        // grub.cfg compares the SMBIOS system version with the value QEMU is given, and counts
        // down for everyone else.
        let cfg = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../grub/grub.cfg"))
            .unwrap();
        let value = SKIP_BOOT_MENU[1]
            .strip_prefix("type=1,version=")
            .expect("a type 1 version");
        assert!(cfg.contains("smbios --type 1 --get-string 6 --set lux9_system_version"));
        assert!(cfg.contains(&format!("\"$lux9_system_version\" = \"{value}\"")));
        assert!(cfg.contains("set timeout_style=countdown"));
        assert!(cfg.lines().any(|l| l.trim() == "set timeout=3"));
    }

    #[test]
    fn disks_go_on_their_controllers() {
        let disk = |image: &str, bus| Disk {
            image: image.into(),
            bus,
        };
        let mut q35 = QemuConfig::new(Machine::Q35Bios, "a.iso");
        q35.disks = vec![
            disk("v.img", DiskBus::Virtio),
            disk("s0.img", DiskBus::Ahci),
            disk("s1.img", DiskBus::Ahci),
            disk("s2.img", DiskBus::Ahci),
        ];
        let args = q35.disk_args().unwrap().join(" ");
        assert_eq!(
            args,
            "-drive file=v.img,format=raw,if=none,id=disk0 \
             -device virtio-blk-pci,drive=disk0,disable-legacy=on \
             -drive file=s0.img,format=raw,if=none,id=disk1 -device ide-hd,drive=disk1,bus=ide.0 \
             -drive file=s1.img,format=raw,if=none,id=disk2 -device ide-hd,drive=disk2,bus=ide.1 \
             -drive file=s2.img,format=raw,if=none,id=disk3 -device ide-hd,drive=disk3,bus=ide.3"
        );
        assert!(q35.args().join(" ").contains(&args));
        // The CD keeps port 2; five disks fill the other ports, a sixth does not fit.
        q35.disks = (0..6).map(|_| disk("s.img", DiskBus::Ahci)).collect();
        assert!(q35.disk_args().is_err());
        q35.disks = vec![disk("i.img", DiskBus::Ide)];
        assert!(q35.disk_args().unwrap_err().contains("pc machine"));

        let mut pc = QemuConfig::new(Machine::PcIde, "a.iso");
        pc.disks = vec![
            disk("i0.img", DiskBus::Ide),
            disk("i1.img", DiskBus::Ide),
            disk("a.img", DiskBus::Ahci),
        ];
        assert_eq!(
            pc.disk_args().unwrap().join(" "),
            "-drive file=i0.img,format=raw,if=ide,index=0 \
             -drive file=i1.img,format=raw,if=ide,index=1 \
             -device ahci,id=ahci0 \
             -drive file=a.img,format=raw,if=none,id=disk2 -device ide-hd,drive=disk2,bus=ahci0.0"
        );
        pc.disks = (0..4).map(|_| disk("i.img", DiskBus::Ide)).collect();
        assert!(pc.disk_args().is_err());
        assert_eq!(DiskBus::default_for(Machine::PcIde), DiskBus::Ide);
        assert_eq!(DiskBus::default_for(Machine::Q35Uefi), DiskBus::Virtio);
        assert_eq!(DiskBus::parse("ahci"), Some(DiskBus::Ahci));
        assert_eq!(DiskBus::parse("scsi"), None);
    }

    #[test]
    fn interactive_runs_multiplex_the_monitor() {
        let mut config = QemuConfig::new(Machine::Q35Bios, "a.iso");
        config.interactive = true;
        assert!(config.args().join(" ").contains("-serial mon:stdio"));
        config.interactive = false;
        assert!(
            config
                .args()
                .join(" ")
                .contains("-serial stdio -monitor none")
        );
    }

    #[test]
    fn uefi_without_firmware_is_refused() {
        let config = QemuConfig::new(Machine::Q35Uefi, "a.iso");
        assert!(config.prepare().is_err());
    }

    #[test]
    fn escapes_are_stripped() {
        assert_eq!(
            strip_escapes("\u{1b}[2J\u{1b}[1;1Hlux9: ready\r\n"),
            "lux9: ready\n"
        );
        assert_eq!(strip_escapes("plain"), "plain");
    }

    #[test]
    fn run_stops_on_text_and_times_out() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo one; echo 'lux9: ready'; sleep 30"]);
        let outcome =
            super::run(command, Duration::from_secs(20), Some("lux9: ready"), false).unwrap();
        assert!(outcome.stopped_at.is_some() && !outcome.timed_out);
        assert!(outcome.elapsed < Duration::from_secs(10));

        let mut command = Command::new("sh");
        command.args(["-c", "echo waiting; sleep 30"]);
        let outcome =
            super::run(command, Duration::from_millis(500), Some("never"), false).unwrap();
        assert!(outcome.timed_out, "a hung command is killed");
        assert!(outcome.contains("waiting"));

        let mut command = Command::new("sh");
        command.args(["-c", "echo bye; exit 35"]);
        let outcome = super::run(command, Duration::from_secs(20), None, false).unwrap();
        assert_eq!(outcome.status, Some(EXIT_FAILURE));
    }
}
