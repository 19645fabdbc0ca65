//! Standard output and input.
//!
//! Standard output is the console (the `debug_write` system call) unless the parent redirected
//! it to a file (`STDOUT` / `STDOUT_APPEND` in the environment, see [`crate::env`]) or a pipe
//! (`STDOUT_PIPE`), or the program redirected it with [`set_stdout`]; then `print!` writes to
//! that file through the name space, or to the pipe. Standard error (`eprint!`) is always the
//! console. Standard input is `/dev/cons` unless redirected (`STDIN`, `STDIN_PIPE`).
//!
//! A write to a pipe that nobody reads any more ends the program quietly with
//! [`BROKEN_PIPE_EXIT_CODE`], as POSIX's default for SIGPIPE does: `cat /dev/zero | head -c 10`
//! ends `cat` once `head` is done. A program that wants to handle it writes with
//! [`crate::pipe::write`] itself and gets `Error::BrokenPipe`.

use core::fmt::{self, Write};

use alloc::string::String;

use lux9_abi::env as keys;

use crate::local::ProcessLocal;
use crate::{ns, pipe, sys};

enum Sink {
    /// Not decided yet: look at the environment on first use.
    Unset,
    Console,
    File(ns::File),
    /// The write end of a pipe (held by this process).
    Pipe(pipe::Id),
    /// The redirection failed; output is dropped (the failure was reported once).
    Broken,
}

/// Exit status of a program whose standard output was a pipe that nobody reads any more
/// (128 + 13, what POSIX shells show for SIGPIPE).
pub const BROKEN_PIPE_EXIT_CODE: i32 = 141;

/// The pipe named by environment variable `key`, with a hold taken on `end`; `Err` says why not.
fn inherited_pipe(key: &str, end: pipe::End) -> Option<Result<pipe::Id, String>> {
    let value = crate::env::var(key)?;
    Some(match value.parse::<pipe::Id>() {
        Ok(id) => pipe::open(id, end)
            .map(|()| id)
            .map_err(|error| alloc::format!("pipe {id}: {error}")),
        Err(_) => Err(alloc::format!("{key}: bad pipe id '{value}'")),
    })
}

static STDOUT: ProcessLocal<Sink> = ProcessLocal::new(Sink::Unset);

fn console_write(mut rest: &[u8]) {
    while !rest.is_empty() {
        match sys::debug_write(rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest = &rest[n.min(rest.len())..],
        }
    }
}

fn open_output(path: &str, append: bool) -> Sink {
    match ns::open_or_create(path, append) {
        Ok(file) => Sink::File(file),
        Err(error) => {
            eprint_bytes(alloc::format!("cannot write to {path}: {error}\n").as_bytes());
            Sink::Broken
        }
    }
}

fn decide() -> Sink {
    if let Some(pipe) = inherited_pipe(keys::STDOUT_PIPE, pipe::End::Write) {
        match pipe {
            Ok(id) => Sink::Pipe(id),
            Err(why) => {
                eprint_bytes(alloc::format!("cannot write to standard output: {why}\n").as_bytes());
                Sink::Broken
            }
        }
    } else if let Some(path) = crate::env::var(keys::STDOUT) {
        open_output(path, false)
    } else if let Some(path) = crate::env::var(keys::STDOUT_APPEND) {
        open_output(path, true)
    } else {
        Sink::Console
    }
}

/// Where [`set_stdout`] sends standard output.
pub enum Target<'a> {
    Console,
    /// Created or truncated.
    Truncate(&'a str),
    Append(&'a str),
}

/// Redirects this process's standard output (for shell built-ins). Returns an error text if
/// the file cannot be opened, leaving output where it was.
pub fn set_stdout(target: Target<'_>) -> Result<(), String> {
    let sink = match target {
        Target::Console => Sink::Console,
        Target::Truncate(path) | Target::Append(path) => {
            let append = matches!(target, Target::Append(_));
            ns::open_or_create(path, append)
                .map(Sink::File)
                .map_err(|error| alloc::format!("{path}: {error}"))?
        }
    };
    STDOUT.with(|out| *out = sink);
    Ok(())
}

/// Writes bytes to standard output; returns false if they could not all be written. A pipe
/// that nobody reads ends the program (see the module's documentation).
pub fn write_stdout(bytes: &[u8]) -> bool {
    let written = STDOUT.try_with(|out| {
        if matches!(out, Sink::Unset) {
            *out = decide();
        }
        match out {
            Sink::Console | Sink::Unset => Ok(true),
            Sink::File(file) => Ok(file.write_all(bytes).is_ok()),
            Sink::Pipe(id) => write_pipe(*id, bytes),
            Sink::Broken => Ok(false),
        }
        .map(|written| (written, matches!(out, Sink::Console | Sink::Unset)))
    });
    match written {
        Some(Ok((_, true))) | None => {
            // The console (or re-entered, a panic while printing: the console is the safe place).
            console_write(bytes);
            true
        }
        Some(Ok((written, false))) => written,
        Some(Err(())) => crate::exit(BROKEN_PIPE_EXIT_CODE),
    }
}

/// Writes all of `bytes` to pipe `id`: `Err` if its reader has gone, even after a part was
/// written (the kernel then returns the count; the next write names the broken pipe).
fn write_pipe(id: pipe::Id, mut bytes: &[u8]) -> Result<bool, ()> {
    while !bytes.is_empty() {
        match pipe::write(id, bytes) {
            Ok(0) => return Ok(false),
            Ok(n) => bytes = &bytes[n.min(bytes.len())..],
            Err(lux9_abi::Error::BrokenPipe) => return Err(()),
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

/// Takes this process's hold on an inherited standard-output pipe now (it is otherwise taken
/// at the first write), so that a child may take its own: a process may open a pipe's end
/// only if it or its parent holds it.
pub(crate) fn hold_stdout() {
    let _ = STDOUT.try_with(|out| {
        if matches!(out, Sink::Unset) {
            *out = decide();
        }
    });
}

/// The same as [`hold_stdout`] for standard input.
pub(crate) fn hold_stdin() {
    let _ = STDIN.with(open_stdin);
}

/// Closes a redirected standard output (at exit), so its server sees the clunk.
pub fn close_stdout() {
    let _ = STDOUT.try_with(|out| *out = Sink::Console);
}

fn eprint_bytes(bytes: &[u8]) {
    console_write(bytes);
}

/// Formats into a fixed buffer and writes it with as few writes as possible.
struct Buffered<const ERR: bool> {
    buffer: [u8; 256],
    len: usize,
}

impl<const ERR: bool> Buffered<ERR> {
    fn flush(&mut self) {
        if ERR {
            eprint_bytes(&self.buffer[..self.len]);
        } else {
            write_stdout(&self.buffer[..self.len]);
        }
        self.len = 0;
    }
}

impl<const ERR: bool> Write for Buffered<ERR> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            if self.len == self.buffer.len() {
                self.flush();
            }
            self.buffer[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

/// Writes formatted text to standard output.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let mut out = Buffered::<false> {
        buffer: [0; 256],
        len: 0,
    };
    let _ = out.write_fmt(args);
    out.flush();
}

/// Writes formatted text to the console (standard error).
pub fn ewrite_fmt(args: fmt::Arguments<'_>) {
    let mut out = Buffered::<true> {
        buffer: [0; 256],
        len: 0,
    };
    let _ = out.write_fmt(args);
    out.flush();
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::io::write_fmt(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::io::write_fmt(format_args!("{}\n", format_args!($($arg)*))));
}

/// Writes to standard error: always the console.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => ($crate::io::ewrite_fmt(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! eprintln {
    () => ($crate::eprint!("\n"));
    ($($arg:tt)*) => ($crate::io::ewrite_fmt(format_args!("{}\n", format_args!($($arg)*))));
}

enum Source {
    Unset,
    File(ns::File),
    Pipe(pipe::Id),
}

/// Whether standard input is the console (nothing redirected it to a file or a pipe): what a
/// program reads then is typed as it goes.
pub fn stdin_is_console() -> bool {
    crate::env::var(keys::STDIN).is_none() && crate::env::var(keys::STDIN_PIPE).is_none()
}

static STDIN: ProcessLocal<Source> = ProcessLocal::new(Source::Unset);

/// Reads standard input: from the redirected file, else a line from the console (through
/// `/dev/cons`, so the configured sysserver serves it). Returns 0 at end of input.
pub fn read_stdin(buf: &mut [u8]) -> Result<usize, lib9pclient::Error> {
    STDIN.with(|input| {
        open_stdin(input)?;
        match input {
            Source::File(file) => file.read(buf),
            Source::Pipe(id) => pipe::read(*id, buf)
                .map_err(|error| lib9pclient::Error::Server(alloc::format!("{error}"))),
            Source::Unset => Ok(0),
        }
    })
}

/// Opens standard input on first use: the inherited pipe, the redirected file, or the console.
fn open_stdin(input: &mut Source) -> Result<(), lib9pclient::Error> {
    if matches!(input, Source::Unset) {
        *input = match inherited_pipe(keys::STDIN_PIPE, pipe::End::Read) {
            Some(Ok(id)) => Source::Pipe(id),
            Some(Err(why)) => {
                return Err(lib9pclient::Error::Server(alloc::format!(
                    "standard input: {why}"
                )));
            }
            None => {
                let path = crate::env::var(keys::STDIN).unwrap_or("/dev/cons");
                Source::File(ns::open(path, lib9pclient::codec::OREAD)?)
            }
        };
    }
    Ok(())
}
