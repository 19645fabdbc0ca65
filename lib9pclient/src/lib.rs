//! lib9pclient: the 9P2000 codec, client, batching, async multiplexing, mount
//! table and server framework for Lux9.
//!
//! The core is `no_std` + `alloc` so ring-3 Lux9 programs and servers can link
//! it; the `std` feature (on by default) adds the stream transport over any
//! `Read + Write`, TCP and Unix-socket dialing and serving, `std::io` impls on
//! [`File`], and the `9p` tool. See docs/lib9pclient.md for the guide.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod codec;
pub mod dial;
pub mod mount;
pub mod server;
#[cfg(feature = "std")]
pub mod stream;
pub mod transport;

pub use client::{Batch, Client, Error, File, Fs, Pending, Reply};
pub use codec::{Dir, Message, Qid, Stat};
pub use mount::MountTable;
pub use server::{ERROR_MAX, Filesystem, Loopback, MemFs, Server, ServerError};
pub use transport::{Transport, TransportError, Wait};
