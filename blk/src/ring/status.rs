//! The outcome of one request, as a stable numeric code in its response.

use core::fmt;

/// A response's status: 0 for success, a negative code for each reason a request failed.
///
/// The codes are part of the ring's ABI and never change meaning; new ones get new numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Done: `count` sectors transferred (0 for a flush).
    Ok = 0,
    /// The sector range is not inside the disk or partition the ring is bound to.
    OutOfRange = -1,
    /// The buffer is not inside the registered data region (or its end overflows).
    BadBuffer = -2,
    /// The buffer offset is not a multiple of the sector size.
    Misaligned = -3,
    /// Not a request: unknown operation, nonzero flags or reserved bits, a read or write of no
    /// sectors, a flush with a count, sector or offset.
    Malformed = -4,
    /// A write to a read-only disk or partition.
    ReadOnly = -5,
    /// More sectors than one request may move.
    TooLarge = -6,
    /// The device reported an error.
    DeviceError = -7,
    /// The device did not answer in time.
    TimedOut = -8,
    /// The kernel refused the whole ring: the server wrote an impossible counter.
    RingCorrupt = -9,
}

impl Status {
    /// Every status, in code order (0, -1, -2, ...).
    pub const ALL: [Status; 10] = [
        Status::Ok,
        Status::OutOfRange,
        Status::BadBuffer,
        Status::Misaligned,
        Status::Malformed,
        Status::ReadOnly,
        Status::TooLarge,
        Status::DeviceError,
        Status::TimedOut,
        Status::RingCorrupt,
    ];

    /// The status's code in a response.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The status with this code, if there is one.
    pub const fn from_code(code: i32) -> Option<Status> {
        // Codes run 0, -1, ..., -9 without gaps, in the order of ALL.
        if code > 0 || code < -(Status::ALL.len() as i32 - 1) {
            return None;
        }
        Some(Status::ALL[code.unsigned_abs() as usize])
    }

    /// Whether the request succeeded.
    pub const fn is_ok(self) -> bool {
        matches!(self, Status::Ok)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Status::Ok => "ok",
            Status::OutOfRange => "sector range outside the device",
            Status::BadBuffer => "buffer outside the data region",
            Status::Misaligned => "buffer not aligned to the sector size",
            Status::Malformed => "malformed request",
            Status::ReadOnly => "device is read-only",
            Status::TooLarge => "request too large",
            Status::DeviceError => "device error",
            Status::TimedOut => "device timed out",
            Status::RingCorrupt => "block ring corrupt",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for (index, status) in Status::ALL.into_iter().enumerate() {
            assert_eq!(status.code(), -(index as i32));
            assert_eq!(Status::from_code(status.code()), Some(status));
        }
        for code in [1, -10, -11, i32::MIN, i32::MAX, 100] {
            assert_eq!(Status::from_code(code), None, "{code}");
        }
        assert!(Status::Ok.is_ok());
        assert!(!Status::DeviceError.is_ok());
    }

    #[test]
    fn every_status_has_its_own_text() {
        let texts: std::collections::HashSet<String> = Status::ALL
            .iter()
            .map(|status| status.to_string())
            .collect();
        assert_eq!(texts.len(), Status::ALL.len());
    }
}
