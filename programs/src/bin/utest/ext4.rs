//! utest's ext4 checks, run from the kernel's `disks` scenario: `utest ext4 DEVICE` mounts the
//! ext4 volume on DEVICE with `mount ext4` (an isolated ext4srv reading it through a block
//! ring), checks mount's refusals, and runs `utest ext4-check MOUNTPOINT` in a new process
//! (which sees the mount): every file `SHA256SUMS` lists is read through 9P and hashed.

use alloc::format;
use alloc::string::String;

use lux9_rt::ns;
use sha2::{Digest, Sha256};

use super::{CaseResult, spawn_wait};

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
    if lux9_rt::sys::configured_placement("ext4srv") == Ok(lux9_rt::sys::Placement::Colocated) {
        // Unmounted, the volume is no longer served, so it mounts again.
        let status = spawn_wait("mount", &format!("-u {mount}"))?;
        ensure!(status.success(), "mount -u {mount} ended with {status:?}");
        // A process's name space is copied when it starts: new processes look.
        let sums = format!("{mount}/SHA256SUMS");
        let status = spawn_wait("stat", &sums)?;
        ensure!(!status.success(), "stat {sums} succeeded after mount -u");
        let status = spawn_wait("mount", &format!("ext4 {mount} {device}"))?;
        ensure!(
            status.success(),
            "mounting {device} again ended with {status:?}"
        );
        let status = spawn_wait("stat", &sums)?;
        ensure!(
            status.success(),
            "stat {sums} after mounting again: {status:?}"
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
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
