//! The honest side's auditing memory and the fixtures the hostile-peer tests share.

use std::sync::atomic::Ordering;

use lux9_ring::layout::offset;
use lux9_ring::{Direction, Geometry, HeapRegion, Memory, RingError, RingMemory};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

/// The honest side's view of the region: every access is checked against what its role may
/// touch, then performed on the real region.
#[derive(Clone, Copy)]
pub(crate) struct Audit<'a> {
    pub(crate) inner: RingMemory<'a>,
    pub(crate) geometry: Geometry,
    pub(crate) role: Role,
}

pub(crate) const HEADER_WORDS: [usize; 12] = [
    offset::MAGIC,
    offset::VERSION,
    offset::SLOT_COUNT,
    offset::SLOT_SIZE,
    offset::REQUEST_HEAD,
    offset::REQUEST_TAIL,
    offset::REPLY_HEAD,
    offset::REPLY_TAIL,
    offset::SERVER_WAITING,
    offset::CLIENT_WAITING,
    offset::SERVER_SKIPS,
    offset::CLIENT_SKIPS,
];

impl Audit<'_> {
    fn word(&self, at: usize) {
        assert!(
            HEADER_WORDS.contains(&at),
            "{:?}: word access at {at:#x}",
            self.role
        );
    }

    fn bytes(&self, at: usize, len: usize, write: bool) {
        // A client writes requests and reads replies; a server the other way round.
        let ring = match (self.role, write) {
            (Role::Client, true) | (Role::Server, false) => Direction::Requests,
            _ => Direction::Replies,
        };
        let start = self.geometry.slots_offset(ring);
        let slot_size = self.geometry.slot_size() as usize;
        let end = start + self.geometry.slot_count() as usize * slot_size;
        let what = if write { "write" } else { "read" };
        assert!(
            at >= start && at + len <= end && len > 0,
            "{:?}: {what} of {len} bytes at {at:#x} outside the {ring:?} slots",
            self.role
        );
        assert_eq!(
            (at - start) / slot_size,
            (at + len - 1 - start) / slot_size,
            "{:?}: {what} of {len} bytes at {at:#x} crosses a slot boundary",
            self.role
        );
    }
}

impl Memory for Audit<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        self.word(at);
        Ok(self.inner.load_u32(at, order).expect("in bounds"))
    }
    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        self.word(at);
        self.inner.store_u32(at, value, order).expect("in bounds");
        Ok(())
    }
    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        self.word(at);
        Ok(self.inner.swap_u32(at, value, order).expect("in bounds"))
    }
    fn fence_seq_cst(&self) {
        self.inner.fence_seq_cst();
    }
    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        self.bytes(at, destination.len(), false);
        self.inner.read(at, destination).expect("in bounds");
        Ok(())
    }
    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        self.bytes(at, source.len(), true);
        self.inner.write(at, source).expect("in bounds");
        Ok(())
    }
}

pub(crate) fn audit(region: &HeapRegion, geometry: Geometry, role: Role) -> Audit<'_> {
    Audit {
        inner: region.memory(),
        geometry,
        role,
    }
}

/// Checks what the honest side received: `Ok` only with a well-formed message in bounds.
pub(crate) fn check_received(result: Result<Option<usize>, RingError>, buffer: &[u8], max: u32) {
    match result {
        Ok(Some(len)) => {
            assert!((7..=max as usize).contains(&len), "received {len} bytes");
            let size = u32::from_le_bytes(buffer[..4].try_into().unwrap());
            assert_eq!(size as usize, len);
        }
        Ok(None) => {}
        Err(error) => assert!(
            error.is_fatal() || error.consumed_entry(),
            "unexpected error {error:?}"
        ),
    }
}

pub(crate) const N: u32 = 4;
pub(crate) const SLOT: u32 = 32;
pub(crate) const START: u32 = u32::MAX - 1;

pub(crate) fn geometry() -> Geometry {
    Geometry::new(N, SLOT).unwrap()
}

/// Writes an entry the way a producer would, with any length prefix and message bytes.
pub(crate) fn put_entry(
    memory: &RingMemory<'_>,
    ring: Direction,
    counter: u32,
    prefix: u32,
    bytes: &[u8],
) {
    let slot = geometry().slot_offset(ring, counter);
    memory.write(slot, &prefix.to_le_bytes()).unwrap();
    memory.write(slot + 4, bytes).unwrap();
}
