//! Everything that can go wrong on a ring, as values: the peer is untrusted, so nothing here panics.

use core::fmt;

/// Which of the two rings in a region an error concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The client-to-server ring.
    Requests,
    /// The server-to-client ring.
    Replies,
}

/// An error from a ring operation.
///
/// Three kinds, told apart by [`RingError::is_fatal`] and [`RingError::consumed_entry`]:
/// - **fatal**: the region cannot be used (a bad header, a bad geometry) or the peer wrote an
///   impossible index. The endpoint is then broken: every later call returns
///   [`RingError::Broken`], and the owner tears the ring down.
/// - **a bad entry**: one entry from the peer was malformed. It has been consumed (its slot is
///   free again) and the ring goes on; the next call reads the next entry.
/// - **the caller's mistake**: a message or buffer of the wrong size. Nothing happened on the
///   ring; the call can be repeated with a correct argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// A slot count that is not a power of two in `1..=MAX_SLOT_COUNT`, a slot size that is not a
    /// multiple of 8 in `MIN_SLOT_SIZE..=MAX_SLOT_SIZE`, or a region length past `u32::MAX`.
    InvalidGeometry {
        /// The slot count asked for or found in the header.
        slot_count: u32,
        /// The slot size asked for or found in the header.
        slot_size: u32,
    },
    /// The region is shorter than the header plus both rings' slots.
    RegionTooSmall {
        /// Bytes the geometry needs.
        needed: usize,
        /// Bytes the region has.
        available: usize,
    },
    /// The region's base address is not 8-byte aligned.
    Misaligned,
    /// An access outside the region, or a word access at an unaligned offset. The ring code
    /// never computes one from a validated geometry; seeing it means a bug or a memory whose
    /// length disagrees with the header it was attached with.
    OutOfBounds {
        /// Offset of the access in the region.
        offset: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// The header does not start with `LXR1`.
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// The header's version is not [`crate::VERSION`].
    BadVersion {
        /// The version found.
        found: u32,
    },
    /// The peer published an index that no honest peer can: a tail more than `slot_count`
    /// ahead of the consumer, a head past the producer's tail, or an index that went
    /// backwards. Fatal.
    CorruptIndex {
        /// The ring concerned.
        ring: Direction,
        /// The head the check used.
        head: u32,
        /// The tail the check used.
        tail: u32,
    },
    /// This endpoint saw a fatal error earlier; the ring must be torn down.
    Broken,
    /// An entry's length prefix is below the 9P minimum (7) or above the slot's capacity. The
    /// entry was consumed.
    BadLength {
        /// The ring concerned.
        ring: Direction,
        /// The prefix found.
        len: u32,
    },
    /// An entry's copy does not hold a 9P message of the prefix's length: its `size[4]` field
    /// disagrees. The entry was consumed.
    SizeMismatch {
        /// The ring concerned.
        ring: Direction,
        /// The slot's length prefix.
        prefix: u32,
        /// The message's own `size[4]` field.
        size: u32,
    },
    /// A reply arrived while the client had no request outstanding. The entry was consumed.
    UnsolicitedReply,
    /// A message given to send is not a 9P message that fits a slot: shorter than 7 bytes,
    /// longer than the slot's capacity, or with a `size[4]` field other than its length.
    /// Nothing was published.
    InvalidMessage {
        /// The message's length.
        len: usize,
        /// The most a slot holds.
        max: u32,
    },
    /// The caller's buffer is shorter than the next entry. The entry stays on the ring.
    BufferTooSmall {
        /// The entry's length.
        needed: usize,
    },
}

impl RingError {
    /// Whether the endpoint is now broken and the ring must be torn down.
    pub const fn is_fatal(&self) -> bool {
        matches!(
            self,
            RingError::InvalidGeometry { .. }
                | RingError::RegionTooSmall { .. }
                | RingError::Misaligned
                | RingError::OutOfBounds { .. }
                | RingError::BadMagic { .. }
                | RingError::BadVersion { .. }
                | RingError::CorruptIndex { .. }
                | RingError::Broken
        )
    }

    /// Whether the error rejected one entry from the peer, which was consumed; the ring goes on.
    pub const fn consumed_entry(&self) -> bool {
        matches!(
            self,
            RingError::BadLength { .. }
                | RingError::SizeMismatch { .. }
                | RingError::UnsolicitedReply
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Direction::Requests => "request ring",
            Direction::Replies => "reply ring",
        })
    }
}

impl fmt::Display for RingError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RingError::InvalidGeometry {
                slot_count,
                slot_size,
            } => write!(
                formatter,
                "invalid ring geometry: {slot_count} slots of {slot_size} bytes"
            ),
            RingError::RegionTooSmall { needed, available } => write!(
                formatter,
                "ring region too small: {available} bytes, {needed} needed"
            ),
            RingError::Misaligned => formatter.write_str("ring region not 8-byte aligned"),
            RingError::OutOfBounds { offset, len } => write!(
                formatter,
                "ring access of {len} bytes at offset {offset:#x} outside the region"
            ),
            RingError::BadMagic { found } => write!(formatter, "ring header magic {found:#010x}"),
            RingError::BadVersion { found } => write!(formatter, "ring header version {found}"),
            RingError::CorruptIndex { ring, head, tail } => {
                write!(formatter, "{ring}: corrupt indices head {head} tail {tail}")
            }
            RingError::Broken => formatter.write_str("ring broken by an earlier corrupt index"),
            RingError::BadLength { ring, len } => {
                write!(formatter, "{ring}: entry length {len} out of range")
            }
            RingError::SizeMismatch { ring, prefix, size } => write!(
                formatter,
                "{ring}: entry of {prefix} bytes holds a message of size {size}"
            ),
            RingError::UnsolicitedReply => {
                formatter.write_str("reply ring: a reply with no request outstanding")
            }
            RingError::InvalidMessage { len, max } => write!(
                formatter,
                "message of {len} bytes is not a 9P message of 7 to {max} bytes"
            ),
            RingError::BufferTooSmall { needed } => {
                write!(formatter, "buffer too small for a {needed}-byte entry")
            }
        }
    }
}

impl core::error::Error for RingError {}

/// Marks an endpoint broken if `result` is a fatal error, and passes `result` on.
pub(crate) fn note<T>(broken: &mut bool, result: Result<T, RingError>) -> Result<T, RingError> {
    if let Err(error) = &result
        && error.is_fatal()
    {
        *broken = true;
    }
    result
}
