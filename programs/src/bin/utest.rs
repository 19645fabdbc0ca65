//! utest: the in-QEMU tests of processes, system calls and scheduling, run from ring 3.
//!
//! Prints `ktest: case <name> ... ok` or `... FAILED: <why>` per case (the format the host
//! harness reads), then `ktest: result N passed, M failed`, and exits with the failure count.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lux9_rt::abi::syscall::{Info, USER_END, map_flags};
use lux9_rt::abi::{Error, ExitStatus, Syscall};
use lux9_rt::{println, sys};

lux9_rt::entry!(run);

#[path = "utest/blkring.rs"]
mod blkring;
#[path = "utest/ext4.rs"]
mod ext4;
#[path = "utest/ext4_damaged.rs"]
mod ext4_damaged;
#[path = "utest/pipes.rs"]
mod pipes;

type CaseResult = Result<(), String>;
type Case = (&'static str, fn() -> CaseResult);

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

fn spawn_wait(name: &str, args: &str) -> Result<ExitStatus, String> {
    let pid = sys::spawn(name, args).map_err(|e| format!("spawn {name} {args}: {e}"))?;
    sys::wait(pid).map_err(|e| format!("wait for {name}: {e}"))
}

/// Runs NAME ARGS and waits at most `limit_ms` for it to end: one still running then is
/// killed, and the step fails (a hang is an answer no test may wait for).
fn spawn_wait_within(name: &str, args: &str, limit_ms: u64) -> Result<ExitStatus, String> {
    use lux9_rt::abi::sysinfo::ProcInfo;
    let pid = sys::spawn(name, args).map_err(|e| format!("spawn {name} {args}: {e}"))?;
    let start = sys::rdtsc();
    loop {
        let running = sys::processes()
            .map_err(|e| format!("processes: {e}"))?
            .iter()
            .any(|p| p.pid == pid as u64 && p.state != ProcInfo::STATE_ZOMBIE);
        if !running {
            return sys::wait(pid).map_err(|e| format!("wait for {name}: {e}"));
        }
        if sys::rdtsc() - start > ms_to_tsc(limit_ms) {
            let _ = sys::kill(pid);
            let _ = sys::wait(pid);
            return Err(format!("{name} {args} did not end within {limit_ms} ms"));
        }
        sys::sleep_ms(5);
    }
}

/// What a leak would show in: free frames and kernel heap bytes in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Usage {
    free_frames: u64,
    heap_in_use: u64,
}

impl Usage {
    fn now() -> Result<Self, String> {
        let memory = sys::memory().map_err(|e| format!("sysinfo memory: {e}"))?;
        Ok(Self {
            free_frames: memory.free / 4096,
            heap_in_use: memory.kernel_heap_in_use,
        })
    }

    /// Fails unless frames and kernel heap bytes are exactly where they were at `self`.
    fn unchanged_since(self, what: &str) -> CaseResult {
        let now = Self::now()?;
        ensure!(
            now == self,
            "{what}: free frames {} -> {}, kernel heap bytes in use {} -> {} ({:+})",
            self.free_frames,
            now.free_frames,
            self.heap_in_use,
            now.heap_in_use,
            now.heap_in_use as i64 - self.heap_in_use as i64
        );
        Ok(())
    }
}

fn ms_to_tsc(ms: u64) -> u64 {
    ms * sys::info(Info::TscPerMs, 0).unwrap_or(1_000_000).max(1)
}

fn user_cannot_touch_kernel_memory() -> CaseResult {
    for (mode, vector) in [("kernel-read", 14), ("kernel-write", 14)] {
        let status = spawn_wait("fault", mode)?;
        ensure!(
            status == ExitStatus::Killed { vector },
            "fault {mode}: {status:?}, expected a kill by #PF"
        );
    }
    // This process is still running, so only the faulting one died.
    Ok(())
}

fn faults_kill_only_the_faulting_process() -> CaseResult {
    let cases = [
        ("null", 14u8),
        ("write-code", 14),
        ("execute-stack", 14),
        ("privileged", 13),
        ("invalid-opcode", 6),
        ("divide", 0),
    ];
    for (mode, vector) in cases {
        let status = spawn_wait("fault", mode)?;
        ensure!(
            status == ExitStatus::Killed { vector },
            "fault {mode}: {status:?}, expected vector {vector}"
        );
    }
    ensure!(
        spawn_wait("true", "")?.success(),
        "a new process after the faults failed"
    );
    Ok(())
}

#[allow(
    unsafe_code,
    reason = "raw system calls with pointers the kernel must refuse"
)]
fn bad_pointers_return_errors() -> CaseResult {
    let image_end = sys::map(0, 4096, map_flags::WRITE).map_err(|e| format!("map: {e}"))?;
    // SAFETY: the pages were mapped just above for this test and nothing refers to them.
    unsafe { sys::unmap(image_end, 4096) }.map_err(|e| format!("unmap: {e}"))?;
    // Two pages, the second unmapped: a range running off the end of the first.
    let pair = sys::map(0, 8192, map_flags::WRITE).map_err(|e| format!("map: {e}"))?;
    // SAFETY: the pages were mapped just above for this test and nothing refers to them.
    unsafe { sys::unmap(pair + 4096, 4096) }.map_err(|e| format!("unmap: {e}"))?;
    let cases: [(&str, usize, usize); 7] = [
        ("null", 0, 8),
        ("kernel half", 0xffff_ffff_8010_9000, 8),
        ("direct map", 0xffff_8000_0010_0000, 8),
        ("unmapped", image_end, 8),
        (
            "straddling the top of the user half",
            USER_END as usize - 4,
            8,
        ),
        ("wrapping around", usize::MAX - 3, 8),
        ("running into an unmapped page", pair + 4092, 8),
    ];
    for (what, ptr, len) in cases {
        // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
        let (code, _) = unsafe { sys::raw(Syscall::DebugWrite as usize, [ptr, len, 0, 0, 0, 0]) };
        ensure!(
            code == Error::BadAddress as usize,
            "debug_write {what}: error {code}, expected BadAddress"
        );
    }
    // SAFETY: the pages were mapped just above for this test and nothing refers to them.
    unsafe { sys::unmap(pair, 4096) }.map_err(|e| format!("unmap: {e}"))?;
    // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
    let (code, _) = unsafe {
        sys::raw(
            Syscall::Spawn as usize,
            [0xffff_ffff_8000_0000, 4, 0, 0, 0, 0],
        )
    };
    ensure!(
        code == Error::BadAddress as usize,
        "spawn with a kernel pointer: error {code}"
    );
    // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
    let (code, _) = unsafe {
        sys::raw(
            Syscall::Spawn as usize,
            ["true".as_ptr() as usize, 4, 0, 5, 0, 0],
        )
    };
    ensure!(
        code == Error::BadAddress as usize,
        "spawn with null args: error {code}"
    );
    let pid = sys::spawn("true", "").map_err(|e| format!("spawn: {e}"))?;
    // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
    let (code, _) = unsafe {
        sys::raw(
            Syscall::Wait as usize,
            [pid, 0xffff_8000_0000_0000, 0, 0, 0, 0],
        )
    };
    ensure!(
        code == Error::BadAddress as usize,
        "wait with a kernel status pointer: error {code}"
    );
    ensure!(
        sys::wait(pid)
            .map_err(|e| format!("wait after refused wait: {e}"))?
            .success(),
        "child status lost"
    );
    // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
    let (code, _) = unsafe { sys::raw(999, [0; 6]) };
    ensure!(
        code == Error::UnknownSyscall as usize,
        "syscall 999: error {code}"
    );
    ensure!(
        sys::map(0, 0, map_flags::WRITE) == Err(Error::InvalidArgument),
        "map of 0 bytes"
    );
    ensure!(
        sys::map(0x1000_0000_0123, 4096, 0) == Err(Error::InvalidArgument),
        "unaligned map"
    );
    ensure!(
        sys::map(0, 4096, map_flags::WRITE | map_flags::EXECUTE) == Err(Error::InvalidArgument),
        "W+X map"
    );
    ensure!(
        sys::map(0, 4096, 1 << 9) == Err(Error::InvalidArgument),
        "unknown map flag"
    );
    ensure!(
        sys::map(0xffff_8000_0000_0000, 4096, 0) == Err(Error::InvalidArgument),
        "map in the kernel half"
    );
    ensure!(
        sys::info(Info::ProcessSwitches, 999_999) == Err(Error::NotFound),
        "info on a missing pid"
    );
    ensure!(
        sys::set_priority(9) == Err(Error::InvalidArgument),
        "priority 9"
    );
    ensure!(
        sys::spawn("no-such-program", "") == Err(Error::NotFound),
        "unknown program"
    );
    ensure!(
        sys::wait(999_999) == Err(Error::NoChild),
        "wait for a stranger"
    );
    Ok(())
}

/// Runs `fuzz ARGS PEER` against a fresh `ipcpeer fuzz-peer`, ends the peer, and returns what
/// the peer counted.
fn fuzz_with_a_live_peer(args: &str) -> Result<lux9_programs::fuzz::Counts, String> {
    use lux9_programs::fuzz::{Counts, QUIT};
    let me = sys::getpid();
    let peer =
        sys::spawn("ipcpeer", &format!("fuzz-peer {me}")).map_err(|e| format!("spawn: {e}"))?;
    let status = spawn_wait("fuzz", &format!("{args} {peer}"))?;
    ensure!(status.success(), "the fuzzer ended with {status:?}");
    let reply = ipc::call(peer, MsgInfo::short(0, QUIT), [0; 8])
        .map_err(|e| format!("the peer did not answer after the fuzzer: {e}"))?;
    let peer_status = sys::wait(peer).map_err(|e| format!("wait for the peer: {e}"))?;
    ensure!(
        peer_status.success(),
        "the fuzzer's peer ended with {peer_status:?}"
    );
    Ok(Counts::from_words(&reply.words))
}

fn random_syscalls_leave_the_kernel_running() -> CaseResult {
    ensure!(
        spawn_wait("fuzz", "--help")?.success(),
        "fuzz --help did not exit 0"
    );
    let status = spawn_wait("fuzz", "100000 nonsense")?;
    ensure!(
        status == ExitStatus::Exited(2),
        "fuzz with a bad operand ended with {status:?}, expected a usage error"
    );
    // The same run twice, the second one measured. The first brings the kernel's high-water
    // marks to where this run takes them: the heap's mapped size (a peak of live allocations
    // grows it by frames it never gives back: 274 frames once, measured, in a run of another
    // seed with no byte left in use) and the capacity its tables and queues keep. A leak
    // takes more on every run, so the second must take nothing.
    fuzz_with_a_live_peer("100000 12345")?;
    let usage = Usage::now()?;
    let counts = fuzz_with_a_live_peer("100000 12345")?;
    usage.unchanged_since("after 100,000 random calls")?;
    println!(
        "utest: before and after 100,000 random calls: {} free frames, {} kernel heap bytes in use",
        usage.free_frames, usage.heap_in_use
    );
    ensure!(
        counts.received > 0 && counts.replied > 0 && counts.sent > 0,
        "the live peer saw too little of the fuzzer: {counts:?}"
    );
    println!(
        "utest: the fuzzer's live peer received {} messages, answered {} calls, sent {}",
        counts.received, counts.replied, counts.sent
    );
    ensure!(
        spawn_wait("hello", "after the fuzzer")?.success(),
        "the system did not survive the fuzzer"
    );
    Ok(())
}

fn spinning_process_does_not_starve_another() -> CaseResult {
    let spinner = sys::spawn("spin", "400").map_err(|e| format!("spawn spin: {e}"))?;
    sys::yield_now(); // let it start spinning
    let end = sys::rdtsc() + ms_to_tsc(100);
    let mut last = sys::rdtsc();
    let mut longest_gap = 0;
    let mut iterations = 0u64;
    while last < end {
        let now = sys::rdtsc();
        longest_gap = longest_gap.max(now - last);
        last = now;
        iterations += 1;
    }
    let spinner_switches =
        sys::info(Info::ProcessSwitches, spinner).map_err(|e| format!("info: {e}"))?;
    let status = sys::wait(spinner).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "spinner ended with {status:?}");
    ensure!(
        iterations > 1000,
        "only {iterations} iterations in 100 ms beside a spinner"
    );
    ensure!(
        spinner_switches >= 3,
        "the spinner ran only {spinner_switches} times while we ran"
    );
    let gap_ms = longest_gap / ms_to_tsc(1).max(1);
    ensure!(
        gap_ms < 100,
        "longest pause {gap_ms} ms: the spinner held the CPU"
    );
    Ok(())
}

fn higher_priority_is_not_preempted_by_lower() -> CaseResult {
    sys::set_priority(1).map_err(|e| format!("set_priority: {e}"))?;
    let spinner = sys::spawn("spin", "50 3").map_err(|e| format!("spawn spin: {e}"))?;
    let before = sys::info(Info::ProcessSwitches, 0).map_err(|e| format!("info: {e}"))?;
    let end = sys::rdtsc() + ms_to_tsc(30);
    while sys::rdtsc() < end {}
    let after = sys::info(Info::ProcessSwitches, 0).map_err(|e| format!("info: {e}"))?;
    sys::set_priority(2).map_err(|e| format!("set_priority: {e}"))?;
    let status = sys::wait(spinner).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "spinner: {status:?}");
    ensure!(
        after == before,
        "a priority-3 spinner preempted a priority-1 process {} times",
        after - before
    );
    Ok(())
}

fn fpu_state_survives_switches() -> CaseResult {
    let pids: Vec<usize> = (1..=3)
        .map(|seed| sys::spawn("fpu", &format!("{seed}")))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("spawn fpu: {e}"))?;
    for pid in pids {
        let status = sys::wait(pid).map_err(|e| format!("wait: {e}"))?;
        ensure!(status.success(), "fpu process {pid} ended with {status:?}");
    }
    Ok(())
}

/// A 30 ms sleep, held to the kernel's reference clock (the ACPI PM timer, independent of the
/// tick that wakes the sleeper): at least 30 ms, and not ten times as long.
fn sleep_sleeps() -> CaseResult {
    let reference =
        || sys::info(Info::ReferenceMicros, 0).map_err(|e| format!("reference clock: {e}"));
    let start_us = reference()?;
    let ticks = sys::info(Info::Ticks, 0).map_err(|e| format!("info: {e}"))?;
    sys::sleep_ms(30);
    let tick_delta = sys::info(Info::Ticks, 0).map_err(|e| format!("info: {e}"))? - ticks;
    let slept_us = reference()? - start_us;
    ensure!(
        (29_000..300_000).contains(&slept_us) && tick_delta >= 30,
        "a 30 ms sleep took {slept_us} us by the PM timer and {tick_delta} ticks"
    );
    Ok(())
}

/// The byte `memory_maps_and_unmaps` writes at `offset`: different on every page.
fn page_pattern(offset: usize) -> u8 {
    (offset % 251) as u8 ^ (offset / 4096) as u8
}

#[allow(
    unsafe_code,
    reason = "a raw system call on a page the kernel must refuse"
)]
fn memory_maps_and_unmaps() -> CaseResult {
    use lux9_rt::anon::Mapping;
    let len = 3 * 4096 + 100;
    let mut pages = Mapping::new(len).map_err(|e| format!("map: {e}"))?;
    let addr = pages.addr();
    ensure!(addr % 4096 == 0, "map returned unaligned {addr:#x}");
    ensure!(
        pages.len() == 4 * 4096,
        "{len} bytes mapped as {} bytes",
        pages.len()
    );
    ensure!(
        pages.bytes().iter().all(|&b| b == 0),
        "fresh anonymous memory is not zeroed"
    );
    // Every byte of the four pages, written and read back through the mapping itself.
    for (offset, byte) in pages.bytes_mut().iter_mut().enumerate() {
        *byte = page_pattern(offset);
    }
    if let Some(offset) = (0..pages.len()).find(|&o| pages.bytes()[o] != page_pattern(o)) {
        return Err(format!("mapped byte {offset:#x} did not keep its value"));
    }
    pages.unmap().map_err(|e| format!("unmap: {e}"))?;
    for at in [addr, addr + 3 * 4096] {
        // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
        let (code, _) = unsafe { sys::raw(Syscall::DebugWrite as usize, [at, 1, 0, 0, 0, 0]) };
        ensure!(
            code == Error::BadAddress as usize,
            "a system call read unmapped {at:#x}: {code}"
        );
    }
    // The same address again: a fresh zeroed page, not the old bytes.
    let mut fixed = Mapping::at(addr, 4096).map_err(|e| format!("fixed map: {e}"))?;
    ensure!(
        fixed.addr() == addr,
        "fixed map at {addr:#x} returned {:#x}",
        fixed.addr()
    );
    ensure!(
        fixed.bytes().iter().all(|&b| b == 0),
        "a page mapped again at {addr:#x} shows old bytes"
    );
    fixed.bytes_mut()[4095] = 0xa5;
    ensure!(fixed.bytes()[4095] == 0xa5, "the fixed page lost a write");
    ensure!(
        sys::map(addr, 4096, map_flags::WRITE) == Err(Error::InvalidArgument),
        "double map accepted"
    );
    fixed.unmap().map_err(|e| format!("unmap: {e}"))?;
    // Touching a page after unmapping it is a page fault that ends the process.
    for mode in ["unmapped-read", "unmapped-write"] {
        let status = spawn_wait("fault", mode)?;
        ensure!(
            status == ExitStatus::Killed { vector: 14 },
            "fault {mode}: {status:?}, expected a kill by #PF"
        );
    }
    // The heap grows through map: 4 MiB in one vector, filled and checked.
    let big: Vec<u64> = (0..512 * 1024).collect();
    ensure!(
        big.iter().enumerate().all(|(i, &v)| v == i as u64),
        "heap contents"
    );
    Ok(())
}

fn switches_are_counted() -> CaseResult {
    let total = sys::info(Info::TotalSwitches, 0).map_err(|e| format!("info: {e}"))?;
    let mine = sys::info(Info::ProcessSwitches, 0).map_err(|e| format!("info: {e}"))?;
    ensure!(spawn_wait("true", "")?.success(), "true failed");
    let total_after = sys::info(Info::TotalSwitches, 0).map_err(|e| format!("info: {e}"))?;
    let mine_after = sys::info(Info::ProcessSwitches, 0).map_err(|e| format!("info: {e}"))?;
    ensure!(
        total_after >= total + 2,
        "waiting for a child took {} switches",
        total_after - total
    );
    ensure!(
        mine_after > mine,
        "this process was not counted switching back in"
    );
    Ok(())
}

/// The meminfo lines, in order.
const MEMINFO_NAMES: [&str; 5] = [
    "total",
    "free",
    "kernel_heap",
    "kernel_heap_in_use",
    "reserved",
];

/// `utest sys-reader ROUNDS`: one of the concurrent clients of
/// `sysserver_serves_concurrent_clients`. Waits for its parent's go-ahead, then ROUNDS times
/// keeps `/proc/meminfo` open while it reads its own status, `/proc/uptime`, 4 KiB of
/// `/dev/zero` and the `/proc` listing, writes `/dev/null`, reads the meminfo in pieces and
/// writes one line to `/dev/cons`; every text is checked. Exits 0, or 1 with the reason.
fn sys_reader(rounds: u64) -> Result<(), String> {
    use lib9pclient::codec::{OREAD, OWRITE};
    use lux9_rt::ns;
    let me = sys::getpid();
    let parent = ipc::receive(0)
        .map_err(|e| format!("receive the go-ahead: {e}"))?
        .peer;
    let status_path = format!("/proc/{me}/status");
    let mut cons = ns::open("/dev/cons", OWRITE).map_err(|e| format!("open /dev/cons: {e}"))?;
    for round in 0..rounds {
        let meminfo = ns::open("/proc/meminfo", OREAD).map_err(|e| format!("open meminfo: {e}"))?;
        let status = ns::read(&status_path).map_err(|e| format!("read {status_path}: {e}"))?;
        // Running when the colocated server makes the text in this thread; blocked in `call`
        // while the isolated one makes it.
        let expected = [
            format!("name utest\nstate running\nparent {parent}\n"),
            format!("name utest\nstate blocked\nparent {parent}\n"),
        ];
        ensure!(
            expected.iter().any(|e| status.starts_with(e.as_bytes())),
            "round {round}: {status_path} reads {:?}",
            String::from_utf8_lossy(&status)
        );
        let uptime = ns::read("/proc/uptime").map_err(|e| format!("read uptime: {e}"))?;
        let uptime = core::str::from_utf8(&uptime).unwrap_or("");
        ensure!(
            uptime.ends_with('\n') && uptime.trim().parse::<f64>().is_ok(),
            "round {round}: /proc/uptime reads {uptime:?}"
        );
        let mut zero = ns::open("/dev/zero", OREAD).map_err(|e| format!("open zero: {e}"))?;
        let mut zeros = alloc::vec![0xffu8; 4096];
        let n = zero
            .read(&mut zeros)
            .map_err(|e| format!("read zero: {e}"))?;
        ensure!(
            n > 0 && zeros[..n].iter().all(|&b| b == 0),
            "round {round}: /dev/zero gave {n} bytes, not all zero"
        );
        let listing = ns::read_dir("/proc").map_err(|e| format!("ls /proc: {e}"))?;
        let mine = format!("{me}");
        ensure!(
            listing.iter().any(|d| d.name == "meminfo") && listing.iter().any(|d| d.name == mine),
            "round {round}: /proc lists no meminfo or no {mine}"
        );
        let mut null = ns::open("/dev/null", OWRITE).map_err(|e| format!("open null: {e}"))?;
        null.write_all(b"nothing")
            .map_err(|e| format!("write null: {e}"))?;
        let mut text = Vec::new();
        let mut piece = [0u8; 9];
        loop {
            let n = meminfo
                .read_at(&mut piece, text.len() as u64)
                .map_err(|e| format!("read meminfo: {e}"))?;
            if n == 0 {
                break;
            }
            text.extend_from_slice(&piece[..n]);
        }
        let text = String::from_utf8(text).map_err(|_| "meminfo is not text")?;
        let names: Vec<&str> = text
            .lines()
            .filter_map(|line| {
                let mut words = line.split(' ');
                let name = words.next()?;
                words.next()?.parse::<u64>().ok()?;
                (words.next() == Some("KiB") && words.next().is_none()).then_some(name)
            })
            .collect();
        ensure!(
            names == MEMINFO_NAMES,
            "round {round}: /proc/meminfo reads {text:?}"
        );
        cons.write_all(format!("sys-reader {me} round {round}\n").as_bytes())
            .map_err(|e| format!("write /dev/cons: {e}"))?;
    }
    Ok(())
}

/// The test ISO's boot-module pattern disk through sysserver, as a user reads it (colocated in
/// `user`, isolated in `user strict`): `/dev` lists `rd0`, its `ctl` gives the geometry, and
/// `data` read at sector starts, at odd offsets across sector ends, in 16 KiB pieces and at
/// the very end gives the pattern's bytes, each sector checked; past the end reads nothing,
/// and the disk cannot be opened for writing.
fn a_disk_reads_through_dev() -> CaseResult {
    use lib9pclient::codec::{OREAD, OWRITE};
    use lux9_blk::pattern::{self, MODULE_SECTORS, SECTOR};
    use lux9_rt::ns;
    ns::set_up_standard().map_err(|e| format!("mount the standard name space: {e}"))?;
    let names: Vec<String> = ns::read_dir("/dev")
        .map_err(|e| format!("ls /dev: {e}"))?
        .into_iter()
        .map(|d| d.name)
        .collect();
    ensure!(
        names.iter().any(|n| n == "rd0"),
        "no rd0 in /dev: {names:?}"
    );
    let ctl = ns::read("/dev/rd0/ctl").map_err(|e| format!("read /dev/rd0/ctl: {e}"))?;
    let ctl = String::from_utf8_lossy(&ctl);
    let size = MODULE_SECTORS * SECTOR as u64;
    let want = format!(
        "model boot-module disk\ndriver bootmodule\nsector_size {SECTOR}\nsectors {MODULE_SECTORS}\nsize {size}\nread_only yes\n"
    );
    ensure!(ctl == want, "/dev/rd0/ctl is {ctl:?}");
    let stat = ns::stat("/dev/rd0/data").map_err(|e| format!("stat data: {e}"))?;
    ensure!(stat.length == size, "data's length is {}", stat.length);
    let data = ns::open("/dev/rd0/data", OREAD).map_err(|e| format!("open data: {e}"))?;
    // Whole sectors: both ends, and a stretch read in 16 KiB pieces.
    let expected = |first: u64, len: usize| -> Vec<u8> {
        let last = (first + len as u64).div_ceil(SECTOR as u64);
        let start = first / SECTOR as u64;
        let all: Vec<u8> = (start..last).flat_map(pattern::sector).collect();
        let skip = (first - start * SECTOR as u64) as usize;
        all[skip..skip + len].to_vec()
    };
    let mut piece = alloc::vec![0u8; 16 * 1024];
    // Sector 0 holds the MBR xtask wrote over the pattern: the reads start after it.
    for offset in [
        SECTOR as u64,
        size - 16 * 1024,
        7 * SECTOR as u64,
        100 * SECTOR as u64 + 13,
        size - 100,
    ] {
        let n = data
            .read_at(&mut piece, offset)
            .map_err(|e| format!("read at {offset}: {e}"))?;
        let len = (size - offset).min(piece.len() as u64) as usize;
        ensure!(n == len, "read at {offset} gave {n} bytes, not {len}");
        ensure!(
            piece[..n] == expected(offset, n)[..],
            "the bytes at {offset} are not the pattern's"
        );
        if offset.is_multiple_of(SECTOR as u64) {
            for (i, bytes) in piece[..n].chunks(SECTOR).enumerate() {
                let sector = offset / SECTOR as u64 + i as u64;
                pattern::check(sector, bytes).map_err(|why| format!("sector {sector}: {why}"))?;
            }
        }
    }
    let n = data
        .read_at(&mut piece, size)
        .map_err(|e| format!("read at the end: {e}"))?;
    ensure!(n == 0, "a read at the end gave {n} bytes");
    // Each partition is a file of its own: its first and last sectors are the disk's sectors
    // it starts and ends with, and nothing is read past its end.
    let mut wanted: Vec<String> = ["ctl", "data"].iter().map(|s| String::from(*s)).collect();
    wanted.extend(pattern::PARTITIONS.iter().map(|(n, ..)| format!("p{n}")));
    let listed: Vec<String> = ns::read_dir("/dev/rd0")
        .map_err(|e| format!("ls /dev/rd0: {e}"))?
        .into_iter()
        .map(|d| d.name)
        .collect();
    ensure!(
        listed == wanted,
        "/dev/rd0 lists {listed:?}, not {wanted:?}"
    );
    for &(number, first, count, _) in &pattern::PARTITIONS {
        let path = format!("/dev/rd0/p{number}");
        let part = ns::open(&path, OREAD).map_err(|e| format!("open {path}: {e}"))?;
        let len = count * SECTOR as u64;
        let st = ns::stat(&path).map_err(|e| format!("stat {path}: {e}"))?;
        ensure!(st.length == len, "{path}'s length is {}", st.length);
        let mut one = [0u8; SECTOR];
        for (at, sector) in [(0, first), (len - SECTOR as u64, first + count - 1)] {
            let n = part
                .read_at(&mut one, at)
                .map_err(|e| format!("read {path} at {at}: {e}"))?;
            ensure!(n == SECTOR, "{path} at {at}: {n} bytes");
            pattern::check(sector, &one).map_err(|why| format!("{path} at {at}: {why}"))?;
        }
        let n = part
            .read_at(&mut one, len - 100)
            .map_err(|e| format!("read {path} near its end: {e}"))?;
        ensure!(
            n == 100,
            "{path}: a read straddling its end gave {n} bytes, not 100"
        );
    }
    ensure!(
        ns::open("/dev/rd0/data", OWRITE).is_err(),
        "the read-only disk opened for writing"
    );
    Ok(())
}

/// Three processes read and write `/proc` and `/dev` files at once through the sysserver the
/// boot placed (colocated in the `user` scenario), each on its own connection; their console
/// lines must arrive whole, in order, and interleaved.
fn sysserver_serves_concurrent_clients() -> CaseResult {
    use lux9_rt::abi::syscall::service::SYSSERVER;
    // As init does: starts the isolated sysserver if the boot isolates it, and mounts.
    lux9_rt::ns::set_up_standard().map_err(|e| format!("mount the standard name space: {e}"))?;
    let placement = sys::service_lookup(SYSSERVER).map_err(|e| format!("lookup: {e}"))?;
    let rounds = 60;
    let calls_before = sys::info(Info::ColocatedCalls, 0).map_err(|e| format!("info: {e}"))?;
    let readers: Vec<usize> = (0..3)
        .map(|_| sys::spawn("utest", &format!("sys-reader {rounds}")))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("spawn a reader: {e}"))?;
    for &reader in &readers {
        ipc::send(reader, MsgInfo::short(0, 0), [0; 8]).map_err(|e| format!("go: {e}"))?;
    }
    for &reader in &readers {
        let status = sys::wait(reader).map_err(|e| format!("wait: {e}"))?;
        ensure!(status.success(), "reader {reader} ended with {status:?}");
    }
    let calls =
        sys::info(Info::ColocatedCalls, 0).map_err(|e| format!("info: {e}"))? - calls_before;
    let kmsg = lux9_rt::ns::read("/dev/kmsg").map_err(|e| format!("read /dev/kmsg: {e}"))?;
    let kmsg = String::from_utf8_lossy(&kmsg);
    let lines: Vec<&str> = kmsg.lines().filter(|l| l.contains("sys-reader ")).collect();
    let mut spans = Vec::new();
    for &reader in &readers {
        let prefix = format!("sys-reader {reader} round ");
        let mine: Vec<(usize, &str)> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(&prefix))
            .map(|(at, l)| (at, *l))
            .collect();
        let expected: Vec<String> = (0..rounds).map(|r| format!("{prefix}{r}")).collect();
        ensure!(
            mine.iter()
                .map(|(_, l)| *l)
                .eq(expected.iter().map(String::as_str)),
            "reader {reader}'s console lines are torn, lost or out of order: {:?}",
            mine.iter().map(|(_, l)| *l).collect::<Vec<_>>()
        );
        spans.push((mine[0].0, mine[mine.len() - 1].0));
    }
    // Each reader's lines span lines of the others: they were served at the same time.
    let overlapping = spans.iter().enumerate().all(|(i, &(first, last))| {
        spans
            .iter()
            .enumerate()
            .any(|(j, &(other_first, other_last))| {
                i != j && other_first < last && first < other_last
            })
    });
    ensure!(
        overlapping,
        "the readers ran one after another, not at once: line spans {spans:?}"
    );
    println!("utest: sysserver ({placement:?}) served 3 readers at once, {calls} colocated calls");
    if placement == lux9_rt::sys::Placement::Colocated {
        ensure!(
            calls >= 3 * rounds as u64,
            "only {calls} colocated calls for {rounds} rounds of 3 readers"
        );
    } else {
        ensure!(
            calls == 0,
            "{calls} colocated calls with sysserver {placement:?}"
        );
    }
    Ok(())
}

/// The boot-module pattern disk through a block ring (the kernel copies: it is memory).
fn a_block_ring_reads_and_refuses_bad_requests() -> CaseResult {
    blkring::reads_and_refusals("rd0")
}

/// A hostile peer on a block ring of the boot-module disk; nothing leaks.
fn a_hostile_block_ring_peer_crashes_nobody() -> CaseResult {
    blkring::hostile_peer("rd0")
}

/// The asynchronous doorbell on the boot-module disk: the worker runs, the server sleeps.
fn a_block_ring_completes_asynchronously() -> CaseResult {
    blkring::asynchronous("rd0")
}

/// `utest blkring PATTERN SCRATCH` (from the kernel's `disks` scenario): the block-ring cases
/// on a PCI disk; `utest blkring-orphan DISK`: leaves rings open and exits.
fn block_ring_mode(args: &str) -> Option<i32> {
    let outcome = if let Some(rest) = args.strip_prefix("ext4 ") {
        match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [device, mount] => ext4::mount_and_check(device, mount),
            _ => Err("usage: utest ext4 DEVICE MOUNTPOINT".into()),
        }
    } else if let Some(mount) = args.strip_prefix("ext4-check ") {
        ext4::check(mount.trim())
    } else if let Some(rest) = args.strip_prefix("ext4-kill ") {
        match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [device, mount] => ext4::kill_and_restart(device, mount),
            _ => Err("usage: utest ext4-kill DEVICE MOUNTPOINT".into()),
        }
    } else if let Some(rest) = args.strip_prefix("ext4-ioerror ") {
        match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [mount, file] => ext4::read_fails_cleanly(mount, file),
            _ => Err("usage: utest ext4-ioerror MOUNTPOINT FILE".into()),
        }
    } else if let Some(rest) = args.strip_prefix("ext4-volume ") {
        match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [device, mount] => ext4::mount_check_unmount(device, mount),
            _ => Err("usage: utest ext4-volume DEVICE MOUNTPOINT".into()),
        }
    } else if let Some(disk) = args.strip_prefix("ext4-damaged ") {
        ext4_damaged::run(disk.trim())
    } else if let Some(mount) = args.strip_prefix("ext4-walk ") {
        return Some(ext4_damaged::walk(mount.trim()));
    } else if let Some(mount) = args.strip_prefix("ext4-flood ") {
        return Some(ext4::flood(mount.trim()));
    } else if let Some(rest) = args.strip_prefix("ext4-sums ") {
        let mut words = rest.split_whitespace();
        let mount = words.next().unwrap_or("");
        ext4::check_sums(mount, &words.collect::<Vec<_>>())
    } else if let Some(name) = args.strip_prefix("blkring-orphan ") {
        blkring::orphan(name.trim())
    } else if let Some(name) = args.strip_prefix("blkring-async-orphan ") {
        blkring::async_orphan(name.trim())
    } else if let Some(names) = args.strip_prefix("blkring ") {
        let mut names = names.split_whitespace();
        let (Some(pattern), Some(scratch)) = (names.next(), names.next()) else {
            println!("usage: utest blkring PATTERN-DISK SCRATCH-DISK");
            return Some(2);
        };
        blkring::reads_and_refusals(pattern)
            .map_err(|why| format!("reads and refusals on {pattern}: {why}"))
            .and_then(|()| {
                blkring::writes_read_back(scratch)
                    .map_err(|why| format!("writes on {scratch}: {why}"))
            })
            .and_then(|()| {
                blkring::hostile_peer(pattern)
                    .map_err(|why| format!("hostile peer on {pattern}: {why}"))
            })
            .and_then(|()| {
                blkring::asynchronous(pattern)
                    .map_err(|why| format!("asynchronous doorbell on {pattern}: {why}"))
            })
    } else {
        return None;
    };
    Some(match outcome {
        Ok(()) => 0,
        Err(why) => {
            println!("utest {args}: {why}");
            1
        }
    })
}

/// `utest orphan-parent`: starts `spin 200` and ends at once, leaving it an orphan; its exit
/// status is the child's pid.
fn orphan_parent() -> i32 {
    match sys::spawn("spin", "200") {
        Ok(pid) => pid as i32,
        Err(error) => {
            println!("utest orphan-parent: spawn spin: {error}");
            -1
        }
    }
}

/// A process whose parent ended first is freed when it ends: nobody will wait for it, so it
/// must not stay behind as a zombie (it would hold its table entry and kernel memory forever).
fn orphans_are_freed_when_they_end() -> CaseResult {
    let parent = sys::spawn("utest", "orphan-parent").map_err(|e| format!("spawn: {e}"))?;
    let child = match sys::wait(parent).map_err(|e| format!("wait: {e}"))? {
        ExitStatus::Exited(pid) if pid > 0 => pid as u64,
        other => return Err(format!("utest orphan-parent ended with {other:?}")),
    };
    let start = sys::rdtsc();
    loop {
        let list = sys::processes().map_err(|e| format!("processes: {e}"))?;
        match list.iter().find(|p| p.pid == child) {
            None => return Ok(()),
            Some(p) if sys::rdtsc() - start > ms_to_tsc(3000) => {
                return Err(format!(
                    "the orphan {child} is still in the process table 3 s later (state {})",
                    p.state_name()
                ));
            }
            Some(_) => sys::sleep_ms(20),
        }
    }
}

fn run(args: &str) -> i32 {
    if let Some(status) = block_ring_mode(args) {
        return status;
    }
    if args.trim() == "orphan-parent" {
        return orphan_parent();
    }
    if let Some(how) = args.trim().strip_prefix("interrupt ") {
        return pipes::interrupt_mode(how.trim());
    }
    if let Some(rounds) = args.strip_prefix("sys-reader ") {
        return match rounds
            .trim()
            .parse()
            .map_err(|_| String::from("bad round count"))
            .and_then(sys_reader)
        {
            Ok(()) => 0,
            Err(why) => {
                println!("utest sys-reader: {why}");
                1
            }
        };
    }
    let cases: [Case; 33] = [
        (
            "user_cannot_touch_kernel_memory",
            user_cannot_touch_kernel_memory,
        ),
        (
            "faults_kill_only_the_faulting_process",
            faults_kill_only_the_faulting_process,
        ),
        ("bad_pointers_return_errors", bad_pointers_return_errors),
        ("memory_maps_and_unmaps", memory_maps_and_unmaps),
        ("sleep_sleeps", sleep_sleeps),
        ("switches_are_counted", switches_are_counted),
        (
            "spinning_process_does_not_starve_another",
            spinning_process_does_not_starve_another,
        ),
        (
            "higher_priority_is_not_preempted_by_lower",
            higher_priority_is_not_preempted_by_lower,
        ),
        ("fpu_state_survives_switches", fpu_state_survives_switches),
        (
            "random_syscalls_100000_leave_the_kernel_running",
            random_syscalls_leave_the_kernel_running,
        ),
        (
            "ipc_fastpath_and_slowpath_agree",
            ipc_fastpath_and_slowpath_agree,
        ),
        (
            "every_fastpath_guard_falls_back_to_the_slowpath",
            every_fastpath_guard_falls_back_to_the_slowpath,
        ),
        ("ipc_long_messages_are_copied", ipc_long_messages_are_copied),
        ("ipc_sends_queue_in_order", ipc_sends_queue_in_order),
        (
            "ipc_dead_peers_wake_callers_with_errors",
            ipc_dead_peers_wake_callers_with_errors,
        ),
        (
            "futex_works_across_address_spaces",
            futex_works_across_address_spaces,
        ),
        (
            "rings_are_reclaimed_without_leaks",
            rings_are_reclaimed_without_leaks,
        ),
        (
            "rings_carry_requests_and_count_them",
            rings_carry_requests_and_count_them,
        ),
        (
            "a_hostile_ring_peer_crashes_nobody",
            a_hostile_ring_peer_crashes_nobody,
        ),
        (
            "ring_notifications_reach_a_receiving_server",
            ring_notifications_reach_a_receiving_server,
        ),
        (
            "sysserver_serves_concurrent_clients",
            sysserver_serves_concurrent_clients,
        ),
        ("a_disk_reads_through_dev", a_disk_reads_through_dev),
        (
            "a_block_ring_reads_and_refuses_bad_requests",
            a_block_ring_reads_and_refuses_bad_requests,
        ),
        (
            "a_hostile_block_ring_peer_crashes_nobody",
            a_hostile_block_ring_peer_crashes_nobody,
        ),
        (
            "a_block_ring_completes_asynchronously",
            a_block_ring_completes_asynchronously,
        ),
        (
            "kill_ends_a_process_in_every_kind_of_wait",
            kill_ends_a_process_in_every_kind_of_wait,
        ),
        (
            "a_reply_to_a_killed_caller_is_peer_dead",
            a_reply_to_a_killed_caller_is_peer_dead,
        ),
        (
            "a_killed_server_fails_its_blocked_caller_at_once",
            a_killed_server_fails_its_blocked_caller_at_once,
        ),
        (
            "orphans_are_freed_when_they_end",
            orphans_are_freed_when_they_end,
        ),
        (
            "pipes_carry_bytes_with_backpressure",
            pipes::pipes_carry_bytes_with_backpressure,
        ),
        (
            "a_pipe_without_readers_is_broken",
            pipes::a_pipe_without_readers_is_broken,
        ),
        ("the_tools_answer_help", pipes::the_tools_answer_help),
        // Last: it replaces the isolated sysserver this process has attached.
        (
            "a_killed_isolated_sysserver_comes_back",
            a_killed_isolated_sysserver_comes_back,
        ),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        match case() {
            Ok(()) => println!("ktest: case {name} ... ok"),
            Err(why) => {
                failed += 1;
                println!("ktest: case {name} ... FAILED: {why}");
            }
        }
    }
    println!(
        "ktest: result {} passed, {} failed",
        cases.len() - failed,
        failed
    );
    failed as i32
}

// ---- IPC ----

use lux9_rt::abi::ipc::{FastpathGuard, IpcStats, Knob, LONG_MAX, MsgInfo, Words};
use lux9_rt::ipc;
use lux9_rt::shared::{IpcBuffer, SharedRegion};

const QUIT: u32 = 0xdead;

fn start_echo() -> Result<usize, String> {
    let server = sys::spawn("ipcpeer", "echo").map_err(|e| format!("spawn echo: {e}"))?;
    // Let it reach its first receive, so calls find it waiting.
    sys::sleep_ms(5);
    Ok(server)
}

fn stop_echo(server: usize) -> CaseResult {
    ipc::call(server, MsgInfo::short(0, QUIT), [0; 8]).map_err(|e| format!("quit call: {e}"))?;
    let status = sys::wait(server).map_err(|e| format!("wait echo: {e}"))?;
    ensure!(status.success(), "echo server ended with {status:?}");
    Ok(())
}

fn stats() -> Result<IpcStats, String> {
    ipc::stats(0).map_err(|e| format!("ipc_stats: {e}"))
}

/// Calls the echo server with messages of every short length and a few labels.
fn exchange(server: usize) -> Result<Vec<(MsgInfo, Words, usize)>, String> {
    let mut replies = Vec::new();
    for len in [0usize, 1, 7, 8, 9, 31, 63, 64] {
        for label in [0u32, 1, 1000] {
            let words: Words =
                core::array::from_fn(|i| (len * 1000 + i) as u64 ^ u64::from(label) << 32);
            let reply = ipc::call(server, MsgInfo::short(len, label), words)
                .map_err(|e| format!("call: {e}"))?;
            ensure!(
                reply.info.len == len && reply.info.label == label + 1,
                "reply info {:?} for len {len}",
                reply.info
            );
            ensure!(
                reply.words == words.map(|w| w ^ 0x5a5a_5a5a_5a5a_5a5a),
                "reply words for len {len} label {label}"
            );
            replies.push((reply.info, reply.words, reply.peer));
        }
    }
    Ok(replies)
}

fn ipc_fastpath_and_slowpath_agree() -> CaseResult {
    let server = start_echo()?;
    ipc::set_knob(Knob::Fastpath, 1).map_err(|e| format!("knob: {e}"))?;
    let before = stats()?;
    let fast = exchange(server)?;
    let middle = stats()?;
    ipc::set_knob(Knob::Fastpath, 0).map_err(|e| format!("knob: {e}"))?;
    let slow = exchange(server);
    ipc::set_knob(Knob::Fastpath, 1).map_err(|e| format!("knob: {e}"))?;
    let slow = slow?;
    let after = stats()?;
    stop_echo(server)?;
    ensure!(
        fast == slow,
        "the fastpath and the slowpath delivered different replies"
    );
    ensure!(
        fast.iter().all(|(_, _, peer)| *peer == server),
        "a reply named the wrong sender"
    );
    let calls = fast.len() as u64;
    ensure!(
        middle.fastpath_hits - before.fastpath_hits >= 2 * calls,
        "{} fastpath hits for {calls} fast round trips",
        middle.fastpath_hits - before.fastpath_hits
    );
    ensure!(
        after.fastpath_hits == middle.fastpath_hits,
        "the fastpath ran while disabled"
    );
    ensure!(
        after.slowpath_messages - middle.slowpath_messages >= 2 * calls,
        "slowpath messages were not counted"
    );
    ensure!(after.cycles_per_switch > 0, "cycles_per_switch is 0");
    let mine = ipc::stats(sys::getpid()).map_err(|e| format!("ipc_stats of this process: {e}"))?;
    ensure!(
        mine.fastpath_hits >= calls,
        "this process's own fastpath hits: {}",
        mine.fastpath_hits
    );
    ensure!(
        mine.total_switches > 0 && mine.total_switches <= after.total_switches,
        "per-process switches"
    );
    Ok(())
}

/// Times the fastpath fell back at `guard`, system-wide.
fn fallbacks(guard: FastpathGuard) -> Result<u64, String> {
    sys::info(Info::FastpathFallbacks, guard as usize)
        .map_err(|e| format!("fallbacks at {guard:?}: {e}"))
}

/// Runs `f` and returns how many times each guard sent a message to the slowpath meanwhile.
fn fallbacks_during(f: impl FnOnce() -> CaseResult) -> Result<[u64; FastpathGuard::COUNT], String> {
    let mut before = [0; FastpathGuard::COUNT];
    for guard in FastpathGuard::ALL {
        before[guard as usize] = fallbacks(guard)?;
    }
    f()?;
    let mut during = [0; FastpathGuard::COUNT];
    for guard in FastpathGuard::ALL {
        during[guard as usize] = fallbacks(guard)? - before[guard as usize];
    }
    Ok(during)
}

/// One call to the echo server `server` that must come back transformed (see `ipcpeer echo`).
fn echo_call(server: usize, label: u32) -> CaseResult {
    let words: Words = core::array::from_fn(|i| 0x6a00 + i as u64 + u64::from(label));
    let reply = ipc::call(server, MsgInfo::short(64, label), words)
        .map_err(|e| format!("call with label {label}: {e}"))?;
    ensure!(
        reply.info.label == label + 1
            && reply.words == words.map(|w| w ^ 0x5a5a_5a5a_5a5a_5a5a)
            && reply.peer == server,
        "the reply to label {label} is not the echo's"
    );
    Ok(())
}

/// Each of the fastpath's guards, made to fail: the operation falls back to the slowpath,
/// which the kernel counts under that guard and no other, and the result is the one the
/// slowpath defines (the echo's answer, or the same error as with the fastpath off).
fn every_fastpath_guard_falls_back_to_the_slowpath() -> CaseResult {
    use FastpathGuard::*;
    ipc::set_knob(Knob::Fastpath, 1).map_err(|e| format!("knob: {e}"))?;
    let server = start_echo()?;
    // Each case: the guards that must have counted (at least once), the others must not.
    let check = |name: &str, during: [u64; FastpathGuard::COUNT], expected: &[FastpathGuard]| {
        for guard in FastpathGuard::ALL {
            let counted = during[guard as usize];
            if expected.contains(&guard) {
                ensure!(counted >= 1, "{name}: no fallback counted at {guard:?}");
            } else {
                ensure!(counted == 0, "{name}: {counted} fallbacks at {guard:?}");
            }
        }
        Ok(())
    };
    // The baseline: a short call to a waiting server of equal priority falls back nowhere.
    let during = fallbacks_during(|| echo_call(server, 1))?;
    check("a plain call", during, &[])?;

    // NotShort: a long message, both ways.
    let during = fallbacks_during(|| {
        let mut buffer = IpcBuffer::register(LONG_MAX).map_err(|e| format!("buffer: {e}"))?;
        let sent: Vec<u8> = (0..100u8).collect();
        buffer.bytes()[..sent.len()].copy_from_slice(&sent);
        let info = MsgInfo {
            len: sent.len(),
            long: true,
            label: 3,
        };
        let reply = ipc::call_with(server, info, [0; 8], &mut buffer)
            .map_err(|e| format!("long call: {e}"))?;
        ensure!(
            reply.info.long
                && reply.info.len == sent.len()
                && buffer.bytes()[..sent.len()].iter().eq(sent.iter().rev()),
            "the long reply is not the echo's"
        );
        Ok(())
    })?;
    check("a long message", during, &[NotShort])?;

    // Disabled: the knob off.
    ipc::set_knob(Knob::Fastpath, 0).map_err(|e| format!("knob: {e}"))?;
    let during = fallbacks_during(|| echo_call(server, 5));
    ipc::set_knob(Knob::Fastpath, 1).map_err(|e| format!("knob: {e}"))?;
    check("the knob off", during?, &[Disabled])?;

    // NoPeer: a pid with no process, and the caller itself; the errors are the slowpath's,
    // the same with the fastpath off.
    let me = sys::getpid();
    let mut errors = Vec::new();
    let during = fallbacks_during(|| {
        for dest in [60_000, me] {
            errors.push(ipc::call(dest, MsgInfo::short(8, 1), [0; 8]).err());
        }
        Ok(())
    })?;
    check("no peer", during, &[NoPeer])?;
    ipc::set_knob(Knob::Fastpath, 0).map_err(|e| format!("knob: {e}"))?;
    let slow: Vec<_> = [60_000, me]
        .into_iter()
        .map(|dest| ipc::call(dest, MsgInfo::short(8, 1), [0; 8]).err())
        .collect();
    ipc::set_knob(Knob::Fastpath, 1).map_err(|e| format!("knob: {e}"))?;
    ensure!(
        errors == [Some(Error::NotFound), Some(Error::InvalidArgument)] && errors == slow,
        "calls without a peer: {errors:?} with the fastpath, {slow:?} without"
    );
    stop_echo(server)?;

    // LessUrgent: a server at a lower priority than ours (a higher number). Its reply_recv to
    // us, more urgent, takes the fastpath.
    let low = sys::spawn("ipcpeer", "echo 3").map_err(|e| format!("spawn echo 3: {e}"))?;
    sys::sleep_ms(5);
    let during = fallbacks_during(|| echo_call(low, 9))?;
    check("a less urgent server", during, &[LessUrgent])?;
    stop_echo(low)?;

    // NotWaiting and Pending: while a slow server (it sleeps 30 ms before each answer) works
    // on our call, a second client calls it: the server is not waiting, so that call queues.
    // The server's reply_recv to us then finds that caller queued.
    let slow_server =
        sys::spawn("ipcpeer", "echo 2 30").map_err(|e| format!("spawn echo 2 30: {e}"))?;
    sys::sleep_ms(5);
    let mut second = 0;
    let during = fallbacks_during(|| {
        second = sys::spawn("ipcpeer", &format!("echo-caller {slow_server}"))
            .map_err(|e| format!("spawn caller: {e}"))?;
        echo_call(slow_server, 11)
    })?;
    let status = sys::wait(second).map_err(|e| format!("wait caller: {e}"))?;
    ensure!(
        status.success(),
        "the queued caller ended with {status:?} (its reply was wrong)"
    );
    check("a busy server", during, &[NotWaiting, Pending])?;
    stop_echo(slow_server)?;
    Ok(())
}

fn ipc_long_messages_are_copied() -> CaseResult {
    let server = start_echo()?;
    let mut buffer = IpcBuffer::register(LONG_MAX).map_err(|e| format!("buffer: {e}"))?;
    for len in [65usize, 256, 4096, LONG_MAX] {
        for (index, byte) in buffer.bytes()[..len].iter_mut().enumerate() {
            *byte = (index * 7 + len) as u8;
        }
        let info = MsgInfo {
            len,
            long: true,
            label: 9,
        };
        let reply = ipc::call_with(server, info, [0; 8], &mut buffer)
            .map_err(|e| format!("call {len}: {e}"))?;
        ensure!(
            reply.info.long && reply.info.len == len && reply.info.label == 10,
            "reply info {:?}",
            reply.info
        );
        let bytes = &buffer.bytes()[..len];
        ensure!(
            bytes
                .iter()
                .rev()
                .enumerate()
                .all(|(index, &b)| b == (index * 7 + len) as u8),
            "the {len}-byte reply is not the message reversed"
        );
    }
    let too_long = MsgInfo {
        len: LONG_MAX + 1,
        long: true,
        label: 0,
    };
    let (code, ..) = (
        ipc::call_with(server, too_long, [0; 8], &mut buffer).err(),
        (),
    );
    ensure!(
        code == Some(lux9_rt::abi::Error::InvalidArgument),
        "an over-long message: {code:?}"
    );
    stop_echo(server)
}

fn ipc_sends_queue_in_order() -> CaseResult {
    let me = sys::getpid();
    let sender =
        sys::spawn("ipcpeer", &format!("sender {me} 5")).map_err(|e| format!("spawn: {e}"))?;
    sys::sleep_ms(5); // the sender blocks in send: nobody receives yet
    for label in 0..5u32 {
        let message = ipc::receive(sender).map_err(|e| format!("receive {label}: {e}"))?;
        ensure!(
            message.peer == sender && message.info.label == label,
            "got label {} from {}",
            message.info.label,
            message.peer
        );
        ensure!(
            message.words == [u64::from(label); 8],
            "message {label} words"
        );
    }
    let status = sys::wait(sender).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "sender ended with {status:?}");
    Ok(())
}

fn ipc_dead_peers_wake_callers_with_errors() -> CaseResult {
    use lux9_rt::abi::Error;
    let mute = sys::spawn("ipcpeer", "die-after-receive").map_err(|e| format!("spawn: {e}"))?;
    sys::sleep_ms(5);
    let result = ipc::call(mute, MsgInfo::short(8, 1), [1; 8]);
    ensure!(
        result == Err(Error::PeerDead),
        "a call whose server died without replying: {result:?}"
    );
    ensure!(
        sys::wait(mute).map_err(|e| format!("wait: {e}"))?.success(),
        "die-after-receive failed"
    );
    let again = ipc::call(mute, MsgInfo::short(0, 0), [0; 8]);
    ensure!(
        again == Err(Error::PeerDead),
        "a call to an exited process: {again:?}"
    );
    let nobody = ipc::call(999_999, MsgInfo::short(0, 0), [0; 8]);
    ensure!(
        nobody == Err(Error::NotFound),
        "a call to a pid that never existed: {nobody:?}"
    );
    let quiet = sys::spawn("true", "").map_err(|e| format!("spawn: {e}"))?;
    let waiting = ipc::receive(quiet);
    ensure!(
        waiting == Err(Error::PeerDead),
        "a receive from a process that exits: {waiting:?}"
    );
    let _ = sys::wait(quiet);
    let myself = ipc::call(sys::getpid(), MsgInfo::short(0, 0), [0; 8]);
    ensure!(
        myself == Err(Error::InvalidArgument),
        "a call to oneself: {myself:?}"
    );
    ensure!(
        ipc::reply(quiet, MsgInfo::short(0, 0), [0; 8]).is_err(),
        "a reply nobody waits for"
    );
    Ok(())
}

#[allow(
    unsafe_code,
    reason = "raw futex waits with addresses the kernel must refuse"
)]
fn futex_works_across_address_spaces() -> CaseResult {
    use lux9_rt::abi::Error;
    let child = sys::spawn("ipcpeer", "futex-waiter").map_err(|e| format!("spawn: {e}"))?;
    let (ring, _) = ipc::ring_create(child, 3, 64).map_err(|e| format!("ring_create: {e}"))?;
    let region = SharedRegion::of_ring(ring).map_err(|e| format!("ring_info: {e}"))?;
    ipc::send(child, MsgInfo::short(8, 0), [ring, 0, 0, 0, 0, 0, 0, 0])
        .map_err(|e| format!("send: {e}"))?;
    sys::sleep_ms(10); // the child is asleep on word 0 now
    let word = region.word(4096); // the first slot: the header belongs to the ring protocol
    word.store(1, core::sync::atomic::Ordering::Release);
    let woken = ipc::futex_wake(word, 1).map_err(|e| format!("futex_wake: {e}"))?;
    ensure!(
        woken == 1,
        "futex_wake woke {woken} threads, expected the child"
    );
    let status = sys::wait(child).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "the futex waiter ended with {status:?}");
    // The child is gone: a wait on the ring's words fails at once instead of sleeping for ever,
    // and the ring stays mapped here until this side destroys it.
    let wait = ipc::futex_wait(word, 1, 0);
    ensure!(
        wait == Err(Error::PeerDead),
        "futex_wait on a ring whose peer ended: {wait:?}"
    );
    ipc::ring_destroy(ring).map_err(|e| format!("ring_destroy: {e}"))?;
    // Use a fresh word of our own for the error cases.
    let mine = alloc::boxed::Box::new(core::sync::atomic::AtomicU32::new(7));
    let own = || ipc::stats(sys::getpid()).map_err(|e| format!("ipc_stats: {e}"));
    let before = own()?;
    ensure!(
        ipc::futex_wait(&mine, 8, 0) == Err(Error::WouldBlock),
        "futex_wait on a changed value"
    );
    let skipped = own()?;
    ensure!(
        skipped.futex_skips == before.futex_skips + 1
            && skipped.futex_sleeps == before.futex_sleeps,
        "a futex_wait that did not sleep counted {} skips, {} sleeps",
        skipped.futex_skips - before.futex_skips,
        skipped.futex_sleeps - before.futex_sleeps
    );
    let start = sys::rdtsc();
    ensure!(
        ipc::futex_wait(&mine, 7, 20) == Err(Error::TimedOut),
        "futex_wait timeout"
    );
    ensure!(
        own()?.futex_sleeps == skipped.futex_sleeps + 1,
        "a futex_wait that slept was not counted"
    );
    ensure!(
        sys::rdtsc() - start >= ms_to_tsc(19),
        "the timeout came early"
    );
    // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
    let (code, _) = unsafe {
        sys::raw(
            Syscall::FutexWait as usize,
            [mine.as_ptr() as usize + 1, 7, 1, 0, 0, 0],
        )
    };
    ensure!(
        code == Error::InvalidArgument as usize,
        "unaligned futex: {code}"
    );
    // SAFETY: the call only probes arguments the kernel must refuse (bad pointers, an unknown number); it maps, unmaps and writes nothing of this process.
    let (code, _) = unsafe {
        sys::raw(
            Syscall::FutexWait as usize,
            [0xffff_8000_0000_0000, 0, 1, 0, 0, 0],
        )
    };
    ensure!(
        code == Error::BadAddress as usize,
        "kernel futex address: {code}"
    );
    Ok(())
}

fn rings_are_reclaimed_without_leaks() -> CaseResult {
    // A warm-up round lets kernel tables reach their steady size.
    ensure!(
        spawn_wait("ipcpeer", "ring-cycle 2")?.success(),
        "ring-cycle warm-up failed"
    );
    let usage = Usage::now()?;
    let status = spawn_wait("ipcpeer", "ring-cycle 50")?;
    ensure!(status.success(), "ring-cycle ended with {status:?}");
    usage.unchanged_since("after 50 ring cycles")?;
    let rings = sys::info(Info::Rings, 0).map_err(|e| format!("info: {e}"))?;
    ensure!(rings == 0, "{rings} rings left");
    let not_mine = ipc::ring_info(1);
    ensure!(
        not_mine.is_err(),
        "ring 1 is visible to a process that is not its party"
    );
    Ok(())
}

/// A 9P-shaped message (size, type, tag, body), as rings carry.
fn ring_message(kind: u8, tag: u16, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(7 + body.len());
    message.extend_from_slice(&((7 + body.len()) as u32).to_le_bytes());
    message.push(kind);
    message.extend_from_slice(&tag.to_le_bytes());
    message.extend_from_slice(body);
    message
}

fn start_ring_server(
    role: &str,
    words: [u64; 2],
) -> Result<(usize, lux9_rt::shared::Ring), String> {
    use lux9_rt::shared::Ring;
    let server = sys::spawn("ipcpeer", role).map_err(|e| format!("spawn {role}: {e}"))?;
    let ring = Ring::create(server, 4, 64).map_err(|e| format!("ring_create: {e}"))?;
    ipc::send(
        server,
        MsgInfo::short(16, 0),
        [ring.id(), words[1], 0, 0, 0, 0, 0, 0],
    )
    .map_err(|e| format!("send: {e}"))?;
    let _ = words[0];
    Ok((server, ring))
}

/// A server that sleeps in `receive` (like the isolated sysserver) opts into IPC
/// notifications for a ring: the client's `notify` arrives as a `NOTIFY_RING` message from
/// pid 0, and when the client ends the server keeps its mapping (the request is still
/// readable, `notify` says `PeerDead`) until it destroys the ring; no frame leaks.
fn ring_notifications_reach_a_receiving_server() -> CaseResult {
    // Once to warm up (this process's heap may grow on the way), then counted; the client
    // either just ends or destroys the ring first.
    ring_handed_to_a_receiving_server("")?;
    let usage = Usage::now()?;
    ring_handed_to_a_receiving_server("")?;
    ring_handed_to_a_receiving_server("destroy")?;
    usage.unchanged_since("after two rings handed to a receiving server")
}

fn ring_handed_to_a_receiving_server(how: &str) -> CaseResult {
    use lux9_rt::abi::ipc::{NOTIFICATION_LABEL, NOTIFY_RING};
    use lux9_rt::shared::Ring;
    let me = sys::getpid();
    let client = sys::spawn("ipcpeer", &format!("ring-ipc-client {me} {how}"))
        .map_err(|e| format!("spawn: {e}"))?;
    let handover = ipc::receive(client).map_err(|e| format!("receive the ring id: {e}"))?;
    let ring = Ring::attach(handover.words[0]).map_err(|e| format!("attach: {e}"))?;
    ipc::ring_notify_by_ipc(ring.id()).map_err(|e| format!("ring_notify_by_ipc: {e}"))?;
    let mut server = ring.server().map_err(|e| format!("server: {e}"))?;
    ensure!(
        server
            .set_waiting()
            .map_err(|e| format!("set_waiting: {e:?}"))?,
        "a request arrived before the client had the go-ahead"
    );
    ipc::reply(client, MsgInfo::short(0, 0), [0; 8]).map_err(|e| format!("reply: {e}"))?;
    // The client publishes, notifies and ends while we wait for it: its notify and its end
    // both leave NOTIFY_RING pending (we are not in `receive`), and one receive takes both.
    let status = sys::wait(client).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "ring-ipc-client ended with {status:?}");
    let note = ipc::receive(0).map_err(|e| format!("receive the notification: {e}"))?;
    ensure!(
        note.peer == 0
            && note.info.label & NOTIFICATION_LABEL != 0
            && note.words[0] & NOTIFY_RING != 0,
        "expected a NOTIFY_RING notification from the kernel, got {note:?}"
    );
    let mut request = [0u8; 64];
    let len = server
        .next_request(&mut request)
        .map_err(|e| format!("next_request after the client ended: {e:?}"))?;
    ensure!(
        len == Some(11) && &request[7..11] == b"ping",
        "the request is not readable after the client ended: {len:?}"
    );
    ensure!(
        ring.notify() == Err(Error::PeerDead) && ipc::ring_info(ring.id()) == Err(Error::PeerDead),
        "notify and ring_info on a ring whose client ended should say PeerDead"
    );
    ipc::ring_destroy(ring.id()).map_err(|e| format!("ring_destroy: {e}"))?;
    ensure!(
        ipc::ring_info(ring.id()) == Err(Error::NotFound),
        "the ring outlived ring_destroy"
    );
    Ok(())
}

fn rings_carry_requests_and_count_them() -> CaseResult {
    let before = stats()?;
    let (server, ring) = start_ring_server("ring-server", [0, 0])?;
    let mut client = ring.client().map_err(|e| format!("client: {e}"))?;
    let slots = client.geometry().slot_count() as usize;
    let mut buffer = [0u8; 64];
    let mut sent = 0u64;
    for round in 0..40u16 {
        let batch = if round % 2 == 0 { 1 } else { slots };
        let messages: Vec<Vec<u8>> = (0..batch)
            .map(|i| ring_message(100, round * 64 + i as u16, &[round as u8; 9]))
            .collect();
        let published = client
            .submit(messages.iter().map(|m| m.as_slice()))
            .map_err(|e| format!("submit: {e:?}"))?;
        ensure!(published == batch, "published {published} of {batch}");
        if client
            .peer_waiting()
            .map_err(|e| format!("peer_waiting: {e:?}"))?
        {
            ring.notify().map_err(|e| format!("notify: {e}"))?;
        }
        for expected in &messages {
            let len = loop {
                match client
                    .poll_reply(&mut buffer)
                    .map_err(|e| format!("poll_reply: {e:?}"))?
                {
                    Some(len) => break len,
                    None => ring
                        .client_sleep(&mut client, 1000)
                        .map_err(|e| format!("sleep: {e}"))?,
                }
            };
            ensure!(
                &buffer[..len] == expected.as_slice(),
                "a reply differs from its request"
            );
        }
        sent += batch as u64;
    }
    // The futex-style check: a reply that is already there when the client is about to sleep
    // costs no sleep, and the ring counts the sleep skipped.
    let last = ring_message(100, 0, &[1; 9]);
    client
        .submit([last.as_slice()])
        .map_err(|e| format!("submit: {e:?}"))?;
    ring.notify().map_err(|e| format!("notify: {e}"))?;
    sys::sleep_ms(20); // the server replies meanwhile
    let sleeps_before = ipc::stats(sys::getpid())
        .map_err(|e| format!("ipc_stats: {e}"))?
        .futex_sleeps;
    ring.client_sleep(&mut client, 1000)
        .map_err(|e| format!("sleep: {e}"))?;
    let sleeps_after = ipc::stats(sys::getpid())
        .map_err(|e| format!("ipc_stats: {e}"))?
        .futex_sleeps;
    ensure!(
        sleeps_after == sleeps_before,
        "the client slept with its reply waiting"
    );
    ensure!(
        client
            .poll_reply(&mut buffer)
            .map_err(|e| format!("poll_reply: {e:?}"))?
            .is_some(),
        "the last reply is missing"
    );
    let quit = ring_message(0xff, 0, &[]);
    client
        .submit([quit.as_slice()])
        .map_err(|e| format!("submit quit: {e:?}"))?;
    ring.notify().map_err(|e| format!("notify: {e}"))?;
    let status = sys::wait(server).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "ring-server ended with {status:?}");
    let after = stats()?;
    ensure!(
        after.futex_skips > before.futex_skips,
        "the skipped sleep was not counted in futex_skips"
    );
    ensure!(
        after.zero_copy_transfers - before.zero_copy_transfers >= 2 * sent,
        "zero-copy transfers: {} for {sent} round trips",
        after.zero_copy_transfers - before.zero_copy_transfers
    );
    ensure!(
        after.batches > before.batches && after.batched_operations > before.batched_operations,
        "notified batches were not counted"
    );
    Ok(())
}

/// What the client of `a_hostile_ring_peer_crashes_nobody` did while the peer scribbled.
#[derive(Debug, Default)]
struct HostileRun {
    /// Requests published and replies taken (garbage included).
    submitted: u64,
    replies: u64,
    /// Errors from the ring protocol or the kernel.
    errors: u64,
    /// Times the client broke and attached again, and times attaching was refused.
    broken: u64,
    refused: u64,
    /// Sleeps through the doorbell protocol, and futex sleeps on the corrupted flag word.
    sleeps: u64,
    raw_sleeps: u64,
    /// Loop rounds after the client first broke.
    rounds_after_break: u64,
}

fn a_hostile_ring_peer_crashes_nobody() -> CaseResult {
    use core::sync::atomic::Ordering;
    use lux9_ring::layout::offset::CLIENT_WAITING;
    use lux9_rt::shared::Ring;
    let server =
        sys::spawn("ipcpeer", "ring-hostile 20000").map_err(|e| format!("spawn ipcpeer: {e}"))?;
    let ring = Ring::create(server, 4, 64).map_err(|e| format!("ring_create: {e}"))?;
    let control = Ring::create(server, 2, 64).map_err(|e| format!("control ring_create: {e}"))?;
    ipc::send(
        server,
        MsgInfo::short(24, 0),
        [ring.id(), 7, control.id(), 0, 0, 0, 0, 0],
    )
    .map_err(|e| format!("send: {e}"))?;
    let done = control.region().word(4096);
    let mut client = Some(ring.client().map_err(|e| format!("client: {e}"))?);
    let geometry = client.as_ref().map(|c| c.geometry()).ok_or("no client")?;
    let mut buffer = [0u8; 64];
    let message = ring_message(100, 1, b"hello");
    let mut run = HostileRun::default();
    let deadline = sys::rdtsc() + ms_to_tsc(40_000);
    // Use the ring, and sleep on it, until the peer has made its last scribble.
    while done.load(Ordering::Acquire) == 0 {
        ensure!(
            sys::rdtsc() < deadline,
            "the hostile peer did not finish in 40 s: {run:?}"
        );
        if run.broken > 0 {
            run.rounds_after_break += 1;
        }
        match client.as_mut() {
            Some(c) if !c.is_broken() => {
                match c.submit([message.as_slice()]) {
                    Ok(published) => run.submitted += published as u64,
                    Err(_) => run.errors += 1,
                }
                match c.poll_reply(&mut buffer) {
                    Ok(Some(len)) => {
                        ensure!(len <= buffer.len(), "a reply longer than the buffer");
                        run.replies += 1;
                    }
                    Ok(None) => {}
                    Err(_) => run.errors += 1,
                }
                let _ = ring.notify();
                match ring.client_sleep(c, 1) {
                    Ok(()) => run.sleeps += 1,
                    Err(_) => run.errors += 1,
                }
            }
            Some(_) => {
                run.broken += 1;
                client = None;
            }
            None => match ring.client() {
                Ok(fresh) => client = Some(fresh),
                Err(_) => {
                    // The header is garbage: sleep on the flag word as it stands, woken by
                    // the peer's notify or the timeout, then write a fresh header.
                    run.refused += 1;
                    let word = ring.region().word(CLIENT_WAITING);
                    match ipc::futex_wait(word, word.load(Ordering::Relaxed), 1) {
                        Ok(()) | Err(Error::WouldBlock) | Err(Error::TimedOut) => {
                            run.raw_sleeps += 1
                        }
                        Err(error) => return Err(format!("futex_wait on the ring: {error}")),
                    }
                    ring.reinitialise(geometry)
                        .map_err(|e| format!("reinitialise: {e}"))?;
                }
            },
        }
    }
    ipc::send(server, MsgInfo::short(0, 0), [0; 8]).map_err(|e| format!("send: {e}"))?;
    let status = sys::wait(server).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "the hostile peer ended with {status:?}");
    println!("utest: the client of the hostile ring: {run:?}");
    ensure!(
        run.broken > 0 && run.errors > 0,
        "garbage on the ring was never noticed: {run:?}"
    );
    ensure!(
        run.rounds_after_break > 0 && run.refused > 0 && run.raw_sleeps > 0 && run.sleeps > 0,
        "the client did not keep using the ring and sleeping on it: {run:?}"
    );
    ensure!(
        spawn_wait("hello", "after the hostile ring")?.success(),
        "the system did not survive"
    );
    Ok(())
}

// ---- kill ----

/// Spawns `ipcpeer ROLE` (or `spin` for "spin"), lets it reach its wait, kills it and waits:
/// it must end killed (not with its own status) within 500 ms of the kill.
fn kill_one(role: &str) -> CaseResult {
    let (program, args) = match role {
        "spin" => ("spin", "100000"),
        role => ("ipcpeer", role),
    };
    let pid = sys::spawn(program, args).map_err(|e| format!("spawn {program} {args}: {e}"))?;
    sys::sleep_ms(20);
    let state = sys::processes()
        .ok()
        .and_then(|list| list.into_iter().find(|p| p.pid == pid as u64))
        .map(|p| p.state_name());
    ensure!(
        state.is_some_and(|s| s != "zombie"),
        "{program} {args} was not alive before the kill: {state:?}"
    );
    let start = sys::rdtsc();
    sys::kill(pid).map_err(|e| format!("kill {program} {args}: {e}"))?;
    let status = sys::wait(pid).map_err(|e| format!("wait {program} {args}: {e}"))?;
    let took = sys::rdtsc() - start;
    ensure!(
        status == ExitStatus::KILLED_BY_REQUEST,
        "{program} {args} ended with {status:?}, expected a kill"
    );
    ensure!(
        took < ms_to_tsc(500),
        "{program} {args} took {} ms to end after the kill",
        took / ms_to_tsc(1).max(1)
    );
    ensure!(
        sys::kill(pid) == Err(Error::NotFound),
        "killing {program} {args} again after wait"
    );
    Ok(())
}

/// A spinner (ended by the timer interrupt's return path), and processes blocked in an IPC
/// receive, an IPC send queued at a receiver that never takes it (this process), a futex wait,
/// a sleep, a console read and a `wait`: each ends killed at once, and afterwards free frames
/// and kernel heap bytes are where they were. Then refusals and the `kill` program.
/// A server answering a caller that was killed while it waited (by `kill` or Ctrl-C) gets
/// `PeerDead`, as for a caller that has ended, not `InvalidArgument`: an isolated sysserver
/// used to exit on it when Ctrl-C stopped `cat /dev/zero` in the middle of a read.
fn a_reply_to_a_killed_caller_is_peer_dead() -> CaseResult {
    let me = sys::getpid();
    for round in 0..3 {
        let caller = sys::spawn("ipcpeer", &format!("caller {me}"))
            .map_err(|e| format!("spawn caller: {e}"))?;
        let message = ipc::receive(caller).map_err(|e| format!("receive: {e}"))?;
        ensure!(message.peer == caller, "a call from {}", message.peer);
        sys::kill(caller).map_err(|e| format!("kill: {e}"))?;
        // Round 0 answers at once (the caller is marked but has not ended); the others after
        // it has had time to end.
        if round > 0 {
            sys::sleep_ms(5);
        }
        let answered = ipc::reply(caller, MsgInfo::short(0, 2), [0; 8]);
        ensure!(
            answered == Err(Error::PeerDead),
            "round {round}: a reply to a killed caller gave {answered:?}, not PeerDead"
        );
        let status = sys::wait(caller).map_err(|e| format!("wait: {e}"))?;
        ensure!(
            status == ExitStatus::KILLED_BY_REQUEST,
            "the caller ended with {status:?}"
        );
    }
    Ok(())
}

fn kill_ends_a_process_in_every_kind_of_wait() -> CaseResult {
    let me = sys::getpid();
    let sender = format!("sender {me} 1");
    let roles = [
        "spin",
        "receiver",
        sender.as_str(),
        "futex-forever",
        "sleeper",
        "console-reader",
    ];
    // A warm-up round lets kernel tables reach their steady size, then one counted.
    for round in 0..2 {
        let usage = Usage::now()?;
        for role in roles {
            kill_one(role)?;
        }
        // The killed sender left this process's queue: the next message received from
        // anyone is a live sender's.
        let live = sys::spawn("ipcpeer", &sender).map_err(|e| format!("spawn sender: {e}"))?;
        let message = ipc::receive(0).map_err(|e| format!("receive: {e}"))?;
        ensure!(
            message.peer == live,
            "received a message from pid {} (the live sender is {live})",
            message.peer
        );
        let status = sys::wait(live).map_err(|e| format!("wait sender: {e}"))?;
        ensure!(status.success(), "the live sender ended with {status:?}");
        if round == 1 {
            usage.unchanged_since("after killing 6 processes")?;
        }
        // Not counted: the waiter's child, orphaned, is adopted by the kernel, which keeps
        // its zombie for a kernel-side `wait` that never comes in this scenario.
        // A waiter: killed in `wait`, its orphaned child (asleep) is killed next.
        let waiter = sys::spawn("ipcpeer", "waiter").map_err(|e| format!("spawn waiter: {e}"))?;
        sys::sleep_ms(20);
        let child = sys::processes()
            .map_err(|e| format!("processes: {e}"))?
            .into_iter()
            .find(|p| p.parent == waiter as u64)
            .map(|p| p.pid as usize)
            .ok_or("the waiter has no child")?;
        sys::kill(waiter).map_err(|e| format!("kill waiter: {e}"))?;
        let status = sys::wait(waiter).map_err(|e| format!("wait waiter: {e}"))?;
        ensure!(
            status == ExitStatus::KILLED_BY_REQUEST,
            "the waiter ended with {status:?}"
        );
        sys::kill(child).map_err(|e| format!("kill the waiter's child: {e}"))?;
        for _ in 0..100 {
            if sys::kill(child) == Err(Error::NotFound) {
                break;
            }
            sys::sleep_ms(5);
        }
        ensure!(
            sys::kill(child) == Err(Error::NotFound),
            "the waiter's orphaned child outlived its kill"
        );
    }
    ensure!(
        sys::kill(0) == Err(Error::InvalidArgument),
        "kill(0) (the kernel) was not refused"
    );
    ensure!(
        sys::kill(1) == Err(Error::InvalidArgument),
        "kill(1) (init) was not refused"
    );
    ensure!(
        sys::kill(999_999) == Err(Error::NotFound),
        "kill of a pid that never existed"
    );
    // The program: a good pid, a missing one (exit 1), a bad number (a usage error, 2).
    let target = sys::spawn("ipcpeer", "sleeper").map_err(|e| format!("spawn: {e}"))?;
    let status = spawn_wait("kill", &format!("{target}"))?;
    ensure!(status.success(), "kill {target} ended with {status:?}");
    let killed = sys::wait(target).map_err(|e| format!("wait: {e}"))?;
    ensure!(
        killed == ExitStatus::KILLED_BY_REQUEST,
        "the program's target ended with {killed:?}"
    );
    let missing = spawn_wait("kill", "999999")?;
    ensure!(
        missing == ExitStatus::Exited(1),
        "kill 999999 ended with {missing:?}"
    );
    let bad = spawn_wait("kill", "12x")?;
    ensure!(bad == ExitStatus::Exited(2), "kill 12x ended with {bad:?}");
    Ok(())
}

/// This process calls a server that takes the call and never answers; a third process kills
/// the server 100 ms later: the call fails with `PeerDead` at once (well within 1 s).
fn a_killed_server_fails_its_blocked_caller_at_once() -> CaseResult {
    let server = sys::spawn("ipcpeer", "hold-call").map_err(|e| format!("spawn: {e}"))?;
    sys::sleep_ms(10);
    let killer = sys::spawn("ipcpeer", &format!("killer {server} 100"))
        .map_err(|e| format!("spawn killer: {e}"))?;
    let start = sys::rdtsc();
    let result = ipc::call(server, MsgInfo::short(8, 1), [1; 8]);
    let took = sys::rdtsc() - start;
    ensure!(
        result == Err(Error::PeerDead),
        "a call whose server was killed: {result:?}"
    );
    ensure!(
        took < ms_to_tsc(1000),
        "the call failed only {} ms after it started (the kill came at 100 ms)",
        took / ms_to_tsc(1).max(1)
    );
    let status = sys::wait(server).map_err(|e| format!("wait server: {e}"))?;
    ensure!(
        status == ExitStatus::KILLED_BY_REQUEST,
        "the server ended with {status:?}"
    );
    let killer = sys::wait(killer).map_err(|e| format!("wait killer: {e}"))?;
    ensure!(killer.success(), "the killer ended with {killer:?}");
    Ok(())
}

/// Where the configuration isolates sysserver (`user[strict]`): kill it; its supervisor starts
/// a new one, which registers under a new pid, and a new process reads /proc/uptime again.
/// Where sysserver is colocated (the kernel's pid 0) there is no process to kill: the case
/// checks only that the kernel refuses.
fn a_killed_isolated_sysserver_comes_back() -> CaseResult {
    use lux9_rt::abi::syscall::service::SYSSERVER;
    lux9_rt::ns::set_up_standard().map_err(|e| format!("mount the standard name space: {e}"))?;
    let old = match sys::service_lookup(SYSSERVER).map_err(|e| format!("lookup: {e}"))? {
        sys::Placement::Isolated { pid } => pid,
        sys::Placement::Colocated => {
            ensure!(
                sys::kill(0) == Err(Error::InvalidArgument),
                "kill(0) was not refused"
            );
            return Ok(());
        }
        sys::Placement::Starting => return Err("sysserver has not registered".into()),
    };
    ensure!(
        spawn_wait("uptime", "")?.success(),
        "uptime failed before the kill"
    );
    sys::kill(old).map_err(|e| format!("kill sysserver (pid {old}): {e}"))?;
    let mut new = None;
    for _ in 0..500 {
        if let Ok(sys::Placement::Isolated { pid }) = sys::service_lookup(SYSSERVER)
            && pid != old
        {
            new = Some(pid);
            break;
        }
        sys::sleep_ms(10);
    }
    let new = new.ok_or("no new sysserver registered within 5 s of the kill")?;
    let status = spawn_wait("uptime", "")?;
    ensure!(
        status.success(),
        "uptime through the restarted sysserver (pid {new}) ended with {status:?}"
    );
    Ok(())
}
