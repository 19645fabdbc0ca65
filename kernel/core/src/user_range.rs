//! The one check every user pointer and length goes through before the kernel touches it.

use lux9_abi::Error;
use lux9_abi::syscall::USER_END;

/// A non-empty range `[addr, addr + len)` that lies wholly in the user half, or the empty range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRange {
    pub addr: u64,
    pub len: usize,
}

impl UserRange {
    /// Checks a pointer and length from ring 3: no wrap-around, no byte at or above the end of
    /// the user half, no null pointer for a non-empty range. An empty range is always valid.
    pub fn new(addr: usize, len: usize) -> Result<Self, Error> {
        if len == 0 {
            return Ok(Self { addr: 0, len: 0 });
        }
        let end = (addr as u64)
            .checked_add(len as u64)
            .ok_or(Error::BadAddress)?;
        if addr == 0 || end > USER_END {
            return Err(Error::BadAddress);
        }
        Ok(Self {
            addr: addr as u64,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_user_ranges() {
        assert_eq!(
            UserRange::new(0x40_0000, 10),
            Ok(UserRange {
                addr: 0x40_0000,
                len: 10
            })
        );
        assert!(UserRange::new((USER_END - 1) as usize, 1).is_ok());
        assert_eq!(UserRange::new(0, 0), Ok(UserRange { addr: 0, len: 0 }));
        assert_eq!(
            UserRange::new(0xffff_8000_0000_0000, 0).map(|r| r.len),
            Ok(0)
        );
    }

    #[test]
    fn rejects_null_kernel_straddling_and_wrapping_ranges() {
        assert_eq!(UserRange::new(0, 1), Err(Error::BadAddress));
        assert_eq!(
            UserRange::new(0xffff_ffff_8000_0000, 8),
            Err(Error::BadAddress)
        );
        assert_eq!(
            UserRange::new((USER_END - 4) as usize, 8),
            Err(Error::BadAddress),
            "straddles"
        );
        assert_eq!(
            UserRange::new(usize::MAX - 2, 8),
            Err(Error::BadAddress),
            "wraps"
        );
        assert_eq!(UserRange::new(USER_END as usize, 1), Err(Error::BadAddress));
    }
}
