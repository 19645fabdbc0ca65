//! Client errors: server Rerror text, codec and transport failures, misuse.

use crate::codec::{DecodeError, EncodeError};
use crate::transport::TransportError;
use alloc::string::String;
use core::fmt;

/// Everything a client operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server answered with Rerror; this is its text.
    Server(String),
    /// A path element was not found by a walk that otherwise succeeded
    /// partway (the server replied with fewer qids than names).
    NotFound {
        /// The element that could not be walked to.
        name: String,
    },
    /// A reply could not be decoded.
    Decode(DecodeError),
    /// A request could not be encoded.
    Encode(EncodeError),
    /// The transport failed; the connection is no longer usable.
    Transport(TransportError),
    /// The server broke the protocol (wrong reply type, impossible count, ...).
    Protocol(&'static str),
    /// The server refused our version, or answered with one we do not speak.
    Version(String),
    /// The request was abandoned with Tflush before its reply arrived.
    Flushed,
    /// All 65535 tags are in flight.
    TagsExhausted,
    /// All fids are in use.
    FidsExhausted,
    /// The request is larger than the negotiated msize.
    TooLarge {
        /// Encoded size of the request.
        size: usize,
        /// Negotiated msize.
        msize: u32,
    },
    /// The caller asked for something the client cannot do.
    InvalidArgument(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server(e) => f.write_str(e),
            Self::NotFound { name } => write!(f, "'{name}' file does not exist"),
            Self::Decode(e) => write!(f, "bad reply: {e}"),
            Self::Encode(e) => write!(f, "cannot encode request: {e}"),
            Self::Transport(e) => write!(f, "{e}"),
            Self::Protocol(e) => write!(f, "protocol botch: {e}"),
            Self::Version(v) => write!(f, "server does not speak 9P2000 (answered '{v}')"),
            Self::Flushed => f.write_str("request flushed"),
            Self::TagsExhausted => f.write_str("too many outstanding requests"),
            Self::FidsExhausted => f.write_str("out of fids"),
            Self::TooLarge { size, msize } => {
                write!(f, "{size}-byte request exceeds msize {msize}")
            }
            Self::InvalidArgument(e) => write!(f, "invalid argument: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        use std::io::ErrorKind;
        let kind = match &e {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Server(s) if s.contains("not exist") || s.contains("not found") => {
                ErrorKind::NotFound
            }
            Error::Server(s) if s.contains("permission") => ErrorKind::PermissionDenied,
            Error::Transport(TransportError::Closed) => ErrorKind::UnexpectedEof,
            Error::InvalidArgument(_) => ErrorKind::InvalidInput,
            Error::Decode(_) | Error::Protocol(_) => ErrorKind::InvalidData,
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
