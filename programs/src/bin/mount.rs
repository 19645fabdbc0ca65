//! mount: lists or changes the standard name space.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;

use lux9_programs::args::Usage;
use lux9_programs::cli;
use lux9_programs::format::Table;
use lux9_programs::procfs::{self, MOUNT_HEADER};
use lux9_rt::{env, ns, print, sys};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "mount",
    synopsis: "[SERVICE PATH [ANAME] | ext4 PATH DEVICE | -u PATH]",
    about: "Without operands, lists the standard name space (/proc/mounts). With SERVICE and \
            PATH, mounts file server SERVICE (attach name ANAME, default the server's root) at \
            PATH; processes started afterwards see it. `ext4 PATH DEVICE` starts an ext4srv \
            for DEVICE (/dev/sdN/data for a whole disk, /dev/sdN/pM for a partition) and \
            mounts its read-only volume at PATH, under supervise (restarted if it is killed). \
            -u PATH removes the mount at PATH, and stops an ext4 volume's server and its \
            supervisor.",
    flags: &[('u', "unmount PATH")],
    values: &[],
};

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let operands: alloc::vec::Vec<&str> = options.operands.iter().map(|s| s.as_str()).collect();
    if options.has('u') {
        return match operands.as_slice() {
            [path] => unmount(path),
            _ => cli::usage_error(&USAGE, "-u takes exactly one PATH"),
        };
    }
    match operands.as_slice() {
        [] => list(),
        ["ext4", path, device] => mount_ext4(path, device),
        [service, path] => mount(service, path, ""),
        [service, path, aname] => mount(service, path, aname),
        _ => cli::usage_error(&USAGE, "too many operands"),
    }
}

fn list() -> i32 {
    let text = match ns::read("/proc/mounts") {
        Ok(bytes) => bytes,
        Err(error) => return cli::fail("mount", "/proc/mounts", error),
    };
    let mut table = Table::new(&MOUNT_HEADER, &[]);
    for row in procfs::mount_rows(&alloc::string::String::from_utf8_lossy(&text)) {
        table.row(row);
    }
    print!("{}", table.render());
    0
}

fn mount(service: &str, path: &str, aname: &str) -> i32 {
    // The kernel's spec is two words: an empty or spaced name cannot be said in it.
    for (what, word) in [("service", service), ("attach name", aname)] {
        if word.contains(char::is_whitespace) || (what == "service" && word.is_empty()) {
            return cli::usage_error(&USAGE, format!("bad {what} '{word}'"));
        }
    }
    let aname = if aname.is_empty() { "-" } else { aname };
    set(path, &format!("{service} {aname}"))
}

/// `mount ext4 PATH DEVICE`: starts `ext4srv DEVICE`, waits until it serves (or says why it
/// cannot, and ends), then mounts its service at PATH.
fn mount_ext4(path: &str, device: &str) -> i32 {
    let volume = match lux9_programs::volume::find(device) {
        Ok(volume) => volume,
        Err(why) => {
            lux9_rt::eprintln!("mount: {device}: {why}");
            return 1;
        }
    };
    let service = volume.service();
    if sys::configured_placement("ext4srv") == Ok(sys::Placement::Colocated) {
        // The kernel opens the volume and serves it itself (docs/ext4srv.md).
        return match sys::start_volume(&volume.disk, volume.part) {
            Ok(()) => set(path, &format!("{service} -")),
            Err((_, why)) => {
                lux9_rt::eprintln!("mount: {device}: {why}");
                1
            }
        };
    }
    if let Ok(sys::Placement::Isolated { .. }) = sys::service_lookup(&service) {
        lux9_rt::eprintln!("mount: {device} is already mounted (served as {service})");
        return 1;
    }
    // Under a supervisor, which starts it again if it is killed or faults; the mount entry
    // names the service, so it works again once the new server has registered.
    let pid = match sys::spawn("supervise", &format!("ext4srv {device}")) {
        Ok(pid) => pid,
        Err(error) => return cli::fail("mount", "supervise ext4srv", error),
    };
    // The server registers once the volume opened; if it cannot, it says why and ends, and so
    // does its supervisor.
    let start = sys::rdtsc();
    let second = sys::info(lux9_rt::abi::syscall::Info::TscPerMs, 0).unwrap_or(1_000_000) * 1000;
    loop {
        if let Ok(sys::Placement::Isolated { .. }) = sys::service_lookup(&service) {
            break;
        }
        let ended = sys::processes().is_ok_and(|list| {
            !list.iter().any(|p| {
                p.pid == pid as u64 && p.state != lux9_rt::abi::sysinfo::ProcInfo::STATE_ZOMBIE
            })
        });
        if ended {
            let _ = sys::wait(pid);
            lux9_rt::eprintln!("mount: {device}: not mounted");
            return 1;
        }
        if sys::rdtsc() - start > 10 * second {
            lux9_rt::eprintln!("mount: {device}: ext4srv did not start in 10 s");
            return 1;
        }
        sys::sleep_ms(5);
    }
    set(path, &format!("{service} -"))
}

/// `mount -u PATH`: removes the entry; if it was an ext4 volume's and no other entry names
/// that service, stops the volume's server, so the device can be mounted again: a colocated
/// volume is dropped by the kernel; an isolated server is killed (its supervisor first, so that
/// it is not restarted) and waited for until the service is free.
fn unmount(path: &str) -> i32 {
    let absolute = env::absolute(path);
    let service = ns::mounts()
        .ok()
        .and_then(|mounts| mounts.into_iter().find(|m| m.path == absolute))
        .map(|m| m.service);
    let status = set(path, "");
    if status != 0 {
        return status;
    }
    let Some(service) = service.filter(|s| s.starts_with("ext4.")) else {
        return 0;
    };
    if ns::mounts().is_ok_and(|mounts| mounts.iter().any(|m| m.service == service)) {
        return 0; // still mounted elsewhere
    }
    if sys::service_lookup(&service) == Ok(sys::Placement::Colocated) {
        return match sys::stop_volume(&service) {
            Ok(()) => 0,
            Err(error) => cli::fail("mount", service, error),
        };
    }
    stop_server(&service)
}

/// Kills the isolated server of `service` and the `supervise` above it, and waits (up to 5 s)
/// until the kernel has forgotten the server.
fn stop_server(service: &str) -> i32 {
    let Ok(sys::Placement::Isolated { pid }) = sys::service_lookup(service) else {
        return 0; // not running (or restarting: its supervisor is found below next time)
    };
    let processes = sys::processes().unwrap_or_default();
    let supervisor = processes
        .iter()
        .find(|p| p.pid == pid as u64)
        .map(|p| p.parent)
        .and_then(|parent| processes.iter().find(|p| p.pid == parent))
        .filter(|p| p.name() == "supervise")
        .map(|p| p.pid as usize);
    if let Some(supervisor) = supervisor
        && let Err(error) = sys::kill(supervisor)
    {
        return cli::fail("mount", format!("supervise (pid {supervisor})"), error);
    }
    if let Err(error) = sys::kill(pid) {
        return cli::fail("mount", format!("{service} (pid {pid})"), error);
    }
    for _ in 0..500 {
        if sys::service_lookup(service) != Ok(sys::Placement::Isolated { pid }) {
            return 0;
        }
        sys::sleep_ms(10);
    }
    cli::fail("mount", service, "the server did not stop in 5 s")
}

/// Sets the entry for `path` to `spec` (empty: removes it).
fn set(path: &str, spec: &str) -> i32 {
    let path = env::absolute(path);
    match sys::mount(&path, spec) {
        Ok(()) => 0,
        Err(error) => cli::fail("mount", path, error),
    }
}
