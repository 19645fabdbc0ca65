//! Creating a region's header, reading it back with validation, and the kernel's view of the
//! counters.

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::error::{Direction, RingError};
use crate::layout::{Geometry, HEADER_SIZE, MAGIC, RingFields, VERSION, offset};
use crate::memory::Memory;
use crate::ring::RingIndices;

/// Writes a fresh header for `geometry` with every counter at 0 and both flags clear. Done
/// once by the region's creator (the kernel, in `create_shared_ring`), before either endpoint
/// attaches; the rest of the region is expected to be zeroed frames.
///
/// `memory` may be the header page alone: the creator maps `geometry.pages()` pages, and each
/// endpoint checks on attaching that its mapping covers them.
pub fn initialise<M: Memory + ?Sized>(memory: &M, geometry: Geometry) -> Result<(), RingError> {
    initialise_with_counters(memory, geometry, 0)
}

/// [`initialise`] with every counter starting at `start` instead of 0. Any start works; tests
/// use ones near `u32::MAX` to cross the wrap-around early.
pub fn initialise_with_counters<M: Memory + ?Sized>(
    memory: &M,
    geometry: Geometry,
    start: u32,
) -> Result<(), RingError> {
    if memory.len() < HEADER_SIZE {
        return Err(RingError::RegionTooSmall {
            needed: HEADER_SIZE,
            available: memory.len(),
        });
    }
    // The magic goes last, with Release: a reader that sees it (Acquire) sees the rest.
    memory.store_u32(offset::MAGIC, 0, Relaxed)?;
    for field in [
        offset::REQUEST_HEAD,
        offset::REQUEST_TAIL,
        offset::REPLY_HEAD,
        offset::REPLY_TAIL,
    ] {
        memory.store_u32(field, start, Relaxed)?;
    }
    memory.store_u32(offset::SERVER_WAITING, 0, Relaxed)?;
    memory.store_u32(offset::CLIENT_WAITING, 0, Relaxed)?;
    memory.store_u32(offset::VERSION, VERSION, Relaxed)?;
    memory.store_u32(offset::SLOT_COUNT, geometry.slot_count(), Relaxed)?;
    memory.store_u32(offset::SLOT_SIZE, geometry.slot_size(), Relaxed)?;
    memory.store_u32(offset::MAGIC, MAGIC, Release)
}

/// Reads and validates the header: magic, version, a valid geometry, and a region long enough
/// for it. What an endpoint does when it attaches; the result is then its private copy.
pub fn read_geometry<M: Memory + ?Sized>(memory: &M) -> Result<Geometry, RingError> {
    if memory.len() < HEADER_SIZE {
        return Err(RingError::RegionTooSmall {
            needed: HEADER_SIZE,
            available: memory.len(),
        });
    }
    let magic = memory.load_u32(offset::MAGIC, Acquire)?;
    if magic != MAGIC {
        return Err(RingError::BadMagic { found: magic });
    }
    let version = memory.load_u32(offset::VERSION, Relaxed)?;
    if version != VERSION {
        return Err(RingError::BadVersion { found: version });
    }
    let geometry = Geometry::new(
        memory.load_u32(offset::SLOT_COUNT, Relaxed)?,
        memory.load_u32(offset::SLOT_SIZE, Relaxed)?,
    )?;
    if memory.len() < geometry.region_len() {
        return Err(RingError::RegionTooSmall {
            needed: geometry.region_len(),
            available: memory.len(),
        });
    }
    Ok(geometry)
}

/// Both rings' counters, as the kernel observes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedCounts {
    /// The request ring.
    pub requests: RingIndices,
    /// The reply ring.
    pub replies: RingIndices,
    /// The sleeps each side skipped because the work was already there (the header's
    /// `client_skips` and `server_skips`, wrapping counters): (client, server).
    pub skips: (u32, u32),
}

/// Reads both rings' counters for statistics (the kernel's `zero_copy_transfers`), checking
/// each pair against `geometry`, which must be the caller's own record (the kernel's, from
/// `create_shared_ring`), never one read back from the header. `memory` may be the header page
/// alone. An impossible pair is [`RingError::CorruptIndex`]; a hostile side can still inflate
/// the counts within the valid range, so use them for statistics only.
///
/// The loads are Relaxed: the kernel reads no slot, so it needs no ordering with the slots.
pub fn observed_counts<M: Memory + ?Sized>(
    memory: &M,
    geometry: Geometry,
) -> Result<ObservedCounts, RingError> {
    let read = |direction| -> Result<RingIndices, RingError> {
        let fields = RingFields::of(direction);
        let indices = RingIndices {
            head: memory.load_u32(fields.head, Relaxed)?,
            tail: memory.load_u32(fields.tail, Relaxed)?,
        };
        if indices.is_valid(geometry.slot_count()) {
            Ok(indices)
        } else {
            Err(RingError::CorruptIndex {
                ring: direction,
                head: indices.head,
                tail: indices.tail,
            })
        }
    };
    Ok(ObservedCounts {
        requests: read(Direction::Requests)?,
        replies: read(Direction::Replies)?,
        skips: (
            memory.load_u32(crate::layout::offset::CLIENT_SKIPS, Relaxed)?,
            memory.load_u32(crate::layout::offset::SERVER_SKIPS, Relaxed)?,
        ),
    })
}
