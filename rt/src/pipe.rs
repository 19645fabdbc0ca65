//! Pipes (kernel objects; see `lux9_abi::Syscall::PipeCreate` and docs/shell.md).
//!
//! A shell makes a pipe with [`Pipe::create`] and names it in a child's environment
//! (`STDIN_PIPE`, `STDOUT_PIPE`: [`crate::env::Command`] does it); the child's standard input
//! or output then takes its own hold on that end when first used ([`crate::io`]).

use lux9_abi::Syscall;
use lux9_abi::syscall::pipe as end;

use crate::sys::{Result, call};

/// A pipe's id.
pub type Id = usize;

/// One end of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Read,
    Write,
}

impl End {
    fn number(self) -> usize {
        match self {
            End::Read => end::READ,
            End::Write => end::WRITE,
        }
    }
}

/// Makes a pipe; the caller holds both ends.
pub fn create() -> Result<Id> {
    call(Syscall::PipeCreate, [0; 6])
}

/// Takes one more hold on `end` (which this process or its parent holds).
pub fn open(id: Id, which: End) -> Result<()> {
    call(Syscall::PipeOpen, [id, which.number(), 0, 0, 0, 0]).map(|_| ())
}

/// Lets one hold on `end` go.
pub fn close(id: Id, which: End) -> Result<()> {
    call(Syscall::PipeClose, [id, which.number(), 0, 0, 0, 0]).map(|_| ())
}

/// Reads what is there (waiting while the pipe is empty and a writer remains); 0 at the end.
pub fn read(id: Id, buf: &mut [u8]) -> Result<usize> {
    call(
        Syscall::PipeRead,
        [id, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
    )
}

/// Writes all of `bytes` (waiting while the pipe is full); `BrokenPipe` if nobody reads.
pub fn write(id: Id, bytes: &[u8]) -> Result<usize> {
    call(
        Syscall::PipeWrite,
        [id, bytes.as_ptr() as usize, bytes.len(), 0, 0, 0],
    )
}
