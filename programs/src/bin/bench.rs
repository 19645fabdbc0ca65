//! bench: measures system-call and context-switch costs and prints one `BENCH` line per figure.
//!
//! Ticks come from the TSC, which counts guest instructions when QEMU runs with
//! `-icount shift=0,align=off` (see BENCHMARKS.md). Each loop's figure includes the loop's own
//! few instructions and is taken after a warm-up.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::abi::syscall::Info;
use lux9_rt::{println, sys};

lux9_rt::entry!(run);

const NULL_OPS: u64 = 20_000;
const YIELD_OPS: u64 = 5_000;
/// The partner's arguments: it yields one round more than the measuring side, so the measuring
/// side always has someone to yield to.
const PARTNER_ARGS: &str = "yield-partner 5000";

fn switches() -> u64 {
    sys::info(Info::TotalSwitches, 0).unwrap_or(0)
}

fn report(name: &str, ops: u64, ticks: u64, switches: u64) {
    let hundredths = switches * 100 / ops;
    println!(
        "BENCH name={name} ops={ops} ticks_per_op={} switches_per_op={}.{:02}",
        ticks / ops,
        hundredths / 100,
        hundredths % 100
    );
}

fn null_syscall() {
    for _ in 0..1000 {
        let _ = sys::null();
    }
    let switches_before = switches();
    let start = sys::rdtsc();
    for _ in 0..NULL_OPS {
        let _ = sys::null();
    }
    let ticks = sys::rdtsc() - start;
    report(
        "null_syscall",
        NULL_OPS,
        ticks,
        switches() - switches_before,
    );
}

fn yield_pair() -> Result<(), lux9_rt::abi::Error> {
    let partner = sys::spawn("bench", PARTNER_ARGS)?;
    // Let the partner reach its loop.
    sys::yield_now();
    let switches_before = switches();
    let start = sys::rdtsc();
    for _ in 0..YIELD_OPS {
        sys::yield_now();
    }
    let ticks = sys::rdtsc() - start;
    let switched = switches() - switches_before;
    sys::wait(partner)?;
    // Both processes yield once per round: 2 yields per round.
    report("yield_pair", 2 * YIELD_OPS, ticks, switched);
    Ok(())
}

fn run(args: &str) -> i32 {
    if let Some(count) = args.strip_prefix("yield-partner ") {
        let rounds: u64 = count.trim().parse().unwrap_or(0);
        for _ in 0..rounds + 1 {
            sys::yield_now();
        }
        return 0;
    }
    null_syscall();
    if let Err(error) = yield_pair() {
        println!("bench: yield_pair failed: {error}");
        return 1;
    }
    0
}
