//! bench: measures system-call and context-switch costs and prints one `BENCH` line per figure.
//!
//! Ticks come from the TSC, which counts guest instructions when QEMU runs with
//! `-icount shift=0,align=off` (see BENCHMARKS.md). Each loop's figure includes the loop's own
//! few instructions and is taken after a warm-up.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use lux9_rt::abi::Error;
use lux9_rt::abi::syscall::Info;
use lux9_rt::{ipc, println, sys};

lux9_rt::entry!(run);

#[path = "bench/blk.rs"]
mod blk;
#[path = "bench/ext4.rs"]
mod ext4;
#[path = "bench/pipe.rs"]
mod pipe;

const NULL_OPS: u64 = 20_000;
const YIELD_OPS: u64 = 5_000;
/// The partner's arguments: it yields one round more than the measuring side, so the measuring
/// side always has someone to yield to.
const PARTNER_ARGS: &str = "yield-partner 5000";

/// [`switches`] for the benchmarks whose errors are text.
fn switches_text() -> Result<u64, alloc::string::String> {
    switches().map_err(|e| alloc::format!("reading the switch counter: {e}"))
}

/// The kernel's context-switch counter. A failed read is an error, never 0: a "0 switches"
/// figure must come from the counter.
fn switches() -> Result<u64, Error> {
    sys::info(Info::TotalSwitches, 0).inspect_err(|e| println!("bench: switch counter: {e}"))
}

/// Times a thread of process `pid` was switched in.
fn switches_into(pid: usize) -> Result<u64, Error> {
    sys::info(Info::ProcessSwitches, pid)
        .inspect_err(|e| println!("bench: switch counter of pid {pid}: {e}"))
}

const CALIBRATION_OPS: u64 = 1_000;

/// `calibration_nop10`: what ten `nop`s cost on the TSC, with the cost of the TSC reads
/// themselves taken out. Under `-icount shift=0` it must be 10 ticks, which is what makes a
/// tick an instruction; `cargo xtask bench` and the tests check it.
fn calibration() -> Result<(), Error> {
    for _ in 0..100 {
        sys::tsc_across_ten_nops();
    }
    let switches_before = switches()?;
    let mut ticks = 0u64;
    for _ in 0..CALIBRATION_OPS {
        let (with, without) = sys::tsc_across_ten_nops();
        ticks += with.saturating_sub(without);
    }
    report(
        "calibration_nop10",
        CALIBRATION_OPS,
        ticks,
        switches()? - switches_before,
    );
    Ok(())
}

fn report(name: &str, ops: u64, ticks: u64, switches: u64) {
    // Two decimals; three below 0.1 (a batch's 32 switches in 1000 operations is 0.032, not
    // 0.03), so that the switches can be counted back from the line.
    let thousandths = switches * 1000 / ops;
    let fraction = if switches != 0 && thousandths < 100 {
        alloc::format!("{thousandths:03}")
    } else {
        alloc::format!("{:02}", thousandths % 1000 / 10)
    };
    println!(
        "BENCH name={name} ops={ops} ticks_per_op={} switches_per_op={}.{fraction}",
        ticks / ops,
        thousandths / 1000,
    );
}

fn null_syscall() -> Result<(), Error> {
    for _ in 0..1000 {
        let _ = sys::null();
    }
    let switches_before = switches()?;
    let start = sys::rdtsc();
    for _ in 0..NULL_OPS {
        let _ = sys::null();
    }
    let ticks = sys::rdtsc() - start;
    report(
        "null_syscall",
        NULL_OPS,
        ticks,
        switches()? - switches_before,
    );
    Ok(())
}

fn yield_pair() -> Result<(), Error> {
    let partner = sys::spawn("bench", PARTNER_ARGS)?;
    // Let the partner reach its loop.
    sys::yield_now();
    let switches_before = switches()?;
    let partner_before = switches_into(partner)?;
    let start = sys::rdtsc();
    for _ in 0..YIELD_OPS {
        sys::yield_now();
    }
    let ticks = sys::rdtsc() - start;
    let switched = switches()? - switches_before;
    // The partner's loop does nothing but yield, so each time it was switched in it yielded
    // once: its yields in the window are its switch-ins, counted by the kernel. Ours are the
    // loop's.
    let partner_yields = switches_into(partner)? - partner_before;
    sys::wait(partner)?;
    let yields = YIELD_OPS + partner_yields;
    if partner_yields == 0 {
        println!("bench: yield_pair: the partner never ran during the loop");
        return Err(Error::InvalidArgument);
    }
    report("yield_pair", yields, ticks, switched);
    Ok(())
}

const IPC_OPS: u64 = 10_000;

/// Round trips to the `ipcpeer echo` server: `call` on the client side, `reply_recv` on the
/// server side. Short messages take the fastpath; 256-byte ones are long messages, copied
/// through the kernel on the slowpath.
fn ipc_roundtrips() -> Result<(), Error> {
    use lux9_rt::abi::ipc::{Knob, MsgInfo};
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
        switches()?,
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
    let switched = switches()? - before.0;
    let fast_hits = ipc::stats(0)?.fastpath_hits - before.1;
    // Each round trip is two messages (the call and the reply), both on the fastpath, or the
    // figure is not the fastpath's.
    println!("bench: ipc_fastpath_roundtrip: {fast_hits} fastpath hits in {IPC_OPS} round trips");
    if fast_hits < 2 * IPC_OPS {
        println!("bench: ipc_fastpath_roundtrip: the fastpath was not taken every time");
        return Err(Error::InvalidArgument);
    }
    report("ipc_fastpath_roundtrip", IPC_OPS, ticks, switched);

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
    let switches_before = switches()?;
    let start = sys::rdtsc();
    for _ in 0..IPC_OPS {
        ipc::call_with(echo, long, [0; 8], &mut buffer)?;
    }
    let ticks = sys::rdtsc() - start;
    report(
        "ipc_slowpath_roundtrip",
        IPC_OPS,
        ticks,
        switches()? - switches_before,
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
///   one (the whole take: look at the ring, sleep on its futex only if nothing is there) costs
///   no system call and no switch.
fn ring_benchmarks() -> Result<(), lux9_rt::shared::RingFailure> {
    use lux9_rt::abi::ipc::MsgInfo;
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

    // Waits for one reply, sleeping if there is none yet; returns how often it slept.
    fn take(
        ring: &Ring,
        client: &mut lux9_ring::Client<lux9_rt::shared::Memory>,
        reply: &mut [u8],
    ) -> Result<u64, lux9_rt::shared::RingFailure> {
        let mut sleeps = 0;
        loop {
            if client.poll_reply(reply)?.is_some() {
                return Ok(sleeps);
            }
            ring.client_sleep(client, 0)?;
            sleeps += 1;
        }
    }
    let mut round_trip =
        |tag: u16, client: &mut lux9_ring::Client<_>| -> Result<(), lux9_rt::shared::RingFailure> {
            client.submit([ring_request(&mut request, 100, tag, 32)])?;
            if client.peer_waiting()? {
                ring.notify()?;
            }
            take(&ring, client, &mut reply).map(|_| ())
        };
    for tag in 0..200 {
        round_trip(tag, &mut client)?;
    }
    let switches_before = switches()?;
    let start = sys::rdtsc();
    for tag in 0..RING_OPS {
        round_trip(tag as u16, &mut client)?;
    }
    let ticks = sys::rdtsc() - start;
    report(
        "ring_roundtrip",
        RING_OPS,
        ticks,
        switches()? - switches_before,
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
    let switches_before = switches()?;
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
        switches()? - switches_before,
    );

    // The server answers a whole batch with one publication, so once the first reply is in,
    // the other 63 are there too: taking each is a look at the ring, no sleep, no switch. The
    // figure covers the whole take, as a user of the ring calls it (`take` sleeps on the
    // ring's futex when a reply is missing), and the switches of the whole stretch.
    let (mut ticks, mut switched, mut slept) = (0, 0, 0);
    for _ in 0..BATCH_ROUNDS {
        batch(&mut client)?;
        take(&ring, &mut client, &mut reply)?;
        let switches_before = switches()?;
        let start = sys::rdtsc();
        while client.outstanding() > 0 {
            slept += take(&ring, &mut client, &mut reply)?;
        }
        ticks += sys::rdtsc() - start;
        switched += switches()? - switches_before;
    }
    if slept > 0 {
        println!("bench: ring_futex_skip slept {slept} times on a reply that was not there yet");
    }
    report(
        "ring_futex_skip",
        (BATCH as u64 - 1) * BATCH_ROUNDS,
        ticks,
        switched,
    );

    let quit = ring_request(&mut request, 0xff, 0, 7);
    client.submit([quit])?;
    ring.notify()?;
    sys::wait(server)?;
    Ok(())
}

const SYS_STAT_OPS: u64 = 2_000;
const SYS_READ_OPS: u64 = 2_000;

/// sysserver through the name space, as applications reach it: `stat /proc/uptime` (a walk,
/// a stat and a clunk in one submission) and 4 KiB reads of `/dev/zero` on an open file. The
/// figures are named after where sysserver runs in this boot.
fn sys_benchmarks() -> Result<(), alloc::string::String> {
    use lux9_rt::ns::{self, SysserverAt};
    let placement = match ns::set_up_standard()? {
        SysserverAt::Colocated => "colocated",
        SysserverAt::Running(_) | SysserverAt::Started(_) => "isolated",
    };
    let fail = |what: &str, error: lib9pclient::Error| alloc::format!("{what}: {error}");
    for _ in 0..100 {
        ns::stat("/proc/uptime").map_err(|e| fail("stat /proc/uptime", e))?;
    }
    let switches_before = switches_text()?;
    let start = sys::rdtsc();
    for _ in 0..SYS_STAT_OPS {
        ns::stat("/proc/uptime").map_err(|e| fail("stat /proc/uptime", e))?;
    }
    let ticks = sys::rdtsc() - start;
    report(
        &alloc::format!("sys_stat_{placement}"),
        SYS_STAT_OPS,
        ticks,
        switches_text()? - switches_before,
    );

    let zero =
        ns::open("/dev/zero", lib9pclient::codec::OREAD).map_err(|e| fail("open /dev/zero", e))?;
    let mut buf = alloc::vec![0xffu8; 4096];
    for _ in 0..100 {
        zero.read_at(&mut buf, 0)
            .map_err(|e| fail("read /dev/zero", e))?;
    }
    let switches_before = switches_text()?;
    let start = sys::rdtsc();
    for _ in 0..SYS_READ_OPS {
        let n = zero
            .read_at(&mut buf, 0)
            .map_err(|e| fail("read /dev/zero", e))?;
        if n != buf.len() {
            return Err(alloc::format!(
                "read /dev/zero returned {n} bytes, not 4096"
            ));
        }
    }
    let ticks = sys::rdtsc() - start;
    report(
        &alloc::format!("sys_read4k_{placement}"),
        SYS_READ_OPS,
        ticks,
        switches_text()? - switches_before,
    );
    if buf.iter().any(|&b| b != 0) {
        return Err("/dev/zero returned a nonzero byte".into());
    }
    pipelined_reads(placement)?;
    raw_stat(placement)
}

const PIPELINED_READS: u64 = 512;

/// `sys_read16k_pipelined_*`: `File::read_each` over `/dev/zero`, which keeps up to 16 reads of
/// one iounit (16 KiB) in flight: the client library batches them, so an isolated server gets
/// them through its ring (8 per notify) instead of one IPC round trip each.
fn pipelined_reads(placement: &str) -> Result<(), alloc::string::String> {
    use lux9_rt::ns;
    let fail = |what: &str, error: lib9pclient::Error| alloc::format!("{what}: {error}");
    let mut zero =
        ns::open("/dev/zero", lib9pclient::codec::OREAD).map_err(|e| fail("open /dev/zero", e))?;
    let chunk = zero.max_io() as u64;
    if chunk != 16 * 1024 {
        return Err(alloc::format!("/dev/zero's iounit is {chunk}, not 16 KiB"));
    }
    let mut wanted = 32 * chunk;
    let mut nonzero = false;
    // Warm-up: sets up the ring on the isolated side.
    zero.read_each(|data| {
        nonzero |= data.iter().any(|&b| b != 0);
        wanted = wanted.saturating_sub(data.len() as u64);
        wanted > 0
    })
    .map_err(|e| fail("read /dev/zero", e))?;
    let mut reads = 0u64;
    let switches_before = switches_text()?;
    let start = sys::rdtsc();
    zero.read_each(|data| {
        nonzero |= data.first().is_some_and(|&b| b != 0);
        reads += 1;
        reads < PIPELINED_READS
    })
    .map_err(|e| fail("read /dev/zero", e))?;
    let ticks = sys::rdtsc() - start;
    let switched = switches_text()? - switches_before;
    if nonzero {
        return Err("/dev/zero returned a nonzero byte".into());
    }
    report(
        &alloc::format!("sys_read16k_pipelined_{placement}"),
        reads,
        ticks,
        switched,
    );
    Ok(())
}

/// `sys_stat_raw_*`: the same walk, stat and clunk as `sys_stat_*`, but as frames encoded once
/// and sent straight through the transport (one `sys9p`, or one IPC `call` whose 47-byte
/// request rides in registers). The difference to `sys_stat_*` is the client library and name
/// space; what remains is the kernel, the transport and the server.
fn raw_stat(placement: &str) -> Result<(), alloc::string::String> {
    use alloc::format;
    use lib9pclient::codec::{Message, NOFID, WalkNames};
    use lux9_rt::abi::ipc::{LABEL_9P, LONG_MAX, MsgInfo, bytes_to_words};
    let encode = |tag: u16, message: Message<'_>| {
        let mut frame = alloc::vec![0u8; message.encoded_len()];
        message
            .encode(tag, &mut frame)
            .map(|_| frame)
            .map_err(|e| format!("encoding: {e:?}"))
    };
    let mut setup = encode(
        0xffff,
        Message::Tversion {
            msize: 8192,
            version: "9P2000",
        },
    )?;
    setup.extend(encode(
        1,
        Message::Tattach {
            fid: 1,
            afid: NOFID,
            uname: "lux9",
            aname: "proc",
        },
    )?);
    let names = ["uptime"];
    let walk = WalkNames::new(&names).map_err(|_| "walk names")?;
    let mut request = encode(
        2,
        Message::Twalk {
            fid: 1,
            newfid: 2,
            wnames: walk,
        },
    )?;
    request.extend(encode(3, Message::Tstat { fid: 2 })?);
    request.extend(encode(4, Message::Tclunk { fid: 2 })?);
    let expect_replies = |replies: &[u8]| -> Result<(), alloc::string::String> {
        // Rwalk, Rstat, Rclunk: no Rerror (type 107) among them.
        let mut at = 0;
        let mut count = 0;
        while at + 7 <= replies.len() {
            let size =
                u32::from_le_bytes(replies[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
            if replies[at + 4] == 107 || size < 7 {
                return Err(format!("sysserver refused a raw request: {replies:?}"));
            }
            at += size;
            count += 1;
        }
        if count == 3 {
            Ok(())
        } else {
            Err(format!("{count} replies, not 3"))
        }
    };
    let switches_before;
    let start;
    if placement == "colocated" {
        let conn = sys::sys9p_open("sys").map_err(|e| format!("sys9p_open: {e}"))?;
        let mut replies = alloc::vec![0u8; 16 * 1024];
        sys::sys9p(conn, &setup, &mut replies).map_err(|e| format!("sys9p: {e}"))?;
        let n = sys::sys9p(conn, &request, &mut replies).map_err(|e| format!("sys9p: {e}"))?;
        expect_replies(&replies[..n])?;
        switches_before = switches_text()?;
        start = sys::rdtsc();
        for _ in 0..SYS_STAT_OPS {
            sys::sys9p(conn, &request, &mut replies).map_err(|e| format!("sys9p: {e}"))?;
        }
    } else {
        let server = match sys::service_lookup(lux9_rt::abi::syscall::service::SYSSERVER) {
            Ok(sys::Placement::Isolated { pid }) => pid,
            other => return Err(format!("sysserver is not running isolated: {other:?}")),
        };
        // This replaces the name space's IPC buffer: nothing below uses the name space.
        let mut buffer = lux9_rt::shared::IpcBuffer::register(LONG_MAX)
            .map_err(|e| format!("ipc buffer: {e}"))?;
        let label = LABEL_9P | 0x7f_ffff;
        buffer.bytes()[..setup.len()].copy_from_slice(&setup);
        let info = MsgInfo {
            len: setup.len(),
            long: true,
            label,
        };
        ipc::call_with(server, info, [0; 8], &mut buffer).map_err(|e| format!("call: {e}"))?;
        if request.len() > lux9_rt::abi::ipc::SHORT_MAX {
            return Err(format!(
                "the raw request is {} bytes, not a short message",
                request.len()
            ));
        }
        let words = bytes_to_words(&request);
        let info = MsgInfo::short(request.len(), label);
        let reply =
            ipc::call_with(server, info, words, &mut buffer).map_err(|e| format!("call: {e}"))?;
        let len = reply.info.len.min(LONG_MAX);
        expect_replies(&buffer.bytes()[..len])?;
        switches_before = switches_text()?;
        start = sys::rdtsc();
        for _ in 0..SYS_STAT_OPS {
            ipc::call_with(server, info, words, &mut buffer).map_err(|e| format!("call: {e}"))?;
        }
    }
    let ticks = sys::rdtsc() - start;
    report(
        &format!("sys_stat_raw_{placement}"),
        SYS_STAT_OPS,
        ticks,
        switches_text()? - switches_before,
    );
    Ok(())
}

const USAGE: &str = "\
usage: bench [pipe | sys | blk | ext4 DEVICE | calibrate]
  Measures system calls, context switches, IPC, rings and sysserver, and prints one line per
  figure: BENCH name=<id> ops=<n> ticks_per_op=<n> switches_per_op=<x>.
  Ticks are TSC counts: guest instructions under QEMU's -icount shift=0 (cargo xtask bench).
  (no argument)  every figure, calibration_nop10 first
  pipe           only the pipe figures (pipe_roundtrip, pipe_throughput per MiB)
  sys            only the sysserver figures (named after where sysserver runs)
  blk            raw block reads through a block ring on every PCI disk (sdN)
  ext4 DEVICE    mounts the ext4 volume on DEVICE and reads files through its ext4srv
  calibrate      only calibration_nop10: ten nops, which must measure 10 ticks under icount";

fn run(args: &str) -> i32 {
    if matches!(args, "--help" | "-h" | "help") {
        println!("{USAGE}");
        return 0;
    }
    if args == "calibrate" {
        return match calibration() {
            Ok(()) => 0,
            Err(error) => {
                println!("bench: calibration failed: {error}");
                1
            }
        };
    }
    if let Some(device) = args.strip_prefix("ext4 ") {
        return match ext4::run(device.trim()) {
            Ok(()) => 0,
            Err(why) => {
                println!("bench: ext4 benchmarks failed: {why}");
                1
            }
        };
    }
    if args == "blk" {
        return match blk::run() {
            Ok(()) => 0,
            Err(why) => {
                println!("bench: block benchmarks failed: {why}");
                1
            }
        };
    }
    if args == "sys" {
        return match sys_benchmarks() {
            Ok(()) => 0,
            Err(why) => {
                println!("bench: sysserver benchmarks failed: {why}");
                1
            }
        };
    }
    for role in ["pipe-echo", "pipe-sink"] {
        if let Some(ids) = args.strip_prefix(role) {
            return pipe::partner(role, ids);
        }
    }
    if args == "pipe" {
        return match pipe::run() {
            Ok(()) => 0,
            Err(why) => {
                println!("bench: pipe benchmarks failed: {why}");
                1
            }
        };
    }
    if let Some(count) = args.strip_prefix("yield-partner ") {
        let rounds: u64 = count.trim().parse().unwrap_or(0);
        for _ in 0..rounds + 1 {
            sys::yield_now();
        }
        return 0;
    }
    if !args.is_empty() {
        println!("bench: unknown argument {args:?}\n{USAGE}");
        return 2;
    }
    if let Err(error) = calibration().and_then(|()| null_syscall()) {
        println!("bench: calibration or null_syscall failed: {error}");
        return 1;
    }
    if let Err(error) = yield_pair() {
        println!("bench: yield_pair failed: {error}");
        return 1;
    }
    if let Err(error) = ipc_roundtrips() {
        println!("bench: IPC round trips failed: {error}");
        return 1;
    }
    if let Err(why) = pipe::run() {
        println!("bench: pipe benchmarks failed: {why}");
        return 1;
    }
    if let Err(error) = ring_benchmarks() {
        println!("bench: ring benchmarks failed: {error}");
        return 1;
    }
    if let Err(why) = sys_benchmarks() {
        println!("bench: sysserver benchmarks failed: {why}");
        return 1;
    }
    0
}
