//! The byte layout of a ring region: the header page, the slot geometry and its validation.

use core::mem::{offset_of, size_of};

use crate::error::{Direction, RingError};

/// Bytes in a page; a region is a whole number of pages.
pub const PAGE_SIZE: usize = 4096;
/// `LXR1` in the header's first four bytes (read as a little-endian `u32`).
pub const MAGIC: u32 = u32::from_le_bytes(*b"LXR1");
/// The layout version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the first request slot: the header page.
pub const HEADER_SIZE: usize = PAGE_SIZE;
/// Bytes of the length prefix at the start of each slot.
pub const LENGTH_PREFIX: usize = 4;
/// The smallest 9P message: `size[4] type[1] tag[2]`.
pub const MIN_MESSAGE: u32 = 7;
/// The smallest slot: a length prefix and a minimal message, rounded up to 8 bytes.
pub const MIN_SLOT_SIZE: u32 = 16;
/// The largest slot: 16 MiB, far above any 9P `msize` Lux9 negotiates.
pub const MAX_SLOT_SIZE: u32 = 1 << 24;
/// The most slots in one ring. Far below 2^31, which the free-running index arithmetic needs.
pub const MAX_SLOT_COUNT: u32 = 1 << 16;

/// The header page, as a C struct: this is the layout, byte by byte.
///
/// Every field is a little-endian `u32`. Index and flag fields each start a 64-byte cache line
/// of their own, so that the two sides never write the same line (no false sharing). The
/// `reserved` words are zero when the region is created and ignored by readers.
///
/// The struct documents the layout and fixes the offsets at compile time (the constants in
/// [`offset`] are taken from it). Nothing creates a `Header` or a reference to one in shared
/// memory: the peer writes these words concurrently, so they are only ever accessed one word at
/// a time, atomically, through [`crate::Memory`].
#[repr(C)]
pub struct Header {
    /// `0x000`: [`MAGIC`], `LXR1`.
    pub magic: u32,
    /// `0x004`: [`VERSION`].
    pub version: u32,
    /// `0x008`: slots in each ring, a power of two in `1..=MAX_SLOT_COUNT`.
    pub slot_count: u32,
    /// `0x00c`: bytes per slot including the 4-byte length prefix: a multiple of 8 in
    /// `MIN_SLOT_SIZE..=MAX_SLOT_SIZE`.
    pub slot_size: u32,
    /// `0x010..0x040`: zero.
    pub reserved_0: [u32; 12],
    /// `0x040`: request ring head, written by the server (its consumer).
    pub request_head: u32,
    /// `0x044..0x080`: zero.
    pub reserved_1: [u32; 15],
    /// `0x080`: request ring tail, written by the client (its producer).
    pub request_tail: u32,
    /// `0x084..0x0c0`: zero.
    pub reserved_2: [u32; 15],
    /// `0x0c0`: reply ring head, written by the client (its consumer).
    pub reply_head: u32,
    /// `0x0c4..0x100`: zero.
    pub reserved_3: [u32; 15],
    /// `0x100`: reply ring tail, written by the server (its producer).
    pub reply_tail: u32,
    /// `0x104..0x140`: zero.
    pub reserved_4: [u32; 15],
    /// `0x140`: nonzero while the server sleeps (or is about to) waiting for requests; the
    /// futex word it sleeps on.
    pub server_waiting: u32,
    /// `0x144`: how many times the server, about to sleep for requests, found them already
    /// there at the last look (the futex-style check), so it did not sleep. Written by the
    /// server alone, wrapping; the kernel reads it for `ipc_stats` (`futex_skips`).
    pub server_skips: u32,
    /// `0x148..0x180`: zero.
    pub reserved_5: [u32; 14],
    /// `0x180`: nonzero while the client sleeps (or is about to) waiting for replies; the
    /// futex word it sleeps on.
    pub client_waiting: u32,
    /// `0x184`: the same count as `server_skips` for the client waiting for replies.
    pub client_skips: u32,
    /// `0x188..0x1000`: zero, the rest of the page.
    pub reserved_6: [u32; 14 + (PAGE_SIZE - 0x1c0) / 4],
}

/// Byte offsets of the header's fields in the region, taken from [`Header`].
pub mod offset {
    use super::{Header, offset_of};

    /// `0x000`
    pub const MAGIC: usize = offset_of!(Header, magic);
    /// `0x004`
    pub const VERSION: usize = offset_of!(Header, version);
    /// `0x008`
    pub const SLOT_COUNT: usize = offset_of!(Header, slot_count);
    /// `0x00c`
    pub const SLOT_SIZE: usize = offset_of!(Header, slot_size);
    /// `0x040`
    pub const REQUEST_HEAD: usize = offset_of!(Header, request_head);
    /// `0x080`
    pub const REQUEST_TAIL: usize = offset_of!(Header, request_tail);
    /// `0x0c0`
    pub const REPLY_HEAD: usize = offset_of!(Header, reply_head);
    /// `0x100`
    pub const REPLY_TAIL: usize = offset_of!(Header, reply_tail);
    /// `0x140`
    pub const SERVER_WAITING: usize = offset_of!(Header, server_waiting);
    /// `0x180`
    pub const CLIENT_WAITING: usize = offset_of!(Header, client_waiting);
    /// `0x144`
    pub const SERVER_SKIPS: usize = offset_of!(Header, server_skips);
    /// `0x184`
    pub const CLIENT_SKIPS: usize = offset_of!(Header, client_skips);
}

const _: () = {
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(offset::MAGIC == 0x000);
    assert!(offset::VERSION == 0x004);
    assert!(offset::SLOT_COUNT == 0x008);
    assert!(offset::SLOT_SIZE == 0x00c);
    assert!(offset::REQUEST_HEAD == 0x040);
    assert!(offset::REQUEST_TAIL == 0x080);
    assert!(offset::REPLY_HEAD == 0x0c0);
    assert!(offset::REPLY_TAIL == 0x100);
    assert!(offset::SERVER_WAITING == 0x140);
    assert!(offset::CLIENT_WAITING == 0x180);
    assert!(offset::SERVER_SKIPS == 0x144);
    assert!(offset::CLIENT_SKIPS == 0x184);
};

/// Where one ring's fields live.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RingFields {
    pub(crate) direction: Direction,
    pub(crate) head: usize,
    pub(crate) tail: usize,
}

impl RingFields {
    pub(crate) const fn of(direction: Direction) -> RingFields {
        match direction {
            Direction::Requests => RingFields {
                direction,
                head: offset::REQUEST_HEAD,
                tail: offset::REQUEST_TAIL,
            },
            Direction::Replies => RingFields {
                direction,
                head: offset::REPLY_HEAD,
                tail: offset::REPLY_TAIL,
            },
        }
    }
}

/// The shape of a region: how many slots each ring has and how big they are.
///
/// A `Geometry` is always valid: the constructors check it. Endpoints read it from the header
/// once, when they attach, and never again, so a peer that rewrites the header later changes
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    slot_count: u32,
    slot_size: u32,
}

impl Geometry {
    /// `slot_count` slots of `slot_size` bytes (length prefix included) in each ring.
    pub const fn new(slot_count: u32, slot_size: u32) -> Result<Geometry, RingError> {
        let invalid = RingError::InvalidGeometry {
            slot_count,
            slot_size,
        };
        if !slot_count.is_power_of_two() || slot_count > MAX_SLOT_COUNT {
            return Err(invalid);
        }
        if !slot_size.is_multiple_of(8) || slot_size < MIN_SLOT_SIZE || slot_size > MAX_SLOT_SIZE {
            return Err(invalid);
        }
        // Both rings' slots after the header page, in u64 so that no product overflows.
        let len = HEADER_SIZE as u64 + 2 * slot_count as u64 * slot_size as u64;
        if len > u32::MAX as u64 {
            return Err(invalid);
        }
        Ok(Geometry {
            slot_count,
            slot_size,
        })
    }

    /// `slot_count` slots that each hold a message of up to `max_message` bytes (a 9P
    /// `msize`): the slot size is `max_message + 4` rounded up to a multiple of 8.
    pub const fn for_message_size(
        slot_count: u32,
        max_message: u32,
    ) -> Result<Geometry, RingError> {
        let invalid = RingError::InvalidGeometry {
            slot_count,
            slot_size: max_message,
        };
        if max_message < MIN_MESSAGE || max_message > MAX_SLOT_SIZE - LENGTH_PREFIX as u32 {
            return Err(invalid);
        }
        let slot_size = (max_message + LENGTH_PREFIX as u32).next_multiple_of(8);
        Geometry::new(slot_count, slot_size)
    }

    /// The most slots per ring (a power of two) for messages of up to `max_message` bytes in
    /// a region of `pages` pages: what `create_shared_ring(peer, pages)` lays out. For example
    /// 66 pages and an `msize` of 8192 give 16 slots of 8200 bytes.
    pub const fn fit(pages: usize, max_message: u32) -> Result<Geometry, RingError> {
        let smallest = match Geometry::for_message_size(1, max_message) {
            Ok(geometry) => geometry,
            Err(error) => return Err(error),
        };
        let slot_bytes = pages.saturating_sub(1).saturating_mul(PAGE_SIZE);
        // Slots that fit in each ring, capped; then rounded down to a power of two.
        let per_ring = slot_bytes / 2 / smallest.slot_size as usize;
        if per_ring == 0 {
            return Err(RingError::RegionTooSmall {
                needed: smallest.region_len(),
                available: pages.saturating_mul(PAGE_SIZE),
            });
        }
        let capped = if per_ring > MAX_SLOT_COUNT as usize {
            MAX_SLOT_COUNT
        } else {
            per_ring as u32
        };
        let slot_count = 1 << (31 - capped.leading_zeros());
        // The largest power of two whose region still fits in u32 (it always does for a
        // region that fits in memory, but halving keeps this total).
        let mut count = slot_count;
        loop {
            match Geometry::new(count, smallest.slot_size) {
                Ok(geometry) => return Ok(geometry),
                Err(error) if count == 1 => return Err(error),
                Err(_) => count /= 2,
            }
        }
    }

    /// Slots in each ring.
    pub const fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Bytes per slot, length prefix included.
    pub const fn slot_size(&self) -> u32 {
        self.slot_size
    }

    /// The longest message a slot holds.
    pub const fn max_message(&self) -> u32 {
        self.slot_size - LENGTH_PREFIX as u32
    }

    /// Bytes the region needs: the header page and both rings' slots.
    pub const fn region_len(&self) -> usize {
        HEADER_SIZE + 2 * self.slot_count as usize * self.slot_size as usize
    }

    /// Pages the region needs.
    pub const fn pages(&self) -> usize {
        self.region_len().div_ceil(PAGE_SIZE)
    }

    /// Offset of a ring's first slot: the request slots follow the header, the reply slots
    /// follow the request slots.
    pub const fn slots_offset(&self, direction: Direction) -> usize {
        match direction {
            Direction::Requests => HEADER_SIZE,
            Direction::Replies => HEADER_SIZE + self.slot_count as usize * self.slot_size as usize,
        }
    }

    /// Offset of the slot that free-running `counter` names in a ring:
    /// `counter & (slot_count - 1)` is the slot's index.
    pub const fn slot_offset(&self, direction: Direction, counter: u32) -> usize {
        let index = counter & (self.slot_count - 1);
        self.slots_offset(direction) + index as usize * self.slot_size as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_rejects_bad_shapes() {
        for (count, size) in [
            (0, 16),
            (3, 16),
            (MAX_SLOT_COUNT * 2, 16),
            (u32::MAX, 16),
            (4, 0),
            (4, 8),
            (4, 12),
            (4, 20),
            (4, 17),
            (4, MAX_SLOT_SIZE + 8),
            (MAX_SLOT_COUNT, MAX_SLOT_SIZE),
        ] {
            assert!(
                matches!(
                    Geometry::new(count, size),
                    Err(RingError::InvalidGeometry { .. })
                ),
                "{count} x {size}"
            );
        }
        let geometry = Geometry::new(8, 64).unwrap();
        assert_eq!(geometry.region_len(), 4096 + 2 * 8 * 64);
        assert_eq!(geometry.max_message(), 60);
        assert_eq!(geometry.pages(), 2);
        assert_eq!(geometry.slots_offset(Direction::Requests), 4096);
        assert_eq!(geometry.slots_offset(Direction::Replies), 4096 + 8 * 64);
    }

    #[test]
    fn message_size_rounds_slot_up_to_eight() {
        let geometry = Geometry::for_message_size(16, 8192).unwrap();
        assert_eq!(geometry.slot_size(), 8200);
        assert_eq!(geometry.max_message(), 8196);
        assert_eq!(Geometry::for_message_size(1, 7).unwrap().slot_size(), 16);
        assert_eq!(Geometry::for_message_size(1, 13).unwrap().slot_size(), 24);
        assert!(Geometry::for_message_size(1, 6).is_err());
        assert!(Geometry::for_message_size(1, u32::MAX).is_err());
    }

    #[test]
    fn fit_picks_the_largest_power_of_two() {
        // msize 8192: 8200-byte slots. 66 pages = 65 pages of slots = 266,240 bytes, 16 per
        // ring need 262,400.
        let geometry = Geometry::fit(66, 8192).unwrap();
        assert_eq!((geometry.slot_count(), geometry.slot_size()), (16, 8200));
        assert!(geometry.region_len() <= 66 * PAGE_SIZE);
        // One byte short of 16 per ring: 8.
        assert_eq!(Geometry::fit(65, 8192).unwrap().slot_count(), 8);
        // Small messages: 2 pages hold 4096 / 2 / 72 = 28 -> 16 slots of 72 bytes.
        let small = Geometry::fit(2, 68).unwrap();
        assert_eq!((small.slot_count(), small.slot_size()), (16, 72));
        // Capped at MAX_SLOT_COUNT.
        assert_eq!(Geometry::fit(1 << 12, 7).unwrap().slot_count(), 1 << 16);
        for pages in 0..=2 {
            assert!(matches!(
                Geometry::fit(pages, 8192),
                Err(RingError::RegionTooSmall { .. })
            ));
        }
        assert!(Geometry::fit(usize::MAX, 8192).is_ok());
        for pages in 1..200 {
            if let Ok(geometry) = Geometry::fit(pages, 1000) {
                assert!(geometry.region_len() <= pages * PAGE_SIZE);
                assert!(
                    Geometry::new(geometry.slot_count() * 2, geometry.slot_size())
                        .map_or(true, |bigger| bigger.region_len() > pages * PAGE_SIZE)
                );
            }
        }
    }

    #[test]
    fn slot_offsets_mask_the_counter() {
        let geometry = Geometry::new(4, 32).unwrap();
        let requests = Direction::Requests;
        assert_eq!(geometry.slot_offset(requests, 0), 4096);
        assert_eq!(geometry.slot_offset(requests, 5), 4096 + 32);
        assert_eq!(geometry.slot_offset(requests, u32::MAX), 4096 + 3 * 32);
        assert_eq!(
            geometry.slot_offset(Direction::Replies, u32::MAX),
            4096 + 7 * 32
        );
        // Every counter lands in its own ring's slots.
        for counter in [0, 1, 3, 4, u32::MAX - 1, u32::MAX, 1 << 31] {
            for direction in [Direction::Requests, Direction::Replies] {
                let slot = geometry.slot_offset(direction, counter);
                let start = geometry.slots_offset(direction);
                assert!(slot >= start && slot + 32 <= start + 4 * 32);
            }
        }
    }
}
