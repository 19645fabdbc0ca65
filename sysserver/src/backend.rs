//! What sysserver needs from the system. The colocated adapter (in the kernel) answers from
//! kernel functions; the isolated adapter (a ring-3 program) answers with system calls; host
//! tests use a fake. The file-tree code above this trait is the same in all three.

use alloc::string::String;
use alloc::vec::Vec;

use lux9_abi::ipc::IpcStats;
use lux9_abi::sysinfo::{MemInfo, ProcInfo};

/// Why a knob could not be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnobError {
    /// No knob by that name.
    Unknown,
    /// The value is out of range.
    BadValue,
}

/// The bytes of the kernel log ring, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelLog {
    /// Every byte the ring still holds (the kernel keeps the newest 64 KiB).
    pub bytes: Vec<u8>,
    /// The running position of `bytes[0]`: how many bytes were logged since boot before it.
    /// 0 until the ring wraps; after that the oldest line kept has usually lost its start.
    pub first: u64,
}

/// A block device as `/dev/<name>` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// `rd0` for the boot-module disk, `sdN` for the drivers' disks.
    pub name: String,
    pub model: String,
    pub driver: String,
    pub sector_size: u32,
    pub sectors: u64,
    pub read_only: bool,
    /// Its partitions as (number in the table, first sector, sector count), in number order.
    pub partitions: Vec<(u32, u64, u64)>,
}

impl DiskInfo {
    /// Bytes in all.
    pub fn size(&self) -> u64 {
        self.sectors * u64::from(self.sector_size)
    }
}

pub trait Backend {
    /// Every live process (zombies included), in pid order.
    fn processes(&mut self) -> Vec<ProcInfo>;
    /// The argument string process `pid` was started with.
    fn cmdline(&mut self, pid: u64) -> Option<String>;
    /// IPC statistics of process `pid`, or system-wide for 0.
    fn ipc_stats(&mut self, pid: u64) -> Option<IpcStats>;
    /// Context switches avoided by direct calls to colocated servers, system-wide.
    fn colocated_calls(&mut self) -> u64;
    fn memory(&mut self) -> MemInfo;
    /// Milliseconds since boot.
    fn uptime_ms(&mut self) -> u64;
    /// The kernel log as its ring keeps it now, taken in one piece (`/dev/kmsg` snapshots it
    /// when a fid opens it).
    fn kmsg(&mut self) -> KernelLog;
    /// The kernel version, e.g. `lux9 0.1.0`.
    fn version(&mut self) -> String;
    /// The kernel command line.
    fn kernel_cmdline(&mut self) -> String;
    /// The effective configuration, one `key = value` per line.
    fn config(&mut self) -> String;
    /// The isolation mode of each server, one `server mode` per line.
    fn isolation(&mut self) -> String;
    /// Every PCI function, one per line: address, vendor:device, class and the driver bound
    /// to it (see `/sys/pci` in docs/sysserver.md).
    fn pci(&mut self) -> String;
    /// The standard namespace, one `path server mode` per line, as `/proc/mounts` shows it.
    fn mounts(&mut self) -> String;
    /// Writes to the console (serial and screen).
    fn console_write(&mut self, data: &[u8]);
    /// Reads console input into `buf`. Cooked mode (the default): one line, echoed, with
    /// backspace and Ctrl-U applied, including its newline (at most `buf.len()` bytes; a longer
    /// line comes in pieces). Raw mode: whatever bytes have arrived, at least one, unechoed.
    /// Returns `Some(n)`, or `None` if nothing is ready and this backend cannot block (the
    /// isolated adapter defers the request and retries it later); `Some(0)` is end of file.
    fn console_read(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// Switches console input between raw (`true`) and cooked mode (`/dev/consctl`).
    fn console_set_raw(&mut self, raw: bool);
    /// Fills `buf` with random bytes (RDRAND/RDSEED, or a seeded CSPRNG).
    fn random(&mut self, buf: &mut [u8]);
    /// The block devices, in their stable order (`/dev/rd0`, `/dev/sd0`, ...).
    fn disks(&mut self) -> Vec<DiskInfo>;
    /// Reads up to `buf.len()` bytes of partition `part` (0: the whole disk) of disk `name` at
    /// byte `offset` (any offset: the backend reads the whole sectors around it). Returns the
    /// count, 0 at or past the end, or why the disk could not be read.
    fn disk_read(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, String>;
    /// Writes up to `data.len()` bytes to partition `part` (0: the whole disk) of disk `name` at
    /// byte `offset` (the backend reads, patches and writes back partial sectors). Returns the
    /// count, 0 at or past the end, or why the disk could not be written (a read-only disk).
    fn disk_write(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<usize, String>;
    /// The knobs under `/sys/knobs`, as (name, value).
    fn knobs(&mut self) -> Vec<(String, u64)>;
    /// Sets knob `name` to `value`.
    fn set_knob(&mut self, name: &str, value: u64) -> Result<(), KnobError>;
}
