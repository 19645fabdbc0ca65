//! ext4srv: serves ext4 images, read-only, over 9P2000.
//!
//! The core is transport-agnostic: [`Ext4Fs`] is a `lib9pclient::Filesystem`,
//! and lib9pclient's `Server` turns decoded 9P requests into replies over it.
//! It is `no_std` + `alloc`, for Lux9 (a ring-3 process behind shared rings,
//! or a colocated kernel-mode server). The `std` feature adds the host side:
//! an image-file block source ([`device::ImageFile`]) and a socket server
//! ([`host`]) with the `ext4srv` binary. See docs/ext4srv.md.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod device;
mod dircache;
mod filemap;
mod fs;
#[cfg(feature = "std")]
pub mod host;
mod index;
mod read;
mod stat;
mod superblock;
mod walk;

pub use fs::{DEFAULT_CACHE_BYTES, Ext4Fs, Node, Volume};
pub use stat::READ_ONLY;
pub use superblock::{Geometry, ImageError};
pub use walk::{MAX_STEPS, MAX_SYMLINKS};
