//! A block source over bytes in memory: test images, and later a Lux9 ramdisk.

use super::{BlockDevice, DeviceError, check_range};

/// An image held in memory (`Vec<u8>`, `&'static [u8]`, `Box<[u8]>`, ...).
pub struct MemoryDevice<T: AsRef<[u8]>>(pub T);

impl<T: AsRef<[u8]>> BlockDevice for MemoryDevice<T> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let bytes = self.0.as_ref();
        check_range(offset, buf.len(), bytes.len() as u64)?;
        // In range: checked above, and the size fits in usize because it is a slice length.
        let start = offset as usize;
        buf.copy_from_slice(&bytes[start..start + buf.len()]);
        Ok(())
    }

    fn size(&self) -> u64 {
        self.0.as_ref().len() as u64
    }
}
