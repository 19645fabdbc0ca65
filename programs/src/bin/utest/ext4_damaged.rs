//! `utest ext4-damaged DISK`, run from the kernel's `ext4-faults` scenario: DISK is a GPT disk
//! whose partitions hold damaged ext4 images, the undamaged image last (xtask/src/faults.rs).
//! Each damaged one is mounted (or refused, with a reason), walked within bounds by `utest
//! ext4-walk` in a new process, and unmounted, every step within a time limit; then the
//! undamaged one must read back exactly, nothing of the damaged volumes' servers may be left,
//! and free frames must be where they were before the damaged ones.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use lux9_rt::abi::ExitStatus;
use lux9_rt::abi::syscall::Info;
use lux9_rt::abi::sysinfo::{ProcInfo, SysInfo};
use lux9_rt::{ns, println, sys};

use super::{CaseResult, spawn_wait_within};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Where the volumes are mounted, one at a time.
const MOUNT: &str = "/damaged";
/// Most entries `ext4-walk` visits, all directories together.
const WALK_ENTRIES: usize = 300;
/// How deep `ext4-walk` descends (a damaged directory may list itself).
const WALK_DEPTH: usize = 6;
/// Most bytes `ext4-walk` reads of one file (a damaged size can claim gigabytes of holes).
const WALK_READ_CAP: u64 = 128 << 10;
/// `ext4-walk` exits with this plus the number of errors it met (at most [`WALK_ERRORS_MAX`]),
/// or 0 when it met none; anything else (a kill, a panic's 101) is a failure of the walk.
const WALK_ERRORS: i32 = 3;
const WALK_ERRORS_MAX: i32 = 90;
/// Time limits of the steps, in ms.
const MOUNT_LIMIT: u64 = 15_000;
const WALK_LIMIT: u64 = 30_000;
const UNMOUNT_LIMIT: u64 = 10_000;
/// Most restarts supervise makes of a server that keeps dying at once (its QUICK_DEATHS_MAX,
/// less the death that makes it give up).
const RESTARTS_MAX: usize = 4;

/// What the damaged volumes gave.
#[derive(Default)]
struct Tally {
    images: usize,
    mounted: usize,
    refused: usize,
    read_errors: usize,
    deaths: usize,
}

/// `utest ext4-walk MOUNT`: lists every directory under MOUNT (at most [`WALK_ENTRIES`] entries,
/// [`WALK_DEPTH`] levels) and reads every file at most [`WALK_READ_CAP`] bytes far; each error is
/// counted (the first few printed) and the walk goes on. Exits 0, or [`WALK_ERRORS`] plus the
/// errors met.
pub fn walk(mount: &str) -> i32 {
    let (mut entries, mut directories, mut files, mut bytes, mut errors) = (0, 0, 0, 0u64, 0);
    let mut error = |what: String| {
        errors += 1;
        if errors <= 3 {
            println!("utest ext4-walk: {what}");
        }
    };
    let mut stack = vec![(String::from(mount), 0)];
    'walk: while let Some((directory, depth)) = stack.pop() {
        directories += 1;
        let listing = match ns::read_dir(&directory) {
            Ok(listing) => listing,
            Err(e) => {
                error(format!("ls {directory}: {e}"));
                continue;
            }
        };
        for entry in listing {
            entries += 1;
            if entries > WALK_ENTRIES {
                println!("utest ext4-walk: stopped at {WALK_ENTRIES} entries");
                break 'walk;
            }
            let path = format!("{directory}/{}", entry.name);
            if entry.is_dir() {
                if depth < WALK_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            files += 1;
            match read_capped(&path) {
                Ok(n) => bytes += n,
                Err(e) => error(format!("read {path}: {e}")),
            }
        }
    }
    println!(
        "utest ext4-walk {mount}: {directories} directories, {files} files, {bytes} bytes, \
         {errors} errors"
    );
    if errors == 0 {
        0
    } else {
        WALK_ERRORS + errors.min(WALK_ERRORS_MAX)
    }
}

/// Reads `path` from its start to its end or to [`WALK_READ_CAP`]; the bytes read.
fn read_capped(path: &str) -> Result<u64, lib9pclient::Error> {
    let file = ns::open(path, lib9pclient::codec::OREAD)?;
    let mut chunk = [0u8; 8192];
    let mut at = 0u64;
    while at < WALK_READ_CAP {
        match file.read_at(&mut chunk, at)? {
            0 => break,
            n => at += n as u64,
        }
    }
    Ok(at)
}

/// The errors a walk's exit status says it met.
fn walk_errors(status: ExitStatus) -> Option<i32> {
    match status {
        ExitStatus::Exited(0) => Some(0),
        ExitStatus::Exited(code)
            if (WALK_ERRORS..=WALK_ERRORS + WALK_ERRORS_MAX).contains(&code) =>
        {
            Some(code - WALK_ERRORS)
        }
        _ => None,
    }
}

/// The console log's lines (the newest 64 KiB) that contain `text`.
fn log_lines(text: &str) -> Result<Vec<String>, String> {
    let log = ns::read("/dev/kmsg").map_err(|e| format!("reading /dev/kmsg: {e}"))?;
    Ok(String::from_utf8_lossy(&log)
        .lines()
        .filter(|line| line.contains(text))
        .map(String::from)
        .collect())
}

/// Nothing serves `device` any more: its service is not registered as served, and no
/// `supervise` or `ext4srv` whose arguments name it is alive.
fn nothing_left(device: &str) -> CaseResult {
    let service = lux9_programs::volume::find(device)?.service();
    ensure!(
        !matches!(
            sys::service_lookup(&service),
            Ok(sys::Placement::Isolated { .. } | sys::Placement::Colocated)
        ),
        "{service} is still served: {:?}",
        sys::service_lookup(&service)
    );
    let left: Vec<String> = sys::processes()
        .map_err(|e| format!("processes: {e}"))?
        .iter()
        .filter(|p| p.state != ProcInfo::STATE_ZOMBIE)
        .filter(|p| matches!(p.name(), "supervise" | "ext4srv"))
        .filter(|p| {
            sys::sysinfo_text(SysInfo::Cmdline, p.pid as usize)
                .is_ok_and(|args| args.split_whitespace().any(|word| word == device))
        })
        .map(|p| format!("{} (pid {})", p.name(), p.pid))
        .collect();
    ensure!(left.is_empty(), "still running for {device}: {left:?}");
    Ok(())
}

/// Free frames once they have settled (block rings and caches of servers that ended are freed
/// by workers that may still be finishing): readings 100 ms apart until two agree, or until
/// one reaches `enough`, for at most 3 s; the highest.
fn settled_free_frames(enough: u64) -> Result<u64, String> {
    let read = || sys::info(Info::FreeFrames, 0).map_err(|e| format!("info: {e}"));
    let mut last = read()?;
    let mut best = last;
    for _ in 0..30 {
        if best >= enough {
            break;
        }
        sys::sleep_ms(100);
        let free = read()?;
        best = best.max(free);
        if free == last {
            break;
        }
        last = free;
    }
    Ok(best)
}

/// The undamaged volume mounted, every file of its `SHA256SUMS` hashed, its `LISTINGS` counted
/// (`utest ext4-check`), walked, and unmounted. Returns the errors the walk met: the fixture's
/// dangling and looping symlinks cannot be read even undamaged.
fn undamaged_cycle(device: &str) -> Result<i32, String> {
    let status = spawn_wait_within("mount", &format!("ext4 {MOUNT} {device}"), MOUNT_LIMIT)?;
    ensure!(
        status.success(),
        "mount ext4 {MOUNT} {device} (undamaged) ended with {status:?}"
    );
    super::ext4::check_placement(MOUNT)?;
    let status = spawn_wait_within("utest", &format!("ext4-check {MOUNT}"), WALK_LIMIT)?;
    ensure!(
        status.success(),
        "reading back the undamaged {device} ended with {status:?}"
    );
    let status = spawn_wait_within("utest", &format!("ext4-walk {MOUNT}"), WALK_LIMIT)?;
    let errors = walk_errors(status)
        .ok_or_else(|| format!("walking the undamaged {device} ended with {status:?}"))?;
    let status = spawn_wait_within("mount", &format!("-u {MOUNT}"), UNMOUNT_LIMIT)?;
    ensure!(status.success(), "mount -u {MOUNT} ended with {status:?}");
    nothing_left(device)?;
    // The log is read after each damaged volume too: reading it here first brings the heap to
    // the size those reads need, so the frame count before the damaged ones is comparable.
    let died = log_lines(&format!("supervise: ext4srv {device} (pid "))?;
    ensure!(
        died.is_empty(),
        "the undamaged volume's server died: {died:?}"
    );
    Ok(errors)
}

/// One damaged volume: mounted or refused with a reason on the console, walked, unmounted,
/// nothing of it left, and its server's deaths counted from supervise's lines.
fn damaged_cycle(device: &str, undamaged_errors: i32, tally: &mut Tally) -> CaseResult {
    tally.images += 1;
    let status = spawn_wait_within("mount", &format!("ext4 {MOUNT} {device}"), MOUNT_LIMIT)?;
    if status.success() {
        tally.mounted += 1;
        let status = spawn_wait_within("utest", &format!("ext4-walk {MOUNT}"), WALK_LIMIT)?;
        let errors =
            walk_errors(status).ok_or_else(|| format!("walking {device} ended with {status:?}"))?;
        if errors != undamaged_errors {
            tally.read_errors += 1;
        }
        let status = spawn_wait_within("mount", &format!("-u {MOUNT}"), UNMOUNT_LIMIT)?;
        ensure!(
            status.success(),
            "mount -u of {device} ended with {status:?}"
        );
    } else {
        ensure!(
            status == ExitStatus::Exited(1),
            "mount ext4 {device} ended with {status:?}, not a refusal"
        );
        let reason = format!("mount: {device}: ");
        ensure!(
            !log_lines(&reason)?.is_empty(),
            "mount refused {device} without saying why"
        );
        tally.refused += 1;
    }
    nothing_left(device)?;
    // supervise logs each death of an isolated server: killed (by a fault) or exited by a panic.
    let supervised = log_lines(&format!("supervise: ext4srv {device} (pid "))?;
    let deaths = supervised
        .iter()
        .filter(|line| line.contains(" killed") || line.contains("with status 101"))
        .count();
    let restarts = supervised
        .iter()
        .filter(|line| line.contains("; restarting ("))
        .count();
    for line in supervised.iter().take(2) {
        println!("utest ext4-damaged: {line}");
    }
    ensure!(
        restarts <= RESTARTS_MAX,
        "{device}'s server was restarted {restarts} times"
    );
    tally.deaths += deaths;
    Ok(())
}

/// `utest ext4-damaged DISK`: see the module's comment.
pub fn run(disk: &str) -> CaseResult {
    // /dev lists the disk's partitions, and /dev/kmsg holds mount's and supervise's lines.
    ns::set_up_standard().map_err(|e| format!("mount the standard name space: {e}"))?;
    let listing =
        ns::read_dir(&format!("/dev/{disk}")).map_err(|e| format!("listing /dev/{disk}: {e}"))?;
    let mut partitions: Vec<u32> = listing
        .iter()
        .filter_map(|entry| entry.name.strip_prefix('p')?.parse().ok())
        .collect();
    partitions.sort_unstable();
    let (&undamaged, damaged) = partitions
        .split_last()
        .ok_or_else(|| format!("{disk} has no partitions"))?;
    ensure!(
        damaged.len() >= 8,
        "{disk} has {} damaged partitions; xtask writes 32",
        damaged.len()
    );
    let undamaged = format!("/dev/{disk}/p{undamaged}");
    // A first cycle on the undamaged volume brings the kernel's tables and heap to where the
    // cycles leave them, so that the frame count before the damaged ones can be compared.
    let undamaged_errors = undamaged_cycle(&undamaged)?;
    let before = settled_free_frames(u64::MAX)?;
    let mut tally = Tally::default();
    for part in damaged {
        let device = format!("/dev/{disk}/p{part}");
        damaged_cycle(&device, undamaged_errors, &mut tally)?;
    }
    let errors = undamaged_cycle(&undamaged)?;
    ensure!(
        errors == undamaged_errors,
        "the undamaged {undamaged} walked with {errors} errors after the damaged ones, \
         {undamaged_errors} before"
    );
    let after = settled_free_frames(before)?;
    println!(
        "corrupt: {} images: {} mounted, {} refused, {} read errors, {} server deaths",
        tally.images, tally.mounted, tally.refused, tally.read_errors, tally.deaths
    );
    ensure!(
        after >= before,
        "free frames before the damaged volumes {before}, after {after} ({} leaked)",
        before - after
    );
    ensure!(
        tally.mounted > 0 && tally.refused > 0,
        "the damage reaches both mount and the walk: {} mounted, {} refused",
        tally.mounted,
        tally.refused
    );
    Ok(())
}
