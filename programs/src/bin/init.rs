//! init: the first process. Starts sysserver when the configuration isolates it, mounts `/dev`,
//! `/proc` and `/sys` in the standard name space, and keeps a shell running on the console.
//!
//! `init` takes an optional program name to run instead of `sh` (`init=init` on the kernel
//! command line runs this program; its argument string is then empty).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_rt::abi::syscall::service;
use lux9_rt::sys::{self, Placement};
use lux9_rt::{eprintln, println};

lux9_rt::entry!(run);

/// The standard name space: path and the sysserver tree mounted there.
const MOUNTS: [(&str, &str); 3] = [("/dev", "dev"), ("/proc", "proc"), ("/sys", "sys")];

/// A shell that ends this soon after starting counts as failing to start.
const QUICK_EXIT_MS: u64 = 1000;
/// After this many quick failures in a row, init stops restarting it.
const QUICK_EXITS_MAX: u32 = 5;

fn start_sysserver() -> Result<(), &'static str> {
    match sys::service_lookup(service::SYSSERVER) {
        Ok(Placement::Colocated) => {
            println!("init: sysserver runs colocated, in the kernel");
            Ok(())
        }
        Ok(Placement::Isolated { pid }) => {
            println!("init: sysserver already runs as pid {pid}");
            Ok(())
        }
        Ok(Placement::Starting) => {
            let pid = sys::spawn("sysserver", "").map_err(|_| "cannot start sysserver")?;
            // Wait (up to 5 s) for it to register.
            for _ in 0..500 {
                if let Ok(Placement::Isolated { .. }) = sys::service_lookup(service::SYSSERVER) {
                    println!("init: sysserver runs isolated, as pid {pid}");
                    return Ok(());
                }
                sys::sleep_ms(10);
            }
            Err("sysserver did not register within 5 s")
        }
        Err(_) => Err("the kernel knows no sysserver"),
    }
}

fn run(args: &str) -> i32 {
    println!("init: pid {}", sys::getpid());
    if let Err(why) = start_sysserver() {
        eprintln!("init: {why}; /dev, /proc and /sys will not work");
    }
    for (path, tree) in MOUNTS {
        let spec = alloc::format!("{} {tree}", service::SYSSERVER);
        if let Err(error) = sys::mount(path, &spec) {
            eprintln!("init: mount {path}: {error}");
        }
    }
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
