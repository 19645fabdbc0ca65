//! Anonymous memory from `map`, owned and reached as a byte slice, unmapped when dropped.

use lux9_abi::Error;
use lux9_abi::syscall::map_flags;

use crate::sys;

/// Pages of zeroed, writable, private memory that this value owns.
#[derive(Debug)]
pub struct Mapping {
    addr: usize,
    /// Whole pages: `map` rounds the length up.
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes (rounded up to whole pages) wherever the kernel chooses.
    pub fn new(len: usize) -> Result<Self, Error> {
        Self::at(0, len)
    }

    /// Maps `len` bytes at `addr` (0: wherever the kernel chooses).
    pub fn at(addr: usize, len: usize) -> Result<Self, Error> {
        let addr = sys::map(addr, len, map_flags::WRITE)?;
        Ok(Self {
            addr,
            len: len.next_multiple_of(4096),
        })
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the kernel mapped `len` readable bytes at `addr` for this process, and they
        // stay mapped until `unmap` or `drop` consumes this value; only this value hands out
        // references to them, and no other process shares them. (`sys::unmap` is unsafe: its
        // caller must not unmap them behind this value's back.)
        unsafe { core::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the pages are writable; `&mut self` makes this the only
        // reference.
        unsafe { core::slice::from_raw_parts_mut(self.addr as *mut u8, self.len) }
    }

    /// Unmaps the pages, reporting the kernel's answer.
    pub fn unmap(self) -> Result<(), Error> {
        let (addr, len) = (self.addr, self.len);
        core::mem::forget(self);
        // SAFETY: this value owned the pages and is gone: no reference to them remains.
        unsafe { sys::unmap(addr, len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the references `bytes` and `bytes_mut` gave borrowed this value, which is
        // being dropped: none remains.
        let _ = unsafe { sys::unmap(self.addr, self.len) };
    }
}
