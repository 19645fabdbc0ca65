//! The nodes of the tree: what each file is, its name, place, permissions and qid.
//!
//! A [`Kind`] says which file a node is; everything that does not depend on the system's
//! current state (names, parents, modes, qids, the fixed directory contents) is decided here,
//! so the trees only supply contents.

use alloc::format;
use alloc::string::String;

use lib9pclient::codec::{DMDIR, QTDIR, QTFILE, Qid};

/// Which file a node is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The root of the whole tree: `dev`, `proc` and `sys`.
    Root,
    /// `/dev`.
    DevDir,
    /// `/dev/cons`: console line input and output.
    Cons,
    /// `/dev/consctl`: `rawon` and `rawoff` switch console input modes.
    ConsCtl,
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/random`.
    Random,
    /// `/dev/kmsg`: the kernel log ring, a text file snapshotted at each open.
    Kmsg,
    /// `/dev/<disk>`: a block device's directory.
    Disk(String),
    /// `/dev/<disk>/ctl`.
    DiskCtl(String),
    /// `/dev/<disk>/data`.
    DiskData(String),
    /// `/dev/<disk>/p<N>`: partition N as numbered in the disk's table.
    DiskPart(String, u32),
    /// `/proc`.
    ProcDir,
    /// `/proc/<pid>`.
    Pid(u64),
    /// `/proc/<pid>/status`.
    Status(u64),
    /// `/proc/<pid>/cmdline`.
    Cmdline(u64),
    /// `/proc/<pid>/ipcstats`.
    PidIpcStats(u64),
    /// `/proc/ipcstats`.
    IpcStats,
    /// `/proc/meminfo`.
    MemInfo,
    /// `/proc/uptime`.
    Uptime,
    /// `/proc/mounts`.
    Mounts,
    /// `/sys`.
    SysDir,
    /// `/sys/kernel`.
    KernelDir,
    /// `/sys/kernel/version`.
    Version,
    /// `/sys/kernel/cmdline`.
    KernelCmdline,
    /// `/sys/config`.
    Config,
    /// `/sys/isolation`.
    Isolation,
    /// `/sys/pci`.
    Pci,
    /// `/sys/knobs`.
    KnobsDir,
    /// `/sys/knobs/<name>`.
    Knob(String),
}

/// How a file's contents are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A directory.
    Dir,
    /// Text generated in full when the file is opened; reads are slices of that snapshot.
    Text,
    /// A device whose reads and writes go straight to the backend; the offset is ignored
    /// (a disk's `data` and partitions alone use it as the byte position).
    Stream,
}

/// Which subtree an attach asked for; `..` never climbs above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    All,
    Dev,
    Proc,
    Sys,
}

impl Tree {
    /// The tree named by a Tattach's aname: "" (or "/") for everything, else a top directory.
    pub fn from_aname(aname: &str) -> Option<Self> {
        match aname.strip_prefix('/').unwrap_or(aname) {
            "" => Some(Self::All),
            "dev" => Some(Self::Dev),
            "proc" => Some(Self::Proc),
            "sys" => Some(Self::Sys),
            _ => None,
        }
    }

    /// The directory this tree is rooted at.
    pub fn root(self) -> Kind {
        match self {
            Self::All => Kind::Root,
            Self::Dev => Kind::DevDir,
            Self::Proc => Kind::ProcDir,
            Self::Sys => Kind::SysDir,
        }
    }
}

/// A file as a fid sees it. `handle` is fresh for every attach and walk step, so each fid
/// has its own open-time snapshot (a fid cloned by a zero-name walk shares its original's).
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: Kind,
    pub tree: Tree,
    pub handle: u64,
}

/// The children of the directories whose contents never change.
pub static ROOT_ENTRIES: [Kind; 3] = [Kind::DevDir, Kind::ProcDir, Kind::SysDir];
pub static DEV_ENTRIES: [Kind; 6] = [
    Kind::Cons,
    Kind::ConsCtl,
    Kind::Null,
    Kind::Zero,
    Kind::Random,
    Kind::Kmsg,
];
/// The fixed files of `/proc` (listed after the process directories).
pub static PROC_FILES: [Kind; 4] = [Kind::IpcStats, Kind::MemInfo, Kind::Uptime, Kind::Mounts];
pub static SYS_ENTRIES: [Kind; 5] = [
    Kind::KernelDir,
    Kind::Config,
    Kind::Isolation,
    Kind::Pci,
    Kind::KnobsDir,
];
pub static KERNEL_ENTRIES: [Kind; 2] = [Kind::Version, Kind::KernelCmdline];

/// Qid path tags, one per kind: the low 8 bits of every qid path.
mod tag {
    pub const ROOT: u64 = 1;
    pub const DEV_DIR: u64 = 2;
    pub const CONS: u64 = 3;
    pub const NULL: u64 = 4;
    pub const ZERO: u64 = 5;
    pub const RANDOM: u64 = 6;
    pub const KMSG: u64 = 7;
    pub const PROC_DIR: u64 = 8;
    pub const PID: u64 = 9;
    pub const STATUS: u64 = 10;
    pub const CMDLINE: u64 = 11;
    pub const IPC_STATS: u64 = 12;
    pub const MEM_INFO: u64 = 13;
    pub const UPTIME: u64 = 14;
    pub const MOUNTS: u64 = 15;
    pub const SYS_DIR: u64 = 16;
    pub const KERNEL_DIR: u64 = 17;
    pub const VERSION: u64 = 18;
    pub const KERNEL_CMDLINE: u64 = 19;
    pub const CONFIG: u64 = 20;
    pub const ISOLATION: u64 = 21;
    pub const KNOBS_DIR: u64 = 22;
    pub const KNOB: u64 = 23;
    pub const CONS_CTL: u64 = 24;
    pub const PCI: u64 = 25;
    pub const DISK: u64 = 26;
    pub const DISK_CTL: u64 = 27;
    pub const DISK_DATA: u64 = 28;
    pub const DISK_PART: u64 = 29;
    pub const PID_IPC_STATS: u64 = 30;
}

/// FNV-1a: a stable qid for a knob from its name, whatever order the backend lists knobs in.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Kind {
    pub fn is_dir(&self) -> bool {
        self.class() == Class::Dir
    }

    pub fn class(&self) -> Class {
        match self {
            Self::Root
            | Self::DevDir
            | Self::ProcDir
            | Self::Pid(_)
            | Self::SysDir
            | Self::KernelDir
            | Self::KnobsDir
            | Self::Disk(_) => Class::Dir,
            Self::Cons
            | Self::ConsCtl
            | Self::Null
            | Self::Zero
            | Self::Random
            | Self::DiskData(_)
            | Self::DiskPart(..) => Class::Stream,
            _ => Class::Text,
        }
    }

    /// The name a directory listing and Rstat show.
    pub fn name(&self) -> String {
        match self {
            Self::Pid(pid) => format!("{pid}"),
            Self::Knob(name) | Self::Disk(name) => name.clone(),
            Self::DiskPart(_, number) => format!("p{number}"),
            _ => String::from(self.fixed_name().unwrap_or_default()),
        }
    }

    /// The name of a file whose name never changes (all but pids and knobs); no allocation,
    /// so walks through the fixed part of the tree stay cheap.
    pub fn fixed_name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Root => "/",
            Self::DevDir => "dev",
            Self::Cons => "cons",
            Self::ConsCtl => "consctl",
            Self::Null => "null",
            Self::Zero => "zero",
            Self::Random => "random",
            Self::Kmsg => "kmsg",
            Self::ProcDir => "proc",
            Self::Status(_) => "status",
            Self::Cmdline(_) | Self::KernelCmdline => "cmdline",
            Self::IpcStats | Self::PidIpcStats(_) => "ipcstats",
            Self::MemInfo => "meminfo",
            Self::Uptime => "uptime",
            Self::Mounts => "mounts",
            Self::SysDir => "sys",
            Self::KernelDir => "kernel",
            Self::Version => "version",
            Self::Config => "config",
            Self::Isolation => "isolation",
            Self::Pci => "pci",
            Self::KnobsDir => "knobs",
            Self::DiskCtl(_) => "ctl",
            Self::DiskData(_) => "data",
            Self::Pid(_) | Self::Knob(_) | Self::Disk(_) | Self::DiskPart(..) => return None,
        })
    }

    /// The directory holding this file (the root is its own parent).
    pub fn parent(&self) -> Kind {
        match self {
            Self::Root | Self::DevDir | Self::ProcDir | Self::SysDir => Self::Root,
            Self::Cons | Self::ConsCtl | Self::Null | Self::Zero | Self::Random | Self::Kmsg => {
                Self::DevDir
            }
            Self::Pid(_) | Self::IpcStats | Self::MemInfo | Self::Uptime | Self::Mounts => {
                Self::ProcDir
            }
            Self::Status(pid) | Self::Cmdline(pid) | Self::PidIpcStats(pid) => Self::Pid(*pid),
            Self::KernelDir | Self::Config | Self::Isolation | Self::Pci | Self::KnobsDir => {
                Self::SysDir
            }
            Self::Version | Self::KernelCmdline => Self::KernelDir,
            Self::Knob(_) => Self::KnobsDir,
            Self::Disk(_) => Self::DevDir,
            Self::DiskCtl(name) | Self::DiskData(name) | Self::DiskPart(name, _) => {
                Self::Disk(name.clone())
            }
        }
    }

    /// Permission bits and DM* flags, as Rstat reports them and open checks them.
    pub fn mode(&self) -> u32 {
        match self {
            _ if self.is_dir() => DMDIR | 0o555,
            Self::Cons | Self::Null => 0o666,
            Self::Knob(_) => 0o644,
            Self::ConsCtl => 0o222,
            _ => 0o444,
        }
    }

    pub fn qid(&self) -> Qid {
        let (tag, arg) = match self {
            Self::Root => (tag::ROOT, 0),
            Self::DevDir => (tag::DEV_DIR, 0),
            Self::Cons => (tag::CONS, 0),
            Self::ConsCtl => (tag::CONS_CTL, 0),
            Self::Null => (tag::NULL, 0),
            Self::Zero => (tag::ZERO, 0),
            Self::Random => (tag::RANDOM, 0),
            Self::Kmsg => (tag::KMSG, 0),
            Self::ProcDir => (tag::PROC_DIR, 0),
            Self::Pid(pid) => (tag::PID, *pid),
            Self::Status(pid) => (tag::STATUS, *pid),
            Self::Cmdline(pid) => (tag::CMDLINE, *pid),
            Self::PidIpcStats(pid) => (tag::PID_IPC_STATS, *pid),
            Self::IpcStats => (tag::IPC_STATS, 0),
            Self::MemInfo => (tag::MEM_INFO, 0),
            Self::Uptime => (tag::UPTIME, 0),
            Self::Mounts => (tag::MOUNTS, 0),
            Self::SysDir => (tag::SYS_DIR, 0),
            Self::KernelDir => (tag::KERNEL_DIR, 0),
            Self::Version => (tag::VERSION, 0),
            Self::KernelCmdline => (tag::KERNEL_CMDLINE, 0),
            Self::Config => (tag::CONFIG, 0),
            Self::Isolation => (tag::ISOLATION, 0),
            Self::Pci => (tag::PCI, 0),
            Self::KnobsDir => (tag::KNOBS_DIR, 0),
            Self::Knob(name) => (tag::KNOB, name_hash(name)),
            Self::Disk(name) => (tag::DISK, name_hash(name)),
            Self::DiskCtl(name) => (tag::DISK_CTL, name_hash(name)),
            Self::DiskData(name) => (tag::DISK_DATA, name_hash(name)),
            // The partition number in the low 16 bits of the argument, the name's hash above.
            Self::DiskPart(name, number) => (
                tag::DISK_PART,
                (name_hash(name) << 16) | u64::from(*number & 0xffff),
            ),
        };
        Qid {
            typ: if self.is_dir() { QTDIR } else { QTFILE },
            version: 0,
            // Pids and name hashes keep their low 56 bits above the 8-bit tag.
            path: tag | (arg << 8),
        }
    }

    /// The child called `name` among the fixed entries of this directory, if it has any.
    pub fn fixed_child(&self, name: &str) -> Option<Kind> {
        let entries: &[Kind] = match self {
            Self::Root => &ROOT_ENTRIES,
            Self::DevDir => &DEV_ENTRIES,
            Self::ProcDir => &PROC_FILES,
            Self::SysDir => &SYS_ENTRIES,
            Self::KernelDir => &KERNEL_ENTRIES,
            Self::Pid(pid) => {
                return match name {
                    "status" => Some(Self::Status(*pid)),
                    "cmdline" => Some(Self::Cmdline(*pid)),
                    "ipcstats" => Some(Self::PidIpcStats(*pid)),
                    _ => None,
                };
            }
            Self::Disk(disk) => {
                return match name {
                    "ctl" => Some(Self::DiskCtl(disk.clone())),
                    "data" => Some(Self::DiskData(disk.clone())),
                    _ => None,
                };
            }
            _ => return None,
        };
        entries
            .iter()
            .find(|k| k.fixed_name() == Some(name))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qids_are_distinct_and_typed() {
        let kinds = [
            Kind::Root,
            Kind::DevDir,
            Kind::Cons,
            Kind::ConsCtl,
            Kind::Null,
            Kind::Zero,
            Kind::Random,
            Kind::Kmsg,
            Kind::ProcDir,
            Kind::Pid(1),
            Kind::Pid(2),
            Kind::Status(1),
            Kind::Status(2),
            Kind::Cmdline(1),
            Kind::PidIpcStats(1),
            Kind::PidIpcStats(2),
            Kind::IpcStats,
            Kind::MemInfo,
            Kind::Uptime,
            Kind::Mounts,
            Kind::SysDir,
            Kind::KernelDir,
            Kind::Version,
            Kind::KernelCmdline,
            Kind::Config,
            Kind::Isolation,
            Kind::Pci,
            Kind::KnobsDir,
            Kind::Knob("a".into()),
            Kind::Knob("b".into()),
            Kind::Disk("rd0".into()),
            Kind::DiskCtl("rd0".into()),
            Kind::DiskData("rd0".into()),
            Kind::Disk("sd0".into()),
            Kind::DiskData("sd0".into()),
            Kind::DiskPart("rd0".into(), 1),
            Kind::DiskPart("rd0".into(), 2),
            Kind::DiskPart("sd0".into(), 1),
        ];
        for (i, a) in kinds.iter().enumerate() {
            assert_eq!(a.qid().typ == QTDIR, a.mode() & DMDIR != 0, "{a:?}");
            for b in &kinds[i + 1..] {
                assert_ne!(a.qid().path, b.qid().path, "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn every_fixed_child_names_its_parent() {
        for dir in [
            Kind::Root,
            Kind::DevDir,
            Kind::ProcDir,
            Kind::SysDir,
            Kind::KernelDir,
        ] {
            let entries: &[Kind] = match dir {
                Kind::Root => &ROOT_ENTRIES,
                Kind::DevDir => &DEV_ENTRIES,
                Kind::ProcDir => &PROC_FILES,
                Kind::SysDir => &SYS_ENTRIES,
                _ => &KERNEL_ENTRIES,
            };
            for child in entries {
                assert_eq!(child.parent(), dir);
                assert_eq!(dir.fixed_child(&child.name()).as_ref(), Some(child));
            }
        }
        assert_eq!(Kind::Pid(4).fixed_child("status"), Some(Kind::Status(4)));
        assert_eq!(Kind::Status(4).parent().parent(), Kind::ProcDir);
        assert_eq!(
            Kind::Pid(4).fixed_child("ipcstats"),
            Some(Kind::PidIpcStats(4))
        );
        assert_eq!(Kind::PidIpcStats(4).parent(), Kind::Pid(4));
        assert_eq!(Kind::PidIpcStats(4).name(), "ipcstats");
    }

    #[test]
    fn anames() {
        assert_eq!(Tree::from_aname(""), Some(Tree::All));
        assert_eq!(Tree::from_aname("/"), Some(Tree::All));
        assert_eq!(Tree::from_aname("dev"), Some(Tree::Dev));
        assert_eq!(Tree::from_aname("/proc"), Some(Tree::Proc));
        assert_eq!(Tree::from_aname("sys"), Some(Tree::Sys));
        assert_eq!(Tree::from_aname("etc"), None);
    }
}
