//! Sector ranges: a partition's place on its disk, and the check that keeps a request inside it.

use core::fmt;

/// `count` sectors from `first`, with `first + count` known not to overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extent {
    first: u64,
    count: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    /// A request for no sectors.
    Empty,
    /// The request starts at or past the end of the extent.
    StartsPastEnd {
        /// The first sector asked for, relative to the extent.
        sector: u64,
        /// The extent's length in sectors.
        len: u64,
    },
    /// The request starts inside the extent but runs past its end (or past `u64::MAX`).
    EndsPastEnd {
        /// The first sector asked for, relative to the extent.
        sector: u64,
        /// How many sectors were asked for.
        count: u64,
        /// The extent's length in sectors.
        len: u64,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("request for no sectors"),
            Self::StartsPastEnd { sector, len } => {
                write!(f, "sector {sector} is past the end ({len} sectors)")
            }
            Self::EndsPastEnd { sector, count, len } => write!(
                f,
                "{count} sectors from sector {sector} run past the end ({len} sectors)"
            ),
        }
    }
}

impl core::error::Error for RangeError {}

impl Extent {
    /// `count` sectors from `first`; `None` if the last one would be past `u64::MAX`.
    pub const fn new(first: u64, count: u64) -> Option<Self> {
        match first.checked_add(count) {
            Some(_) => Some(Self { first, count }),
            None => None,
        }
    }

    /// The first sector.
    pub const fn first(&self) -> u64 {
        self.first
    }

    /// The length in sectors.
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The sector just past the end (never overflows: checked in [`Extent::new`]).
    pub const fn end(&self) -> u64 {
        self.first + self.count
    }

    /// Whether the extent lies inside a disk of `sectors` sectors.
    pub const fn fits_in(&self, sectors: u64) -> bool {
        self.end() <= sectors
    }

    /// The part of this extent that a request for `count` sectors from `sector` (relative to
    /// the extent's start) covers, in the outer (disk) numbering; refused unless the whole
    /// request lies inside.
    pub fn request(&self, sector: u64, count: u64) -> Result<Extent, RangeError> {
        let len = self.count;
        if count == 0 {
            return Err(RangeError::Empty);
        }
        if sector >= len {
            return Err(RangeError::StartsPastEnd { sector, len });
        }
        // `sector < len`, so `len - sector` is at least 1 and cannot underflow; comparing
        // with it avoids the overflow `sector + count` could have.
        if count > len - sector {
            return Err(RangeError::EndsPastEnd { sector, count, len });
        }
        Ok(Extent {
            first: self.first + sector,
            count,
        })
    }

    /// The disk sector where a request for `count` sectors from `sector` starts; refused
    /// unless the whole request lies inside the extent.
    pub fn translate(&self, sector: u64, count: u64) -> Result<u64, RangeError> {
        self.request(sector, count).map(|e| e.first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_overflow() {
        assert!(Extent::new(u64::MAX, 0).is_some());
        assert!(Extent::new(u64::MAX, 1).is_none());
        assert!(Extent::new(u64::MAX - 10, 10).is_some());
        assert!(Extent::new(u64::MAX - 9, 10).is_none());
        assert!(Extent::new(1, u64::MAX).is_none());
        let e = Extent::new(2048, 100).unwrap();
        assert_eq!((e.first(), e.count(), e.end()), (2048, 100, 2148));
        assert!(e.fits_in(2148));
        assert!(!e.fits_in(2147));
    }

    #[test]
    fn requests_inside_translate() {
        let e = Extent::new(2048, 100).unwrap();
        assert_eq!(e.translate(0, 1), Ok(2048));
        assert_eq!(e.translate(0, 100), Ok(2048));
        assert_eq!(e.translate(99, 1), Ok(2147));
        assert_eq!(e.translate(50, 50), Ok(2098));
        assert_eq!(e.request(10, 5), Ok(Extent::new(2058, 5).unwrap()));
    }

    #[test]
    fn requests_outside_are_refused() {
        let e = Extent::new(2048, 100).unwrap();
        assert_eq!(e.translate(0, 0), Err(RangeError::Empty));
        assert_eq!(
            e.translate(100, 1),
            Err(RangeError::StartsPastEnd {
                sector: 100,
                len: 100
            })
        );
        assert_eq!(
            e.translate(99, 2),
            Err(RangeError::EndsPastEnd {
                sector: 99,
                count: 2,
                len: 100
            })
        );
        assert_eq!(
            e.translate(0, 101),
            Err(RangeError::EndsPastEnd {
                sector: 0,
                count: 101,
                len: 100
            })
        );
        // Sums that overflow u64 are refused, not wrapped.
        assert!(matches!(
            e.translate(1, u64::MAX),
            Err(RangeError::EndsPastEnd { .. })
        ));
        assert!(matches!(
            e.translate(u64::MAX, u64::MAX),
            Err(RangeError::StartsPastEnd { .. })
        ));
        let top = Extent::new(u64::MAX - 10, 10).unwrap();
        assert_eq!(top.translate(9, 1), Ok(u64::MAX - 1));
        assert!(top.translate(9, 2).is_err());
        let empty = Extent::new(5, 0).unwrap();
        assert!(matches!(
            empty.translate(0, 1),
            Err(RangeError::StartsPastEnd { .. })
        ));
    }

    /// Every small request against every small extent: accepted exactly when it lies inside,
    /// and then mapped by adding the extent's start.
    #[test]
    fn exhaustive_small_cases() {
        for first in [0u64, 7, u64::MAX - 8] {
            for len in 0..8 {
                let e = Extent::new(first, len).unwrap();
                for sector in 0..10 {
                    for count in 0..10 {
                        let inside = count > 0 && sector + count <= len;
                        match e.translate(sector, count) {
                            Ok(at) => {
                                assert!(inside, "{first} {len} {sector} {count}");
                                assert_eq!(at, first + sector);
                            }
                            Err(_) => assert!(!inside, "{first} {len} {sector} {count}"),
                        }
                    }
                }
            }
        }
    }
}
