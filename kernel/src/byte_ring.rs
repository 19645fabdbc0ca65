//! A fixed-size byte queue: console input arrives in interrupt handlers and waits here until a
//! reader takes it. When full, new bytes are dropped and counted rather than overwriting old ones.

pub struct ByteRing<const N: usize> {
    bytes: [u8; N],
    head: usize,
    len: usize,
    dropped: u64,
}

impl<const N: usize> Default for ByteRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ByteRing<N> {
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    pub fn push(&mut self, byte: u8) -> bool {
        if self.len == N {
            self.dropped += 1;
            return false;
        }
        self.bytes[(self.head + self.len) % N] = byte;
        self.len += 1;
        true
    }

    pub fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let byte = self.bytes[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(byte)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes refused because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRing;

    #[test]
    fn fifo_order_across_wraparound() {
        let mut ring = ByteRing::<4>::new();
        for round in 0..10u8 {
            assert!(ring.push(round));
            assert!(ring.push(round.wrapping_add(100)));
            assert_eq!(ring.pop(), Some(round));
            assert_eq!(ring.pop(), Some(round.wrapping_add(100)));
        }
        assert!(ring.is_empty());
        assert_eq!(ring.pop(), None);
    }

    #[test]
    fn full_ring_drops_new_bytes_and_counts_them() {
        let mut ring = ByteRing::<2>::new();
        assert!(ring.push(1) && ring.push(2));
        assert!(!ring.push(3));
        assert_eq!(ring.dropped(), 1);
        assert_eq!(
            (ring.pop(), ring.pop(), ring.pop()),
            (Some(1), Some(2), None)
        );
    }
}
