//! What the kernel reports about itself to sysserver: process records, memory figures, and the
//! texts behind `/sys`. Colocated, sysserver reads these from kernel functions; isolated, it asks
//! with the `sysinfo` system call, which copies the same records out.

/// A process, as `/proc/N/status` shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ProcInfo {
    pub pid: u64,
    pub parent: u64,
    /// 0 running or ready, 1 blocked, 2 zombie.
    pub state: u64,
    /// Times a thread of the process was switched in.
    pub switches: u64,
    /// Pages mapped in its lower half (image, stack, anonymous memory, rings).
    pub pages: u64,
    pub priority: u64,
    pub name_len: u64,
    pub name: [u8; 32],
}

impl ProcInfo {
    pub const STATE_RUNNING: u64 = 0;
    pub const STATE_BLOCKED: u64 = 1;
    pub const STATE_ZOMBIE: u64 = 2;

    pub fn name(&self) -> &str {
        let len = (self.name_len as usize).min(self.name.len());
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    pub fn state_name(&self) -> &'static str {
        match self.state {
            Self::STATE_RUNNING => "running",
            Self::STATE_BLOCKED => "blocked",
            Self::STATE_ZOMBIE => "zombie",
            _ => "unknown",
        }
    }

    /// Packs `name` (truncated to 32 bytes at a character boundary).
    pub fn set_name(&mut self, name: &str) {
        let mut len = name.len().min(32);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        self.name = [0; 32];
        self.name[..len].copy_from_slice(&name.as_bytes()[..len]);
        self.name_len = len as u64;
    }

    pub const WORDS: usize = 11;

    pub fn to_words(&self) -> [u64; Self::WORDS] {
        let mut words = [0u64; Self::WORDS];
        words[..7].copy_from_slice(&[
            self.pid,
            self.parent,
            self.state,
            self.switches,
            self.pages,
            self.priority,
            self.name_len,
        ]);
        for (index, chunk) in self.name.chunks(8).enumerate() {
            words[7 + index] = u64::from_le_bytes(chunk.try_into().expect("8-byte chunks"));
        }
        words
    }

    pub fn from_words(words: &[u64; Self::WORDS]) -> Self {
        let mut name = [0u8; 32];
        for (index, chunk) in name.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&words[7 + index].to_le_bytes());
        }
        Self {
            pid: words[0],
            parent: words[1],
            state: words[2],
            switches: words[3],
            pages: words[4],
            priority: words[5],
            name_len: words[6].min(32),
            name,
        }
    }
}

/// Memory figures for `/proc/meminfo`, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MemInfo {
    /// RAM the memory map calls available.
    pub total: u64,
    /// Free frames now.
    pub free: u64,
    /// The kernel heap's mapped size (it grows and never shrinks).
    pub kernel_heap: u64,
    /// Bytes of the kernel heap allocated and not yet freed.
    pub kernel_heap_in_use: u64,
    /// Memory kept out of the allocator: kernel image, boot data, modules.
    pub reserved: u64,
}

impl MemInfo {
    pub const WORDS: usize = 5;

    pub fn to_words(&self) -> [u64; Self::WORDS] {
        [
            self.total,
            self.free,
            self.kernel_heap,
            self.kernel_heap_in_use,
            self.reserved,
        ]
    }

    pub fn from_words(words: &[u64; Self::WORDS]) -> Self {
        Self {
            total: words[0],
            free: words[1],
            kernel_heap: words[2],
            kernel_heap_in_use: words[3],
            reserved: words[4],
        }
    }
}

/// How many bytes of the kernel log the kernel keeps (the newest ones): the ring behind
/// [`SysInfo::Kmsg`] and `/dev/kmsg`.
pub const KMSG_CAPACITY: usize = 64 * 1024;

/// What `sysinfo(what, arg, buf, len)` copies out.
///
/// Text records (command lines, version, configuration, mounts) copy at most `len` bytes and
/// return the record's full length: a caller whose buffer was too small asks again with a
/// bigger one. [`SysInfo::Processes`] copies as many whole records as fit and returns how many
/// processes there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum SysInfo {
    /// Every live process's [`ProcInfo`], as words; returns the count.
    Processes = 0,
    /// The argument string process `arg` was started with.
    Cmdline = 1,
    /// [`MemInfo`] as words.
    Memory = 2,
    /// Bytes of the kernel log ring from offset `arg` (a running byte count since boot); returns
    /// the bytes copied; the log's total so far is in `rsi`. Bytes the ring no longer holds
    /// are skipped (the copy starts at the oldest kept byte if `arg` is older), so a copy that
    /// stopped short of the buffer's end started at total − copied. A buffer of
    /// [`KMSG_CAPACITY`] from offset 0 gets everything kept in one call.
    Kmsg = 3,
    /// The kernel version string.
    Version = 4,
    /// The kernel command line.
    KernelCmdline = 5,
    /// The effective configuration, one `key = value` per line.
    Config = 6,
    /// The isolation mode of each server, one `server mode` per line.
    Isolation = 7,
    /// The standard name space, one `path service aname placement` per line.
    Mounts = 8,
    /// Random bytes (RDRAND/RDSEED, or the kernel's seeded ChaCha20 generator).
    Random = 9,
    /// The names of the programs in the initial archive, one per line.
    Programs = 10,
    /// Every PCI function, one per line, as `/sys/pci` shows it.
    Pci = 11,
    /// The block devices, one per line in their stable order (the `disk` numbers of
    /// `disk_read`): `name`, sectors, sector size, `ro` or `rw`, driver, the partitions as
    /// `number:first:count` joined by commas, and the model, separated by tabs (the model
    /// last, as it may hold spaces).
    Disks = 12,
}

impl SysInfo {
    pub fn from_number(number: usize) -> Option<Self> {
        [
            SysInfo::Processes,
            SysInfo::Cmdline,
            SysInfo::Memory,
            SysInfo::Kmsg,
            SysInfo::Version,
            SysInfo::KernelCmdline,
            SysInfo::Config,
            SysInfo::Isolation,
            SysInfo::Mounts,
            SysInfo::Random,
            SysInfo::Programs,
            SysInfo::Pci,
            SysInfo::Disks,
        ]
        .get(number)
        .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_info_round_trips_through_words() {
        let mut info = ProcInfo {
            pid: 7,
            parent: 1,
            state: 1,
            switches: 99,
            pages: 20,
            priority: 2,
            ..Default::default()
        };
        info.set_name("a-rather-long-program-name-that-is-cut");
        assert_eq!(info.name().len(), 32);
        assert_eq!(ProcInfo::from_words(&info.to_words()), info);
        info.set_name("héllo");
        assert_eq!(ProcInfo::from_words(&info.to_words()).name(), "héllo");
        let mut cut = ProcInfo::default();
        cut.set_name(&"é".repeat(20)); // 40 bytes: cut at a character boundary
        assert_eq!(cut.name(), "é".repeat(16));
    }
}
