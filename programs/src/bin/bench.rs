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

/// A 9P-shaped request (size, type, tag, body) of `len` bytes in all.
fn ring_request(buffer: &mut [u8], kind: u8, tag: u16, len: usize) -> &[u8] {
    buffer[..4].copy_from_slice(&(len as u32).to_le_bytes());
    buffer[4] = kind;
    buffer[5..7].copy_from_slice(&tag.to_le_bytes());
    &buffer[..len]
}

const RING_OPS: u64 = 2_000;
const BATCH: usize = 64;
const BATCH_ROUNDS: u64 = 50;

/// Ring benchmarks against `ipcpeer ring-server` (64 slots of 64-byte messages):
/// - `ring_roundtrip`: one request, the server asleep each time and woken by notify;
/// - `ring_batch64_per_op`: 64 requests submitted at once, one notify, 64 replies;
/// - `ring_futex_skip`: the replies are already on the ring when the client looks, so taking
///   one costs no system call and no switch (measured over the taking only).
fn ring_benchmarks() -> Result<(), lux9_rt::shared::RingFailure> {
    use lux9_rt::abi::ipc::MsgInfo;
    use lux9_rt::ipc;
    use lux9_rt::shared::Ring;
    let server = sys::spawn("ipcpeer", "ring-server")?;
    // 64 slots of 64-byte messages in each ring: 2 * 64 * 72 bytes after the header page.
    let ring = Ring::create(server, 4, 64)?;
    ipc::send(
        server,
        MsgInfo::short(8, 0),
        [ring.id(), 0, 0, 0, 0, 0, 0, 0],
    )?;
    let mut client = ring.client()?;
    let mut request = [0u8; 64];
    let mut reply = [0u8; 64];

    // Waits for one reply, sleeping if there is none yet.
    fn take(
        ring: &Ring,
        client: &mut lux9_ring::Client<lux9_rt::shared::Memory>,
        reply: &mut [u8],
    ) -> Result<(), lux9_rt::shared::RingFailure> {
        loop {
            if client.poll_reply(reply)?.is_some() {
                return Ok(());
            }
            ring.client_sleep(client, 0)?;
        }
    }
    let mut round_trip =
        |tag: u16, client: &mut lux9_ring::Client<_>| -> Result<(), lux9_rt::shared::RingFailure> {
            client.submit([ring_request(&mut request, 100, tag, 32)])?;
            if client.peer_waiting()? {
                ring.notify()?;
            }
            take(&ring, client, &mut reply)
        };
    for tag in 0..200 {
        round_trip(tag, &mut client)?;
    }
    let switches_before = switches();
    let start = sys::rdtsc();
    for tag in 0..RING_OPS {
        round_trip(tag as u16, &mut client)?;
    }
    let ticks = sys::rdtsc() - start;
    report(
        "ring_roundtrip",
        RING_OPS,
        ticks,
        switches() - switches_before,
    );

    let mut requests = [[0u8; 64]; BATCH];
    for (tag, buffer) in requests.iter_mut().enumerate() {
        ring_request(buffer, 100, tag as u16, 32);
    }
    let batch = |client: &mut lux9_ring::Client<_>| -> Result<(), lux9_rt::shared::RingFailure> {
        let published = client.submit(requests.iter().map(|r| &r[..32]))?;
        if published != BATCH {
            return Err(lux9_rt::shared::RingFailure::Kernel(
                lux9_rt::abi::Error::LimitReached,
            ));
        }
        if client.peer_waiting()? {
            ring.notify()?;
        }
        Ok(())
    };
    let switches_before = switches();
    let start = sys::rdtsc();
    for _ in 0..BATCH_ROUNDS {
        batch(&mut client)?;
        for _ in 0..BATCH {
            take(&ring, &mut client, &mut reply)?;
        }
    }
    let ticks = sys::rdtsc() - start;
    let ops = BATCH as u64 * BATCH_ROUNDS;
    report(
        "ring_batch64_per_op",
        ops,
        ticks,
        switches() - switches_before,
    );

    // The server answers a whole batch with one publication, so once the first reply is in,
    // the other 63 are there too: taking each is a look at the ring, no sleep, no switch.
    let (mut ticks, mut switched, mut missing) = (0, 0, 0);
    for _ in 0..BATCH_ROUNDS {
        batch(&mut client)?;
        take(&ring, &mut client, &mut reply)?;
        while client.outstanding() > 0 {
            let switches_before = switches();
            let start = sys::rdtsc();
            let got = client.poll_reply(&mut reply)?;
            ticks += sys::rdtsc() - start;
            switched += switches() - switches_before;
            if got.is_none() {
                missing += 1;
                ring.client_sleep(&mut client, 0)?;
            }
        }
    }
    if missing > 0 {
        println!("bench: ring_futex_skip found {missing} replies missing when it looked");
    }
    report(
        "ring_futex_skip",
        (BATCH as u64 - 1) * BATCH_ROUNDS + missing,
        ticks,
        switched,
    );

    let quit = ring_request(&mut request, 0xff, 0, 7);
    client.submit([quit])?;
    ring.notify()?;
    sys::wait(server)?;
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
    if let Err(error) = ring_benchmarks() {
        println!("bench: ring benchmarks failed: {error}");
        return 1;
    }
    0
}
