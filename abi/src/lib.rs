//! The Lux9 system-call ABI, shared by the kernel, the user runtime and every server.
//!
//! Nothing here is copied anywhere else: syscall numbers, error codes, argument layouts and the
//! format of the initial program archive live in this crate only.
//!
//! # Calling convention
//!
//! `syscall` with the number in `rax` and up to six arguments in `rdi`, `rsi`, `rdx`, `r10`,
//! `r8`, `r9` (the System V order with `r10` for `rcx`, which `syscall` overwrites). On return
//! `rax` holds an [`Error`] code, 0 for success, and `rdx` the result value. `rcx` and `r11`
//! are clobbered by the instruction; every other register is preserved.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod archive;
pub mod env;
pub mod ipc;
pub mod syscall;
pub mod sysinfo;

pub use syscall::{Error, ExitStatus, Syscall};
