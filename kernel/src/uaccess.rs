//! User memory, as the kernel sees it: every pointer and length from ring 3 is an allegation
//! until it becomes a [`UserSlice`], which checks it once, here.
//!
//! A `UserSlice` lies entirely in the user half (no wrap-around, no kernel addresses). Whether
//! its pages are mapped with the needed rights is found out by the copy itself: a fault during
//! the copy becomes `Error::BadAddress` (see `arch/usercopy.rs`).

use alloc::vec::Vec;

use lux9_abi::Error;
use lux9_kernel_core::user_range::UserRange;

use crate::arch::usercopy;

/// A range of user memory that passed the checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSlice {
    addr: u64,
    len: usize,
}

impl UserSlice {
    /// Checks `[addr, addr + len)` with [`UserRange::new`]. An empty slice is always valid.
    pub fn new(addr: usize, len: usize) -> Result<Self, Error> {
        let range = UserRange::new(addr, len)?;
        Ok(Self {
            addr: range.addr,
            len: range.len,
        })
    }

    /// Like [`UserSlice::new`], refusing slices longer than `max`.
    pub fn with_limit(addr: usize, len: usize, max: usize) -> Result<Self, Error> {
        if len > max {
            return Err(Error::InvalidArgument);
        }
        Self::new(addr, len)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The first `len` bytes, if the slice is that long.
    pub fn prefix(&self, len: usize) -> Option<UserSlice> {
        (len <= self.len).then_some(UserSlice {
            addr: self.addr,
            len,
        })
    }

    /// What follows the first `offset` bytes, if the slice is that long.
    pub fn suffix(&self, offset: usize) -> Option<UserSlice> {
        (offset <= self.len).then_some(UserSlice {
            addr: self.addr + offset as u64,
            len: self.len - offset,
        })
    }

    /// Copies the slice into `buffer` (which must be exactly as long).
    pub fn read_into(&self, buffer: &mut [u8]) -> Result<(), Error> {
        assert_eq!(buffer.len(), self.len);
        if self.len == 0 {
            return Ok(());
        }
        usercopy::copy_from_user(buffer, self.addr).map_err(|_| Error::BadAddress)
    }

    /// Copies the slice into a new vector.
    pub fn read_to_vec(&self) -> Result<Vec<u8>, Error> {
        let mut buffer = alloc::vec![0u8; self.len];
        self.read_into(&mut buffer)?;
        Ok(buffer)
    }

    /// Copies `data` (exactly as long as the slice) to user memory.
    pub fn write_from(&self, data: &[u8]) -> Result<(), Error> {
        assert_eq!(data.len(), self.len);
        if self.len == 0 {
            return Ok(());
        }
        usercopy::copy_to_user(self.addr, data).map_err(|_| Error::BadAddress)
    }
}
