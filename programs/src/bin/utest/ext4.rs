//! utest's ext4 checks, run from the kernel's `disks` scenario: `utest ext4 DEVICE` mounts the
//! ext4 volume on DEVICE with `mount ext4` (an isolated ext4srv reading it through a block
//! ring), checks mount's refusals, and runs `utest ext4-check MOUNTPOINT` in a new process
//! (which sees the mount): every file `SHA256SUMS` lists is read through 9P and hashed.

use alloc::format;
use alloc::string::String;

use lux9_rt::abi::ExitStatus;
use lux9_rt::abi::syscall::Info;
use lux9_rt::{ns, println, sys};
use sha2::{Digest, Sha256};

use super::{CaseResult, ms_to_tsc, spawn_wait, spawn_wait_within};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Mounts DEVICE at MOUNT and checks it from a new process; mount's errors on the way.
pub fn mount_and_check(device: &str, mount: &str) -> CaseResult {
    for (args, what) in [
        (
            "ext4 /bad /dev/sd0/data",
            "a disk without ext4 (the pattern disk)",
        ),
        ("ext4 /bad /dev/sd9/data", "a disk that does not exist"),
        ("ext4 /bad /dev/sd0/p7", "a partition that does not exist"),
        (
            "ext4 /bad /dev/sd2/p3",
            "an ext4 volume with inline_data, which ext4-view cannot read",
        ),
    ] {
        let status = spawn_wait("mount", args)?;
        ensure!(!status.success(), "mount {args} ({what}) succeeded");
    }
    let status = spawn_wait("mount", &format!("ext4 {mount} {device}"))?;
    ensure!(
        status.success(),
        "mount ext4 {mount} {device} ended with {status:?}"
    );
    let again = spawn_wait("mount", &format!("ext4 /again {device}"))?;
    ensure!(!again.success(), "mounting {device} twice succeeded");
    check_placement(mount)?;
    let status = spawn_wait("utest", &format!("ext4-check {mount}"))?;
    ensure!(status.success(), "utest ext4-check ended with {status:?}");
    Ok(())
}

/// `utest ext4-volume DEVICE MOUNT`: mounts DEVICE at MOUNT where the configuration places
/// ext4srv, checks it from a new process as [`check`] does, and unmounts it; each step within a
/// time limit. The kernel's `ext4-faults` scenario runs it on the boot-module disk.
pub fn mount_check_unmount(device: &str, mount: &str) -> CaseResult {
    let status = spawn_wait_within("mount", &format!("ext4 {mount} {device}"), 15_000)?;
    ensure!(
        status.success(),
        "mount ext4 {mount} {device} ended with {status:?}"
    );
    check_placement(mount)?;
    let status = spawn_wait_within("utest", &format!("ext4-check {mount}"), 60_000)?;
    ensure!(status.success(), "utest ext4-check ended with {status:?}");
    let service = lux9_programs::volume::find(device)?.service();
    let status = spawn_wait_within("mount", &format!("-u {mount}"), 10_000)?;
    ensure!(status.success(), "mount -u {mount} ended with {status:?}");
    ensure!(
        !matches!(
            sys::service_lookup(&service),
            Ok(sys::Placement::Isolated { .. } | sys::Placement::Colocated)
        ),
        "{service} is still served after mount -u"
    );
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file of `MOUNT/SHA256SUMS` read back with its hash; each directory `LISTINGS` names
/// lists that many entries; opening for writing is refused.
pub fn check(mount: &str) -> CaseResult {
    let sums = ns::read(&format!("{mount}/SHA256SUMS"))
        .map_err(|e| format!("reading {mount}/SHA256SUMS: {e}"))?;
    let sums = String::from_utf8(sums).map_err(|_| "SHA256SUMS is not text")?;
    let mut checked = 0;
    for line in sums.lines() {
        let (want, name) = line
            .split_once("  ")
            .ok_or_else(|| format!("a malformed line in SHA256SUMS: {line:?}"))?;
        let bytes = ns::read(&format!("{mount}/{name}"))
            .map_err(|e| format!("reading {mount}/{name}: {e}"))?;
        let got = hex(&Sha256::digest(&bytes));
        ensure!(
            got == want,
            "{name}: {} bytes hash to {got}, the host's sha256sum says {want}",
            bytes.len()
        );
        checked += 1;
    }
    ensure!(checked > 0, "SHA256SUMS names no file");
    // Each directory LISTINGS names lists exactly that many entries.
    let listings = ns::read(&format!("{mount}/LISTINGS"))
        .map_err(|e| format!("reading {mount}/LISTINGS: {e}"))?;
    for line in String::from_utf8_lossy(&listings).lines() {
        let (dir, count) = line
            .split_once(' ')
            .and_then(|(d, c)| Some((d, c.parse::<usize>().ok()?)))
            .ok_or_else(|| format!("a malformed line in LISTINGS: {line:?}"))?;
        let listed = ns::read_dir(&format!("{mount}/{dir}"))
            .map_err(|e| format!("listing {mount}/{dir}: {e}"))?;
        ensure!(
            listed.len() == count,
            "{mount}/{dir} lists {} entries, not {count}",
            listed.len()
        );
    }
    // Read-only: writing, creating and truncating are refused, and say why.
    let refusals = [
        (
            "open for writing",
            ns::open(&format!("{mount}/SHA256SUMS"), lib9pclient::codec::OWRITE).map(|_| ()),
        ),
        (
            "create",
            ns::create(
                &format!("{mount}/new-file"),
                0o644,
                lib9pclient::codec::OWRITE,
            )
            .map(|_| ()),
        ),
        (
            "open_or_create",
            ns::open_or_create(&format!("{mount}/SHA256SUMS"), false).map(|_| ()),
        ),
    ];
    for (what, result) in refusals {
        match result {
            Ok(()) => return Err(format!("{what} on the read-only volume succeeded")),
            Err(error) => ensure!(
                format!("{error}").contains("read-only file system"),
                "{what} on the read-only volume failed with {error}, not `read-only file system`"
            ),
        }
    }
    Ok(())
}

/// The volume at MOUNT is served where the configuration places ext4srv: colocated (the
/// kernel) or by an isolated process.
pub fn check_placement(mount: &str) -> CaseResult {
    let mounts = ns::mounts().map_err(|e| format!("listing the mounts: {e}"))?;
    let entry = mounts
        .iter()
        .find(|m| m.path == mount)
        .ok_or_else(|| format!("no mount at {mount}: {mounts:?}"))?;
    let wanted = match lux9_rt::sys::configured_placement("ext4srv") {
        Ok(lux9_rt::sys::Placement::Colocated) => "colocated",
        _ => "isolated",
    };
    ensure!(
        entry.placement.starts_with(wanted),
        "{mount} is served {:?}; the configuration says {wanted}",
        entry.placement
    );
    Ok(())
}

/// Files read back after a restart or a second mount.
const FILES: &str = "big.bin hello.txt dir/sub/deep.txt";

/// The named files of `MOUNT/SHA256SUMS` read back and hashed (a quick check of a server).
pub fn check_sums(mount: &str, names: &[&str]) -> CaseResult {
    let sums = ns::read(&format!("{mount}/SHA256SUMS"))
        .map_err(|e| format!("reading {mount}/SHA256SUMS: {e}"))?;
    let sums = String::from_utf8(sums).map_err(|_| "SHA256SUMS is not text")?;
    for name in names {
        let want = sums
            .lines()
            .find_map(|line| line.strip_suffix(name)?.strip_suffix("  "))
            .ok_or_else(|| format!("SHA256SUMS does not list {name}"))?;
        let bytes = ns::read(&format!("{mount}/{name}"))
            .map_err(|e| format!("reading {mount}/{name}: {e}"))?;
        let got = hex(&Sha256::digest(&bytes));
        ensure!(got == want, "{name}: hashes to {got}, not {want}");
    }
    Ok(())
}

/// `utest ext4-flood MOUNT`: batches of 64 tagged 1 KiB reads of `big.bin` (they travel on the
/// connection's ring), one after another, until one fails. Exit 0 when a failure came after at
/// least one batch succeeded (the server was killed under it), 1 if nothing failed within 30 s,
/// 3 if the first batch already failed. A client that hung would never exit; one that touched
/// memory taken from under it would be killed by the fault.
pub fn flood(mount: &str) -> i32 {
    use lib9pclient::codec::{Message, OREAD};
    let path = format!("{mount}/big.bin");
    let file = match ns::open(&path, OREAD) {
        Ok(file) => file,
        Err(e) => {
            println!("utest ext4-flood: open {path}: {e}");
            return 3;
        }
    };
    let start = sys::rdtsc();
    let mut batches = 0u64;
    while sys::rdtsc() - start < ms_to_tsc(30_000) {
        let mut batch = file.client().batch();
        for i in 0..64u64 {
            let offset = (batches * 64 + i) * 4099 % (4 << 20) / 1024 * 1024;
            if let Err(e) = batch.push(&Message::Tread {
                fid: file.fid(),
                offset,
                count: 1024,
            }) {
                println!("utest ext4-flood: batch: {e}");
                return 3;
            }
        }
        let failure = match batch.run() {
            Err(e) => Some(format!("{e}")),
            Ok(replies) => replies
                .into_iter()
                .find_map(|reply| reply.err().map(|e| format!("{e}"))),
        };
        if let Some(why) = failure {
            println!("utest ext4-flood: after {batches} batches: {why}");
            return if batches > 0 { 0 } else { 3 };
        }
        batches += 1;
    }
    println!("utest ext4-flood: {batches} batches and no failure in 30 s");
    1
}

/// The isolated ext4srv serving DEVICE (mounted at MOUNT), killed twice while a client has 64
/// reads in flight: the client fails within 1 s each time (a hung client never would); the
/// server's supervisor starts a new one, which registers under a new pid; a new process reads
/// files back with their right hashes; and after the second cycle free frames are where they
/// were after the first (the dead servers' rings, block rings and caches all freed). Then
/// `mount -u MOUNT` stops the server and its supervisor, and the device mounts again.
///
/// Colocated (`isolation=off`), there is no server process to kill: the case checks that the
/// kernel serves the volume (no pid) and then the unmount and second mount.
pub fn kill_and_restart(device: &str, mount: &str) -> CaseResult {
    let service = lux9_programs::volume::find(device)?.service();
    if sys::configured_placement("ext4srv") == Ok(sys::Placement::Colocated) {
        ensure!(
            sys::service_lookup(&service) == Ok(sys::Placement::Colocated),
            "{service} is not served colocated although the configuration says so"
        );
        println!("utest ext4-kill: {service} is colocated: no process to kill");
        return unmount_and_mount_again(device, mount, &service);
    }
    let server = || match sys::service_lookup(&service) {
        Ok(sys::Placement::Isolated { pid }) => Some(pid),
        _ => None,
    };
    let mut free = [0u64; 2];
    for (cycle, slot) in free.iter_mut().enumerate() {
        let old = server().ok_or_else(|| format!("{service} is not registered"))?;
        let client = sys::spawn("utest", &format!("ext4-flood {mount}"))
            .map_err(|e| format!("spawn the client: {e}"))?;
        sys::sleep_ms(300);
        let start = sys::rdtsc();
        sys::kill(old).map_err(|e| format!("kill {service} (pid {old}): {e}"))?;
        let status = sys::wait(client).map_err(|e| format!("wait for the client: {e}"))?;
        let took = sys::rdtsc() - start;
        ensure!(
            status == ExitStatus::Exited(0),
            "cycle {cycle}: the client with reads in flight ended with {status:?}, not with \
             the error it should have got (its reason is printed above)"
        );
        ensure!(
            took < ms_to_tsc(1000),
            "cycle {cycle}: the client failed {} ms after the kill",
            took / ms_to_tsc(1).max(1)
        );
        let mut new = None;
        for _ in 0..500 {
            if let Some(pid) = server().filter(|&pid| pid != old) {
                new = Some(pid);
                break;
            }
            sys::sleep_ms(10);
        }
        let new = new.ok_or_else(|| format!("cycle {cycle}: no new {service} within 5 s"))?;
        let status = spawn_wait("utest", &format!("ext4-sums {mount} {FILES}"))?;
        ensure!(
            status.success(),
            "cycle {cycle}: reading through the restarted server (pid {new}) ended with {status:?}"
        );
        *slot = sys::info(Info::FreeFrames, 0).map_err(|e| format!("info: {e}"))?;
    }
    ensure!(
        free[0] == free[1],
        "free frames after the first kill and restart {}, after the second {} ({:+})",
        free[0],
        free[1],
        free[1] as i64 - free[0] as i64
    );
    unmount_and_mount_again(device, mount, &service)
}

/// `mount -u MOUNT` stops the volume's server (and an isolated one's supervisor): the service
/// is gone, a new process no longer sees the files, and DEVICE mounts again and reads back.
fn unmount_and_mount_again(device: &str, mount: &str, service: &str) -> CaseResult {
    let status = spawn_wait("mount", &format!("-u {mount}"))?;
    ensure!(status.success(), "mount -u {mount} ended with {status:?}");
    // Isolated, the kernel keeps the name, without a server (`Starting`); colocated, it
    // forgets it.
    ensure!(
        !matches!(
            sys::service_lookup(service),
            Ok(sys::Placement::Isolated { .. } | sys::Placement::Colocated)
        ),
        "{service} is still served after mount -u: {:?}",
        sys::service_lookup(service)
    );
    // A process's name space is copied when it starts: a new one looks.
    let sums = format!("{mount}/SHA256SUMS");
    let status = spawn_wait("stat", &sums)?;
    ensure!(!status.success(), "stat {sums} succeeded after mount -u");
    let supervisors = sys::processes()
        .map_err(|e| format!("processes: {e}"))?
        .iter()
        .filter(|p| p.name() == "supervise" && p.state_name() != "zombie")
        .filter(|p| {
            sys::sysinfo_text(lux9_rt::abi::sysinfo::SysInfo::Cmdline, p.pid as usize)
                .is_ok_and(|args| args.contains(device))
        })
        .count();
    ensure!(
        supervisors == 0,
        "{supervisors} supervise processes for {device} left after mount -u"
    );
    let status = spawn_wait("mount", &format!("ext4 {mount} {device}"))?;
    ensure!(
        status.success(),
        "mounting {device} again after mount -u ended with {status:?}"
    );
    let status = spawn_wait("utest", &format!("ext4-sums {mount} {FILES}"))?;
    ensure!(
        status.success(),
        "reading after mounting again ended with {status:?}"
    );
    Ok(())
}

/// `utest ext4-ioerror MOUNT FILE`, while the disk under MOUNT drops its next batch of requests
/// (the kernel's `disks` case set that up, with a 300 ms timeout): reading FILE, which is not
/// in the server's cache, must fail within 5 s with an error that says it was the disk, and
/// the server must go on serving what it has cached (`hello.txt`, read last) under the same
/// placement (an isolated server keeps its pid: a disk error does not kill it).
pub fn read_fails_cleanly(mount: &str, file: &str) -> CaseResult {
    let server = ns::mounts()
        .map_err(|e| format!("listing the mounts: {e}"))?
        .into_iter()
        .find(|m| m.path == mount)
        .map(|m| m.placement)
        .ok_or_else(|| format!("nothing is mounted at {mount}"))?;
    let path = format!("{mount}/{file}");
    let start = sys::rdtsc();
    let result = ns::read(&path);
    let took = sys::rdtsc() - start;
    match result {
        Ok(bytes) => {
            return Err(format!(
                "reading {path} while the disk drops requests returned {} bytes",
                bytes.len()
            ));
        }
        Err(error) => {
            let text = format!("{error}");
            println!("utest ext4-ioerror: {path}: {text}");
            ensure!(
                text.contains("i/o error"),
                "reading {path} failed with {text:?}, which does not say it was the disk"
            );
        }
    }
    ensure!(
        took < ms_to_tsc(5000),
        "the failed read took {} ms",
        took / ms_to_tsc(1).max(1)
    );
    let after = ns::mounts()
        .map_err(|e| format!("listing the mounts: {e}"))?
        .into_iter()
        .find(|m| m.path == mount)
        .map(|m| m.placement);
    ensure!(
        after.as_deref() == Some(server.as_str()),
        "{mount} was served {server:?} before the disk error and {after:?} after"
    );
    // hello.txt was read last before (`utest ext4-sums` after the second mount), so its
    // blocks are in the cache; the 4 MiB file read before it may have pushed older ones out.
    let hello = ns::read(&format!("{mount}/hello.txt"))
        .map_err(|e| format!("reading the cached {mount}/hello.txt after the disk error: {e}"))?;
    ensure!(
        hello.starts_with(b"hello"),
        "{mount}/hello.txt reads {hello:?} after the disk error"
    );
    Ok(())
}
