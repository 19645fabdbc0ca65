//! lux9-ring: the shared-memory ring protocol between a 9P client and a 9P server.
//!
//! A *ring region* is `pages * 4096` bytes of shared memory. The kernel's
//! `create_shared_ring(peer, pages)` maps the same frames into the client's and the server's
//! address spaces (at different addresses) and writes the header. The region holds two rings
//! of fixed-size slots: requests (client to server) and replies (server to client). Each slot
//! holds one whole 9P message. The kernel never copies ring data; it reads the header's
//! counters to count transfers ([`observed_counts`]).
//!
//! This crate is the protocol: the layout ([`layout`], [`Geometry`]), the index arithmetic
//! ([`RingIndices`]), entry encoding and validation, and the endpoints ([`Client`],
//! [`Server`]). It is `no_std` without `alloc` and host-tested; docs/rings.md says the same
//! for readers of docs/.
//!
//! # Layout
//!
//! All words are little-endian `u32`s. Page 0 is the header ([`layout::Header`], a
//! `#[repr(C)]` struct whose offsets are checked at compile time):
//!
//! | offset  | field            | written by | meaning                                       |
//! |---------|------------------|------------|-----------------------------------------------|
//! | `0x000` | `magic`          | creator    | `LXR1` ([`MAGIC`])                            |
//! | `0x004` | `version`        | creator    | 1 ([`VERSION`])                               |
//! | `0x008` | `slot_count`     | creator    | slots per ring, a power of two, at most 65536 |
//! | `0x00c` | `slot_size`      | creator    | bytes per slot incl. the 4-byte length prefix, multiple of 8, 16 to 16 MiB |
//! | `0x010` | reserved         |            | zero to `0x040`                               |
//! | `0x040` | `request_head`   | server     | request ring head (own 64-byte line)          |
//! | `0x080` | `request_tail`   | client     | request ring tail (own line)                  |
//! | `0x0c0` | `reply_head`     | client     | reply ring head (own line)                    |
//! | `0x100` | `reply_tail`     | server     | reply ring tail (own line)                    |
//! | `0x140` | `server_waiting` | both       | server sleeps / is about to; its futex word   |
//! | `0x180` | `client_waiting` | both       | client sleeps / is about to; its futex word   |
//! | `0x184` | reserved         |            | zero to `0x1000`                              |
//!
//! Then the request slots from `0x1000`, then the reply slots from
//! `0x1000 + slot_count * slot_size`: slot `i` of a ring starts `i * slot_size` bytes after
//! the ring's first. A slot is a `u32` length `n` followed by `n` bytes, one 9P message
//! (whose own `size[4]` field is also `n`); the rest of the slot is unused. [`Geometry::fit`]
//! picks the largest power-of-two slot count for a page count and a maximum message size
//! (`msize`): slot size `msize + 4` rounded up to 8, so 66 pages and an `msize` of 8192 give
//! 16 slots of 8200 bytes per ring.
//!
//! **Fixed slots, not variable-length entries.** A slot holds one message of up to
//! `slot_size - 4` bytes. Slots cost space when messages are small, and in exchange the index
//! arithmetic stays trivial (no wrap-around entries, no padding records, no second cursor), a
//! corrupt length can never move a cursor, every slot offset is computed from a counter
//! masked by `slot_count - 1` and so lies inside the region whatever the peer writes, and one
//! slot count bounds both occupancy and outstanding requests.
//!
//! # Counters
//!
//! `head` and `tail` are free-running `u32` counters that wrap past `u32::MAX`. Entries
//! `head..tail` are published and not yet consumed; occupancy is `tail.wrapping_sub(head)`,
//! never more than `slot_count`; counter `c` names slot `c & (slot_count - 1)`. Full and empty
//! are told apart by occupancy (`slot_count` vs 0), so every slot is usable.
//!
//! # Memory ordering
//!
//! - **Producer:** Acquire-load the consumer's head to count free slots; write the slots
//!   (relaxed atomic copies); then one Release store of the new tail publishes the whole batch.
//! - **Consumer:** Acquire-load the tail (only when everything seen before is consumed); copy
//!   each entry out; Release-store the head after each.
//! - **Why:** the tail's Release store and the consumer's Acquire load make every slot write
//!   before the store visible to the consumer once it sees the new tail (read-after-write). The
//!   head's Release store and the producer's Acquire load make the consumer's reads of a slot
//!   happen before the producer's next write to it (write-after-read): without them the
//!   compiler (or a weaker CPU than x86) could move a slot read after the head store and read
//!   a message being overwritten.
//! - **Sleeping** (the waiting flags): store flag, SeqCst fence, load tail against store tail,
//!   SeqCst fence, load flag; see [`doorbell`] for why no wake-up is lost.
//! - **The kernel** loads counters Relaxed; it reads no slot.
//!
//! The honest side's safety does not depend on the peer following these orders: a peer that
//! breaks them only garbles its own messages, which validation then rejects.
//!
//! # Validation against a hostile peer
//!
//! The peer may write anything, at any time, anywhere in the region. So:
//! - no Rust reference to plain data in the region is ever formed; every access is atomic and
//!   bounds-checked ([`Memory`], [`RingMemory`]), and every slot offset is masked;
//! - each endpoint reads the header once, when it attaches ([`read_geometry`]: magic, version,
//!   slot count a power of two, slot size a multiple of 8 in range, region long enough), and
//!   keeps its own counters privately, never reading them back;
//! - the peer's counter is checked on every load: a tail may only move forward, at most
//!   `slot_count` past our head; a head may only move forward, up to our tail. Anything else is
//!   [`RingError::CorruptIndex`], and the endpoint is broken from then on (the owner tears the
//!   ring down);
//! - an entry is copied into the caller's buffer before it is checked, so the peer cannot
//!   change it between check and use. A length prefix below 7 (the smallest 9P message) or
//!   above `slot_size - 4` is [`RingError::BadLength`]; a copy whose 9P `size[4]` is not the
//!   prefix is [`RingError::SizeMismatch`]; a reply with no request outstanding is
//!   [`RingError::UnsolicitedReply`]. Each is consumed, and the ring goes on;
//! - errors are values: nothing in this crate panics on anything the peer wrote.
//!
//! # Using it
//!
//! ```
//! use lux9_ring::{Client, Geometry, HeapRegion, Server, initialise};
//!
//! let geometry = Geometry::fit(3, 256).unwrap();
//! let region = HeapRegion::new(geometry.region_len());
//! initialise(&region.memory(), geometry).unwrap();
//! let mut client = Client::attach(region.memory()).unwrap();
//! let mut server = Server::attach(region.memory()).unwrap();
//!
//! let tversion = [19, 0, 0, 0, 100, 0xff, 0xff, 0, 32, 0, 0, 6, 0, b'9', b'P', b'2', b'0', b'0', b'0'];
//! assert_eq!(client.submit([&tversion[..]]).unwrap(), 1);
//! if client.peer_waiting().unwrap() { /* notify the server */ }
//!
//! let mut request = [0; 256];
//! let len = server.next_request(&mut request).unwrap().unwrap();
//! assert_eq!(&request[..len], &tversion[..]);
//! ```
//!
//! (`HeapRegion` needs the `alloc` feature; in Lux9 the memory is a [`RingMemory`] over the
//! mapped region.)
//!
//! All `unsafe` code is in the `memory` module.
#![cfg_attr(not(test), no_std)]

mod client;
pub mod doorbell;
mod error;
pub mod layout;
#[allow(
    unsafe_code,
    reason = "the shared region as atomics and byte copies behind the safe Memory trait"
)]
mod memory;
mod region;
mod ring;
mod server;

pub use client::Client;
pub use error::{Direction, RingError};
pub use layout::{Geometry, MAGIC, PAGE_SIZE, VERSION};
#[cfg(any(test, feature = "alloc"))]
pub use memory::HeapRegion;
#[cfg(target_arch = "x86_64")]
pub use memory::copy_shared;
pub use memory::{Memory, RingMemory};
pub use region::{
    ObservedCounts, initialise, initialise_with_counters, observed_counts, read_geometry,
};
pub use ring::RingIndices;
pub use server::Server;
