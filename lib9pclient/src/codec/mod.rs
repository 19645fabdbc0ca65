//! The 9P2000 wire codec, written once and shared by clients and servers.
//!
//! Byte-exact little-endian encoding in the field order of Plan 9's intro(5).
//! Encoding writes into a caller's buffer without allocating; decoding borrows
//! strings and data from the input and rejects anything malformed with a
//! [`DecodeError`].

mod cursor;
mod error;
mod message;
mod message_type;
mod stat;
mod walk;

pub use error::{DecodeError, EncodeError};
pub use message::{Message, decode, decode_rread, decode_tread, decode_with_limit};
pub use message_type::MessageType;
pub use stat::{Dir, DirEntries, Stat};
pub use walk::{TooManyElements, WalkNames, WalkNamesIter, WalkQids};

/// The protocol version string this codec speaks.
pub const VERSION: &str = "9P2000";
/// The tag of Tversion, and of no other message.
pub const NOTAG: u16 = 0xFFFF;
/// "No fid": the afid of an unauthenticated Tattach.
pub const NOFID: u32 = 0xFFFF_FFFF;
/// Most names in one Twalk, and qids in one Rwalk.
pub const MAXWELEM: usize = 16;
/// Size of the header of a message: `size[4] type[1] tag[2]`.
pub const HEADER_SIZE: usize = 7;
/// Bytes of Tread/Rwrite overhead to subtract from msize for the data of one
/// read or write: `size[4] type[1] tag[2] fid[4] offset[8] count[4]` + 1 spare.
pub const IOHDRSZ: u32 = 24;
/// Fixed part of a stat: everything but the four strings' bytes.
pub const STATFIXLEN: usize = 49;

/// Open for reading.
pub const OREAD: u8 = 0;
/// Open for writing.
pub const OWRITE: u8 = 1;
/// Open for reading and writing.
pub const ORDWR: u8 = 2;
/// Open for execution (reading, with execute permission checked).
pub const OEXEC: u8 = 3;
/// Truncate the file on open.
pub const OTRUNC: u8 = 0x10;
/// Close on exec (a client-side flag carried in the mode).
pub const OCEXEC: u8 = 0x20;
/// Remove the file when its fid is clunked.
pub const ORCLOSE: u8 = 0x40;

/// Mode bit: directory.
pub const DMDIR: u32 = 0x8000_0000;
/// Mode bit: append only.
pub const DMAPPEND: u32 = 0x4000_0000;
/// Mode bit: exclusive use.
pub const DMEXCL: u32 = 0x2000_0000;
/// Mode bit: mounted channel.
pub const DMMOUNT: u32 = 0x1000_0000;
/// Mode bit: authentication file.
pub const DMAUTH: u32 = 0x0800_0000;
/// Mode bit: non-backed-up file.
pub const DMTMP: u32 = 0x0400_0000;
/// Permission bit: read.
pub const DMREAD: u32 = 0x4;
/// Permission bit: write.
pub const DMWRITE: u32 = 0x2;
/// Permission bit: execute.
pub const DMEXEC: u32 = 0x1;

/// Qid type: directory.
pub const QTDIR: u8 = 0x80;
/// Qid type: append-only file.
pub const QTAPPEND: u8 = 0x40;
/// Qid type: exclusive-use file.
pub const QTEXCL: u8 = 0x20;
/// Qid type: mounted channel.
pub const QTMOUNT: u8 = 0x10;
/// Qid type: authentication file.
pub const QTAUTH: u8 = 0x08;
/// Qid type: non-backed-up file.
pub const QTTMP: u8 = 0x04;
/// Qid type: plain file.
pub const QTFILE: u8 = 0x00;

/// The server's unique identification of a file: `type[1] vers[4] path[8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Qid {
    /// QT* bits.
    pub typ: u8,
    /// Version, bumped when the file changes.
    pub version: u32,
    /// Unique per file on the server.
    pub path: u64,
}

impl Qid {
    /// Encoded size of a qid.
    pub const SIZE: usize = 13;

    /// Whether this qid names a directory.
    pub fn is_dir(&self) -> bool {
        self.typ & QTDIR != 0
    }

    #[inline]
    pub(crate) fn from_bytes(b: &[u8; 13]) -> Self {
        let mut v = [0u8; 4];
        v.copy_from_slice(&b[1..5]);
        let mut p = [0u8; 8];
        p.copy_from_slice(&b[5..13]);
        Self {
            typ: b[0],
            version: u32::from_le_bytes(v),
            path: u64::from_le_bytes(p),
        }
    }

    #[inline]
    pub(crate) fn to_bytes(self) -> [u8; 13] {
        let mut b = [0u8; 13];
        b[0] = self.typ;
        b[1..5].copy_from_slice(&self.version.to_le_bytes());
        b[5..13].copy_from_slice(&self.path.to_le_bytes());
        b
    }
}

/// The size a frame announces in its first four bytes, if they are there.
///
/// Stream transports use it to learn how many bytes make up the next message.
#[inline]
pub fn frame_size(buf: &[u8]) -> Option<u32> {
    let b: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// The whole frames concatenated in `bytes` (one transport submission, or its replies), in
/// order. A size field below the 7-byte header or past the end of `bytes` ends the iteration
/// with `Err(PartialFrame)`.
#[inline]
pub fn frames(bytes: &[u8]) -> Frames<'_> {
    Frames { rest: bytes }
}

/// A frame whose size field does not fit the bytes around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartialFrame;

/// See [`frames`].
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a [u8], PartialFrame>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let size = frame_size(self.rest).unwrap_or(0) as usize;
        if size < 7 || size > self.rest.len() {
            self.rest = &[];
            return Some(Err(PartialFrame));
        }
        let (frame, rest) = self.rest.split_at(size);
        self.rest = rest;
        Some(Ok(frame))
    }
}

/// The type byte and tag of a frame, read without decoding the body.
#[inline]
pub fn frame_header(buf: &[u8]) -> Option<(u8, u16)> {
    let t = *buf.get(4)?;
    let tag: [u8; 2] = buf.get(5..7)?.try_into().ok()?;
    Some((t, u16::from_le_bytes(tag)))
}
