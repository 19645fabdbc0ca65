//! The transport trait: how encoded 9P messages reach a server and come back.
//!
//! A transport moves whole frames. It is shaped for batching (one `submit`
//! carries any number of requests) and for tagged completion without an async
//! runtime (`receive` can poll or block, and hands back whatever replies have
//! arrived, in any order). Lux9's IPC fastpath and shared-ring transports
//! implement the same trait as the host stream transport and the loopback.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Whether [`Transport::receive`] may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until at least one reply is available.
    Block,
    /// Return at once with whatever replies are already available (maybe none).
    Poll,
}

/// Why a transport could not carry a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The peer closed the connection.
    Closed,
    /// An I/O error, described.
    Io(String),
    /// The peer sent a frame larger than the negotiated limit.
    FrameTooLarge {
        /// Size the frame announced.
        size: u32,
        /// The limit in force.
        limit: u32,
    },
    /// The peer sent bytes that cannot be a 9P frame.
    Malformed(&'static str),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed by peer"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::FrameTooLarge { size, limit } => {
                write!(
                    f,
                    "peer sent a {size}-byte message, over the {limit}-byte limit"
                )
            }
            Self::Malformed(what) => write!(f, "malformed frame: {what}"),
        }
    }
}

impl core::error::Error for TransportError {}

/// Carries encoded 9P2000 frames between a client and a server.
pub trait Transport {
    /// Sends `count` complete T-messages, concatenated in `frames`, as one
    /// submission (one system call, one ring doorbell, ...).
    fn submit(&mut self, frames: &[u8], count: usize) -> Result<(), TransportError>;

    /// Appends complete R-message frames to `replies` and returns how many it
    /// appended. With [`Wait::Block`] it returns at least one; with
    /// [`Wait::Poll`] it may return none.
    fn receive(&mut self, replies: &mut Vec<u8>, wait: Wait) -> Result<usize, TransportError>;

    /// Like [`receive`](Self::receive), for a transport that holds the replies in a buffer
    /// of its own and can lend it instead of copying the frames out: the frames it received
    /// are then readable through [`lent`](Self::lent) until the next call on the transport
    /// that takes `&mut self`. Returns how many frames there are, or `None` if the transport
    /// does not lend (the default); the client then calls `receive`.
    fn receive_lent(&mut self, _wait: Wait) -> Option<Result<usize, TransportError>> {
        None
    }

    /// The complete reply frames the last [`receive_lent`](Self::receive_lent) lent,
    /// concatenated (empty for a transport that does not lend).
    fn lent(&self) -> &[u8] {
        &[]
    }

    /// Whether what [`receive_lent`](Self::receive_lent) lent stays readable, unchanged,
    /// across later [`submit`](Self::submit)s until the next receive: a transport that
    /// writes new replies into a buffer other than the lent one says `true`, and the client
    /// then leaves unread lent replies where they are when it submits, instead of copying
    /// them out first.
    fn lent_survives_submit(&self) -> bool {
        false
    }

    /// Told the negotiated msize, so the transport can refuse larger frames.
    fn set_msize(&mut self, _msize: u32) {}

    /// The largest msize this transport can carry.
    fn max_msize(&self) -> u32 {
        u32::MAX
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn submit(&mut self, frames: &[u8], count: usize) -> Result<(), TransportError> {
        (**self).submit(frames, count)
    }

    fn receive(&mut self, replies: &mut Vec<u8>, wait: Wait) -> Result<usize, TransportError> {
        (**self).receive(replies, wait)
    }

    fn receive_lent(&mut self, wait: Wait) -> Option<Result<usize, TransportError>> {
        (**self).receive_lent(wait)
    }

    fn lent(&self) -> &[u8] {
        (**self).lent()
    }

    fn lent_survives_submit(&self) -> bool {
        (**self).lent_survives_submit()
    }

    fn set_msize(&mut self, msize: u32) {
        (**self).set_msize(msize)
    }

    fn max_msize(&self) -> u32 {
        (**self).max_msize()
    }
}
