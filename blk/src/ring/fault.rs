//! Why a block ring endpoint cannot go on: a bad header, an impossible counter, a broken ring.

use core::fmt;

use lux9_ring::RingError;

use super::status::Status;

/// Which of the region's two queues a [`Fault`] concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// Requests, server to kernel.
    Submission,
    /// Responses, kernel to server.
    Completion,
}

/// An error from a block ring endpoint.
///
/// Every fault but [`Fault::NotInFlight`] is **fatal**: the region cannot be used, or the peer
/// wrote a counter no honest peer can. The endpoint is then broken (every later call returns
/// [`Fault::Broken`]) and the ring must be torn down; towards the server the kernel reports it
/// as [`Status::RingCorrupt`] ([`Fault::status`]). A single bad *entry* is never a fault: it is
/// refused with its own [`Status`] and the ring goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The region is shorter than the header and both queues.
    RegionTooSmall {
        /// Bytes the geometry needs.
        needed: usize,
        /// Bytes the region has.
        available: usize,
    },
    /// The header does not start with `LXB1`.
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// The header's version is not [`super::VERSION`].
    BadVersion {
        /// The version found.
        found: u32,
    },
    /// The header's entry count is not a power of two in `1..=MAX_ENTRY_COUNT`.
    BadEntryCount {
        /// The count found.
        found: u32,
    },
    /// The peer published a counter no honest peer can: more entries than the queue holds, a
    /// head that went backwards or past what was published, or (seen by the server) more
    /// responses than requests outstanding.
    CorruptIndex {
        /// The queue concerned.
        queue: Queue,
        /// The head the check used.
        head: u32,
        /// The tail the check used.
        tail: u32,
    },
    /// A response whose status code this crate does not know (seen by the server).
    BadStatus {
        /// The code found.
        code: i32,
    },
    /// The memory refused an access. Never happens with a memory as long as the region
    /// (checked when the endpoint is made); kept as a value rather than a panic.
    Memory(RingError),
    /// This endpoint saw a fatal fault earlier; the ring must be torn down.
    Broken,
    /// The kernel completed a request when none was in flight: a bug in the caller, not in
    /// the ring. Nothing was written; the endpoint is not broken.
    NotInFlight,
}

impl Fault {
    /// Whether the endpoint is now broken and the ring must be torn down.
    pub const fn is_fatal(&self) -> bool {
        !matches!(self, Fault::NotInFlight)
    }

    /// What the kernel reports to the server for this fault: [`Status::RingCorrupt`].
    pub const fn status(&self) -> Status {
        Status::RingCorrupt
    }
}

impl From<RingError> for Fault {
    fn from(error: RingError) -> Fault {
        Fault::Memory(error)
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Queue::Submission => "submission queue",
            Queue::Completion => "completion queue",
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::RegionTooSmall { needed, available } => write!(
                formatter,
                "block ring region too small: {available} bytes, {needed} needed"
            ),
            Fault::BadMagic { found } => write!(formatter, "block ring magic {found:#010x}"),
            Fault::BadVersion { found } => write!(formatter, "block ring version {found}"),
            Fault::BadEntryCount { found } => {
                write!(formatter, "block ring entry count {found}")
            }
            Fault::CorruptIndex { queue, head, tail } => {
                write!(
                    formatter,
                    "{queue}: corrupt indices head {head} tail {tail}"
                )
            }
            Fault::BadStatus { code } => write!(formatter, "response with unknown status {code}"),
            Fault::Memory(error) => write!(formatter, "block ring memory: {error}"),
            Fault::Broken => formatter.write_str("block ring broken by an earlier fault"),
            Fault::NotInFlight => formatter.write_str("completion with no request in flight"),
        }
    }
}

impl core::error::Error for Fault {}

/// Marks an endpoint broken if `result` is a fatal fault, and passes `result` on.
pub(crate) fn note<T>(broken: &mut bool, result: Result<T, Fault>) -> Result<T, Fault> {
    if let Err(fault) = &result
        && fault.is_fatal()
    {
        *broken = true;
    }
    result
}
