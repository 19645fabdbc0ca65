//! spin: burns the CPU for the given milliseconds without ever yielding, optionally at a given
//! priority: `spin MS [PRIORITY]`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::abi::syscall::Info;
use lux9_rt::{println, sys};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let mut words = args.split_whitespace();
    let Some(ms) = words.next().and_then(|w| w.parse::<u64>().ok()) else {
        println!("spin: usage: spin MS [PRIORITY]");
        return 2;
    };
    if let Some(priority) = words.next().and_then(|w| w.parse::<usize>().ok())
        && sys::set_priority(priority).is_err()
    {
        println!("spin: bad priority {priority}");
        return 2;
    }
    let per_ms = sys::info(Info::TscPerMs, 0).unwrap_or(1_000_000).max(1);
    let end = sys::rdtsc() + ms * per_ms;
    let mut spins = 0u64;
    while sys::rdtsc() < end {
        spins = core::hint::black_box(spins + 1);
    }
    0
}
