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

const IPC_OPS: u64 = 10_000;

/// Round trips to the `ipcpeer echo` server: `call` on the client side, `reply_recv` on the
/// server side. Short messages take the fastpath; 256-byte ones are long messages, copied
/// through the kernel on the slowpath.
fn ipc_roundtrips() -> Result<(), lux9_rt::abi::Error> {
    use lux9_rt::abi::ipc::{Knob, MsgInfo};
    use lux9_rt::ipc;
    use lux9_rt::shared::IpcBuffer;
    ipc::set_knob(Knob::Fastpath, 1)?;
    // The fastpath round trip runs on raw registers at both ends (`bench-echo` answers with
    // the same words), so the figure is the kernel's and not the wrappers'.
    let server = sys::spawn("ipcpeer", "bench-echo")?;
    sys::sleep_ms(5);
    let short = MsgInfo::short(32, 1);
    let mut words = [7u64; 8];
    for _ in 0..1000 {
        ipc::call_in_place(server, short, &mut words);
    }
    let before = (
        switches(),
        ipc::stats(0)
            .inspect_err(|e| println!("bench: stats {e}"))?
            .fastpath_hits,
    );
    let mut failures = 0;
    let start = sys::rdtsc();
    for _ in 0..IPC_OPS {
        failures += ipc::call_in_place(server, short, &mut words).0;
    }
    let ticks = sys::rdtsc() - start;
    if failures != 0 || words != [7; 8] {
        println!("bench: fastpath round trips failed or changed the message");
        return Err(lux9_rt::abi::Error::InvalidArgument);
    }
    let fast_hits = ipc::stats(0)?.fastpath_hits - before.1;
    report(
        "ipc_fastpath_roundtrip",
        IPC_OPS,
        ticks,
        switches() - before.0,
    );
    if fast_hits < 2 * IPC_OPS {
        println!("bench: only {fast_hits} fastpath hits in {IPC_OPS} round trips");
    }

    ipc::call(server, MsgInfo::short(0, 0xdead), [0; 8])?;
    sys::wait(server)?;

    // 256-byte messages are long messages: copied through the kernel on the slowpath.
    let echo = sys::spawn("ipcpeer", "echo")?;
    sys::sleep_ms(5);
    let mut buffer = IpcBuffer::register(4096)?;
    buffer.bytes()[..256].fill(0xab);
    let long = MsgInfo {
        len: 256,
        long: true,
        label: 2,
    };
    for _ in 0..1000 {
        ipc::call_with(echo, long, [0; 8], &mut buffer)?;
    }
    let switches_before = switches();
    let start = sys::rdtsc();
    for _ in 0..IPC_OPS {
        ipc::call_with(echo, long, [0; 8], &mut buffer)?;
    }
    let ticks = sys::rdtsc() - start;
    report(
        "ipc_slowpath_roundtrip",
        IPC_OPS,
        ticks,
        switches() - switches_before,
    );
    ipc::call(echo, MsgInfo::short(0, 0xdead), [0; 8])?;
    sys::wait(echo)?;
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
    if let Err(error) = ipc_roundtrips() {
        println!("bench: IPC round trips failed: {error}");
        return 1;
    }
    0
}
