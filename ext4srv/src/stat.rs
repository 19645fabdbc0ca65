//! Mapping ext4 metadata to 9P2000 stat entries, and ext4-view errors to Rerrors.

use alloc::format;
use alloc::string::{String, ToString};
use ext4_view::{Ext4Error, Metadata};
use lib9pclient::ServerError;
use lib9pclient::codec::{DMDIR, Dir, QTDIR, QTFILE, Qid};

/// The Rerror text for anything that would change the image.
pub const READ_ONLY: &str = "read-only file system";

/// The qid of a file: its inode number, and whether it is a directory.
pub fn qid(qid_path: u64, meta: &Metadata) -> Qid {
    Qid {
        typ: if meta.is_dir() { QTDIR } else { QTFILE },
        version: 0,
        path: qid_path,
    }
}

/// Seconds since 1970 clamped to the 32 bits a 9P2000 stat has.
fn seconds(t: i64) -> u32 {
    t.clamp(0, i64::from(u32::MAX)) as u32
}

/// The stat entry of a file named `name`.
pub fn dir(name: &str, qid_path: u64, meta: &Metadata) -> Dir {
    let is_dir = meta.is_dir();
    Dir {
        typ: 0,
        dev: 0,
        qid: qid(qid_path, meta),
        mode: (u32::from(meta.mode()) & 0o777) | if is_dir { DMDIR } else { 0 },
        atime: seconds(meta.accessed().seconds()),
        mtime: seconds(meta.modified().seconds()),
        length: if is_dir { 0 } else { meta.len() },
        name: String::from(name),
        uid: meta.uid().to_string(),
        gid: meta.gid().to_string(),
        muid: String::new(),
    }
}

/// The Rerror for an ext4-view failure.
pub fn error(e: Ext4Error) -> ServerError {
    match e {
        Ext4Error::NotFound => ServerError::NotFound,
        Ext4Error::NotADirectory => ServerError::NotDirectory,
        Ext4Error::IsADirectory => ServerError::IsDirectory,
        Ext4Error::IsASpecialFile => {
            ServerError::Other("cannot read a device, fifo or socket".into())
        }
        Ext4Error::TooManySymlinks => ServerError::Other(crate::walk::TOO_MANY_LINKS.into()),
        Ext4Error::PathTooLong => ServerError::Other(crate::walk::PATH_TOO_LONG.into()),
        Ext4Error::Encrypted => ServerError::Other("file is encrypted".into()),
        Ext4Error::Io(e) => ServerError::Other(format!("i/o error: {e}")),
        Ext4Error::Corrupt(c) => ServerError::Other(format!("corrupt file system: {c}")),
        Ext4Error::Incompatible(i) => ServerError::Other(format!("unsupported file system: {i}")),
        other => ServerError::Other(format!("{other}")),
    }
}
