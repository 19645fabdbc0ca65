//! init: the first process. Starts sysserver when the configuration isolates it, mounts `/dev`,
//! `/proc` and `/sys` in the standard name space, and keeps a shell running on the console.
//!
//! `init` takes an optional program name to run instead of `sh` (`init=init` on the kernel
//! command line runs this program; its argument string is then empty).
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::ns::{self, SysserverAt};
use lux9_rt::sys;
use lux9_rt::{eprintln, println};

lux9_rt::entry!(run);

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
