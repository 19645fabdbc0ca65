//! [`SysFs`]: the three trees behind lib9pclient's `Filesystem` trait, over a [`Backend`].

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use lib9pclient::codec::{Dir, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, Qid, Stat};
use lib9pclient::server::{Filesystem, ServerError};

use crate::backend::Backend;
use crate::error::{check_offset, unknown_tree};
use crate::node::{
    Class, DEV_ENTRIES, KERNEL_ENTRIES, Kind, Node, ROOT_ENTRIES, SYS_ENTRIES, Tree,
};
use crate::{dev, proc, sys};

/// The owner, group and last modifier every file reports.
const OWNER: &str = "lux9";

/// `/dev`, `/proc` and `/sys` as one 9P file tree. Text files are generated when opened and
/// each open fid reads its own snapshot, so reads at any offset see one consistent text.
pub struct SysFs<B: Backend> {
    backend: B,
    next_handle: u64,
    /// Open-time text of open fids, by node handle; dropped at clunk.
    snapshots: BTreeMap<u64, Vec<u8>>,
    /// Handles of open `/dev/consctl` fids: when the last is clunked, raw mode ends (Plan 9).
    consctl_open: BTreeSet<u64>,
}

impl<B: Backend> SysFs<B> {
    /// The trees over `backend`.
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            next_handle: 0,
            snapshots: BTreeMap::new(),
            consctl_open: BTreeSet::new(),
        }
    }

    /// The backend.
    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Gives the backend back.
    pub fn into_backend(self) -> B {
        self.backend
    }

    /// How many open-time snapshots are held (one per open text fid).
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    fn node(&mut self, kind: Kind, tree: Tree) -> Node {
        self.next_handle += 1;
        Node {
            kind,
            tree,
            handle: self.next_handle,
        }
    }

    /// Whether a file still exists: processes exit and knobs may go away under a fid.
    fn exists(&mut self, kind: &Kind) -> bool {
        match kind {
            Kind::Pid(pid) | Kind::Status(pid) | Kind::Cmdline(pid) | Kind::PidIpcStats(pid) => {
                proc::alive(&mut self.backend, *pid)
            }
            Kind::Knob(name) => sys::walk_knob(&mut self.backend, name).is_some(),
            Kind::Disk(name) | Kind::DiskCtl(name) | Kind::DiskData(name) => {
                dev::disk(&mut self.backend, name).is_some()
            }
            Kind::DiskPart(name, number) => {
                dev::partition(&mut self.backend, name, *number).is_some()
            }
            _ => true,
        }
    }

    /// A file's permission bits: a disk's `data` and partitions are writable unless the disk
    /// is read-only; everything else has fixed bits (`Kind::mode`).
    fn mode_of(&mut self, kind: &Kind) -> u32 {
        match kind {
            Kind::DiskData(name) | Kind::DiskPart(name, _) => {
                match dev::disk(&mut self.backend, name) {
                    Some(disk) if !disk.read_only => 0o644,
                    _ => 0o444,
                }
            }
            _ => kind.mode(),
        }
    }

    fn require(&mut self, kind: &Kind) -> Result<(), ServerError> {
        if self.exists(kind) {
            Ok(())
        } else {
            Err(ServerError::NotFound)
        }
    }

    /// The current text of a text file.
    fn text(&mut self, kind: &Kind) -> Result<Vec<u8>, ServerError> {
        let text: String = match kind {
            Kind::Kmsg => return Ok(dev::kmsg_text(&mut self.backend)),
            Kind::Status(_)
            | Kind::Cmdline(_)
            | Kind::PidIpcStats(_)
            | Kind::IpcStats
            | Kind::MemInfo
            | Kind::Uptime
            | Kind::Mounts => proc::text(&mut self.backend, kind)?,
            Kind::DiskCtl(name) => dev::ctl_text(&mut self.backend, name)?,
            _ => sys::text(&mut self.backend, kind)?,
        };
        Ok(text.into_bytes())
    }

    /// The snapshot of an open fid. A fid that shares its handle with a clone that was
    /// clunked (zero-name walk) lost it; it gets a fresh one, kept from then on.
    fn snapshot(&mut self, node: &Node) -> Result<&[u8], ServerError> {
        if !self.snapshots.contains_key(&node.handle) {
            let text = self.text(&node.kind)?;
            self.snapshots.insert(node.handle, text);
        }
        Ok(self
            .snapshots
            .get(&node.handle)
            .map(Vec::as_slice)
            .unwrap_or_default())
    }

    fn children(&mut self, kind: &Kind) -> Result<Vec<Kind>, ServerError> {
        Ok(match kind {
            Kind::Root => ROOT_ENTRIES.to_vec(),
            Kind::DevDir => {
                let mut entries = DEV_ENTRIES.to_vec();
                entries.extend(dev::disk_entries(&mut self.backend));
                entries
            }
            Kind::Disk(name) => dev::disk_children(&mut self.backend, name),
            Kind::ProcDir => proc::entries(&mut self.backend),
            Kind::Pid(pid) => alloc::vec![
                Kind::Status(*pid),
                Kind::Cmdline(*pid),
                Kind::PidIpcStats(*pid)
            ],
            Kind::SysDir => SYS_ENTRIES.to_vec(),
            Kind::KernelDir => KERNEL_ENTRIES.to_vec(),
            Kind::KnobsDir => sys::knob_entries(&mut self.backend),
            _ => return Err(ServerError::NotDirectory),
        })
    }

    /// The length a stat of `kind` reports; `open` is the node of an open fid whose snapshot
    /// gives the length.
    fn length(&mut self, kind: &Kind, open: Option<&Node>) -> Result<u64, ServerError> {
        let length = match kind.class() {
            // A disk's data file is as long as the disk.
            Class::Stream if matches!(kind, Kind::DiskData(_) | Kind::DiskPart(..)) => {
                dev::length(&mut self.backend, kind).ok_or(ServerError::NotFound)? as usize
            }
            Class::Dir | Class::Stream => 0,
            Class::Text => match open.and_then(|n| self.snapshots.get(&n.handle)) {
                Some(text) => text.len(),
                None if *kind == Kind::Uptime => proc::uptime_len(self.backend.uptime_ms()),
                None => self.text(kind)?.len(),
            },
        };
        Ok(length as u64)
    }

    /// The stat of `kind`, which the caller knows exists, as [`stat_of`] builds it.
    fn dir_entry(&mut self, kind: &Kind, open: Option<&Node>) -> Result<Dir, ServerError> {
        let length = self.length(kind, open)?;
        let mode = self.mode_of(kind);
        let mut digits = [0u8; 20];
        Ok(stat_of(kind, length, mode, &mut digits).to_dir())
    }
}

/// The stat of `kind`, borrowing its name from `kind` (or, for a pid, from `digits`).
fn stat_of<'a>(kind: &'a Kind, length: u64, mode: u32, digits: &'a mut [u8; 20]) -> Stat<'a> {
    let name = match kind {
        Kind::Pid(pid) => decimal(*pid, digits),
        Kind::DiskPart(_, number) => partition_name(*number, digits),
        Kind::Knob(name) | Kind::Disk(name) => name.as_str(),
        _ => kind.fixed_name().unwrap_or_default(),
    };
    Stat {
        typ: 0,
        dev: 0,
        qid: kind.qid(),
        mode,
        atime: 0,
        mtime: 0,
        length,
        name,
        uid: OWNER,
        gid: OWNER,
        muid: OWNER,
    }
}

/// `p<number>`, written at the end of `digits`.
fn partition_name(number: u32, digits: &mut [u8; 20]) -> &str {
    let len = decimal(u64::from(number), digits).len();
    let at = digits.len() - len - 1;
    digits[at] = b'p';
    core::str::from_utf8(&digits[at..]).unwrap_or_default()
}

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &str {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    core::str::from_utf8(&digits[at..]).unwrap_or_default()
}

/// The owner permission bits (`r w x` = 0o400 0o200 0o100) an open `mode` needs. There are
/// no users yet, so every client counts as the owner and the owner bits decide (a knob's
/// 0644 is writable, a 0444 file is not).
fn needed_access(mode: u8) -> u32 {
    let base = match mode & 3 {
        OREAD => 0o400,
        OWRITE => 0o200,
        ORDWR => 0o600,
        _ => 0o100, // OEXEC
    };
    if mode & OTRUNC != 0 {
        base | 0o200
    } else {
        base
    }
}

impl<B: Backend> Filesystem for SysFs<B> {
    type Node = Node;

    fn attach(&mut self, _uname: &str, aname: &str) -> Result<Node, ServerError> {
        let tree = Tree::from_aname(aname).ok_or_else(|| unknown_tree(aname))?;
        Ok(self.node(tree.root(), tree))
    }

    fn qid(&mut self, node: &Node) -> Result<Qid, ServerError> {
        Ok(node.kind.qid())
    }

    fn walk(&mut self, dir: &Node, name: &str) -> Result<Node, ServerError> {
        let kind = match name {
            // `..` stops at the attach root, as it does at `/`.
            ".." if dir.kind == dir.tree.root() => dir.kind.clone(),
            ".." => dir.kind.parent(),
            "." => return Err(ServerError::BadName),
            _ => {
                self.require(&dir.kind)?;
                let found = match dir.kind.fixed_child(name) {
                    Some(kind) => Some(kind),
                    None if dir.kind == Kind::ProcDir => proc::walk_pid(&mut self.backend, name),
                    None if dir.kind == Kind::KnobsDir => sys::walk_knob(&mut self.backend, name),
                    None if matches!(dir.kind, Kind::Disk(_)) => {
                        dev::walk_partition(&mut self.backend, &dir.kind, name)
                    }
                    None if dir.kind == Kind::DevDir => dev::walk_disk(&mut self.backend, name),
                    None => None,
                };
                found.ok_or(ServerError::NotFound)?
            }
        };
        Ok(self.node(kind, dir.tree))
    }

    fn open(&mut self, node: &Node, mode: u8) -> Result<u32, ServerError> {
        let needed = needed_access(mode);
        // Nothing here can be removed, so neither can it be removed on close.
        if mode & ORCLOSE != 0 || self.mode_of(&node.kind) & needed != needed {
            return Err(ServerError::PermissionDenied);
        }
        self.require(&node.kind)?;
        if node.kind == Kind::ConsCtl {
            self.consctl_open.insert(node.handle);
        }
        if node.kind.class() == Class::Text && matches!(mode & 3, OREAD | ORDWR) {
            let text = self.text(&node.kind)?;
            self.snapshots.insert(node.handle, text);
        }
        Ok(0)
    }

    fn create(
        &mut self,
        _dir: &Node,
        _name: &str,
        _perm: u32,
        _mode: u8,
    ) -> Result<(Node, u32), ServerError> {
        Err(ServerError::PermissionDenied)
    }

    fn read(&mut self, node: &Node, offset: u64, buf: &mut [u8]) -> Result<usize, ServerError> {
        check_offset(offset)?;
        match node.kind.class() {
            Class::Dir => Err(ServerError::IsDirectory),
            Class::Stream => {
                // A disk can go away under an open fid.
                if matches!(node.kind, Kind::DiskData(_) | Kind::DiskPart(..)) {
                    self.require(&node.kind)?;
                }
                dev::read(&mut self.backend, &node.kind, offset, buf)
            }
            Class::Text => {
                // A process that ended (or a knob that went away) takes its files with it,
                // snapshots included, as in Plan 9's /proc.
                self.require(&node.kind)?;
                let text = self.snapshot(node)?;
                // Offsets are below 2^63 here; past the end reads nothing.
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let rest = text.get(start..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            }
        }
    }

    fn read_dir(&mut self, node: &Node) -> Result<Vec<Dir>, ServerError> {
        self.require(&node.kind)?;
        let children = self.children(&node.kind)?;
        // The children were just listed by the backend, so they are not looked up again; a
        // text file whose process exited in between fails to generate and is left out.
        Ok(children
            .iter()
            .filter_map(|kind| self.dir_entry(kind, None).ok())
            .collect())
    }

    fn write(&mut self, node: &Node, offset: u64, data: &[u8]) -> Result<usize, ServerError> {
        check_offset(offset)?;
        match &node.kind {
            Kind::Knob(name) => {
                let n = sys::write_knob(&mut self.backend, name, offset, data)?;
                // An ORDWR fid reads back the value it just set.
                if self.snapshots.contains_key(&node.handle) {
                    let text = self.text(&node.kind)?;
                    self.snapshots.insert(node.handle, text);
                }
                Ok(n)
            }
            kind if kind.class() == Class::Stream => {
                if matches!(kind, Kind::DiskData(_) | Kind::DiskPart(..)) {
                    self.require(kind)?;
                }
                dev::write(&mut self.backend, kind, offset, data)
            }
            kind if kind.is_dir() => Err(ServerError::IsDirectory),
            _ => Err(ServerError::PermissionDenied),
        }
    }

    fn stat(&mut self, node: &Node) -> Result<Dir, ServerError> {
        self.require(&node.kind)?;
        self.dir_entry(&node.kind, Some(node))
    }

    fn stat_with(
        &mut self,
        node: &Node,
        reply: &mut dyn FnMut(&Stat<'_>) -> Result<(), ServerError>,
    ) -> Result<(), ServerError> {
        self.require(&node.kind)?;
        let length = self.length(&node.kind, Some(node))?;
        let mode = self.mode_of(&node.kind);
        let mut digits = [0u8; 20];
        reply(&stat_of(&node.kind, length, mode, &mut digits))
    }

    fn wstat(&mut self, _node: &Node, stat: &Stat<'_>) -> Result<(), ServerError> {
        // A wstat that changes nothing asks for a sync (stat(5)); there is nothing to sync.
        if *stat == Stat::DONT_TOUCH {
            Ok(())
        } else {
            Err(ServerError::PermissionDenied)
        }
    }

    fn remove(&mut self, _node: &Node) -> Result<(), ServerError> {
        Err(ServerError::PermissionDenied)
    }

    fn clunk(&mut self, node: &Node) {
        self.snapshots.remove(&node.handle);
        if self.consctl_open.remove(&node.handle) && self.consctl_open.is_empty() {
            self.backend.console_set_raw(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;
    use alloc::format;

    #[test]
    fn decimal_matches_format() {
        for n in [0, 1, 9, 10, 42, 99_999, u64::MAX] {
            let mut digits = [0u8; 20];
            assert_eq!(decimal(n, &mut digits), format!("{n}"));
        }
    }
}
