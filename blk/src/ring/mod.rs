//! The block ring: a server's block requests to the kernel and the kernel's responses, in
//! shared memory, checked entry by entry.
//!
//! The kernel gives a server (ext4srv) a *block ring* for one disk or partition: a region
//! shared between the two, holding a submission queue (requests, server to kernel) and a
//! completion queue (responses, kernel to server). Beside it the server registers a *data
//! region*; requests name buffers in it by byte offset, and the kernel has the device DMA
//! straight into and out of it (zero-copy). The server is untrusted: the kernel checks every
//! counter it loads and every request it takes ([`validate`]) against its own record of the
//! device ([`Target`]).
//!
//! This module is the protocol: the layout ([`layout`], [`Geometry`]), the entry encoding
//! ([`Request`], [`Response`], [`Status`]), the validation, and both endpoints ([`Kernel`],
//! [`Server`]). The shared region is reached through `lux9_ring`'s [`Memory`] trait
//! (bounds-checked atomic words and copies; `RingMemory` over a mapping), so there is no
//! unsafe code here. docs/block.md says the same for readers of docs/.
//!
//! # Layout
//!
//! All header words are little-endian `u32`s. Page 0 is the header ([`layout::Header`], whose
//! offsets are checked at compile time):
//!
//! | offset  | field            | written by | meaning                                       |
//! |---------|------------------|------------|-----------------------------------------------|
//! | `0x000` | `magic`          | kernel     | `LXB1` ([`MAGIC`])                            |
//! | `0x004` | `version`        | kernel     | 1 ([`VERSION`])                               |
//! | `0x008` | `entry_count`    | kernel     | entries per queue, a power of two, 1 to 1024  |
//! | `0x00c` | reserved         |            | zero to `0x040`                               |
//! | `0x040` | `sq_head`        | kernel     | submission head (own 64-byte line)            |
//! | `0x080` | `sq_tail`        | server     | submission tail (own line)                    |
//! | `0x0c0` | `cq_head`        | server     | completion head (own line)                    |
//! | `0x100` | `cq_tail`        | kernel     | completion tail (own line)                    |
//! | `0x140` | `server_waiting` | both       | server sleeps / is about to; its futex word   |
//! | `0x144` | reserved         |            | zero to `0x1000`                              |
//!
//! Then `entry_count` submission entries of 32 bytes from `0x1000`, then `entry_count`
//! completion entries of 16 bytes from `0x1000 + 32 * entry_count`; the region is
//! `0x1000 + 48 * entry_count` bytes (13 pages at most). Counter `c` names entry
//! `c & (entry_count - 1)` of its queue.
//!
//! Request (32 bytes): `id: u64` (opaque, echoed), `op: u8` (1 read, 2 write, 3 flush),
//! `flags: u8` (0), `reserved: u16` (0), `count: u32` (sectors), `first: u64` (sector, counted
//! from the start of the ring's disk or partition), `offset: u64` (byte offset in the data
//! region). Response (16 bytes): `id: u64`, `status: i32` ([`Status`]: 0 ok, negative
//! errors), `count: u32` (sectors done). Responses come in completion order; the `id` matches
//! them to requests.
//!
//! # Counters and flow control
//!
//! `head` and `tail` are free-running `u32` counters that wrap past `u32::MAX`; `tail - head`
//! (wrapping) entries are published and not consumed, never more than `entry_count`, so full
//! and empty are told apart and every entry is usable.
//!
//! - The server has at most `entry_count` requests *outstanding* (submitted, response not yet
//!   polled). The kernel takes requests in order and answers each after taking it, so when the
//!   server has polled `n` responses the oldest `n` submission entries have been read, and it
//!   may refill them. The server needs no look at `sq_head` for that; the kernel writes it for
//!   observers only.
//! - The kernel takes a request only if the completion queue has room for its response:
//!   `(cq_tail - cq_head) + in_flight <= entry_count` always holds for its own counters, so a
//!   completion never overwrites a response the server has not consumed, and the kernel never
//!   waits for the server. A server that stops consuming responses only stalls itself.
//!
//! # Memory ordering
//!
//! - **Producer** (server submitting, kernel completing): write the entries (relaxed atomic
//!   copies), then one Release store of the tail publishes the batch. The kernel stages
//!   responses with [`Kernel::complete`] and publishes them with [`Kernel::publish`].
//! - **Consumer** (kernel taking, server polling): Acquire-load the tail, copy the entries
//!   out, then one Release store of the head per batch.
//! - **Reuse:** the kernel Acquire-loads `cq_head` before writing completion entries again, so
//!   the server's reads of them happen first. A submission entry is reused only after the
//!   server has Acquire-loaded a `cq_tail` published (Release) after the kernel read that
//!   entry, which orders the kernel's read before the server's rewrite.
//! - **Sleeping** (`server_waiting`, as in `lux9_ring::doorbell`): the server stores 1, fences
//!   (SeqCst), loads `cq_tail`, and sleeps only if nothing arrived; the kernel stores `cq_tail`,
//!   fences, loads the flag and wakes the server if it was set. The kernel has no waiting flag:
//!   the server tells it about new requests with a system call.
//!
//! # Against a hostile server
//!
//! The server may write anything, at any time, anywhere in the region. So the kernel:
//! - writes the header itself when it creates the region ([`Kernel::create`]) and keeps its
//!   geometry and target privately, never reading them back;
//! - keeps its own `sq_head` and `cq_tail` privately: it stores them, never loads them;
//! - checks the server's counters on every load: `sq_tail - sq_head` (wrapping) above
//!   `entry_count` (a tail that moved back, but not behind `sq_head`, only withdraws requests
//!   not yet taken, which is harmless), or a `cq_head` that moved backwards or past the
//!   published `cq_tail`, is
//!   [`Fault::CorruptIndex`]. The endpoint is then broken (every later call is
//!   [`Fault::Broken`]) and the kernel refuses the whole ring: it tears it down, and the server
//!   hears [`Status::RingCorrupt`] ([`Fault::status`]) from its next system call on it.
//!   Requests already handed to the device still finish before the data region is released;
//! - reaches the region only through [`Memory`] (every access bounds-checked and atomic, every
//!   entry offset masked by `entry_count - 1`), so nothing reads or writes outside it;
//! - copies each request out once and validates the copy, so the server cannot change it
//!   between the check and the use. A bad request is refused with its own [`Status`] (the
//!   kernel completes it with that status and a count of 0); the ring goes on.
//!
//! Nothing in this module panics on anything the peer wrote. The server checks the kernel's
//! counters the same way (a `cq_tail` that moved backwards or past the requests outstanding is
//! a fault), though the kernel is trusted.
//!
//! # Using it
//!
//! ```
//! use lux9_blk::Extent;
//! use lux9_blk::ring::{Geometry, Kernel, Request, Response, Server, Status, Taken, Target};
//! use lux9_ring::HeapRegion;
//!
//! let geometry = Geometry::new(8).unwrap();
//! let region = HeapRegion::new(geometry.region_len());
//! let target = Target {
//!     extent: Extent::new(2048, 4096).unwrap(),
//!     sector_size: 512,
//!     region_len: 1 << 20,
//!     read_only: false,
//!     max_sectors: 256,
//! };
//! let mut kernel = Kernel::create(region.memory(), geometry, target).unwrap();
//! let mut server = Server::attach(region.memory()).unwrap();
//!
//! assert_eq!(server.submit(&[Request::read(7, 10, 8, 4096)]).unwrap(), 1);
//! let mut taken = [Taken::default(); 8];
//! assert_eq!(kernel.take(&mut taken).unwrap(), 1);
//! let checked = taken[0].verdict.unwrap();
//! assert_eq!((checked.disk_lba, checked.len_bytes), (2058, 4096));
//! // ... the device reads sectors 2058..2066 into the data region at 4096 ...
//! kernel.complete(taken[0].request.id, Status::Ok, checked.count).unwrap();
//! let wake_server = kernel.publish().unwrap();
//! assert!(!wake_server);
//!
//! let mut responses = [Response { id: 0, status: Status::Ok, count: 0 }; 8];
//! assert_eq!(server.poll(&mut responses).unwrap(), 1);
//! assert_eq!(responses[0], Response { id: 7, status: Status::Ok, count: 8 });
//! ```
//!
//! (`HeapRegion` is lux9-ring's test region; in Lux9 the memory is a `RingMemory` over the
//! mapped region.)

mod entry;
mod fault;
mod kernel;
pub mod layout;
mod server;
mod status;
mod validate;

pub use entry::{Op, Request, Response};
pub use fault::{Fault, Queue};
pub use kernel::{Kernel, Taken};
pub use layout::{Geometry, MAGIC, MAX_ENTRY_COUNT, VERSION, initialise, read_geometry};
pub use lux9_ring::Memory;
pub use server::Server;
pub use status::Status;
pub use validate::{Checked, Target, validate};
