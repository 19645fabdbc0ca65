//! What the Lux9 user programs share: argument handling, the shell's command-line parser and
//! line editor, the parsers of `/proc` texts, the formatting of what the programs print, and
//! the fuzzer's command line and its protocol with a live peer.
//!
//! Everything but [`cli`] is pure logic, tested on the host with `cargo test -p
//! lux9-programs`; [`cli`] is the little glue that prints through the runtime, and
//! [`output`]'s buffer and [`tree::NameSpace`] reach the runtime's standard output and name
//! space.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod args;
pub mod cli;
pub mod cmdline;
pub mod disks;
pub mod du;
pub mod editor;
pub mod find;
pub mod format;
pub mod fuzz;
pub mod glob;
pub mod history;
pub mod human;
pub mod lex;
pub mod output;
pub mod pci;
pub mod procfs;
pub mod ringdev;
pub mod serve;
pub mod sha256;
pub mod tree;
pub mod volume;
