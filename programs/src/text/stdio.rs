//! The text tools in Lux9: inputs opened through the name space (`-` is standard input),
//! standard output buffered 16 KiB at a time (not while reading what is typed at the
//! console), and failures reported as `NAME: what: why`.

use alloc::string::{String, ToString};

use lib9pclient::codec::OREAD;
use lux9_rt::{io, ns};

use super::{Buffered, Error, PIECE, Read, label};
use crate::cli;

/// A file, or standard input.
pub enum Input {
    Stdin,
    File(ns::File),
}

impl Input {
    /// Opens `file` for reading; `-` is standard input. A directory is refused.
    pub fn open(file: &str) -> Result<Self, String> {
        if file == "-" {
            return Ok(Self::Stdin);
        }
        let opened = ns::open(file, OREAD).map_err(|e| e.to_string())?;
        if opened.qid().is_dir() {
            return Err("is a directory".into());
        }
        Ok(Self::File(opened))
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        match self {
            Self::Stdin => io::read_stdin(buf),
            Self::File(file) => file.read(buf),
        }
        .map_err(|e| e.to_string())
    }
}

/// Standard output, buffered.
pub type Stdout = Buffered<fn(&[u8]) -> bool>;

/// One run of a tool: its standard output and whether anything failed.
pub struct Session {
    name: &'static str,
    pub out: Stdout,
    failed: bool,
    /// Standard output failed: nothing more is written or read.
    broken: bool,
}

impl Session {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            out: Buffered::new(io::write_stdout),
            failed: false,
            broken: false,
        }
    }

    /// Opens each file in turn and runs `each` on it with its name. A file that cannot be
    /// opened or read is reported and the others still run; a failed write stops them.
    pub fn each_input(
        &mut self,
        files: &[String],
        mut each: impl FnMut(&str, &mut Input, &mut Stdout) -> Result<(), Error>,
    ) {
        for file in files {
            if self.broken {
                return;
            }
            // Someone typing at the console sees each result as soon as it is known: output
            // is not held back while the tool waits for the next line.
            let typed = file == "-" && io::stdin_is_console();
            if typed && self.out.set_capacity(1).is_err() {
                self.write_failed();
                return;
            }
            let result = match Input::open(file) {
                Ok(mut input) => each(file, &mut input, &mut self.out),
                Err(why) => Err(Error::Read(why)),
            };
            self.check(file, result);
            if typed && self.out.set_capacity(PIECE).is_err() {
                self.write_failed();
            }
        }
    }

    /// Reports a failure with `file` (reading it, or writing standard output).
    pub fn check(&mut self, file: &str, result: Result<(), Error>) {
        match result {
            Ok(()) => {}
            Err(Error::Read(why)) => {
                cli::report(self.name, label(file), why);
                self.failed = true;
            }
            Err(Error::Write) => self.write_failed(),
        }
    }

    /// Reports a failed write of what a tool prints after reading its inputs.
    pub fn wrote(&mut self, result: Result<(), Error>) {
        if result.is_err() {
            self.write_failed();
        }
    }

    /// Whether an input could not be read (or output written).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Whether writing has failed, so the tool should stop.
    pub fn broken(&self) -> bool {
        self.broken
    }

    fn write_failed(&mut self) {
        if !self.broken {
            cli::report(self.name, "standard output", "write failed");
        }
        self.failed = true;
        self.broken = true;
    }

    /// Flushes standard output; whether everything went well.
    pub fn finish(mut self) -> bool {
        if !self.broken && self.out.flush().is_err() {
            self.write_failed();
        }
        !self.failed
    }

    /// [`finish`](Self::finish) as an exit status: 0, or [`cli::FAILURE`].
    pub fn status(self) -> i32 {
        if self.finish() { 0 } else { cli::FAILURE }
    }
}
