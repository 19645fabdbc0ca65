//! The kernel's check of one request against the device it is bound to: the only way from a
//! [`Request`] (the server's allegation) to a [`Checked`] transfer.

use crate::Extent;

use super::entry::{Op, Request};
use super::status::Status;

/// What a ring is bound to: the kernel's own record, never read from shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The disk or partition, in the disk's sectors; requests count from its start.
    pub extent: Extent,
    /// Bytes per sector. Buffer offsets must be multiples of it (DMA alignment); a target with
    /// a sector size of 0 refuses every read and write as [`Status::Misaligned`].
    pub sector_size: u32,
    /// Length in bytes of the data region the server registered.
    pub region_len: u64,
    /// Writes are refused with [`Status::ReadOnly`].
    pub read_only: bool,
    /// The most sectors one request may move (the device's limit, or the kernel's).
    pub max_sectors: u32,
}

/// A request that [`validate`] accepted: every field checked, the sector absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Checked {
    /// The operation.
    pub op: Op,
    /// The first sector on the disk ([`Extent::translate`] of the request's `first`); 0 for a
    /// flush.
    pub disk_lba: u64,
    /// Sectors to move, `1..=max_sectors`; 0 for a flush.
    pub count: u32,
    /// The buffer's offset in the data region, a multiple of the sector size.
    pub offset: u64,
    /// The buffer's length, `count * sector_size`; `offset + len_bytes <= region_len`.
    pub len_bytes: u64,
}

/// Checks `request` against `target`. The first rule broken, in this order, is the answer:
///
/// 1. [`Status::Malformed`]: an unknown `op`, nonzero `flags` or `reserved`; a read or write
///    of 0 sectors; a flush with a nonzero `count`, `first` or `offset`.
/// 2. [`Status::ReadOnly`]: a write to a read-only target.
/// 3. [`Status::TooLarge`]: more than `max_sectors` sectors.
/// 4. [`Status::OutOfRange`]: sectors not all inside the extent.
/// 5. [`Status::Misaligned`]: an offset that is not a multiple of the sector size.
/// 6. [`Status::BadBuffer`]: a buffer that does not lie inside the data region, or whose end
///    overflows.
///
/// A flush passes rule 1 and is accepted, read-only target or not. Every step is checked
/// arithmetic; nothing panics, whatever the request and the target hold.
pub fn validate(request: &Request, target: &Target) -> Result<Checked, Status> {
    let op = Op::from_code(request.op).ok_or(Status::Malformed)?;
    if request.flags != 0 || request.reserved != 0 {
        return Err(Status::Malformed);
    }
    if op == Op::Flush {
        if request.count != 0 || request.first != 0 || request.offset != 0 {
            return Err(Status::Malformed);
        }
        return Ok(Checked {
            op,
            disk_lba: 0,
            count: 0,
            offset: 0,
            len_bytes: 0,
        });
    }
    if request.count == 0 {
        return Err(Status::Malformed);
    }
    if op == Op::Write && target.read_only {
        return Err(Status::ReadOnly);
    }
    if request.count > target.max_sectors {
        return Err(Status::TooLarge);
    }
    let disk_lba = target
        .extent
        .translate(request.first, u64::from(request.count))
        .map_err(|_| Status::OutOfRange)?;
    let sector_size = u64::from(target.sector_size);
    match request.offset.checked_rem(sector_size) {
        Some(0) => {}
        _ => return Err(Status::Misaligned),
    }
    // Two u32s: the product always fits in a u64.
    let len_bytes = u64::from(request.count) * sector_size;
    match request.offset.checked_add(len_bytes) {
        Some(end) if end <= target.region_len => {}
        _ => return Err(Status::BadBuffer),
    }
    Ok(Checked {
        op,
        disk_lba,
        count: request.count,
        offset: request.offset,
        len_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Target = Target {
        extent: match Extent::new(2048, 1000) {
            Some(extent) => extent,
            None => panic!(),
        },
        sector_size: 512,
        region_len: 64 * 1024,
        read_only: false,
        max_sectors: 64,
    };

    #[test]
    fn good_requests_are_translated() {
        assert_eq!(
            validate(&Request::read(7, 0, 8, 4096), &TARGET),
            Ok(Checked {
                op: Op::Read,
                disk_lba: 2048,
                count: 8,
                offset: 4096,
                len_bytes: 4096
            })
        );
        // The last sector, into the end of the region; the largest request.
        let last = validate(&Request::write(1, 999, 1, 64 * 1024 - 512), &TARGET).unwrap();
        assert_eq!(
            (last.op, last.disk_lba, last.len_bytes),
            (Op::Write, 3047, 512)
        );
        assert_eq!(
            validate(&Request::read(1, 0, 64, 32 * 1024), &TARGET).map(|c| c.len_bytes),
            Ok(32 * 1024)
        );
        assert_eq!(
            validate(&Request::flush(3), &TARGET).map(|c| c.op),
            Ok(Op::Flush)
        );
        let read_only = Target {
            read_only: true,
            ..TARGET
        };
        assert!(validate(&Request::read(1, 0, 1, 0), &read_only).is_ok());
        assert!(validate(&Request::flush(1), &read_only).is_ok());
    }

    #[test]
    fn every_refusal_is_reachable() {
        let read = Request::read(1, 0, 1, 0);
        let cases = [
            (Request { op: 0, ..read }, Status::Malformed),
            (Request { op: 4, ..read }, Status::Malformed),
            (Request { op: 0xff, ..read }, Status::Malformed),
            (Request { flags: 1, ..read }, Status::Malformed),
            (
                Request {
                    reserved: 0x100,
                    ..read
                },
                Status::Malformed,
            ),
            (Request::read(1, 0, 0, 0), Status::Malformed),
            (Request::write(1, 0, 0, 0), Status::Malformed),
            (
                Request {
                    count: 1,
                    ..Request::flush(1)
                },
                Status::Malformed,
            ),
            (
                Request {
                    first: 1,
                    ..Request::flush(1)
                },
                Status::Malformed,
            ),
            (
                Request {
                    offset: 512,
                    ..Request::flush(1)
                },
                Status::Malformed,
            ),
            (Request::read(1, 0, 65, 0), Status::TooLarge),
            (Request::read(1, 0, u32::MAX, 0), Status::TooLarge),
            (Request::read(1, 1000, 1, 0), Status::OutOfRange),
            (Request::read(1, 999, 2, 0), Status::OutOfRange),
            (Request::read(1, u64::MAX, 1, 0), Status::OutOfRange),
            (Request::read(1, 0, 1, 1), Status::Misaligned),
            (Request::read(1, 0, 1, 511), Status::Misaligned),
            (Request::read(1, 0, 1, 64 * 1024), Status::BadBuffer),
            (Request::read(1, 0, 2, 64 * 1024 - 512), Status::BadBuffer),
            (Request::read(1, 0, 1, u64::MAX - 511), Status::BadBuffer),
        ];
        for (request, status) in cases {
            assert_eq!(validate(&request, &TARGET), Err(status), "{request:?}");
        }
        let read_only = Target {
            read_only: true,
            ..TARGET
        };
        assert_eq!(
            validate(&Request::write(1, 0, 1, 0), &read_only),
            Err(Status::ReadOnly)
        );
    }

    #[test]
    fn rules_apply_in_order() {
        let read_only = Target {
            read_only: true,
            ..TARGET
        };
        // Malformed before ReadOnly, ReadOnly before TooLarge, TooLarge before OutOfRange,
        // OutOfRange before Misaligned, Misaligned before BadBuffer.
        let write = Request::write(1, u64::MAX, 100, u64::MAX);
        assert_eq!(
            validate(&Request { flags: 1, ..write }, &read_only),
            Err(Status::Malformed)
        );
        assert_eq!(validate(&write, &read_only), Err(Status::ReadOnly));
        assert_eq!(validate(&write, &TARGET), Err(Status::TooLarge));
        assert_eq!(
            validate(&Request::write(1, u64::MAX, 1, 1), &TARGET),
            Err(Status::OutOfRange)
        );
        assert_eq!(
            validate(&Request::write(1, 0, 1, u64::MAX), &TARGET),
            Err(Status::Misaligned)
        );
    }

    #[test]
    fn odd_targets_never_panic() {
        let zero = Target {
            sector_size: 0,
            ..TARGET
        };
        assert_eq!(
            validate(&Request::read(1, 0, 1, 0), &zero),
            Err(Status::Misaligned)
        );
        let huge = Target {
            extent: Extent::new(0, u64::MAX).unwrap(),
            sector_size: u32::MAX,
            region_len: u64::MAX,
            read_only: false,
            max_sectors: u32::MAX,
        };
        let checked = validate(&Request::read(1, 0, u32::MAX, 0), &huge).unwrap();
        assert_eq!(checked.len_bytes, u64::from(u32::MAX) * u64::from(u32::MAX));
        // An aligned offset whose end overflows u64.
        let aligned = u64::from(u32::MAX) << 32;
        assert_eq!(
            validate(&Request::read(1, 0, u32::MAX, aligned), &huge),
            Err(Status::BadBuffer)
        );
        assert_eq!(
            validate(&Request::read(1, 0, u32::MAX, aligned + 1), &huge),
            Err(Status::Misaligned)
        );
        let empty = Target {
            extent: Extent::new(0, 0).unwrap(),
            region_len: 0,
            max_sectors: 0,
            ..TARGET
        };
        assert_eq!(
            validate(&Request::read(1, 0, 1, 0), &empty),
            Err(Status::TooLarge)
        );
        assert!(validate(&Request::flush(1), &empty).is_ok());
    }
}
