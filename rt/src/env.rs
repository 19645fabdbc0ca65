//! The process environment: the arguments, the working directory and the standard input and
//! output a parent chose, and spawning children with them (`lux9_abi::env` is the encoding).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use lux9_abi::Error;
use lux9_abi::env as keys;

use crate::local::ProcessLocal;
use crate::sys;

struct Env {
    block: &'static str,
    args: &'static str,
    cwd: Option<String>,
}

static ENV: ProcessLocal<Env> = ProcessLocal::new(Env {
    block: "",
    args: "",
    cwd: None,
});

/// Splits the spawn string into environment and arguments; returns the arguments.
pub(crate) fn init(raw: &'static str) -> &'static str {
    let (block, args) = keys::split(raw);
    ENV.with(|env| {
        env.block = block;
        env.args = args;
    });
    args
}

/// The argument string (without the environment block).
pub fn args() -> &'static str {
    ENV.with(|env| env.args)
}

/// The value of environment variable `key`, as the parent set it.
pub fn var(key: &str) -> Option<&'static str> {
    let block = ENV.with(|env| env.block);
    keys::vars(block)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The working directory (absolute, cleaned).
pub fn cwd() -> String {
    ENV.with(|env| env.cwd.clone())
        .unwrap_or_else(|| lib9pclient::mount::clean_path(var(keys::PWD).unwrap_or("/")))
}

/// `path` made absolute against the working directory and cleaned.
pub fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        lib9pclient::mount::clean_path(path)
    } else {
        lib9pclient::mount::clean_path(&format!("{}/{path}", cwd()))
    }
}

/// Changes the working directory to `path`, which must be a directory.
pub fn set_cwd(path: &str) -> Result<(), lib9pclient::Error> {
    let target = absolute(path);
    let dir = crate::ns::stat(&target)?;
    if dir.mode & lib9pclient::codec::DMDIR == 0 {
        return Err(lib9pclient::Error::Server(format!(
            "{target}: not a directory"
        )));
    }
    ENV.with(|env| env.cwd = Some(target));
    Ok(())
}

/// Where a child's standard output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Whatever the parent's goes to (the console unless redirected).
    Inherit,
    /// A file, created or truncated.
    Truncate(String),
    /// A file, appended to.
    Append(String),
    /// The write end of a pipe this process holds.
    Pipe(crate::pipe::Id),
}

/// Where a child's standard input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Input {
    Inherit,
    File(String),
    Pipe(crate::pipe::Id),
}

/// A program to start, with its arguments and environment.
#[derive(Clone, Debug)]
pub struct Command {
    name: String,
    args: String,
    stdin: Input,
    stdout: Output,
}

impl Command {
    /// Program `name` from the initial archive.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            args: String::new(),
            stdin: Input::Inherit,
            stdout: Output::Inherit,
        }
    }

    /// The argument string.
    pub fn args(mut self, args: &str) -> Self {
        self.args = args.to_string();
        self
    }

    /// Reads standard input from `path` (absolute, or relative to the working directory).
    pub fn stdin(mut self, path: &str) -> Self {
        self.stdin = Input::File(absolute(path));
        self
    }

    /// Reads standard input from the read end of pipe `id` (which this process holds).
    pub fn stdin_pipe(mut self, id: crate::pipe::Id) -> Self {
        self.stdin = Input::Pipe(id);
        self
    }

    /// Sends standard output to `output`.
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = match output {
            Output::Truncate(path) => Output::Truncate(absolute(&path)),
            Output::Append(path) => Output::Append(absolute(&path)),
            other => other,
        };
        self
    }

    /// Starts the program as a child; returns its pid. It inherits the working directory and
    /// whatever standard input and output this process has that the command does not replace.
    pub fn spawn(&self) -> Result<usize, Error> {
        let cwd = cwd();
        let mut vars: Vec<(&str, &str)> = alloc::vec![(keys::PWD, cwd.as_str())];
        let (stdin_pipe, stdout_pipe);
        match &self.stdin {
            Input::File(path) => vars.push((keys::STDIN, path)),
            Input::Pipe(id) => {
                stdin_pipe = id.to_string();
                vars.push((keys::STDIN_PIPE, &stdin_pipe));
            }
            Input::Inherit => {
                if let Some(id) = var(keys::STDIN_PIPE) {
                    crate::io::hold_stdin();
                    vars.push((keys::STDIN_PIPE, id));
                } else if let Some(path) = var(keys::STDIN) {
                    vars.push((keys::STDIN, path));
                }
            }
        }
        match &self.stdout {
            Output::Truncate(path) => vars.push((keys::STDOUT, path)),
            Output::Append(path) => vars.push((keys::STDOUT_APPEND, path)),
            Output::Pipe(id) => {
                stdout_pipe = id.to_string();
                vars.push((keys::STDOUT_PIPE, &stdout_pipe));
            }
            // A child writes after whatever this process wrote: append, never truncate again.
            Output::Inherit => {
                if let Some(id) = var(keys::STDOUT_PIPE) {
                    crate::io::hold_stdout();
                    vars.push((keys::STDOUT_PIPE, id));
                } else if let Some(path) = var(keys::STDOUT).or_else(|| var(keys::STDOUT_APPEND)) {
                    vars.push((keys::STDOUT_APPEND, path));
                }
            }
        }
        let raw = keys::encode(&vars, &self.args).ok_or(Error::InvalidArgument)?;
        sys::spawn(&self.name, &raw)
    }
}
