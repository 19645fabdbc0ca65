//! The stat (Dir) structure: borrowed for the codec, owned for applications.

use super::cursor::{Reader, Writer};
use super::{DMDIR, DecodeError, EncodeError, Qid, STATFIXLEN};
use alloc::string::{String, ToString};

/// A stat structure borrowing its strings: what the codec reads and writes.
///
/// In Twstat, `u32::MAX`/`u64::MAX`/`u16::MAX` numbers and empty strings mean
/// "do not change"; [`Stat::DONT_TOUCH`] has every field that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat<'a> {
    /// Server type (for kernel use).
    pub typ: u16,
    /// Server subtype (for kernel use).
    pub dev: u32,
    /// Unique id from the server.
    pub qid: Qid,
    /// Permissions and DM* flags.
    pub mode: u32,
    /// Last read time, seconds since the epoch.
    pub atime: u32,
    /// Last write time, seconds since the epoch.
    pub mtime: u32,
    /// File length in bytes.
    pub length: u64,
    /// Last element of the path.
    pub name: &'a str,
    /// Owner.
    pub uid: &'a str,
    /// Group.
    pub gid: &'a str,
    /// Last modifier.
    pub muid: &'a str,
}

impl<'a> Stat<'a> {
    /// A Twstat stat that changes nothing; set the fields you want changed.
    pub const DONT_TOUCH: Stat<'static> = Stat {
        typ: u16::MAX,
        dev: u32::MAX,
        qid: Qid {
            typ: u8::MAX,
            version: u32::MAX,
            path: u64::MAX,
        },
        mode: u32::MAX,
        atime: u32::MAX,
        mtime: u32::MAX,
        length: u64::MAX,
        name: "",
        uid: "",
        gid: "",
        muid: "",
    };

    /// Bytes this stat takes on the wire, including its own `size[2]` field.
    pub fn encoded_len(&self) -> usize {
        STATFIXLEN + self.name.len() + self.uid.len() + self.gid.len() + self.muid.len()
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        for s in [self.name, self.uid, self.gid, self.muid] {
            if s.len() > u16::MAX as usize {
                return Err(EncodeError::StringTooLong);
            }
        }
        if self.encoded_len() - 2 > u16::MAX as usize {
            return Err(EncodeError::StatTooLarge);
        }
        Ok(())
    }

    /// Writes the stat (checked by [`Stat::check`]) including its size[2].
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u16((self.encoded_len() - 2) as u16);
        w.u16(self.typ);
        w.u32(self.dev);
        w.qid(&self.qid);
        w.u32(self.mode);
        w.u32(self.atime);
        w.u32(self.mtime);
        w.u64(self.length);
        w.str(self.name);
        w.str(self.uid);
        w.str(self.gid);
        w.str(self.muid);
    }

    /// Reads one stat, checking that its size field matches its contents.
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let size = r.u16()? as usize;
        let body = r.bytes(size)?;
        let mut r = Reader::new(body);
        let (typ, dev, qid, mode) = (r.u16()?, r.u32()?, r.qid()?, r.u32()?);
        let (atime, mtime, length) = (r.u32()?, r.u32()?, r.u64()?);
        let [name, uid, gid, muid] = r.strs::<4>()?;
        let stat = Stat {
            typ,
            dev,
            qid,
            mode,
            atime,
            mtime,
            length,
            name,
            uid,
            gid,
            muid,
        };
        if r.remaining() != 0 {
            return Err(DecodeError::StatSizeMismatch);
        }
        Ok(stat)
    }

    /// Encodes the stat alone (as in a directory read) into `buf`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.check()?;
        let n = self.encoded_len();
        let out = buf
            .get_mut(..n)
            .ok_or(EncodeError::BufferTooSmall { needed: n })?;
        self.write(&mut Writer::new(out));
        Ok(n)
    }

    /// Decodes exactly one stat occupying all of `buf`.
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let s = Self::read(&mut r)?;
        r.finish()?;
        Ok(s)
    }

    /// An owned copy.
    pub fn to_dir(&self) -> Dir {
        Dir {
            typ: self.typ,
            dev: self.dev,
            qid: self.qid,
            mode: self.mode,
            atime: self.atime,
            mtime: self.mtime,
            length: self.length,
            name: self.name.to_string(),
            uid: self.uid.to_string(),
            gid: self.gid.to_string(),
            muid: self.muid.to_string(),
        }
    }
}

/// An owned stat structure, as returned by the client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dir {
    /// Server type.
    pub typ: u16,
    /// Server subtype.
    pub dev: u32,
    /// Unique id from the server.
    pub qid: Qid,
    /// Permissions and DM* flags.
    pub mode: u32,
    /// Last read time.
    pub atime: u32,
    /// Last write time.
    pub mtime: u32,
    /// Length in bytes.
    pub length: u64,
    /// Last element of the path.
    pub name: String,
    /// Owner.
    pub uid: String,
    /// Group.
    pub gid: String,
    /// Last modifier.
    pub muid: String,
}

impl Dir {
    /// A borrowed view for encoding.
    pub fn as_stat(&self) -> Stat<'_> {
        Stat {
            typ: self.typ,
            dev: self.dev,
            qid: self.qid,
            mode: self.mode,
            atime: self.atime,
            mtime: self.mtime,
            length: self.length,
            name: &self.name,
            uid: &self.uid,
            gid: &self.gid,
            muid: &self.muid,
        }
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & DMDIR != 0
    }

    /// A Twstat value that changes nothing; set the fields to change.
    pub fn dont_touch() -> Self {
        Stat::DONT_TOUCH.to_dir()
    }
}

/// Iterates over the stat entries packed in the data of a directory Rread.
///
/// Each entry is decoded strictly; after the first error the iterator ends.
pub struct DirEntries<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> DirEntries<'a> {
    /// Entries in `data`, the payload of an Rread on a directory.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            reader: Reader::new(data),
            failed: false,
        }
    }
}

impl<'a> Iterator for DirEntries<'a> {
    type Item = Result<Stat<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.remaining() == 0 {
            return None;
        }
        let r = Stat::read(&mut self.reader);
        self.failed = r.is_err();
        Some(r)
    }
}
