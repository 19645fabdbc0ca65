//! One ring's index arithmetic and its two halves: the producer fills slots and publishes the
//! tail, the consumer empties them and publishes the head.
//!
//! Each half keeps its own index in private memory and never reads it back from the region: a
//! peer that overwrites it misleads only itself. The peer's index is re-read and checked
//! against the private one every time it is used.

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::error::{Direction, RingError};
use crate::layout::{Geometry, LENGTH_PREFIX, MIN_MESSAGE, RingFields};
use crate::memory::Memory;

/// A ring's two free-running counters as read from the header.
///
/// `tail - head` (wrapping) entries are published and not yet consumed; counter `c` names slot
/// `c & (slot_count - 1)`. Both only ever grow (wrapping past `u32::MAX` to 0), the tail by the
/// producer, the head by the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingIndices {
    /// The next counter the consumer will read.
    pub head: u32,
    /// The next counter the producer will fill.
    pub tail: u32,
}

impl RingIndices {
    /// Entries published and not yet consumed: `tail - head`, wrapping.
    pub const fn occupancy(&self) -> u32 {
        self.tail.wrapping_sub(self.head)
    }

    /// Whether an honest pair of sides could have produced these counters: at most
    /// `slot_count` entries outstanding.
    pub const fn is_valid(&self, slot_count: u32) -> bool {
        self.occupancy() <= slot_count
    }

    /// Entries published since `earlier` was read (wrapping): what the kernel counts as
    /// transfers. A hostile side can inflate it; use it for statistics only.
    pub const fn published_since(&self, earlier: RingIndices) -> u32 {
        self.tail.wrapping_sub(earlier.tail)
    }
}

/// Whether free-running `value` lies in the window `low..=high` (also free-running), that is,
/// whether it is at least `low` and at most `high` once wrap-around is undone. The window must be
/// shorter than 2^31, which `MAX_SLOT_COUNT` guarantees.
pub(crate) const fn in_window(low: u32, value: u32, high: u32) -> bool {
    value.wrapping_sub(low) <= high.wrapping_sub(low)
}

/// Checks that `message` is a 9P message that fits a slot: 7 to `max_message` bytes, with its
/// own `size[4]` field equal to its length.
pub(crate) fn check_message(message: &[u8], geometry: &Geometry) -> Result<u32, RingError> {
    let invalid = RingError::InvalidMessage {
        len: message.len(),
        max: geometry.max_message(),
    };
    let len = u32::try_from(message.len()).map_err(|_| invalid)?;
    if len < MIN_MESSAGE || len > geometry.max_message() {
        return Err(invalid);
    }
    match message.first_chunk::<4>() {
        Some(size) if u32::from_le_bytes(*size) == len => Ok(len),
        _ => Err(invalid),
    }
}

/// The producing half of one ring.
#[derive(Debug)]
pub(crate) struct Producer {
    fields: RingFields,
    geometry: Geometry,
    /// Our tail: the next counter to fill. The region's copy is written, never read.
    tail: u32,
    /// The consumer's head as last checked; it may only move forward, up to our tail.
    head_seen: u32,
}

impl Producer {
    /// Takes over the producing side of `direction`'s ring, starting from the counters in the
    /// region (as `initialise` left them).
    pub(crate) fn attach<M: Memory + ?Sized>(
        memory: &M,
        geometry: Geometry,
        direction: Direction,
    ) -> Result<Producer, RingError> {
        let fields = RingFields::of(direction);
        let tail = memory.load_u32(fields.tail, Relaxed)?;
        let head = memory.load_u32(fields.head, Acquire)?;
        if !(RingIndices { head, tail }).is_valid(geometry.slot_count()) {
            return Err(RingError::CorruptIndex {
                ring: direction,
                head,
                tail,
            });
        }
        Ok(Producer {
            fields,
            geometry,
            tail,
            head_seen: head,
        })
    }

    /// Our tail: every counter below it is published.
    pub(crate) fn tail(&self) -> u32 {
        self.tail
    }

    /// Slots free to fill. Acquire-loads the consumer's head: the consumer's reads of the slots
    /// it freed happen before our writes to them.
    pub(crate) fn free_slots<M: Memory + ?Sized>(&mut self, memory: &M) -> Result<u32, RingError> {
        let head = memory.load_u32(self.fields.head, Acquire)?;
        if !in_window(self.head_seen, head, self.tail) {
            return Err(RingError::CorruptIndex {
                ring: self.fields.direction,
                head,
                tail: self.tail,
            });
        }
        self.head_seen = head;
        Ok(self.geometry.slot_count() - self.tail.wrapping_sub(head))
    }

    /// Fills up to `limit` free slots from `messages` in order and publishes them all with one
    /// Release store of the tail. Returns how many were published; messages after those are
    /// not taken from the iterator. If a message is invalid, nothing is published.
    pub(crate) fn send<'m, M: Memory + ?Sized>(
        &mut self,
        memory: &M,
        messages: impl IntoIterator<Item = &'m [u8]>,
        limit: u32,
    ) -> Result<usize, RingError> {
        let free = self.free_slots(memory)?.min(limit);
        let mut messages = messages.into_iter();
        let mut filled = 0;
        while filled < free {
            let Some(message) = messages.next() else {
                break;
            };
            let len = check_message(message, &self.geometry)?;
            let slot = self
                .geometry
                .slot_offset(self.fields.direction, self.tail.wrapping_add(filled));
            memory.write(slot, &len.to_le_bytes())?;
            memory.write(slot + LENGTH_PREFIX, message)?;
            filled += 1;
        }
        if filled > 0 {
            self.tail = self.tail.wrapping_add(filled);
            memory.store_u32(self.fields.tail, self.tail, Release)?;
        }
        Ok(filled as usize)
    }
}

/// The consuming half of one ring.
#[derive(Debug)]
pub(crate) struct Consumer {
    fields: RingFields,
    geometry: Geometry,
    /// Our head: the next counter to read. The region's copy is written, never read.
    head: u32,
    /// The producer's tail as last checked; it may only move forward, at most `slot_count`
    /// past our head.
    tail_seen: u32,
}

impl Consumer {
    /// Takes over the consuming side of `direction`'s ring, starting from the counters in the
    /// region.
    pub(crate) fn attach<M: Memory + ?Sized>(
        memory: &M,
        geometry: Geometry,
        direction: Direction,
    ) -> Result<Consumer, RingError> {
        let fields = RingFields::of(direction);
        let head = memory.load_u32(fields.head, Relaxed)?;
        let tail = memory.load_u32(fields.tail, Acquire)?;
        if !(RingIndices { head, tail }).is_valid(geometry.slot_count()) {
            return Err(RingError::CorruptIndex {
                ring: direction,
                head,
                tail,
            });
        }
        Ok(Consumer {
            fields,
            geometry,
            head,
            tail_seen: tail,
        })
    }

    /// Our head: every counter below it is consumed.
    pub(crate) fn head(&self) -> u32 {
        self.head
    }

    /// Entries published and not yet consumed. Acquire-loads the producer's tail only when
    /// every entry seen before is consumed, so a batch costs one load.
    pub(crate) fn available<M: Memory + ?Sized>(&mut self, memory: &M) -> Result<u32, RingError> {
        if self.head == self.tail_seen {
            self.refresh(memory)?;
        }
        Ok(self.tail_seen.wrapping_sub(self.head))
    }

    /// Acquire-loads the tail: the producer's slot writes before it are visible to us.
    pub(crate) fn refresh<M: Memory + ?Sized>(&mut self, memory: &M) -> Result<(), RingError> {
        let tail = memory.load_u32(self.fields.tail, Acquire)?;
        let limit = self.head.wrapping_add(self.geometry.slot_count());
        if !in_window(self.tail_seen, tail, limit) {
            return Err(RingError::CorruptIndex {
                ring: self.fields.direction,
                head: self.head,
                tail,
            });
        }
        self.tail_seen = tail;
        Ok(())
    }

    /// Copies the next entry into `buffer` and consumes it. `Ok(None)`: the ring is empty.
    /// The copy, not the slot, is validated, so the peer cannot change it after the check.
    pub(crate) fn receive<M: Memory + ?Sized>(
        &mut self,
        memory: &M,
        buffer: &mut [u8],
    ) -> Result<Option<usize>, RingError> {
        if self.available(memory)? == 0 {
            return Ok(None);
        }
        let ring = self.fields.direction;
        let slot = self.geometry.slot_offset(ring, self.head);
        let mut prefix = [0; LENGTH_PREFIX];
        memory.read(slot, &mut prefix)?;
        let len = u32::from_le_bytes(prefix);
        if len < MIN_MESSAGE || len > self.geometry.max_message() {
            self.skip(memory)?;
            return Err(RingError::BadLength { ring, len });
        }
        // len <= max_message < 2^24, so it fits any usize.
        let Some(copy) = buffer.get_mut(..len as usize) else {
            return Err(RingError::BufferTooSmall {
                needed: len as usize,
            });
        };
        memory.read(slot + LENGTH_PREFIX, copy)?;
        self.skip(memory)?;
        match copy.first_chunk::<4>() {
            Some(size) if u32::from_le_bytes(*size) == len => Ok(Some(len as usize)),
            Some(size) => Err(RingError::SizeMismatch {
                ring,
                prefix: len,
                size: u32::from_le_bytes(*size),
            }),
            // len >= 7, so the copy has a size field; this arm only satisfies the type.
            None => Err(RingError::BadLength { ring, len }),
        }
    }

    /// Consumes the next entry unread: Release-stores the head, so our reads of the slot
    /// happen before the producer's next write to it. The caller checked `available() > 0`.
    pub(crate) fn skip<M: Memory + ?Sized>(&mut self, memory: &M) -> Result<(), RingError> {
        self.head = self.head.wrapping_add(1);
        memory.store_u32(self.fields.head, self.head, Release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_wraps() {
        let indices = RingIndices {
            head: u32::MAX - 1,
            tail: 2,
        };
        assert_eq!(indices.occupancy(), 4);
        assert!(indices.is_valid(4));
        assert!(!indices.is_valid(2));
        let backwards = RingIndices { head: 5, tail: 4 };
        assert_eq!(backwards.occupancy(), u32::MAX);
        assert!(!backwards.is_valid(1 << 16));
        let later = RingIndices { head: 0, tail: 7 };
        assert_eq!(later.published_since(indices), 5);
    }

    #[test]
    fn window_handles_wrap_around() {
        assert!(in_window(10, 10, 10));
        assert!(in_window(10, 12, 14));
        assert!(!in_window(10, 9, 14));
        assert!(!in_window(10, 15, 14));
        assert!(in_window(u32::MAX - 2, u32::MAX, 1));
        assert!(in_window(u32::MAX - 2, 0, 1));
        assert!(in_window(u32::MAX - 2, 1, 1));
        assert!(!in_window(u32::MAX - 2, 2, 1));
        assert!(!in_window(u32::MAX - 2, u32::MAX - 3, 1));
    }

    #[test]
    fn messages_must_be_9p_shaped() {
        let geometry = Geometry::new(2, 16).unwrap();
        assert_eq!(check_message(&[7, 0, 0, 0, 1, 2, 3], &geometry), Ok(7));
        assert_eq!(
            check_message(&[12, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8], &geometry),
            Ok(12)
        );
        for bad in [
            &[][..],
            &[6, 0, 0, 0, 1, 2],
            &[8, 0, 0, 0, 1, 2, 3],
            &[13, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        ] {
            assert!(matches!(
                check_message(bad, &geometry),
                Err(RingError::InvalidMessage { .. })
            ));
        }
    }
}
