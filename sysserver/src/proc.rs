//! `/proc`: a directory per live process, IPC statistics, memory, uptime and mounts, as
//! `name value` text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use lib9pclient::server::ServerError;
use lux9_abi::ipc::IpcStats;
use lux9_abi::sysinfo::ProcInfo;

use crate::backend::Backend;
use crate::node::{Kind, PROC_FILES};
use crate::text::{line, one_line};

/// The entries of `/proc`: the process directories in pid order, then the fixed files.
pub fn entries<B: Backend>(backend: &mut B) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = backend
        .processes()
        .iter()
        .map(|p| Kind::Pid(p.pid))
        .collect();
    kinds.extend(PROC_FILES.iter().cloned());
    kinds
}

/// The pid a `/proc` entry name spells: canonical decimal only, so `03` is not `3`.
fn parse_pid(name: &str) -> Option<u64> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    if canonical { name.parse().ok() } else { None }
}

fn find<B: Backend>(backend: &mut B, pid: u64) -> Option<ProcInfo> {
    backend.processes().into_iter().find(|p| p.pid == pid)
}

/// Whether process `pid` is still alive (a zombie counts until it is reaped).
pub fn alive<B: Backend>(backend: &mut B, pid: u64) -> bool {
    find(backend, pid).is_some()
}

/// The process directory called `name` in `/proc`, if that process is alive.
pub fn walk_pid<B: Backend>(backend: &mut B, name: &str) -> Option<Kind> {
    let pid = parse_pid(name)?;
    alive(backend, pid).then_some(Kind::Pid(pid))
}

/// The contents of a `/proc` text file now.
pub fn text<B: Backend>(backend: &mut B, kind: &Kind) -> Result<String, ServerError> {
    Ok(match kind {
        Kind::Status(pid) => status(&find(backend, *pid).ok_or(ServerError::NotFound)?),
        Kind::Cmdline(pid) => line(&backend.cmdline(*pid).ok_or(ServerError::NotFound)?),
        Kind::IpcStats => ipc_stats(backend),
        Kind::PidIpcStats(pid) => {
            let st = backend.ipc_stats(*pid).ok_or(ServerError::NotFound)?;
            let mut s = String::new();
            ipc_lines(&mut s, &st);
            s
        }
        Kind::MemInfo => {
            let m = backend.memory();
            let mut s = String::new();
            for (name, bytes) in [
                ("total", m.total),
                ("free", m.free),
                ("kernel_heap", m.kernel_heap),
                ("kernel_heap_in_use", m.kernel_heap_in_use),
                ("reserved", m.reserved),
            ] {
                let _ = writeln!(s, "{name} {} KiB", bytes / 1024);
            }
            s
        }
        Kind::Uptime => {
            let ms = backend.uptime_ms();
            let mut s = String::new();
            let _ = writeln!(s, "{}.{:03}", ms / 1000, ms % 1000);
            s
        }
        Kind::Mounts => line(&backend.mounts()),
        _ => return Err(ServerError::NotFound),
    })
}

/// The length of `/proc/uptime`'s text for `ms` milliseconds, without generating it: the
/// kernel measures a stat of uptime, so its Rstat should not cost a formatted string.
pub fn uptime_len(ms: u64) -> usize {
    let mut digits = 1;
    let mut seconds = ms / 1000;
    while seconds >= 10 {
        seconds /= 10;
        digits += 1;
    }
    digits + ".mmm\n".len()
}

/// `name value` lines; memory is the pages mapped in the lower half, 4 KiB each.
fn status(p: &ProcInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "name {}", one_line(p.name()));
    let _ = writeln!(s, "state {}", p.state_name());
    let _ = writeln!(s, "parent {}", p.parent);
    let _ = writeln!(s, "switches {}", p.switches);
    let _ = writeln!(s, "memory {} KiB", p.pages.saturating_mul(4));
    let _ = writeln!(s, "priority {}", p.priority);
    s
}

/// Writes every [`IpcStats`] field as a `name value` line, in declaration order. The average
/// batch size is shown as a decimal with two places (`1.07`) from its value times 100.
fn ipc_lines(s: &mut String, st: &IpcStats) {
    for (name, value) in [
        ("total_switches", st.total_switches),
        ("fastpath_hits", st.fastpath_hits),
        ("slowpath_messages", st.slowpath_messages),
        ("zero_copy_transfers", st.zero_copy_transfers),
        ("batched_operations", st.batched_operations),
        ("batches", st.batches),
    ] {
        let _ = writeln!(s, "{name} {value}");
    }
    let avg = st.avg_batch_size_x100;
    let _ = writeln!(s, "avg_batch_size {}.{:02}", avg / 100, avg % 100);
    let _ = writeln!(s, "cycles_per_switch {}", st.cycles_per_switch);
    let _ = writeln!(s, "futex_skips {}", st.futex_skips);
    let _ = writeln!(s, "futex_sleeps {}", st.futex_sleeps);
}

/// The system-wide counters and `colocated_calls` (each process's are its
/// `/proc/<pid>/ipcstats`).
fn ipc_stats<B: Backend>(backend: &mut B) -> String {
    let mut s = String::new();
    let system = backend.ipc_stats(0).unwrap_or_default();
    ipc_lines(&mut s, &system);
    let _ = writeln!(s, "colocated_calls {}", backend.colocated_calls());
    s
}

#[cfg(test)]
mod tests {
    use super::{parse_pid, uptime_len};
    use alloc::format;

    #[test]
    fn uptime_length_matches_the_text() {
        for ms in [
            0,
            5,
            999,
            1_000,
            9_999,
            10_000,
            12_345,
            86_400_000,
            u64::MAX,
        ] {
            let text = format!("{}.{:03}\n", ms / 1000, ms % 1000);
            assert_eq!(uptime_len(ms), text.len(), "{ms}");
        }
    }

    #[test]
    fn pids_are_canonical_decimal() {
        assert_eq!(parse_pid("0"), Some(0));
        assert_eq!(parse_pid("42"), Some(42));
        assert_eq!(parse_pid("042"), None);
        assert_eq!(parse_pid("+4"), None);
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("4a"), None);
        assert_eq!(parse_pid("99999999999999999999"), None);
    }
}
