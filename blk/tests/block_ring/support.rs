//! What the block ring tests share: a random number generator, a target, regions, and the
//! kernel's auditing memory.

use std::sync::atomic::{AtomicBool, Ordering};

use lux9_blk::Extent;
use lux9_blk::ring::layout::{REQUEST_SIZE, RESPONSE_SIZE, offset};
use lux9_blk::ring::{Checked, Geometry, Kernel, Op, Request, Response, Status, Taken, Target};
use lux9_ring::{HeapRegion, Memory, RingError, RingMemory};

/// xorshift64*: deterministic, seedable, good enough to pick garbage.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number below `bound` (> 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A partition of 10,000 sectors at 2048, 512-byte sectors, a 1 MiB data region, at most 64
/// sectors per request.
pub fn target() -> Target {
    Target {
        extent: Extent::new(2048, 10_000).unwrap(),
        sector_size: 512,
        region_len: 1 << 20,
        read_only: false,
        max_sectors: 64,
    }
}

/// A request that `target()` accepts, or (one time in `bad_one_in`) one it may refuse.
pub fn some_request(rng: &mut Rng, id: u64, bad_one_in: u64) -> Request {
    let count = rng.below(64) as u32 + 1;
    let first = rng.below(10_000 - u64::from(count) + 1);
    let offset = rng.below((1 << 20) / 512 - u64::from(count) + 1) * 512;
    let mut request = match rng.below(10) {
        0 => Request::flush(id),
        1..=4 => Request::write(id, first, count, offset),
        _ => Request::read(id, first, count, offset),
    };
    if rng.one_in(bad_one_in) {
        match rng.below(6) {
            0 => request.op = rng.next_u32() as u8,
            1 => request.flags = 1,
            2 => request.count = rng.next_u32(),
            3 => request.first = rng.next_u64(),
            4 => request.offset = rng.next_u64(),
            _ => request.offset += 1,
        }
    }
    request
}

/// The response the kernel in these tests gives a request: its verdict's status, the count
/// for an accepted transfer, and a device error for every accepted id divisible by 97.
pub fn expected_response(request: &Request, target: &Target) -> Response {
    let (status, count) = match lux9_blk::ring::validate(request, target) {
        Ok(_) if request.id.is_multiple_of(97) => (Status::DeviceError, 0),
        Ok(checked) => (Status::Ok, checked.count),
        Err(status) => (status, 0),
    };
    Response {
        id: request.id,
        status,
        count,
    }
}

/// Checks an accepted request against the rules directly, without `validate`: what the kernel
/// would hand the device must be safe to hand it.
pub fn assert_safe(request: &Request, checked: &Checked, target: &Target) {
    assert_eq!(request.op, checked.op.code(), "{request:?}");
    assert_eq!((request.flags, request.reserved), (0, 0), "{request:?}");
    if checked.op == Op::Flush {
        assert_eq!((request.count, request.first, request.offset), (0, 0, 0));
        assert_eq!((checked.count, checked.len_bytes), (0, 0));
        return;
    }
    assert!(
        !(checked.op == Op::Write && target.read_only),
        "{request:?}"
    );
    assert_eq!(checked.count, request.count);
    assert!(
        (1..=target.max_sectors).contains(&checked.count),
        "{request:?}"
    );
    // Inside the extent, in u128 so nothing here can overflow either.
    let first = u128::from(request.first);
    let end = first + u128::from(request.count);
    assert!(end <= u128::from(target.extent.count()), "{request:?}");
    assert_eq!(
        u128::from(checked.disk_lba),
        u128::from(target.extent.first()) + first
    );
    // Inside the data region and aligned.
    let len = u128::from(request.count) * u128::from(target.sector_size);
    assert_eq!(u128::from(checked.len_bytes), len);
    assert_eq!(checked.offset, request.offset);
    assert_eq!(checked.offset % u64::from(target.sector_size), 0);
    assert!(u128::from(checked.offset) + len <= u128::from(target.region_len));
}

/// The kernel's view of the region: every access is checked against what the kernel may touch,
/// then performed on the real region. The kernel may load `sq_tail`, `cq_head` and the flag,
/// swap the flag, store its own counters (and, when creating the region, the header), copy
/// whole submission entries out and whole completion entries in. Anything else fails the test.
pub struct Audit<'a> {
    pub inner: RingMemory<'a>,
    pub geometry: Geometry,
    /// Set by the store of the magic, the last store of `initialise`: from then on the
    /// kernel stores only its own counters.
    pub created: AtomicBool,
}

/// What `initialise` stores.
const HEADER_STORES: [usize; 8] = [
    offset::MAGIC,
    offset::VERSION,
    offset::ENTRY_COUNT,
    offset::SQ_HEAD,
    offset::SQ_TAIL,
    offset::CQ_HEAD,
    offset::CQ_TAIL,
    offset::SERVER_WAITING,
];

impl Audit<'_> {
    fn entry(&self, at: usize, len: usize, first: usize, size: usize) {
        let count = self.geometry.entry_count() as usize;
        assert_eq!(len, size, "kernel: copy of {len} bytes at {at:#x}");
        assert!(
            at >= first && (at - first).is_multiple_of(size) && (at - first) / size < count,
            "kernel: copy at {at:#x} is not an entry"
        );
    }
}

impl Memory for Audit<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        assert!(
            [offset::SQ_TAIL, offset::CQ_HEAD, offset::SERVER_WAITING].contains(&at),
            "kernel: load at {at:#x}"
        );
        Ok(self.inner.load_u32(at, order).expect("in bounds"))
    }
    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        if self.created.load(Ordering::Relaxed) {
            assert!(
                [offset::SQ_HEAD, offset::CQ_TAIL].contains(&at),
                "kernel: store at {at:#x} after creating the region"
            );
        } else {
            assert!(HEADER_STORES.contains(&at), "kernel: store at {at:#x}");
            if at == offset::MAGIC && value != 0 {
                self.created.store(true, Ordering::Relaxed);
            }
        }
        self.inner.store_u32(at, value, order).expect("in bounds");
        Ok(())
    }
    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        assert_eq!(at, offset::SERVER_WAITING, "kernel: swap at {at:#x}");
        Ok(self.inner.swap_u32(at, value, order).expect("in bounds"))
    }
    fn fence_seq_cst(&self) {
        self.inner.fence_seq_cst();
    }
    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        self.entry(
            at,
            destination.len(),
            self.geometry.requests_offset(),
            REQUEST_SIZE,
        );
        self.inner.read(at, destination).expect("in bounds");
        Ok(())
    }
    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        self.entry(
            at,
            source.len(),
            self.geometry.responses_offset(),
            RESPONSE_SIZE,
        );
        self.inner.write(at, source).expect("in bounds");
        Ok(())
    }
}

/// A region for `geometry` and the kernel's endpoint on it, through the audit, with every
/// counter at `start`.
pub fn audited_kernel(
    region: &HeapRegion,
    geometry: Geometry,
    target: Target,
    start: u32,
) -> Kernel<Audit<'_>> {
    let audit = Audit {
        inner: region.memory(),
        geometry,
        created: AtomicBool::new(false),
    };
    Kernel::create_with_counters(audit, geometry, target, start).expect("create the ring")
}

/// A zeroed response buffer.
pub fn responses(len: usize) -> Vec<Response> {
    vec![
        Response {
            id: 0,
            status: Status::Ok,
            count: 0
        };
        len
    ]
}

/// Takes everything, completes it as `expected_response` says, publishes.
pub fn serve_all<M: Memory>(kernel: &mut Kernel<M>) -> usize {
    let mut taken = vec![Taken::default(); kernel.geometry().entry_count() as usize];
    let n = kernel.take(&mut taken).unwrap();
    for one in &taken[..n] {
        let response = expected_response(&one.request, kernel.target());
        kernel
            .complete(response.id, response.status, response.count)
            .unwrap();
    }
    kernel.publish().unwrap();
    n
}
