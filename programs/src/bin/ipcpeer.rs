//! ipcpeer: the other side of the IPC tests and benchmarks. Its first argument picks a role:
//!
//! - `echo`: a server that answers every call with the message transformed (each word XOR
//!   `0x5a5a...`, label + 1; long messages reversed byte by byte) until it gets label `QUIT`;
//! - `bench-echo`: the benchmark's server: answers each call with the same message, on raw
//!   registers, until it gets label `QUIT`;
//! - `die-after-receive`: receives one message, then exits without replying;
//! - `sender DEST N`: sends N messages with labels 0..N to DEST, then exits;
//! - `futex-waiter`: receives a ring id, then waits on the ring's first word until it becomes 1;
//! - `ring-touch`: receives a ring id, writes its pid into the ring's last word, and exits;
//! - `ring-cycle N`: N times, creates a ring with a new `ring-touch` child and checks that the
//!   ring is gone once the child has exited; also creates and destroys rings directly.
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::sync::atomic::Ordering;

use lux9_rt::abi::ipc::{LONG_MAX, MsgInfo, Words};
use lux9_rt::shared::{IpcBuffer, SharedRegion};
use lux9_rt::{ipc, println, sys};

lux9_rt::entry!(run);

/// Label that ends the echo server.
pub const QUIT: u32 = 0xdead;

fn transform(words: &Words) -> Words {
    words.map(|w| w ^ 0x5a5a_5a5a_5a5a_5a5a)
}

fn echo() -> i32 {
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

fn ring_cycle(rounds: u64) -> i32 {
    for round in 0..rounds {
        let Ok(child) = sys::spawn("ipcpeer", "ring-touch") else {
            return 10;
        };
        let Ok((ring, _)) = ipc::ring_create(child, 8) else {
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
        if ipc::ring_info(ring) != Err(lux9_rt::abi::Error::NotFound) {
            println!("ipcpeer ring-cycle: ring {ring} outlived its peer");
            return 14;
        }
        // A ring its creator destroys while the peer still lives.
        let Ok(peer) = sys::spawn("ipcpeer", "die-after-receive") else {
            return 15;
        };
        let Ok((direct, _)) = ipc::ring_create(peer, 2) else {
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

fn run(args: &str) -> i32 {
    let mut words = args.split_whitespace();
    let role = words.next().unwrap_or("");
    let number = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok());
    match role {
        "echo" => echo(),
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
            let word = region.word(0);
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
