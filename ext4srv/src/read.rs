//! File reads through a small set of open ext4-view `File` cursors.
//!
//! Seeking an ext4-view `File` restarts its block iterator from the start of
//! the file, so a sequential reader must keep the same `File` from one Tread
//! to the next. The volume keeps up to [`MAX_CURSORS`] open files keyed by
//! qid.path and current position: a read at the position where an earlier one
//! ended continues that cursor; any other read opens a new one.

use alloc::vec::Vec;
use ext4_view::File;

/// Open cursors kept across all connections of a volume.
pub const MAX_CURSORS: usize = 16;

/// The cursor set, least recently used first.
#[derive(Default)]
pub struct Cursors {
    files: Vec<(u64, File)>,
}

impl Cursors {
    /// The cursor on file `key` that stands at `offset`, if one does.
    pub fn take(&mut self, key: u64, offset: u64) -> Option<File> {
        let i = self
            .files
            .iter()
            .rposition(|(k, f)| *k == key && f.position() == offset)?;
        Some(self.files.remove(i).1)
    }

    /// Keeps `file` for the next read, dropping the least recently used.
    pub fn put(&mut self, key: u64, file: File) {
        if self.files.len() >= MAX_CURSORS {
            self.files.remove(0);
        }
        self.files.push((key, file));
    }

    /// Cursors open now.
    pub fn len(&self) -> usize {
        self.files.len()
    }
}
