//! sysserver: one 9P2000 server for `/dev`, `/proc` and `/sys` (seed technique 8: one
//! multiplexed server instead of devfs, procfs and sysfs).
//!
//! The tree code is transport- and placement-agnostic: it implements lib9pclient's
//! `Filesystem` over a [`Backend`] that supplies the system's facts. The kernel runs it
//! colocated (a direct call from the syscall path) or as the isolated `sysserver` program.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

pub mod backend;

pub use backend::{Backend, KnobError};
