//! File reads through a small set of open ext4-view `File` cursors.
//!
//! Seeking an ext4-view `File` restarts its block iterator from the start of
//! the file, so a sequential reader must keep the same `File` from one Tread
//! to the next. The volume keeps up to [`MAX_CURSORS`] open files keyed by
//! qid.path and current position: a read at the position where an earlier one
//! ended continues that cursor. Any other read reuses a cursor on the same
//! file that is itself serving scattered reads (seeking it, which costs no
//! path lookup), or opens a new one; cursors that are streaming are never
//! taken from their stream.

use alloc::vec::Vec;
use ext4_view::File;

/// Open cursors kept across all connections of a volume.
pub const MAX_CURSORS: usize = 16;

/// How a cursor was found.
pub enum Found {
    /// It stands at the offset asked for.
    AtOffset(File),
    /// It is on the same file, elsewhere: seek it.
    Elsewhere(File),
}

struct Cursor {
    key: u64,
    file: File,
    /// Its last read continued the one before (it is serving a stream).
    streaming: bool,
}

/// The cursor set, least recently used first.
#[derive(Default)]
pub struct Cursors {
    files: Vec<Cursor>,
}

impl Cursors {
    /// A cursor on file `key` for a read at `offset`, if one can serve it.
    pub fn take(&mut self, key: u64, offset: u64) -> Option<Found> {
        if let Some(i) = self
            .files
            .iter()
            .rposition(|c| c.key == key && c.file.position() == offset)
        {
            return Some(Found::AtOffset(self.files.remove(i).file));
        }
        let i = self
            .files
            .iter()
            .rposition(|c| c.key == key && !c.streaming)?;
        Some(Found::Elsewhere(self.files.remove(i).file))
    }

    /// Keeps `file` for the next read, dropping the least recently used.
    /// `streaming`: this read continued the previous one.
    pub fn put(&mut self, key: u64, file: File, streaming: bool) {
        if self.files.len() >= MAX_CURSORS {
            self.files.remove(0);
        }
        self.files.push(Cursor {
            key,
            file,
            streaming,
        });
    }

    /// Cursors open now.
    pub fn len(&self) -> usize {
        self.files.len()
    }
}
