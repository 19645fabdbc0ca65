//! Server errors and their Rerror text (the strings Plan 9's lib9p uses).

use alloc::string::String;
use core::fmt;

/// Why a server refused a request; becomes the text of an Rerror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerError {
    /// No such file.
    NotFound,
    /// Not allowed.
    PermissionDenied,
    /// A file of that name already exists.
    Exists,
    /// The operation needs a directory.
    NotDirectory,
    /// The operation does not apply to a directory.
    IsDirectory,
    /// The directory is not empty.
    NotEmpty,
    /// The fid is not in the table.
    UnknownFid,
    /// The newfid (or attach fid) is already in use.
    DuplicateFid,
    /// The fid is open and cannot be walked, opened or created on.
    FidOpen,
    /// The fid is not open for this kind of access.
    NotOpen,
    /// A directory read at an offset other than 0 or the previous end.
    BadOffset,
    /// A walk from a fid that is not a directory.
    WalkNotDirectory,
    /// A name containing '/', empty, or '.'/'..' where not allowed.
    BadName,
    /// Authentication is not required (Tauth, or an afid in Tattach).
    NoAuth,
    /// A request before Tversion.
    NotNegotiated,
    /// The request cannot be answered yet (for example a console read with no input on a
    /// server that must not block). [`Server::handle`](super::Server::handle) answers it with
    /// an Rerror; [`Server::handle_deferrable`](super::Server::handle_deferrable) answers
    /// nothing, so the caller can keep the request and hand it over again later. A
    /// filesystem returns it only before changing any state, so the retry starts afresh.
    WouldBlock,
    /// A message the server could not decode, or a botched request.
    BadMessage(String),
    /// Anything else, as text.
    Other(String),
}

impl ServerError {
    /// The Rerror text.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound => "file does not exist",
            Self::PermissionDenied => "permission denied",
            Self::Exists => "file already exists",
            Self::NotDirectory => "not a directory",
            Self::IsDirectory => "is a directory",
            Self::NotEmpty => "directory not empty",
            Self::UnknownFid => "unknown fid",
            Self::DuplicateFid => "duplicate fid",
            Self::FidOpen => "fid is open",
            Self::NotOpen => "file not open for this access",
            Self::BadOffset => "bad offset in directory read",
            Self::WalkNotDirectory => "walk in non-directory",
            Self::BadName => "bad file name",
            Self::NoAuth => "authentication not required",
            Self::NotNegotiated => "version not negotiated",
            Self::WouldBlock => "operation would block",
            Self::BadMessage(s) | Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for ServerError {}
