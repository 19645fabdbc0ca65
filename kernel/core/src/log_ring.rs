//! A byte log that keeps the newest bytes: the kernel log (`kmsg`) behind the console.

/// A byte log that keeps the newest `N` bytes: writing to a full log forgets the oldest.
/// The kernel log (`kmsg`) is one; it lets the screen console replay what was printed before
/// it started, and will back `/dev/kmsg`.
pub struct LogRing<const N: usize> {
    bytes: [u8; N],
    /// Total bytes ever written; the next byte goes to `written % N`.
    written: u64,
}

impl<const N: usize> Default for LogRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LogRing<N> {
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            written: 0,
        }
    }

    pub fn write(&mut self, data: &[u8]) {
        // Only the last N bytes of `data` can survive.
        let skip = data.len().saturating_sub(N);
        self.written += skip as u64;
        for &byte in &data[skip..] {
            self.bytes[(self.written % N as u64) as usize] = byte;
            self.written += 1;
        }
    }

    /// Bytes written since boot, including those forgotten.
    pub fn total_written(&self) -> u64 {
        self.written
    }

    /// The retained bytes, oldest first, as two slices.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        if self.written <= N as u64 {
            (&self.bytes[..self.written as usize], &[])
        } else {
            let split = (self.written % N as u64) as usize;
            (&self.bytes[split..], &self.bytes[..split])
        }
    }
}

#[cfg(test)]
mod log_tests {
    use super::LogRing;

    fn contents<const N: usize>(log: &LogRing<N>) -> Vec<u8> {
        let (a, b) = log.as_slices();
        [a, b].concat()
    }

    #[test]
    fn keeps_everything_until_full() {
        let mut log = LogRing::<8>::new();
        log.write(b"abc");
        log.write(b"de");
        assert_eq!(contents(&log), b"abcde");
        assert_eq!(log.total_written(), 5);
    }

    #[test]
    fn forgets_the_oldest_bytes() {
        let mut log = LogRing::<4>::new();
        log.write(b"abc");
        log.write(b"def");
        assert_eq!(contents(&log), b"cdef");
        log.write(b"0123456789");
        assert_eq!(contents(&log), b"6789");
        assert_eq!(log.total_written(), 16);
    }
}
