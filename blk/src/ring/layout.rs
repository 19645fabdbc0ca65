//! The byte layout of a block ring region: the header page, the two entry arrays, and writing
//! and checking the header.

use core::mem::{offset_of, size_of};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use lux9_ring::{Memory, PAGE_SIZE};

use super::fault::Fault;

/// `LXB1` in the header's first four bytes (read as a little-endian `u32`).
pub const MAGIC: u32 = u32::from_le_bytes(*b"LXB1");
/// The layout version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the first submission entry: the header page.
pub const HEADER_SIZE: usize = PAGE_SIZE;
/// The most entries in each queue. Far below 2^31, which the free-running counters need.
pub const MAX_ENTRY_COUNT: u32 = 1024;
/// Bytes of one submission entry ([`super::Request`]).
pub const REQUEST_SIZE: usize = 32;
/// Bytes of one completion entry ([`super::Response`]).
pub const RESPONSE_SIZE: usize = 16;

/// The header page, as a C struct: this is the layout, byte by byte.
///
/// Every field is a little-endian `u32`. Each counter and the flag start a 64-byte cache line
/// of their own, so that the kernel and the server never write the same line. The `reserved`
/// words are zero when the region is created and ignored by readers.
///
/// Like `lux9_ring::layout::Header`, the struct only documents the layout and fixes the offsets
/// at compile time ([`offset`]); nothing creates one or a reference to one in shared memory.
#[repr(C)]
pub struct Header {
    /// `0x000`: [`MAGIC`], `LXB1`.
    pub magic: u32,
    /// `0x004`: [`VERSION`].
    pub version: u32,
    /// `0x008`: entries in each queue, a power of two in `1..=MAX_ENTRY_COUNT`.
    pub entry_count: u32,
    /// `0x00c..0x040`: zero.
    pub reserved_0: [u32; 13],
    /// `0x040`: submission queue head, written by the kernel (its consumer).
    pub sq_head: u32,
    /// `0x044..0x080`: zero.
    pub reserved_1: [u32; 15],
    /// `0x080`: submission queue tail, written by the server (its producer).
    pub sq_tail: u32,
    /// `0x084..0x0c0`: zero.
    pub reserved_2: [u32; 15],
    /// `0x0c0`: completion queue head, written by the server (its consumer).
    pub cq_head: u32,
    /// `0x0c4..0x100`: zero.
    pub reserved_3: [u32; 15],
    /// `0x100`: completion queue tail, written by the kernel (its producer).
    pub cq_tail: u32,
    /// `0x104..0x140`: zero.
    pub reserved_4: [u32; 15],
    /// `0x140`: nonzero while the server sleeps (or is about to) waiting for responses; the
    /// futex word it sleeps on.
    pub server_waiting: u32,
    /// `0x144..0x1000`: zero, the rest of the page.
    pub reserved_5: [u32; (PAGE_SIZE - 0x144) / 4],
}

/// Byte offsets of the header's fields in the region, taken from [`Header`].
pub mod offset {
    use super::{Header, offset_of};

    /// `0x000`
    pub const MAGIC: usize = offset_of!(Header, magic);
    /// `0x004`
    pub const VERSION: usize = offset_of!(Header, version);
    /// `0x008`
    pub const ENTRY_COUNT: usize = offset_of!(Header, entry_count);
    /// `0x040`
    pub const SQ_HEAD: usize = offset_of!(Header, sq_head);
    /// `0x080`
    pub const SQ_TAIL: usize = offset_of!(Header, sq_tail);
    /// `0x0c0`
    pub const CQ_HEAD: usize = offset_of!(Header, cq_head);
    /// `0x100`
    pub const CQ_TAIL: usize = offset_of!(Header, cq_tail);
    /// `0x140`
    pub const SERVER_WAITING: usize = offset_of!(Header, server_waiting);
}

const _: () = {
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(offset::MAGIC == 0x000);
    assert!(offset::VERSION == 0x004);
    assert!(offset::ENTRY_COUNT == 0x008);
    assert!(offset::SQ_HEAD == 0x040);
    assert!(offset::SQ_TAIL == 0x080);
    assert!(offset::CQ_HEAD == 0x0c0);
    assert!(offset::CQ_TAIL == 0x100);
    assert!(offset::SERVER_WAITING == 0x140);
};

/// The shape of a block ring region: how many entries each queue has.
///
/// A `Geometry` is always valid (the constructor checks it). The kernel keeps the one it
/// created the region with and never reads the header's copy back; the server reads it once,
/// when it attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    entry_count: u32,
}

impl Geometry {
    /// `entry_count` entries in each queue: `None` unless a power of two in
    /// `1..=MAX_ENTRY_COUNT`.
    pub const fn new(entry_count: u32) -> Option<Geometry> {
        if entry_count.is_power_of_two() && entry_count <= MAX_ENTRY_COUNT {
            Some(Geometry { entry_count })
        } else {
            None
        }
    }

    /// Entries in each queue.
    pub const fn entry_count(&self) -> u32 {
        self.entry_count
    }

    /// Offset of the first submission entry: just after the header page.
    pub const fn requests_offset(&self) -> usize {
        HEADER_SIZE
    }

    /// Offset of the first completion entry: just after the submission entries.
    pub const fn responses_offset(&self) -> usize {
        HEADER_SIZE + self.entry_count as usize * REQUEST_SIZE
    }

    /// Bytes the region needs: the header page and both queues' entries.
    pub const fn region_len(&self) -> usize {
        self.responses_offset() + self.entry_count as usize * RESPONSE_SIZE
    }

    /// Pages the region needs.
    pub const fn pages(&self) -> usize {
        self.region_len().div_ceil(PAGE_SIZE)
    }

    /// Offset of the submission entry that free-running `counter` names:
    /// `counter & (entry_count - 1)` is its index.
    pub const fn request_offset(&self, counter: u32) -> usize {
        self.requests_offset() + self.index(counter) * REQUEST_SIZE
    }

    /// Offset of the completion entry that free-running `counter` names.
    pub const fn response_offset(&self, counter: u32) -> usize {
        self.responses_offset() + self.index(counter) * RESPONSE_SIZE
    }

    const fn index(&self, counter: u32) -> usize {
        (counter & (self.entry_count - 1)) as usize
    }
}

/// Whether free-running `value` lies in the window `low..=high` once wrap-around is undone.
/// The window must be shorter than 2^31, which `MAX_ENTRY_COUNT` guarantees.
pub(crate) const fn in_window(low: u32, value: u32, high: u32) -> bool {
    value.wrapping_sub(low) <= high.wrapping_sub(low)
}

/// Checks that `memory` holds the whole region for `geometry`.
pub(crate) fn check_len<M: Memory + ?Sized>(memory: &M, geometry: Geometry) -> Result<(), Fault> {
    if memory.len() < geometry.region_len() {
        return Err(Fault::RegionTooSmall {
            needed: geometry.region_len(),
            available: memory.len(),
        });
    }
    Ok(())
}

/// Writes a fresh header for `geometry` with every counter at `start` and the flag clear.
/// The kernel does this when it creates the region ([`super::Kernel::create`]), before the
/// server can map it; the entries are expected to be zeroed frames. Any start works: tests use
/// ones near `u32::MAX` to cross the wrap-around early.
pub fn initialise<M: Memory + ?Sized>(
    memory: &M,
    geometry: Geometry,
    start: u32,
) -> Result<(), Fault> {
    check_len(memory, geometry)?;
    // The magic goes last, with Release: a reader that sees it (Acquire) sees the rest.
    memory.store_u32(offset::MAGIC, 0, Relaxed)?;
    for field in [
        offset::SQ_HEAD,
        offset::SQ_TAIL,
        offset::CQ_HEAD,
        offset::CQ_TAIL,
    ] {
        memory.store_u32(field, start, Relaxed)?;
    }
    memory.store_u32(offset::SERVER_WAITING, 0, Relaxed)?;
    memory.store_u32(offset::VERSION, VERSION, Relaxed)?;
    memory.store_u32(offset::ENTRY_COUNT, geometry.entry_count(), Relaxed)?;
    memory.store_u32(offset::MAGIC, MAGIC, Release)?;
    Ok(())
}

/// Reads and checks the header: magic, version, entry count, and a region long enough for it.
/// What the server does when it attaches; the result is then its private copy.
pub fn read_geometry<M: Memory + ?Sized>(memory: &M) -> Result<Geometry, Fault> {
    if memory.len() < HEADER_SIZE {
        return Err(Fault::RegionTooSmall {
            needed: HEADER_SIZE,
            available: memory.len(),
        });
    }
    let magic = memory.load_u32(offset::MAGIC, Acquire)?;
    if magic != MAGIC {
        return Err(Fault::BadMagic { found: magic });
    }
    let version = memory.load_u32(offset::VERSION, Relaxed)?;
    if version != VERSION {
        return Err(Fault::BadVersion { found: version });
    }
    let found = memory.load_u32(offset::ENTRY_COUNT, Relaxed)?;
    let geometry = Geometry::new(found).ok_or(Fault::BadEntryCount { found })?;
    check_len(memory, geometry)?;
    Ok(geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_accepts_powers_of_two_up_to_the_limit() {
        for count in [0, 3, 6, 1000, 1025, 2048, u32::MAX] {
            assert_eq!(Geometry::new(count), None, "{count}");
        }
        for shift in 0..=10 {
            let geometry = Geometry::new(1 << shift).unwrap();
            assert_eq!(geometry.entry_count(), 1 << shift);
        }
    }

    #[test]
    fn entries_follow_the_header() {
        let geometry = Geometry::new(8).unwrap();
        assert_eq!(geometry.requests_offset(), 0x1000);
        assert_eq!(geometry.responses_offset(), 0x1000 + 8 * 32);
        assert_eq!(geometry.region_len(), 0x1000 + 8 * 48);
        assert_eq!(geometry.pages(), 2);
        let largest = Geometry::new(MAX_ENTRY_COUNT).unwrap();
        assert_eq!(largest.region_len(), 0x1000 + 1024 * 48);
        assert_eq!(largest.pages(), 13);
        assert_eq!(Geometry::new(1).unwrap().region_len(), 0x1000 + 48);
    }

    #[test]
    fn entry_offsets_mask_the_counter() {
        let geometry = Geometry::new(4).unwrap();
        assert_eq!(geometry.request_offset(0), 0x1000);
        assert_eq!(geometry.request_offset(5), 0x1000 + 32);
        assert_eq!(geometry.request_offset(u32::MAX), 0x1000 + 3 * 32);
        assert_eq!(geometry.response_offset(0), 0x1000 + 4 * 32);
        assert_eq!(geometry.response_offset(u32::MAX), 0x1000 + 4 * 32 + 3 * 16);
        for counter in [0, 1, 3, 4, 1 << 31, u32::MAX - 1, u32::MAX] {
            let request = geometry.request_offset(counter);
            assert!(request >= geometry.requests_offset());
            assert!(request + REQUEST_SIZE <= geometry.responses_offset());
            let response = geometry.response_offset(counter);
            assert!(response >= geometry.responses_offset());
            assert!(response + RESPONSE_SIZE <= geometry.region_len());
        }
    }

    #[test]
    fn window_handles_wrap_around() {
        assert!(in_window(10, 10, 10));
        assert!(in_window(10, 12, 14));
        assert!(!in_window(10, 9, 14));
        assert!(!in_window(10, 15, 14));
        assert!(in_window(u32::MAX - 2, 0, 1));
        assert!(!in_window(u32::MAX - 2, 2, 1));
    }
}
