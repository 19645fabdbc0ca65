//! sysserver: one 9P2000 server for `/dev`, `/proc` and `/sys` (seed technique 8: one
//! multiplexed server instead of devfs, procfs and sysfs).
//!
//! The tree code is transport- and placement-agnostic: [`SysFs`] implements lib9pclient's
//! `Filesystem` over a [`Backend`] that supplies the system's facts. The kernel runs it
//! colocated (a direct call from the syscall path) or as the isolated `sysserver` program;
//! either way it sits behind `lib9pclient::Server::new(SysFs::new(backend), msize)`.
//! docs/sysserver.md describes the trees and the file formats.
#![no_std]

extern crate alloc;

pub mod backend;
mod dev;
pub mod error;
mod fs;
mod node;
mod proc;
mod sys;
mod text;

pub use backend::{Backend, DiskInfo, KernelLog, KnobError};
pub use fs::SysFs;
pub use node::{Kind, Node, Tree};
