//! A block source over an image file on the host, read with `pread`.

use super::{BlockDevice, DeviceError, check_range};
use alloc::format;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A disk or filesystem image in a host file. Its length is taken once, at
/// open: the image must not change while it is served.
pub struct ImageFile {
    file: File,
    size: u64,
}

impl ImageFile {
    /// Opens `path` read-only.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        let size = if meta.file_type().is_file() {
            meta.len()
        } else {
            // A block device reports length 0 in its metadata: seek to the end instead.
            use std::io::Seek;
            (&file).seek(io::SeekFrom::End(0))?
        };
        Ok(Self { file, size })
    }
}

impl BlockDevice for ImageFile {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        check_range(offset, buf.len(), self.size)?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| DeviceError::Io(format!("{e} (reading {} bytes at {offset})", buf.len())))
    }

    fn size(&self) -> u64 {
        self.size
    }
}
