//! sysserver, isolated: the `sysserver` crate's `/dev`, `/proc` and `/sys` trees served from a
//! ring-3 process (`isolation = strict`, or `sysserver = isolated` in lux9.conf).
//!
//! The tree code is the same as in the colocated kernel server; only this adapter differs:
//! - [`UserBackend`] answers sysserver's questions with system calls (`sysinfo`, `ipc_stats`,
//!   `info`, `console_read`, ...);
//! - requests arrive by IPC (whole 9P frames, in registers on the fastpath or in the IPC buffer)
//!   and by shared rings, served by `lux9_programs::serve`, the loop ext4srv runs too.
//!
//! A console read with no input ready cannot block this single thread (every client would
//! wait): the backend asks the kernel for a notification instead, the request is deferred and
//! parked without a reply (its client stays blocked in `call`), and when the notification
//! arrives parked requests are retried.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use lux9_programs::serve;
use lux9_rt::abi::ipc::{IpcStats, KNOB_READ, Knob};
use lux9_rt::abi::syscall::{Info, console, service};
use lux9_rt::abi::sysinfo::{KMSG_CAPACITY, MemInfo, ProcInfo, SysInfo};
use lux9_rt::{ipc, sys};
use sysserver::{Backend, KernelLog, KnobError, SysFs};

lux9_rt::entry!(run);

/// The system's facts, through system calls.
struct UserBackend;

fn text(what: SysInfo, arg: usize) -> String {
    sys::sysinfo_text(what, arg).unwrap_or_default()
}

impl Backend for UserBackend {
    fn processes(&mut self) -> Vec<ProcInfo> {
        sys::processes().unwrap_or_default()
    }

    fn cmdline(&mut self, pid: u64) -> Option<String> {
        sys::sysinfo_text(SysInfo::Cmdline, pid as usize).ok()
    }

    fn ipc_stats(&mut self, pid: u64) -> Option<IpcStats> {
        ipc::stats(pid as usize).ok()
    }

    fn colocated_calls(&mut self) -> u64 {
        sys::info(Info::ColocatedCalls, 0).unwrap_or(0)
    }

    fn memory(&mut self) -> MemInfo {
        sys::memory().unwrap_or_default()
    }

    fn uptime_ms(&mut self) -> u64 {
        // The kernel's timer runs at 1000 Hz: a tick is a millisecond.
        sys::info(Info::Ticks, 0).unwrap_or(0)
    }

    fn kmsg(&mut self) -> KernelLog {
        // From offset 0 into a buffer as large as the ring: every kept byte in one call, the
        // first of them at (bytes logged so far) - (bytes copied).
        let mut bytes = alloc::vec![0u8; KMSG_CAPACITY];
        let (copied, total) = sys::sysinfo2(SysInfo::Kmsg, 0, &mut bytes).unwrap_or((0, 0));
        bytes.truncate(copied);
        KernelLog {
            bytes,
            first: (total as u64).saturating_sub(copied as u64),
        }
    }

    fn version(&mut self) -> String {
        text(SysInfo::Version, 0)
    }

    fn kernel_cmdline(&mut self) -> String {
        text(SysInfo::KernelCmdline, 0)
    }

    fn config(&mut self) -> String {
        text(SysInfo::Config, 0)
    }

    fn isolation(&mut self) -> String {
        text(SysInfo::Isolation, 0)
    }

    fn mounts(&mut self) -> String {
        text(SysInfo::Mounts, 0)
    }

    fn pci(&mut self) -> String {
        text(SysInfo::Pci, 0)
    }

    fn disks(&mut self) -> Vec<sysserver::DiskInfo> {
        lux9_programs::disks::parse(&text(SysInfo::Disks, 0))
    }

    fn disk_read(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        let number = self
            .disks()
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| alloc::format!("no disk {name}"))?;
        let len = buf.len().min(lux9_rt::abi::syscall::DISK_READ_MAX);
        sys::disk_read(number, part, offset, &mut buf[..len])
            .map_err(|e| alloc::format!("{name}: {e}"))
    }

    fn disk_write(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<usize, String> {
        let number = self
            .disks()
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| alloc::format!("no disk {name}"))?;
        let len = data.len().min(lux9_rt::abi::syscall::DISK_READ_MAX);
        sys::disk_write(number, part, offset, &data[..len])
            .map_err(|e| alloc::format!("{name}: {e}"))
    }

    fn console_write(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match sys::debug_write(data) {
                Ok(0) | Err(_) => break,
                Ok(n) => data = &data[n.min(data.len())..],
            }
        }
    }

    fn console_read(&mut self, buf: &mut [u8]) -> Option<usize> {
        match sys::console_read(buf, console::NONBLOCK | console::NOTIFY) {
            Ok(n) => Some(n),
            Err(lux9_rt::abi::Error::WouldBlock) => None,
            Err(_) => Some(0),
        }
    }

    fn console_set_raw(&mut self, raw: bool) {
        let _ = sys::console_set_raw(raw);
    }

    fn random(&mut self, buf: &mut [u8]) {
        let _ = sys::random(buf);
    }

    fn knobs(&mut self) -> Vec<(String, u64)> {
        Knob::ALL
            .into_iter()
            .filter_map(|knob| Some((knob.name().to_string(), ipc::knob(knob).ok()? as u64)))
            .collect()
    }

    fn set_knob(&mut self, name: &str, value: u64) -> Result<(), KnobError> {
        let knob = Knob::from_name(name).ok_or(KnobError::Unknown)?;
        let value = usize::try_from(value)
            .ok()
            .filter(|&v| v != KNOB_READ)
            .ok_or(KnobError::BadValue)?;
        ipc::set_knob(knob, value)
            .map(|_| ())
            .map_err(|_| KnobError::BadValue)
    }
}

fn run(_args: &str) -> i32 {
    serve::run("sysserver", service::SYSSERVER, serve::MAX_MSIZE, || {
        SysFs::new(UserBackend)
    })
}
