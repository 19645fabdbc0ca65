//! Typed codec errors: every malformed input maps to one of these, never to a panic.

use core::fmt;

/// Why a byte string is not a valid 9P2000 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ends before the field that was being read.
    Truncated,
    /// The size field is smaller than the 7-byte header.
    SizeTooSmall(u32),
    /// The size field does not match the number of bytes supplied.
    SizeMismatch {
        /// Size announced by the message.
        declared: u32,
        /// Bytes actually supplied.
        actual: usize,
    },
    /// The message is larger than the negotiated limit.
    Oversized {
        /// Size announced by the message.
        size: u32,
        /// The limit in force.
        limit: u32,
    },
    /// The type byte names no 9P2000 message (or names Terror, which is illegal).
    UnknownType(u8),
    /// Bytes are left over after the last field of the message.
    TrailingBytes(usize),
    /// A count field points past the end of the message.
    CountPastEnd,
    /// A Twalk carries more than 16 names.
    TooManyWalkNames(u16),
    /// An Rwalk carries more than 16 qids.
    TooManyWalkQids(u16),
    /// A string field is not valid UTF-8.
    InvalidUtf8,
    /// A stat's inner size field disagrees with its length.
    StatSizeMismatch,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("message truncated"),
            Self::SizeTooSmall(s) => write!(f, "size field {s} smaller than the header"),
            Self::SizeMismatch { declared, actual } => {
                write!(
                    f,
                    "size field says {declared} bytes but {actual} were supplied"
                )
            }
            Self::Oversized { size, limit } => {
                write!(f, "message of {size} bytes exceeds the limit of {limit}")
            }
            Self::UnknownType(t) => write!(f, "unknown message type {t}"),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes after the message"),
            Self::CountPastEnd => f.write_str("count field points past the end of the message"),
            Self::TooManyWalkNames(n) => write!(f, "Twalk with {n} names (at most 16)"),
            Self::TooManyWalkQids(n) => write!(f, "Rwalk with {n} qids (at most 16)"),
            Self::InvalidUtf8 => f.write_str("string is not UTF-8"),
            Self::StatSizeMismatch => f.write_str("stat size field does not match its contents"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The caller's buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        /// Bytes the encoded message needs.
        needed: usize,
    },
    /// A string is longer than 65535 bytes.
    StringTooLong,
    /// The message would exceed 4 GiB.
    MessageTooLarge,
    /// A stat structure would exceed 65535 bytes.
    StatTooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} bytes needed"),
            Self::StringTooLong => f.write_str("string longer than 65535 bytes"),
            Self::MessageTooLarge => f.write_str("message larger than 4 GiB"),
            Self::StatTooLarge => f.write_str("stat larger than 65535 bytes"),
        }
    }
}

impl core::error::Error for EncodeError {}
