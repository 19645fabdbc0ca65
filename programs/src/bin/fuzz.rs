//! fuzz: makes random system calls with random arguments: `fuzz [COUNT [SEED [PEER]]]`.
//!
//! It avoids only what would end or stall the fuzzer itself (exit, long sleeps and futex waits,
//! unmapping its own stack and image) and never allocates, so random unmaps of its heap region
//! cannot hurt it. Message calls go to pids that do not exist, to itself, and to PEER if given:
//! a live `ipcpeer fuzz-peer` that answers calls, and that sends one message before each
//! receive aimed at it, so that no call waits forever (see `lux9_programs::fuzz`).
//! Prints how each call ended, by error code, and exits 0, or 1 if the peer stopped answering,
//! 2 on a usage error.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_programs::fuzz::{self, ArgsError, MARK, Run, SEND_ONE};
use lux9_rt::abi::ipc::MsgInfo;
use lux9_rt::abi::syscall::{SYSCALL_COUNT, USER_END};
use lux9_rt::abi::{Error, Syscall};
use lux9_rt::{eprintln, ipc, print, println, sys};

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

fn usage_error(what: core::fmt::Arguments) -> i32 {
    eprintln!("fuzz: {what}");
    eprintln!("{}", fuzz::USAGE);
    2
}

fn is_message(number: usize) -> bool {
    matches!(
        Syscall::from_number(number),
        Some(
            Syscall::Send | Syscall::Call | Syscall::Receive | Syscall::Reply | Syscall::ReplyRecv
        )
    )
}

/// Makes message call `number`: peer and info from `args`, the first four words from the rest,
/// four more at random. A call that delivers a message writes every message register, which
/// `sys::raw` does not expect.
fn message(rng: &mut Rng, number: usize, args: [usize; 6]) -> (usize, usize, u64, [u64; 8]) {
    let words = [
        args[2] as u64,
        args[3] as u64,
        args[4] as u64,
        args[5] as u64,
        rng.next(),
        rng.next(),
        rng.next(),
        rng.next(),
    ];
    ipc::raw_message(number, args[0], args[1] as u64, words)
}

/// A message call's peer: a pid that does not exist, the fuzzer itself, or the live peer.
fn message_target(rng: &mut Rng, arg: usize, peer: Option<usize>) -> usize {
    match (rng.next() % 3, peer) {
        (0, _) => 1_000_000 + arg % 1_000_000,
        (1, Some(peer)) => peer,
        _ => sys::getpid(),
    }
}

fn run(args: &str) -> i32 {
    let Run { count, seed, peer } = match fuzz::parse(args) {
        Ok(run) => run,
        Err(ArgsError::Help) => {
            print!("{}", fuzz::HELP);
            return 0;
        }
        Err(ArgsError::TooMany) => return usage_error(format_args!("too many operands")),
        Err(ArgsError::NotANumber(word)) => {
            return usage_error(format_args!("{word:?} is not a number"));
        }
    };
    let mut rng = Rng(seed | 1);
    // By result code: 0 (success), each error, and the last slot for any larger code.
    let mut outcomes = [0u64; Error::ALL.len() + 2];
    // Message calls aimed at the live peer, and its messages the fuzzed receives took.
    let (mut at_peer, mut taken) = (0u64, 0u64);
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
            Some(Syscall::Exit | Syscall::Power | Syscall::DiskWrite) => continue,
            Some(Syscall::ConsoleRead) => args[2] |= lux9_rt::abi::syscall::console::NONBLOCK,
            // The console's mode is shared with whoever types: only read it.
            Some(Syscall::ConsoleMode) => args[0] = lux9_rt::abi::ipc::KNOB_READ,
            // So is the console's foreground group (Ctrl-C's target).
            Some(Syscall::ConsoleForeground) => args[0] = lux9_rt::abi::ipc::KNOB_READ,
            // A pipe the fuzzer made holds both ends: reading it empty or writing it full would
            // wait for ever. No pipe has id 0: the argument checks still run.
            Some(Syscall::PipeRead | Syscall::PipeWrite) => args[0] = 0,
            Some(Syscall::Sleep) => args[0] %= 2,
            // Killing itself, its peer or its parent ends the run: only the kernel, init and
            // pids no process has had (all refused).
            Some(Syscall::Kill) => {
                args[0] = if args[0].is_multiple_of(2) {
                    args[0] % 4 / 2
                } else {
                    args[0] | 1 << 40
                }
            }
            Some(Syscall::Map) => args[1] %= 1 << 20,
            Some(Syscall::Unmap) => {
                // Only inside the mapping region: never the stack or the program image.
                args[0] = (0x1000_0000_0000 + (args[0] % (1 << 32))) & !0xfff;
                args[1] %= 1 << 20;
            }
            // Sends and calls reach the peer while it waits in `receive`, and it answers every
            // call; only its parent may end it, and only the fuzzer's own requests (below) make
            // it send.
            Some(Syscall::Send | Syscall::Call | Syscall::Reply) => {
                args[0] = message_target(&mut rng, args[0], peer);
                if Some(args[0]) == peer && (args[1] >> 32) as u32 == SEND_ONE {
                    args[1] ^= 1 << 32;
                }
            }
            // A receive from a live process waits until it sends: aimed at the peer (or at
            // anyone), it first has the peer send one message.
            Some(Syscall::Receive | Syscall::ReplyRecv) => {
                args[0] = message_target(&mut rng, args[0], peer);
                if let Some(peer) = peer.filter(|&p| p == args[0]) {
                    if ipc::call(peer, MsgInfo::short(0, SEND_ONE), [0; 8]).is_err() {
                        println!("fuzz: the peer {peer} did not answer");
                        return 1;
                    }
                    if rng.next().is_multiple_of(2) {
                        args[0] = 0;
                    }
                    at_peer += 1;
                    let (code, _, _, words) = message(&mut rng, number, args);
                    outcomes[code.min(Error::ALL.len() + 1)] += 1;
                    if code == 0 && words[0] == MARK {
                        taken += 1;
                    } else if ipc::receive(peer).map(|m| m.words[0]) != Ok(MARK) {
                        // The fuzzed call did not take the message: take it, or the peer
                        // would still be sending when the next call to it waits for an answer.
                        println!("fuzz: the peer's message went missing");
                        return 1;
                    }
                    continue;
                }
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
        let code = if is_message(number) {
            if peer == Some(args[0]) {
                at_peer += 1;
            }
            message(&mut rng, number, args).0
        } else {
            #[allow(unsafe_code, reason = "random system calls are the point")]
            // SAFETY: the arguments were shaped above so that the call cannot unmap the stack
            // or the image, and the fuzzer holds no allocation a random unmap of the heap
            // region could take away (see the module's documentation).
            let (code, _) = unsafe { sys::raw(number, args) };
            code
        };
        outcomes[code.min(Error::ALL.len() + 1)] += 1;
        if (done + 1) % 25_000 == 0 {
            println!("fuzz: {} calls made", done + 1);
        }
    }
    for (code, &times) in outcomes.iter().enumerate().filter(|(_, t)| **t > 0) {
        let name = match code {
            0 => "success",
            code => Error::from_code(code).map_or("other", |e| e.message()),
        };
        println!("fuzz: {times:>6} returned {code} ({name})");
    }
    if let Some(peer) = peer {
        println!(
            "fuzz: {at_peer} message calls aimed at live peer {peer}, {taken} of its messages taken by them"
        );
    }
    0
}
