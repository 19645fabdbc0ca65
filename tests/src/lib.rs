//! lux9-tests: the host side of Lux9's in-QEMU tests.
//!
//! `qemu` builds QEMU command lines for the machines Lux9 must boot on and runs them with a
//! timeout while reading the serial console; `results` reads the kernel's result lines and the
//! summaries of `cargo test`, and keeps the overall tally that `cargo xtask test` prints;
//! `session` drives the serial console of a running QEMU and `qmp` its machine protocol (keys,
//! screenshots, power events); `host_tools` finds and runs the Debian tools that make test
//! images; `ext4_damage` makes the damaged ext4 images of ext4srv's fuzz test and of the
//! `ext4-faults` scenario.

pub mod ext4_damage;
pub mod host_tools;
pub mod qemu;
pub mod qmp;
pub mod results;
pub mod session;
