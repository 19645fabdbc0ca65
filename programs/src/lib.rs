//! What the Lux9 user programs share: argument handling, the shell's command-line parser and
//! line editor, the parsers of `/proc` texts, the formatting of what the programs print, the
//! fuzzer's command line and its protocol with a live peer, and the text tools' logic.
//!
//! Everything but [`cli`], [`output`] and [`text::stdio`] is pure logic, tested on the host with
//! `cargo test -p lux9-programs`; those are the little glue that reads and prints through the
//! runtime, and [`tree::NameSpace`] reaches the runtime's name space.
#![cfg_attr(not(test), no_std)]

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
pub mod text;
pub mod tree;
pub mod volume;
