//! Host mode: serving an image file over TCP or Unix sockets.
//!
//! ext4-view's `Ext4` holds an `Rc`, so the volume cannot be shared between
//! threads. One *filesystem thread* owns it, with one lib9pclient `Server`
//! (fid table) per connection, all over clones of the same [`crate::Ext4Fs`].
//! Each connection has a reader thread, which cuts the byte stream into 9P
//! frames and passes them to the filesystem thread in batches, and a writer
//! thread, which writes the replies back. This is the shape ext4srv has on
//! Lux9 too (one server thread, many clients feeding it requests), the block
//! cache and the open-file cursors are shared by all clients without locks,
//! and a slow client cannot stall the others: only the writer threads block on
//! sockets. See docs/ext4srv.md.

pub mod args;
mod conn;
mod serve;

pub use args::{Args, parse_args, usage};
pub use serve::{Server, open_volume, serve};
