//! init: the first process. Starts sysserver when the configuration isolates it, mounts `/dev`,
//! `/proc` and `/sys` in the standard name space, mounts the ext4 volumes the configuration's
//! `mount` names (by default the first one found, at `/mnt`), and keeps a shell running on the
//! console.
//!
//! `init` takes an optional program name to run instead of `sh` (`init=init` on the kernel
//! command line runs this program; its argument string is then empty).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lux9_rt::ns::{self, SysserverAt};
use lux9_rt::sys;
use lux9_rt::{eprintln, println};

lux9_rt::entry!(run);

/// The `mount` setting of `/sys/config`: `auto`, `none` or `DEVICE:PATH,...`.
fn mount_setting() -> Option<String> {
    let config = ns::read("/sys/config").ok()?;
    let config = String::from_utf8_lossy(&config);
    let line = config.lines().find(|l| l.starts_with("mount ="))?;
    let value = line["mount =".len()..].split('#').next()?.trim();
    Some(value.into())
}

/// `mount ext4 PATH DEVICE`, as a program (its errors are its own).
fn mount_ext4(device: &str, path: &str) -> bool {
    match sys::spawn("mount", &format!("ext4 {path} {device}")).and_then(sys::wait) {
        Ok(status) if status.success() => {
            println!("init: mounted {device} (ext4) at {path}");
            true
        }
        Ok(_) => false,
        Err(error) => {
            eprintln!("init: cannot run mount: {error}");
            false
        }
    }
}

/// Whether `device` holds the ext2/3/4 superblock magic (0xEF53 at byte 1080).
fn looks_like_ext4(device: &str) -> bool {
    let Ok(file) = ns::open(device, lib9pclient::codec::OREAD) else {
        return false;
    };
    let mut magic = [0u8; 2];
    matches!(file.read_at(&mut magic, 1080), Ok(2)) && magic == [0x53, 0xef]
}

/// Mounts what the configuration's `mount` says at boot.
fn boot_mounts() {
    let Some(setting) = mount_setting() else {
        return;
    };
    match setting.as_str() {
        "none" => {}
        "auto" => {
            // Every disk's partitions in order, or the whole disk when it has none.
            let disks = sys::sysinfo_text(lux9_rt::abi::sysinfo::SysInfo::Disks, 0)
                .map(|text| lux9_programs::disks::parse(&text))
                .unwrap_or_default();
            let candidates: Vec<String> = disks
                .iter()
                .flat_map(|d| {
                    let mut paths: Vec<String> = d
                        .partitions
                        .iter()
                        .map(|(n, _, _)| format!("/dev/{}/p{n}", d.name))
                        .collect();
                    if paths.is_empty() {
                        paths.push(format!("/dev/{}/data", d.name));
                    }
                    paths
                })
                .collect();
            if let Some(device) = candidates.iter().find(|d| looks_like_ext4(d)) {
                mount_ext4(device, "/mnt");
            }
        }
        list => {
            for entry in list.split(',') {
                if let Some((device, path)) = entry.split_once(':')
                    && !mount_ext4(device, path)
                {
                    eprintln!("init: {device} is not mounted at {path} (mount = {list})");
                }
            }
        }
    }
}

/// A shell that ends this soon after starting counts as failing to start.
const QUICK_EXIT_MS: u64 = 1000;
/// After this many quick failures in a row, init stops restarting it.
const QUICK_EXITS_MAX: u32 = 5;

fn run(args: &str) -> i32 {
    println!("init: pid {}", sys::getpid());
    match ns::set_up_standard() {
        Ok(SysserverAt::Colocated) => println!("init: sysserver runs colocated, in the kernel"),
        Ok(SysserverAt::Running(pid)) => println!("init: sysserver already runs as pid {pid}"),
        Ok(SysserverAt::Started(pid)) => println!("init: sysserver runs isolated, as pid {pid}"),
        Err(why) => eprintln!("init: {why}; /dev, /proc and /sys may not work"),
    }
    boot_mounts();
    let shell = match args.trim() {
        "" => "sh",
        name => name,
    };
    let mut quick_exits = 0;
    loop {
        let started = sys::info(lux9_rt::abi::syscall::Info::Ticks, 0).unwrap_or(0);
        let pid = match lux9_rt::env::Command::new(shell).spawn() {
            Ok(pid) => pid,
            Err(error) => {
                eprintln!("init: cannot start {shell}: {error}");
                return 1;
            }
        };
        let status = sys::wait(pid);
        let ran_ms = sys::info(lux9_rt::abi::syscall::Info::Ticks, 0)
            .unwrap_or(0)
            .saturating_sub(started);
        match status {
            Ok(status) => println!("init: {shell} (pid {pid}) ended: {status:?}"),
            Err(error) => eprintln!("init: waiting for {shell}: {error}"),
        }
        quick_exits = if ran_ms < QUICK_EXIT_MS {
            quick_exits + 1
        } else {
            0
        };
        if quick_exits >= QUICK_EXITS_MAX {
            eprintln!("init: {shell} keeps ending at once; not starting it again");
            return 1;
        }
        println!("init: starting a new {shell}");
    }
}
