//! fuzz: makes random system calls with random arguments: `fuzz COUNT SEED`.
//!
//! It avoids only what would end or stall the fuzzer itself (exit, long sleeps and futex waits,
//! messages to live processes, unmapping its own stack and image) and never allocates, so
//! random unmaps of its heap region cannot hurt it.
//! Prints how each call ended, by error code, and exits 0.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::abi::syscall::{SYSCALL_COUNT, USER_END};
use lux9_rt::abi::{Error, Syscall};
use lux9_rt::{println, sys};

lux9_rt::entry!(run);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An argument: small numbers, page-aligned and odd addresses in every region, or noise.
    fn arg(&mut self) -> usize {
        let pick = self.next() % 10;
        let raw = self.next();
        (match pick {
            0 => 0,
            1 => raw % 64,
            2 => raw & 0xffff_ffff_ffff_f000,
            3 => 0xffff_8000_0000_0000 | (raw & 0x7fff_ffff_ffff), // kernel half
            4 => USER_END - (raw % 64),                            // straddling the top
            5 => 0x1000_0000_0000 + (raw % (1 << 32)),             // the mapping region
            6 => 0x40_0000 + (raw % 0x10_0000),                    // around the image
            7 => u64::MAX - (raw % 64),
            _ => raw,
        }) as usize
    }
}

fn run(args: &str) -> i32 {
    let mut words = args.split_whitespace();
    let count: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(100_000);
    let mut rng = Rng(words.next().and_then(|w| w.parse().ok()).unwrap_or(0x5eed) | 1);
    let mut outcomes = [0u64; 16];
    for done in 0..count {
        let mut number = (rng.next() % (SYSCALL_COUNT as u64 + 4)) as usize;
        if rng.next().is_multiple_of(64) {
            number = rng.arg();
        }
        let mut args = [
            rng.arg(),
            rng.arg(),
            rng.arg(),
            rng.arg(),
            rng.arg(),
            rng.arg(),
        ];
        match Syscall::from_number(number) {
            // Leaving the process or the machine ends the run; waiting for the console hangs it.
            Some(Syscall::Exit | Syscall::Power) => continue,
            Some(Syscall::ConsoleRead) => args[2] |= lux9_rt::abi::syscall::console::NONBLOCK,
            // The console's mode is shared with whoever types: only read it.
            Some(Syscall::ConsoleMode) => args[0] = lux9_rt::abi::ipc::KNOB_READ,
            Some(Syscall::Sleep) => args[0] %= 2,
            Some(Syscall::Map) => args[1] %= 1 << 20,
            Some(Syscall::Unmap) => {
                // Only inside the mapping region: never the stack or the program image.
                args[0] = (0x1000_0000_0000 + (args[0] % (1 << 32))) & !0xfff;
                args[1] %= 1 << 20;
            }
            // Message operations with a live peer would wait for it forever: aim them at pids
            // that do not exist (or at ourselves), where they must fail fast.
            Some(
                Syscall::Send
                | Syscall::Call
                | Syscall::Receive
                | Syscall::ReplyRecv
                | Syscall::Reply,
            ) => {
                args[0] = if rng.next().is_multiple_of(2) {
                    1_000_000 + args[0] % 1_000_000
                } else {
                    sys::getpid()
                };
            }
            // A futex wait on a word that holds the value would sleep; bound it to 1 ms.
            Some(Syscall::FutexWait) => args[2] = 1,
            Some(Syscall::DebugWrite) => {
                // A pointer into this process's own memory would print its bytes: keep those
                // calls empty, and probe only pointers that must fail.
                let own = (0x40_0000..USER_END as usize).contains(&args[0]);
                args[1] = if own { 0 } else { args[1] % 17 };
            }
            _ => {}
        }
        let (code, _) = sys::raw(number, args);
        outcomes[code.min(15)] += 1;
        if (done + 1) % 25_000 == 0 {
            println!("fuzz: {} calls made", done + 1);
        }
    }
    for (code, &times) in outcomes.iter().enumerate().filter(|(_, t)| **t > 0) {
        let name = Error::from_code(code).map_or("other", |e| e.message());
        println!("fuzz: {times:>6} returned {code} ({name})");
    }
    0
}
