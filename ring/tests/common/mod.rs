//! Helpers shared by the ring's integration tests: 9P-shaped messages, a small random number
//! generator, and initialised regions.
#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use lux9_ring::{Geometry, HeapRegion, initialise_with_counters};

/// A 9P-shaped message: `size[4] type[1] tag[2]` then `body`, with `size` its whole length.
pub fn message(kind: u8, tag: u16, body: &[u8]) -> Vec<u8> {
    let size = u32::try_from(7 + body.len()).expect("test message fits u32");
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend_from_slice(&size.to_le_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(&tag.to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// The message numbered `sequence`: its tag and a body whose length and bytes follow from it,
/// between 0 and `max_body` bytes, so that a receiver can check order and content.
pub fn numbered(kind: u8, sequence: u32, max_body: usize) -> Vec<u8> {
    let len = (sequence as usize).wrapping_mul(7919) % (max_body + 1);
    let body: Vec<u8> = (0..len)
        .map(|i| (sequence as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect();
    let mut bytes = message(kind, sequence as u16, &body);
    // Put the full sequence number in the body's first bytes when it has room, so that a
    // message is never mistaken for one 65,536 earlier.
    if len >= 4 {
        bytes[7..11].copy_from_slice(&sequence.to_le_bytes());
    }
    bytes
}

/// xorshift64*: deterministic, seedable, good enough to pick garbage.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
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
}

/// A heap region for `geometry`, initialised with every counter at `start`.
pub fn ring_region(geometry: Geometry, start: u32) -> HeapRegion {
    let region = HeapRegion::new(geometry.region_len());
    initialise_with_counters(&region.memory(), geometry, start).expect("initialise the region");
    region
}
