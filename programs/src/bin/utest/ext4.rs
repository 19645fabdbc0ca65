//! utest's ext4 checks, run from the kernel's `disks` scenario: `utest ext4 DEVICE` mounts the
//! ext4 volume on DEVICE with `mount ext4` (an isolated ext4srv reading it through a block
//! ring), checks mount's refusals, and runs `utest ext4-check MOUNTPOINT` in a new process
//! (which sees the mount): every file `SHA256SUMS` lists is read through 9P and hashed.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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

/// Mounts DEVICE at /ext4 and checks it from a new process; mount's errors on the way.
pub fn mount_and_check(device: &str) -> CaseResult {
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
    let status = spawn_wait("mount", &format!("ext4 /ext4 {device}"))?;
    ensure!(
        status.success(),
        "mount ext4 /ext4 {device} ended with {status:?}"
    );
    let again = spawn_wait("mount", &format!("ext4 /again {device}"))?;
    ensure!(!again.success(), "mounting {device} twice succeeded");
    let status = spawn_wait("utest", "ext4-check /ext4")?;
    ensure!(status.success(), "utest ext4-check ended with {status:?}");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file of `MOUNT/SHA256SUMS` read back with its hash; the directory `many` lists exactly
/// the files the sums name in it; a write is refused.
pub fn check(mount: &str) -> CaseResult {
    let sums = ns::read(&format!("{mount}/SHA256SUMS"))
        .map_err(|e| format!("reading {mount}/SHA256SUMS: {e}"))?;
    let sums = String::from_utf8(sums).map_err(|_| "SHA256SUMS is not text")?;
    let mut checked = 0;
    let mut many = 0;
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
        many += usize::from(name.starts_with("many/"));
    }
    ensure!(checked >= 1000, "only {checked} files in SHA256SUMS");
    let big_dir = ns::read_dir(&format!("{mount}/dir3000"))
        .map_err(|e| format!("listing {mount}/dir3000: {e}"))?;
    ensure!(
        big_dir.len() == 3000,
        "{mount}/dir3000 lists {} entries, not 3000",
        big_dir.len()
    );
    let listed: Vec<String> = ns::read_dir(&format!("{mount}/many"))
        .map_err(|e| format!("listing {mount}/many: {e}"))?
        .into_iter()
        .map(|d| d.name)
        .collect();
    ensure!(
        listed.len() == many,
        "{mount}/many lists {} entries, SHA256SUMS names {many}",
        listed.len()
    );
    ensure!(
        ns::open(&format!("{mount}/hello.txt"), lib9pclient::codec::OWRITE).is_err(),
        "opening a file of the read-only volume for writing succeeded"
    );
    Ok(())
}
