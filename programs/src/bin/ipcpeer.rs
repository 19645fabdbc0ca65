//! ipcpeer: the other side of the IPC tests and benchmarks. Its first argument picks a role:
//!
//! - `echo [PRIORITY] [DELAY_MS]`: a server that answers every call with the message
//!   transformed (each word XOR `0x5a5a...`, label + 1; long messages reversed byte by byte)
//!   until it gets label `QUIT`; at scheduling priority PRIORITY if given, and sleeping
//!   DELAY_MS before each answer if given (the fastpath's guard tests use both);
//! - `echo-caller DEST`: calls the echo server DEST once with a known short message and exits 0 if
//!   the answer is the transformed message, 1 otherwise;
//! - `bench-echo`: the benchmark's server: answers each call with the same message, on raw
//!   registers, until it gets label `QUIT`;
//! - `ring-server`: receives a ring id, then serves it: answers every request with the same
//!   bytes, a batch at a time, polling `PollSpins` times before it sleeps, until a request of
//!   type 0xff;
//! - `ring-hostile N`: receives a ring id, a seed and a control ring id, then N times scribbles
//!   random values over the ring's indices, flags, header and slots and notifies; then sets the
//!   control ring's first slot word to 1 and ends when its client sends a message;
//! - `die-after-receive`: receives one message, then exits without replying;
//! - `sender DEST N`: sends N messages with labels 0..N to DEST, then exits;
//! - `futex-waiter`: receives a ring id, then waits on the ring's first word until it becomes 1;
//! - `ring-touch`: receives a ring id, writes its pid into the ring's last word, and exits;
//! - `fuzz-peer PARENT`: the live target of `fuzz`'s message calls (see `lux9_programs::fuzz`):
//!   replies to every call, sends one marked message after `SEND_ONE`, and ends on `QUIT` from
//!   PARENT, replying with what it counted;
//! - `ring-cycle N`: N times, creates a ring with a new `ring-touch` child and checks that the
//!   ring is gone once the child has exited; also creates and destroys rings directly.
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::sync::atomic::Ordering;

extern crate alloc;

use lux9_rt::abi::ipc::{LONG_MAX, MsgInfo, Words};
use lux9_rt::shared::{IpcBuffer, SharedRegion};
use lux9_rt::{ipc, println, sys};

lux9_rt::entry!(run);

/// Label that ends the echo server.
pub const QUIT: u32 = 0xdead;

fn transform(words: &Words) -> Words {
    words.map(|w| w ^ 0x5a5a_5a5a_5a5a_5a5a)
}

fn echo(priority: Option<u64>, delay_ms: u64) -> i32 {
    if let Some(level) = priority
        && sys::set_priority(level as usize).is_err()
    {
        return 4;
    }
    let Ok(mut buffer) = IpcBuffer::register(LONG_MAX) else {
        return 1;
    };
    let mut message = match ipc::receive_with(0, &mut buffer) {
        Ok(message) => message,
        Err(_) => return 2,
    };
    loop {
        let quit = message.info.label == QUIT;
        let info = MsgInfo {
            label: message.info.label.wrapping_add(1),
            ..message.info
        };
        if message.info.long {
            // The long message is in our buffer: reverse it in place and send it back.
            buffer.bytes()[..message.info.len].reverse();
        }
        let words = transform(&message.words);
        if delay_ms != 0 {
            sys::sleep_ms(delay_ms);
        }
        if quit {
            let _ = ipc::reply_with(message.peer, info, words, &mut buffer);
            return 0;
        }
        message = match ipc::reply_recv_with(message.peer, info, words, &mut buffer) {
            Ok(next) => next,
            Err(error) => {
                println!("ipcpeer echo: {error}");
                return 3;
            }
        };
    }
}

/// The type byte of the request that ends `ring-server`.
const RING_QUIT: u8 = 0xff;

fn ring_server() -> i32 {
    use lux9_rt::abi::ipc::Knob;
    use lux9_rt::shared::Ring;
    let Ok(message) = ipc::receive(0) else {
        return 2;
    };
    let Ok(ring) = Ring::attach(message.words[0]) else {
        return 3;
    };
    let Ok(mut server) = ring.server() else {
        return 4;
    };
    let slots = server.geometry().slot_count() as usize;
    let slot = server.geometry().slot_size() as usize;
    let spins = ipc::knob(Knob::PollSpins).unwrap_or(0);
    let mut buffers = alloc::vec![0u8; slots * slot];
    let mut lengths = alloc::vec![0usize; slots];
    loop {
        // Take every request there is, then answer them in one batch.
        let mut count = 0;
        let mut quit = false;
        while count < slots {
            match server.next_request(&mut buffers[count * slot..(count + 1) * slot]) {
                Ok(Some(len)) => {
                    quit |= buffers[count * slot + 4] == RING_QUIT;
                    lengths[count] = len;
                    count += 1;
                }
                Ok(None) => break,
                Err(error) => {
                    println!("ipcpeer ring-server: {error:?}");
                    return 5;
                }
            }
        }
        if count == 0 {
            // Hybrid polling: look a few times before paying for a sleep.
            for _ in 0..spins {
                match server.next_request(&mut buffers[..slot]) {
                    Ok(Some(len)) => {
                        quit = buffers[4] == RING_QUIT;
                        lengths[0] = len;
                        count = 1;
                        break;
                    }
                    Ok(None) => core::hint::spin_loop(),
                    Err(_) => return 5,
                }
            }
        }
        if count == 0 {
            if ring.server_sleep(&mut server, 0).is_err() {
                return 8;
            }
            continue;
        }
        let replies = (0..count).map(|i| &buffers[i * slot..i * slot + lengths[i]]);
        if server.reply(replies).is_err() {
            return 6;
        }
        if server.peer_waiting().unwrap_or(false) && ring.notify().is_err() {
            return 7;
        }
        if quit {
            return 0;
        }
    }
}

fn ring_hostile(rounds: u64) -> i32 {
    use lux9_rt::shared::Ring;
    let Ok(message) = ipc::receive(0) else {
        return 2;
    };
    let Ok(ring) = Ring::attach(message.words[0]) else {
        return 3;
    };
    let region = *ring.region();
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ message.words[1];
    for round in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // An index, a flag, a header word or a slot word, with a random or a nasty value.
        let offset = match x % 5 {
            0 => [0x40, 0x80, 0xc0, 0x100][(x >> 8) as usize % 4],
            1 => [0x140, 0x180][(x >> 8) as usize % 2],
            2 => [0x0, 0x4, 0x8, 0xc][(x >> 8) as usize % 4],
            _ => (4096 + ((x >> 8) as usize % (region.len() - 4096))) & !3,
        };
        let value = match (x >> 40) % 4 {
            0 => 0,
            1 => u32::MAX,
            2 => (x >> 20) as u32 % 64,
            _ => (x >> 12) as u32,
        };
        region.word(offset).store(value, Ordering::Relaxed);
        if round % 8 == 0 {
            let _ = ring.notify();
            sys::yield_now();
        }
    }
    // Tell the client through the control ring, whose memory nobody scribbles over, and end
    // only when it says so: the client must not touch the ring after it has gone.
    if let Ok(control) = lux9_rt::shared::SharedRegion::of_ring(message.words[2]) {
        let done = control.word(4096);
        done.store(1, Ordering::Release);
        let _ = ipc::futex_wake(done, 1);
        let _ = ipc::receive(message.peer);
    }
    0
}

fn ring_cycle(rounds: u64) -> i32 {
    for round in 0..rounds {
        let Ok(child) = sys::spawn("ipcpeer", "ring-touch") else {
            return 10;
        };
        let Ok((ring, _)) = ipc::ring_create(child, 8, 64) else {
            return 11;
        };
        if ipc::send(child, MsgInfo::short(8, 0), [ring, 0, 0, 0, 0, 0, 0, 0]).is_err() {
            return 12;
        }
        match sys::wait(child) {
            Ok(status) if status.success() => {}
            other => {
                println!("ipcpeer ring-cycle: round {round}: child ended {other:?}");
                return 13;
            }
        }
        // The peer ended: this side keeps its mapping (so it cannot fault on it) until it
        // destroys the ring, which frees it.
        if ipc::ring_info(ring) != Err(lux9_rt::abi::Error::PeerDead)
            || ipc::ring_destroy(ring).is_err()
            || ipc::ring_info(ring) != Err(lux9_rt::abi::Error::NotFound)
        {
            println!(
                "ipcpeer ring-cycle: ring {ring} is not orphaned, then freed, after its peer ended"
            );
            return 14;
        }
        // A ring its creator destroys while the peer still lives.
        let Ok(peer) = sys::spawn("ipcpeer", "die-after-receive") else {
            return 15;
        };
        let Ok((direct, _)) = ipc::ring_create(peer, 2, 64) else {
            return 16;
        };
        if ipc::ring_destroy(direct).is_err() || ipc::ring_info(direct).is_ok() {
            return 17;
        }
        let _ = ipc::send(peer, MsgInfo::short(0, 0), [0; 8]);
        if !sys::wait(peer).is_ok_and(|status| status.success()) {
            return 18;
        }
    }
    0
}

fn fuzz_peer(parent: usize) -> i32 {
    use lux9_programs::fuzz::{Counts, MARK, QUIT, SEND_ONE};
    // Long messages from the fuzzer land here instead of failing for want of a buffer.
    let Ok(mut buffer) = IpcBuffer::register(LONG_MAX) else {
        return 1;
    };
    let mut counts = Counts::default();
    loop {
        let Ok(message) = ipc::receive_with(0, &mut buffer) else {
            return 2;
        };
        if message.peer == parent && message.info.label == QUIT {
            let _ = ipc::reply(message.peer, MsgInfo::short(64, QUIT), counts.to_words());
            return 0;
        }
        counts.received += 1;
        // A plain send is not waiting for a reply: that reply fails, and is not counted.
        let reply = MsgInfo::short(8, message.info.label.wrapping_add(1));
        if ipc::reply(message.peer, reply, [message.words[0]; 8]).is_ok() {
            counts.replied += 1;
        }
        if message.info.label == SEND_ONE
            && ipc::send(message.peer, MsgInfo::short(8, 0), [MARK; 8]).is_ok()
        {
            counts.sent += 1;
        }
    }
}

fn run(args: &str) -> i32 {
    let mut words = args.split_whitespace();
    let role = words.next().unwrap_or("");
    let number = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok());
    match role {
        "echo" => echo(number(words.next()), number(words.next()).unwrap_or(0)),
        "echo-caller" => {
            let Some(dest) = number(words.next()) else {
                return 2;
            };
            let sent: Words = core::array::from_fn(|i| 0xca11_0000 + i as u64);
            match ipc::call(dest as usize, MsgInfo::short(64, 7), sent) {
                Ok(reply) if reply.words == transform(&sent) && reply.info.label == 8 => 0,
                _ => 1,
            }
        }
        "fuzz-peer" => match number(words.next()) {
            Some(parent) => fuzz_peer(parent as usize),
            None => 2,
        },
        "bench-echo" => {
            let Ok(first) = ipc::receive(0) else { return 2 };
            let (mut peer, mut info, mut words) = (first.peer, first.info.to_word(), first.words);
            loop {
                if (info >> 32) as u32 == QUIT {
                    let _ = ipc::reply(peer, MsgInfo::short(0, QUIT), [0; 8]);
                    return 0;
                }
                let error = ipc::reply_recv_in_place(&mut peer, &mut info, &mut words);
                if error != 0 {
                    println!("ipcpeer bench-echo: reply_recv failed with error {error}");
                    return 3;
                }
            }
        }
        // Targets for `kill`, each blocked in one kind of wait until something ends it; an
        // ordinary return is exit status 0, which `kill` must never let through.
        "sleeper" => {
            sys::sleep_ms(3_600_000);
            0
        }
        "receiver" => {
            let _ = ipc::receive(0);
            0
        }
        "futex-forever" => {
            let word = core::sync::atomic::AtomicU32::new(0);
            let _ = ipc::futex_wait(&word, 0, 0);
            0
        }
        "console-reader" => {
            let mut buf = [0u8; 16];
            let _ = sys::console_read(&mut buf, 0);
            0
        }
        "waiter" => {
            let Ok(child) = sys::spawn("ipcpeer", "sleeper") else {
                return 2;
            };
            let _ = sys::wait(child);
            0
        }
        // Receives one call and never answers it (it sleeps instead).
        "hold-call" => {
            let _ = ipc::receive(0);
            sys::sleep_ms(3_600_000);
            0
        }
        // `killer PID MS`: kills PID after MS milliseconds.
        "killer" => {
            let (Some(pid), Some(ms)) = (number(words.next()), number(words.next())) else {
                return 2;
            };
            sys::sleep_ms(ms);
            match sys::kill(pid as usize) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        }
        // `caller PID`: calls PID once and waits for the answer.
        "caller" => {
            let Some(dest) = number(words.next()) else {
                return 2;
            };
            match ipc::call(dest as usize, MsgInfo::short(0, 1), [0; 8]) {
                Ok(_) => 0,
                Err(_) => 1,
            }
        }
        "die-after-receive" => {
            let _ = ipc::receive(0);
            0
        }
        "sender" => {
            let (Some(dest), Some(count)) = (number(words.next()), number(words.next())) else {
                return 2;
            };
            for label in 0..count as u32 {
                if ipc::send(
                    dest as usize,
                    MsgInfo::short(8, label),
                    [u64::from(label); 8],
                )
                .is_err()
                {
                    return 1;
                }
            }
            0
        }
        "futex-waiter" => {
            let Ok(message) = ipc::receive(0) else {
                return 2;
            };
            let Ok(region) = SharedRegion::of_ring(message.words[0]) else {
                return 3;
            };
            let word = region.word(4096); // the first slot: the header is the ring protocol's
            loop {
                if word.load(Ordering::Acquire) == 1 {
                    return 0;
                }
                match ipc::futex_wait(word, 0, 5_000) {
                    Ok(()) | Err(lux9_rt::abi::Error::WouldBlock) => {}
                    Err(_) => return 4,
                }
            }
        }
        "ring-touch" => {
            let Ok(message) = ipc::receive(0) else {
                return 2;
            };
            let Ok(region) = SharedRegion::of_ring(message.words[0]) else {
                return 3;
            };
            region
                .word(region.len() - 4)
                .store(sys::getpid() as u32, Ordering::Release);
            0
        }
        "ring-server" => ring_server(),
        "ring-ipc-client" => {
            // A ring client that hands its ring to its parent (which serves it from a
            // `receive` loop), publishes one request, notifies, and ends at once.
            let Some(server) = number(words.next()) else {
                return 2;
            };
            let Ok(ring) = lux9_rt::shared::Ring::create(server as usize, 4, 64) else {
                return 3;
            };
            if ipc::call(
                server as usize,
                MsgInfo::short(8, 0),
                [ring.id(), 0, 0, 0, 0, 0, 0, 0],
            )
            .is_err()
            {
                return 4;
            }
            let Ok(mut client) = ring.client() else {
                return 5;
            };
            let request = [11u8, 0, 0, 0, 100, 7, 0, b'p', b'i', b'n', b'g'];
            if !matches!(client.submit([&request[..]]), Ok(1)) {
                return 6;
            }
            if client.peer_waiting().unwrap_or(false) && ring.notify().is_err() {
                return 7;
            }
            // Optionally give the ring up before ending: the server keeps its side either way.
            if words.next() == Some("destroy")
                && (ipc::ring_destroy(ring.id()).is_err()
                    || ipc::ring_info(ring.id()) != Err(lux9_rt::abi::Error::NotFound)
                    || ipc::ring_destroy(ring.id()) != Err(lux9_rt::abi::Error::NotFound))
            {
                return 8;
            }
            0
        }
        "ring-hostile" => {
            let Some(rounds) = number(words.next()) else {
                return 2;
            };
            ring_hostile(rounds)
        }
        "ring-cycle" => {
            let Some(rounds) = number(words.next()) else {
                return 2;
            };
            ring_cycle(rounds)
        }
        other => {
            println!("ipcpeer: unknown role {other:?}");
            2
        }
    }
}
