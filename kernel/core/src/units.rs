//! Small helpers for printing sizes and aligning addresses.

use core::fmt;

/// Size of one page / physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// [`PAGE_SIZE`] for byte counts and offsets in memory (`usize`).
pub const PAGE_BYTES: usize = PAGE_SIZE as usize;

/// Rounds `value` up to a multiple of `align` (a power of two). Saturates at the top.
pub const fn align_up(value: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    match value.checked_add(align - 1) {
        Some(v) => v & !(align - 1),
        None => !(align - 1),
    }
}

/// Rounds `value` down to a multiple of `align` (a power of two).
pub const fn align_down(value: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    value & !(align - 1)
}

/// A byte count printed the way a person reads it: `512 KiB`, `1.5 MiB`, `24 GiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut unit = 0;
        let mut scaled = self.0;
        let mut rem = 0;
        while scaled >= 1024 && unit < UNITS.len() - 1 {
            rem = scaled % 1024;
            scaled /= 1024;
            unit += 1;
        }
        let tenth = rem * 10 / 1024;
        if unit == 0 || tenth == 0 {
            write!(f, "{} {}", scaled, UNITS[unit])
        } else {
            write!(f, "{}.{} {}", scaled, tenth, UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment() {
        assert_eq!(align_up(0, 4096), 0);
        assert_eq!(align_up(1, 4096), 4096);
        assert_eq!(align_up(4096, 4096), 4096);
        assert_eq!(align_down(8191, 4096), 4096);
        assert_eq!(align_up(u64::MAX - 5, 4096), !4095);
    }

    #[test]
    fn bytes_display() {
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(1023).to_string(), "1023 B");
        assert_eq!(Bytes(1024).to_string(), "1 KiB");
        assert_eq!(Bytes(1536 * 1024).to_string(), "1.5 MiB");
        assert_eq!(Bytes(24 << 30).to_string(), "24 GiB");
    }
}
