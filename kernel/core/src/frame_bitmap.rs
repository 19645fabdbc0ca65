//! Bookkeeping for the physical frame allocator: one bit per 4 KiB frame.
//!
//! A set bit means the frame is free. The bitmap knows nothing about where its storage lives;
//! the kernel gives it a slice carved out of free memory at boot, and host tests give it a `Vec`.
//! Every free is checked, so a double free or a stray frame number is an error, not corruption.

/// Why a frame could not be freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The frame number is outside the range this bitmap manages.
    OutOfRange,
    /// The frame is already free (a double free) or was never free memory.
    NotAllocated,
}

pub struct FrameBitmap<'a> {
    words: &'a mut [u64],
    /// Frame number of bit 0.
    first_frame: u64,
    /// Number of frames covered; bits past this are never set.
    frame_count: u64,
    free: u64,
    /// Word index where the next search starts; everything below it is known to be used.
    hint: usize,
}

impl<'a> FrameBitmap<'a> {
    /// Number of `u64` words needed to cover `frame_count` frames.
    pub const fn words_for(frame_count: u64) -> usize {
        frame_count.div_ceil(64) as usize
    }

    /// Creates a bitmap over frames `first_frame..first_frame + frame_count` with every frame
    /// marked used. Returns `None` if `words` is too small.
    pub fn new(words: &'a mut [u64], first_frame: u64, frame_count: u64) -> Option<Self> {
        if words.len() < Self::words_for(frame_count) {
            return None;
        }
        words.fill(0);
        Some(Self {
            words,
            first_frame,
            frame_count,
            free: 0,
            hint: 0,
        })
    }

    pub fn first_frame(&self) -> u64 {
        self.first_frame
    }

    pub fn frame_count(&self) -> u64 {
        self.frame_count
    }

    pub fn free_count(&self) -> u64 {
        self.free
    }

    fn index(&self, frame: u64) -> Option<(usize, u64)> {
        let bit = frame.checked_sub(self.first_frame)?;
        (bit < self.frame_count).then(|| ((bit / 64) as usize, 1u64 << (bit % 64)))
    }

    pub fn is_free(&self, frame: u64) -> bool {
        self.index(frame)
            .is_some_and(|(word, mask)| self.words[word] & mask != 0)
    }

    /// Marks frames `start..end` free during setup. Frames outside the bitmap are ignored, and
    /// frames that are already free are not counted twice.
    pub fn add_free_range(&mut self, start: u64, end: u64) {
        let start = start.max(self.first_frame);
        let end = end.min(self.first_frame + self.frame_count);
        for frame in start..end {
            if let Some((word, mask)) = self.index(frame)
                && self.words[word] & mask == 0
            {
                self.words[word] |= mask;
                self.free += 1;
            }
        }
        self.hint = 0;
    }

    /// Allocates one frame: the lowest free one at or after the search hint.
    pub fn alloc(&mut self) -> Option<u64> {
        let offset = self.words[self.hint..].iter().position(|&word| word != 0)?;
        let word = self.hint + offset;
        self.hint = word;
        let bit = self.words[word].trailing_zeros() as u64;
        self.words[word] &= !(1u64 << bit);
        self.free -= 1;
        Some(self.first_frame + word as u64 * 64 + bit)
    }

    /// Allocates `count` consecutive frames whose first frame number is a multiple of
    /// `align_frames` (a power of two). Linear in the size of the bitmap.
    pub fn alloc_contiguous(&mut self, count: u64, align_frames: u64) -> Option<u64> {
        if count == 0 || !align_frames.is_power_of_two() || count > self.free {
            return None;
        }
        let end = self.first_frame + self.frame_count;
        let mut start = self.first_frame.next_multiple_of(align_frames);
        while start.checked_add(count)? <= end {
            match (start..start + count).find(|&frame| !self.is_free(frame)) {
                None => {
                    for frame in start..start + count {
                        if let Some((word, mask)) = self.index(frame) {
                            self.words[word] &= !mask;
                        }
                    }
                    self.free -= count;
                    return Some(start);
                }
                Some(used) => start = (used + 1).next_multiple_of(align_frames),
            }
        }
        None
    }

    /// Returns a frame to the pool.
    pub fn free(&mut self, frame: u64) -> Result<(), FreeError> {
        let (word, mask) = self.index(frame).ok_or(FreeError::OutOfRange)?;
        if self.words[word] & mask != 0 {
            return Err(FreeError::NotAllocated);
        }
        self.words[word] |= mask;
        self.free += 1;
        self.hint = self.hint.min(word);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn starts_full_and_counts_free_ranges_once() {
        let mut words = vec![0u64; FrameBitmap::words_for(200)];
        let mut bitmap = FrameBitmap::new(&mut words, 1000, 200).unwrap();
        assert_eq!(bitmap.free_count(), 0);
        assert_eq!(bitmap.alloc(), None);
        bitmap.add_free_range(1010, 1020);
        bitmap.add_free_range(1015, 1030);
        bitmap.add_free_range(900, 1002); // clipped to the managed range
        bitmap.add_free_range(1190, 5000);
        assert_eq!(bitmap.free_count(), 20 + 2 + 10);
        assert!(bitmap.is_free(1000) && bitmap.is_free(1199) && !bitmap.is_free(1200));
    }

    #[test]
    fn too_small_storage_is_refused() {
        let mut words = vec![0u64; 1];
        assert!(FrameBitmap::new(&mut words, 0, 65).is_none());
        assert!(FrameBitmap::new(&mut words, 0, 64).is_some());
    }

    #[test]
    fn alloc_and_free_round_trip_without_overlap() {
        let mut words = vec![0u64; FrameBitmap::words_for(300)];
        let mut bitmap = FrameBitmap::new(&mut words, 0, 300).unwrap();
        bitmap.add_free_range(0, 100);
        bitmap.add_free_range(200, 300);
        let mut taken = BTreeSet::new();
        while let Some(frame) = bitmap.alloc() {
            assert!(!(100..200).contains(&frame), "frame {frame} was never free");
            assert!(taken.insert(frame), "frame {frame} handed out twice");
        }
        assert_eq!(taken.len(), 200);
        assert_eq!(bitmap.free_count(), 0);
        for &frame in &taken {
            bitmap.free(frame).unwrap();
        }
        assert_eq!(bitmap.free_count(), 200);
    }

    #[test]
    fn double_free_and_stray_frames_are_errors() {
        let mut words = vec![0u64; 2];
        let mut bitmap = FrameBitmap::new(&mut words, 64, 128).unwrap();
        bitmap.add_free_range(64, 192);
        let frame = bitmap.alloc().unwrap();
        assert_eq!(bitmap.free(frame), Ok(()));
        assert_eq!(bitmap.free(frame), Err(FreeError::NotAllocated));
        assert_eq!(bitmap.free(10), Err(FreeError::OutOfRange));
        assert_eq!(bitmap.free(192), Err(FreeError::OutOfRange));
        assert_eq!(bitmap.free_count(), 128);
    }

    #[test]
    fn contiguous_allocation_is_aligned_and_exclusive() {
        let mut words = vec![0u64; FrameBitmap::words_for(1024)];
        let mut bitmap = FrameBitmap::new(&mut words, 0, 1024).unwrap();
        bitmap.add_free_range(3, 1024);
        let single = bitmap.alloc().unwrap();
        assert_eq!(single, 3);
        let run = bitmap.alloc_contiguous(512, 512).unwrap();
        assert_eq!(
            run, 512,
            "frames 3.. are not 512-aligned with 512 free after them"
        );
        assert!((run..run + 512).all(|frame| !bitmap.is_free(frame)));
        assert_eq!(bitmap.alloc_contiguous(512, 512), None);
        assert_eq!(bitmap.alloc_contiguous(0, 1), None);
        assert_eq!(
            bitmap.alloc_contiguous(4, 3),
            None,
            "alignment must be a power of two"
        );
        assert_eq!(bitmap.free_count(), 1024 - 3 - 1 - 512);
    }

    #[test]
    fn freeing_below_the_hint_is_found_again() {
        let mut words = vec![0u64; 4];
        let mut bitmap = FrameBitmap::new(&mut words, 0, 256).unwrap();
        bitmap.add_free_range(0, 256);
        let frames: Vec<_> = (0..200).map(|_| bitmap.alloc().unwrap()).collect();
        bitmap.free(frames[5]).unwrap();
        assert_eq!(bitmap.alloc(), Some(frames[5]));
    }
}
