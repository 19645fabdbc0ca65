//! The two entry formats, request (32 bytes) and response (16 bytes), and their byte encoding.
//!
//! Decoding is total: every 32 bytes are some [`Request`], every field kept as it was on the
//! wire, so that [`super::validate`] sees exactly what the server wrote.

/// A request's operation, from its `op` byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// Device to data region.
    Read = 1,
    /// Data region to device.
    Write = 2,
    /// Make earlier completed writes durable; moves no data.
    Flush = 3,
}

impl Op {
    /// The operation with this code, if there is one.
    pub const fn from_code(code: u8) -> Option<Op> {
        match code {
            1 => Some(Op::Read),
            2 => Some(Op::Write),
            3 => Some(Op::Flush),
            _ => None,
        }
    }

    /// The operation's `op` byte.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// A submission entry as the server wrote it (little-endian on the wire):
///
/// | bytes   | field      | meaning                                                  |
/// |---------|------------|----------------------------------------------------------|
/// | `0..8`  | `id`       | opaque, echoed in the response                           |
/// | `8`     | `op`       | 1 read, 2 write, 3 flush ([`Op`])                        |
/// | `9`     | `flags`    | must be 0                                                |
/// | `10..12`| `reserved` | must be 0                                                |
/// | `12..16`| `count`    | sectors                                                  |
/// | `16..24`| `first`    | first sector, inside the disk or partition of the ring   |
/// | `24..32`| `offset`   | byte offset of the buffer in the registered data region  |
///
/// Nothing here is checked: the fields are the server's allegations until
/// [`super::validate`] accepts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Request {
    /// Opaque to the kernel; echoed in the response.
    pub id: u64,
    /// The operation's code ([`Op::code`]); anything else is refused.
    pub op: u8,
    /// Zero; nonzero is refused (kept for future use).
    pub flags: u8,
    /// Zero; nonzero is refused.
    pub reserved: u16,
    /// Sectors to move.
    pub count: u32,
    /// First sector, counted from the start of the ring's disk or partition.
    pub first: u64,
    /// Byte offset of the buffer in the data region.
    pub offset: u64,
}

impl Request {
    /// Reads `count` sectors from `first` into the data region at `offset`.
    pub const fn read(id: u64, first: u64, count: u32, offset: u64) -> Request {
        Request::transfer(Op::Read, id, first, count, offset)
    }

    /// Writes `count` sectors from the data region at `offset` to `first`.
    pub const fn write(id: u64, first: u64, count: u32, offset: u64) -> Request {
        Request::transfer(Op::Write, id, first, count, offset)
    }

    /// Flushes the device's write cache.
    pub const fn flush(id: u64) -> Request {
        Request::transfer(Op::Flush, id, 0, 0, 0)
    }

    const fn transfer(op: Op, id: u64, first: u64, count: u32, offset: u64) -> Request {
        Request {
            id,
            op: op.code(),
            flags: 0,
            reserved: 0,
            count,
            first,
            offset,
        }
    }

    /// The entry's bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut bytes = [0; 32];
        bytes[0..8].copy_from_slice(&self.id.to_le_bytes());
        bytes[8] = self.op;
        bytes[9] = self.flags;
        bytes[10..12].copy_from_slice(&self.reserved.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.count.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.first.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.offset.to_le_bytes());
        bytes
    }

    /// The request these bytes hold, whatever they are.
    pub fn from_bytes(bytes: &[u8; 32]) -> Request {
        let (id, rest) = split::<8, 24>(bytes);
        let (&[op, flags, reserved_0, reserved_1], rest) = split::<4, 20>(rest);
        let (count, rest) = split::<4, 16>(rest);
        let (first, offset) = split::<8, 8>(rest);
        Request {
            id: u64::from_le_bytes(*id),
            op,
            flags,
            reserved: u16::from_le_bytes([reserved_0, reserved_1]),
            count: u32::from_le_bytes(*count),
            first: u64::from_le_bytes(*first),
            offset: u64::from_le_bytes(*offset),
        }
    }
}

/// A completion entry (little-endian on the wire):
///
/// | bytes   | field    | meaning                                    |
/// |---------|----------|--------------------------------------------|
/// | `0..8`  | `id`     | the request's `id`                         |
/// | `8..12` | `status` | [`super::Status::code`]: 0 ok, negative error |
/// | `12..16`| `count`  | sectors done                               |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Response {
    /// The request's `id`.
    pub id: u64,
    /// The outcome.
    pub status: super::Status,
    /// Sectors moved (0 for a flush and for a refused request).
    pub count: u32,
}

impl Response {
    /// The entry's bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[0..8].copy_from_slice(&self.id.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.status.code().to_le_bytes());
        bytes[12..16].copy_from_slice(&self.count.to_le_bytes());
        bytes
    }

    /// The response these bytes hold; `Err(code)` if the status code is not one this crate
    /// knows.
    pub fn from_bytes(bytes: &[u8; 16]) -> Result<Response, i32> {
        let (id, rest) = split::<8, 8>(bytes);
        let (status, count) = split::<4, 4>(rest);
        let code = i32::from_le_bytes(*status);
        Ok(Response {
            id: u64::from_le_bytes(*id),
            status: super::Status::from_code(code).ok_or(code)?,
            count: u32::from_le_bytes(*count),
        })
    }
}

/// Splits an array in two at compile-time lengths (`A + B` must be its length).
fn split<const A: usize, const B: usize>(bytes: &[u8]) -> (&[u8; A], &[u8; B]) {
    let (first, rest) = bytes
        .split_first_chunk::<A>()
        .expect("entry layouts are fixed at compile time");
    (
        first,
        rest.first_chunk::<B>()
            .expect("entry layouts are fixed at compile time"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn requests_are_little_endian_at_their_offsets() {
        let request = Request {
            id: 0x0807_0605_0403_0201,
            op: 2,
            flags: 0x11,
            reserved: 0x1312,
            count: 0x1716_1514,
            first: 0x1f1e_1d1c_1b1a_1918,
            offset: 0x2726_2524_2322_2120,
        };
        let bytes = request.to_bytes();
        let expected: [u8; 32] = [
            1, 2, 3, 4, 5, 6, 7, 8, 2, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
            0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
        ];
        assert_eq!(bytes, expected);
        assert_eq!(Request::from_bytes(&bytes), request);
        assert_eq!(Request::from_bytes(&[0; 32]), Request::default());
    }

    #[test]
    fn responses_are_little_endian_at_their_offsets() {
        let response = Response {
            id: 0x0807_0605_0403_0201,
            status: Status::Misaligned,
            count: 0x0c0b_0a09,
        };
        let bytes = response.to_bytes();
        assert_eq!(&bytes[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[8..12], &(-3i32).to_le_bytes());
        assert_eq!(&bytes[12..], &[9, 10, 11, 12]);
        assert_eq!(Response::from_bytes(&bytes), Ok(response));
        let mut unknown = bytes;
        unknown[8..12].copy_from_slice(&(-77i32).to_le_bytes());
        assert_eq!(Response::from_bytes(&unknown), Err(-77));
    }

    #[test]
    fn constructors_and_op_codes() {
        assert_eq!(Request::read(1, 2, 3, 4).op, 1);
        assert_eq!(Request::write(1, 2, 3, 4).op, 2);
        let flush = Request::flush(9);
        assert_eq!(
            (flush.op, flush.count, flush.first, flush.offset),
            (3, 0, 0, 0)
        );
        for code in 0..=u8::MAX {
            match Op::from_code(code) {
                Some(op) => assert_eq!(op.code(), code),
                None => assert!(code == 0 || code > 3),
            }
        }
    }
}
