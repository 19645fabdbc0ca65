//! utest's pipe cases: bytes carried between processes with backpressure, the end of file once
//! every writer is gone, and the broken pipe once every reader is; and the modes the console
//! sessions run to show what Ctrl-C does to a program that asked to be told.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use lux9_rt::abi::{Error, ExitStatus};
use lux9_rt::env::{Command, Output};
use lux9_rt::pipe::{self, End};
use lux9_rt::{ipc, println, sys};

use super::CaseResult;

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// More than the two pipes and `cat`'s buffer hold together is not needed: more than one pipe's
/// worth makes the writer wait for `cat`, and `cat` for the reader.
const SENT: usize = 120 * 1024;

/// `cat` between two pipes: what goes in comes out, a writer waits while a pipe is full, and
/// the reader sees the end of file once every holder of the write end has let it go.
pub fn pipes_carry_bytes_with_backpressure() -> CaseResult {
    let input = pipe::create().map_err(|e| format!("pipe_create: {e}"))?;
    let output = pipe::create().map_err(|e| format!("pipe_create: {e}"))?;
    let cat = Command::new("cat")
        .stdin_pipe(input)
        .stdout(Output::Pipe(output))
        .spawn()
        .map_err(|e| format!("spawn cat: {e}"))?;
    let data: Vec<u8> = (0..SENT).map(|i| (i * 31 % 253) as u8).collect();
    // More than a pipe holds, in uneven pieces: the later writes wait for cat to read.
    for piece in data.chunks(50_000) {
        let n = pipe::write(input, piece).map_err(|e| format!("pipe_write: {e}"))?;
        ensure!(n == piece.len(), "pipe_write wrote {n} of {}", piece.len());
    }
    // Our hold on the input's write end goes: cat reads to the end and exits.
    pipe::close(input, End::Write).map_err(|e| format!("pipe_close: {e}"))?;
    let mut received = Vec::with_capacity(SENT);
    let mut buf = vec![0u8; 7000];
    while received.len() < SENT {
        let n = pipe::read(output, &mut buf).map_err(|e| format!("pipe_read: {e}"))?;
        ensure!(
            n > 0,
            "end of file after {} of {SENT} bytes",
            received.len()
        );
        received.extend_from_slice(&buf[..n]);
    }
    ensure!(
        received == data,
        "the bytes through cat differ from those sent"
    );
    let status = sys::wait(cat).map_err(|e| format!("wait: {e}"))?;
    ensure!(status.success(), "cat ended with {status:?}");
    // cat has gone; with our own write hold let go, the reader sees the end of file.
    pipe::close(output, End::Write).map_err(|e| format!("pipe_close: {e}"))?;
    let n = pipe::read(output, &mut buf).map_err(|e| format!("pipe_read at the end: {e}"))?;
    ensure!(n == 0, "read {n} bytes after every writer closed");
    for (id, end) in [(input, End::Read), (output, End::Read)] {
        pipe::close(id, end).map_err(|e| format!("pipe_close: {e}"))?;
    }
    // Both pipes are gone with their last holder.
    ensure!(
        pipe::open(input, End::Read) == Err(Error::NotFound),
        "a pipe nobody holds is still there"
    );
    Ok(())
}

/// A writer whose reader has gone gets `BrokenPipe`, and a program writing its standard output
/// into such a pipe ends quietly with status 141.
pub fn a_pipe_without_readers_is_broken() -> CaseResult {
    let id = pipe::create().map_err(|e| format!("pipe_create: {e}"))?;
    pipe::close(id, End::Read).map_err(|e| format!("pipe_close: {e}"))?;
    ensure!(
        pipe::write(id, b"x") == Err(Error::BrokenPipe),
        "a write with no reader did not fail with BrokenPipe"
    );
    ensure!(
        pipe::read(id, &mut [0u8; 4]) == Err(Error::NotFound),
        "read from an end this process does not hold"
    );
    pipe::close(id, End::Write).map_err(|e| format!("pipe_close: {e}"))?;

    let id = pipe::create().map_err(|e| format!("pipe_create: {e}"))?;
    let cat = Command::new("cat")
        .args("/dev/zero")
        .stdout(Output::Pipe(id))
        .spawn()
        .map_err(|e| format!("spawn cat: {e}"))?;
    // Read a little, then go: cat, writing forever, must end.
    let mut buf = [0u8; 1000];
    let n = pipe::read(id, &mut buf).map_err(|e| format!("pipe_read: {e}"))?;
    ensure!(
        n > 0 && buf[..n].iter().all(|&b| b == 0),
        "cat /dev/zero sent {n} bytes, not zeros"
    );
    pipe::close(id, End::Read).map_err(|e| format!("pipe_close: {e}"))?;
    let status = sys::wait(cat).map_err(|e| format!("wait: {e}"))?;
    ensure!(
        status == ExitStatus::Exited(lux9_rt::io::BROKEN_PIPE_EXIT_CODE),
        "cat writing into a pipe nobody reads ended with {status:?}"
    );
    pipe::close(id, End::Write).map_err(|e| format!("pipe_close: {e}"))?;
    // A stranger cannot join a pipe: the kernel (pid 0's children aside) checks the holders.
    ensure!(
        pipe::open(id, End::Read) == Err(Error::NotFound),
        "a freed pipe could be opened"
    );
    Ok(())
}

/// The shell's everyday tools (issue 14's list, and the shell itself).
const TOOLS: [&str; 16] = [
    "sh", "ls", "cat", "head", "tail", "wc", "grep", "sort", "uniq", "hexdump", "dmesg", "lspci",
    "du", "find", "true", "false",
];

/// Each tool answers `--help` with its usage on standard output (a pipe here) and status 0.
pub fn the_tools_answer_help() -> CaseResult {
    for tool in TOOLS {
        let id = pipe::create().map_err(|e| format!("pipe_create: {e}"))?;
        let pid = Command::new(tool)
            .args("--help")
            .stdout(Output::Pipe(id))
            .spawn()
            .map_err(|e| format!("spawn {tool}: {e}"))?;
        // A help text fits in the pipe, so the tool never waits for this reader.
        let status = sys::wait(pid).map_err(|e| format!("wait {tool}: {e}"))?;
        pipe::close(id, End::Write).map_err(|e| format!("pipe_close: {e}"))?;
        let mut text = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            match pipe::read(id, &mut buf) {
                Ok(0) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("{tool} --help: pipe_read: {e}")),
            }
        }
        let _ = pipe::close(id, End::Read);
        let text = alloc::string::String::from_utf8_lossy(&text);
        ensure!(
            status == ExitStatus::Exited(0),
            "{tool} --help ended with {status:?}"
        );
        ensure!(
            text.starts_with(&format!("usage: {tool}")) && text.lines().count() >= 2,
            "{tool} --help printed {text:?}"
        );
    }
    Ok(())
}

/// Told of Ctrl-C by the kernel (`interrupt_word`).
static INTERRUPTED: AtomicU32 = AtomicU32::new(0);

/// `utest interrupt catch|ignore`: asks to be told of Ctrl-C, says `waiting for Ctrl-C`, and
/// then either cleans up and exits (status 3) once told, or ignores it (the kernel kills it
/// after the grace time). For the console sessions.
pub fn interrupt_mode(how: &str) -> i32 {
    if let Err(error) = sys::interrupt_word(&INTERRUPTED) {
        println!("utest interrupt: interrupt_word: {error}");
        return 1;
    }
    println!("utest interrupt: waiting for Ctrl-C");
    loop {
        match ipc::futex_wait(&INTERRUPTED, 0, 0) {
            Ok(()) | Err(Error::WouldBlock) => {}
            Err(error) => {
                println!("utest interrupt: futex_wait: {error}");
                return 1;
            }
        }
        if INTERRUPTED.load(Ordering::Acquire) != 0 {
            break;
        }
    }
    if how == "catch" {
        println!("utest interrupt: told, cleaning up");
        return 3;
    }
    println!("utest interrupt: told, ignoring it");
    loop {
        sys::sleep_ms(1000);
    }
}
