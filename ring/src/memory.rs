//! Access to the shared region: the crate's only `unsafe` code, behind the safe `Memory` trait.
//!
//! The peer writes the region concurrently and is not trusted, so no Rust reference to plain
//! data (`&u32`, `&[u8]`, `&mut` anything) into it is ever formed: every access is an atomic
//! operation (the only references made are the short-lived `&AtomicU32`/`&AtomicU8`/
//! `&AtomicU64` that `from_ptr` returns, which are sound under concurrent writes), after a
//! bounds check against the region's length. Index and flag words are `AtomicU32`s;
//! slot contents are copied with relaxed atomic loads and stores (8 bytes at a time where the
//! address is 8-aligned, single bytes at the ends), which on x86_64 compile to plain `mov`s.
//! A peer racing with a copy can make the copied bytes any mixture of old and new values, never
//! undefined behaviour in this process, which is why callers validate the copy, not the region.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::error::RingError;

/// A ring region's bytes, accessed one operation at a time.
///
/// The ring code is written against this trait, not against raw memory, so that the same code
/// runs on shared memory ([`RingMemory`]) and under the model checkers in the tests, whose
/// memories record every access. Offsets are byte offsets in the region.
///
/// Implementations must bounds-check every access (returning [`RingError::OutOfBounds`]),
/// perform each word operation atomically with the ordering given, keep words little-endian in
/// the region, and never let a racing write cause anything worse than arbitrary byte values in
/// a copy.
pub trait Memory {
    /// The region's length in bytes.
    fn len(&self) -> usize;

    /// Whether the region is empty (never true for a usable ring).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Atomically loads the `u32` at `offset` (4-aligned).
    fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, RingError>;

    /// Atomically stores `value` at `offset` (4-aligned).
    fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), RingError>;

    /// Atomically swaps `value` into `offset` (4-aligned), returning the old value.
    fn swap_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<u32, RingError>;

    /// A sequentially consistent fence (`core::sync::atomic::fence(SeqCst)`), for the doorbell
    /// protocol's store-then-load on two words (see [`crate::doorbell`]).
    fn fence_seq_cst(&self);

    /// Copies `destination.len()` bytes from `offset` out of the region.
    fn read(&self, offset: usize, destination: &mut [u8]) -> Result<(), RingError>;

    /// Copies `source` into the region at `offset`.
    fn write(&self, offset: usize, source: &[u8]) -> Result<(), RingError>;
}

impl<M: Memory + ?Sized> Memory for &M {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, RingError> {
        (**self).load_u32(offset, order)
    }
    fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        (**self).store_u32(offset, value, order)
    }
    fn swap_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        (**self).swap_u32(offset, value, order)
    }
    fn fence_seq_cst(&self) {
        (**self).fence_seq_cst()
    }
    fn read(&self, offset: usize, destination: &mut [u8]) -> Result<(), RingError> {
        (**self).read(offset, destination)
    }
    fn write(&self, offset: usize, source: &[u8]) -> Result<(), RingError> {
        (**self).write(offset, source)
    }
}

/// A ring region in memory that another party (a process, the kernel) may map and write at the
/// same time: a base pointer and a length, valid for `'a`.
#[derive(Clone, Copy, Debug)]
pub struct RingMemory<'a> {
    base: *mut u8,
    len: usize,
    region: PhantomData<&'a [AtomicU8]>,
}

// SAFETY: a RingMemory only hands out atomic accesses to the region, which are sound from any
// thread at the same time; the region's validity for 'a was promised to `RingMemory::new`.
unsafe impl Send for RingMemory<'_> {}
// SAFETY: as for Send: every method takes &self and performs only atomic operations.
unsafe impl Sync for RingMemory<'_> {}

impl<'a> RingMemory<'a> {
    /// The region of `len` bytes at `base`.
    ///
    /// Returns [`RingError::Misaligned`] unless `base` is 8-byte aligned. Map regions at page
    /// boundaries: the header's cache-line separation assumes a 64-aligned base.
    ///
    /// # Safety
    /// For all of `'a`, the `len` bytes from `base` must stay mapped, readable and writable,
    /// and must only be accessed atomically by this process (through `RingMemory` values or
    /// other atomics), never through Rust references or non-atomic reads and writes. Other
    /// address spaces (the peer process, the kernel through another mapping) may write them at
    /// any time, with any values.
    pub unsafe fn new(base: *mut u8, len: usize) -> Result<RingMemory<'a>, RingError> {
        if !(base as usize).is_multiple_of(8) {
            return Err(RingError::Misaligned);
        }
        if (base as usize).checked_add(len).is_none() {
            return Err(RingError::OutOfBounds { offset: 0, len });
        }
        Ok(RingMemory {
            base,
            len,
            region: PhantomData,
        })
    }

    /// The region's base address (for the kernel's futex keys, or a log line).
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Checks that `len` bytes at `offset` lie in the region, and with `align` > 1 that the
    /// offset is aligned (the base is 8-aligned, so the address is too).
    fn check(&self, offset: usize, len: usize, align: usize) -> Result<(), RingError> {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len);
        if in_bounds && offset.is_multiple_of(align) {
            Ok(())
        } else {
            Err(RingError::OutOfBounds { offset, len })
        }
    }

    /// The word at `offset`, once `check(offset, 4, 4)` has passed.
    fn word(&self, offset: usize) -> &'a AtomicU32 {
        // SAFETY: check() put [offset, offset + 4) inside the region, which `new`'s caller
        // promised is mapped and only accessed atomically for 'a; base is 8-aligned and offset
        // 4-aligned, so the pointer is aligned for AtomicU32.
        unsafe { AtomicU32::from_ptr(self.base.add(offset).cast::<u32>()) }
    }

    /// The byte at `offset`, which the caller has bounds-checked.
    fn byte(&self, offset: usize) -> &'a AtomicU8 {
        // SAFETY: the callers (read, write) checked [offset, offset + 1) lies in the region,
        // which is mapped and accessed only atomically for 'a (new's contract).
        unsafe { AtomicU8::from_ptr(self.base.add(offset)) }
    }

    /// The 8 bytes at `offset`, which the caller has bounds-checked and 8-aligned.
    fn doubleword(&self, offset: usize) -> &'a AtomicU64 {
        // SAFETY: the callers (read, write) checked [offset, offset + 8) lies in the region and
        // that offset is a multiple of 8; base is 8-aligned, so the address is too. The region
        // is mapped and accessed only atomically for 'a (new's contract).
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast::<u64>()) }
    }
}

/// Copies `len` bytes between memory shared with another address space and private memory,
/// with `rep movsq` and `rep movsb`: an eighth of the iterations of a byte copy and a quarter
/// of the instructions of a loop of 8-byte atomics (what costs under QEMU's icount, and on
/// CPUs without fast `rep movsb`).
///
/// To Rust's memory model the `asm!` block is opaque: it stands for a sequence of relaxed
/// atomic byte accesses (what the portable loops of [`RingMemory`] do), so a peer writing the
/// shared side meanwhile is no data race; it can only make the copied bytes inconsistent,
/// which the protocol's checks (lengths, tags, the 9P decoder) catch.
///
/// # Safety
/// `src..src + len` must be readable and `dst..dst + len` writable for the whole copy; they
/// must not overlap; the shared side may be accessed by others only atomically or from other
/// address spaces.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn copy_shared(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: the caller's contract; the direction flag is clear, as the ABI requires.
    unsafe {
        core::arch::asm!(
            "rep movsq",
            "mov rcx, {rest}",
            "rep movsb",
            rest = in(reg) len & 7,
            inout("rcx") len >> 3 => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags),
        );
    }
}

impl Memory for RingMemory<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, RingError> {
        self.check(offset, 4, 4)?;
        Ok(u32::from_le(self.word(offset).load(order)))
    }

    fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        self.check(offset, 4, 4)?;
        self.word(offset).store(value.to_le(), order);
        Ok(())
    }

    fn swap_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        self.check(offset, 4, 4)?;
        Ok(u32::from_le(self.word(offset).swap(value.to_le(), order)))
    }

    fn fence_seq_cst(&self) {
        core::sync::atomic::fence(Ordering::SeqCst);
    }

    fn read(&self, offset: usize, destination: &mut [u8]) -> Result<(), RingError> {
        self.check(offset, destination.len(), 1)?;
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: the range was checked to lie in the region, which `new`'s caller keeps
            // mapped; `destination` is private memory, so the two do not overlap.
            unsafe {
                copy_shared(
                    destination.as_mut_ptr(),
                    self.base.add(offset),
                    destination.len(),
                )
            };
            return Ok(());
        }
        #[allow(
            unreachable_code,
            reason = "the portable copy, for other architectures"
        )]
        // Bytes up to the first 8-aligned offset, then whole doublewords, then the rest: the
        // middle loop is one atomic load and one store per 8 bytes.
        let head = ((8 - offset % 8) % 8).min(destination.len());
        let (first, rest) = destination.split_at_mut(head);
        for (index, byte) in first.iter_mut().enumerate() {
            *byte = self.byte(offset + index).load(Ordering::Relaxed);
        }
        let mut at = offset + head;
        let mut chunks = rest.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let word = self.doubleword(at).load(Ordering::Relaxed);
            chunk.copy_from_slice(&word.to_ne_bytes());
            at += 8;
        }
        for byte in chunks.into_remainder() {
            *byte = self.byte(at).load(Ordering::Relaxed);
            at += 1;
        }
        Ok(())
    }

    fn write(&self, offset: usize, source: &[u8]) -> Result<(), RingError> {
        self.check(offset, source.len(), 1)?;
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: as in `read`, with the roles exchanged.
            unsafe { copy_shared(self.base.add(offset), source.as_ptr(), source.len()) };
            return Ok(());
        }
        #[allow(
            unreachable_code,
            reason = "the portable copy, for other architectures"
        )]
        let head = ((8 - offset % 8) % 8).min(source.len());
        let (first, rest) = source.split_at(head);
        for (index, &byte) in first.iter().enumerate() {
            self.byte(offset + index).store(byte, Ordering::Relaxed);
        }
        let mut at = offset + head;
        let mut chunks = rest.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_ne_bytes(chunk.try_into().expect("8-byte chunks"));
            self.doubleword(at).store(word, Ordering::Relaxed);
            at += 8;
        }
        for &byte in chunks.remainder() {
            self.byte(at).store(byte, Ordering::Relaxed);
            at += 1;
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "alloc"))]
pub use heap::HeapRegion;

#[cfg(any(test, feature = "alloc"))]
mod heap {
    extern crate alloc;

    use alloc::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicU8, Ordering};

    use super::RingMemory;
    use crate::layout::PAGE_SIZE;

    /// The byte the guard areas hold.
    const GUARD_BYTE: u8 = 0xa5;

    /// A zeroed, page-aligned ring region on the heap, with a guard page of [`GUARD_BYTE`]s on
    /// each side, for host tests (and any ring inside one address space).
    #[derive(Debug)]
    pub struct HeapRegion {
        allocation: NonNull<u8>,
        layout: Layout,
        len: usize,
    }

    // SAFETY: the allocation is owned by the HeapRegion and only accessed atomically (through
    // RingMemory and guard checks), which is sound from any thread.
    unsafe impl Send for HeapRegion {}
    // SAFETY: as for Send: shared access goes through atomics only.
    unsafe impl Sync for HeapRegion {}

    impl HeapRegion {
        /// A region of `len` bytes (rounded up to whole pages), zeroed.
        pub fn new(len: usize) -> HeapRegion {
            let len = len.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
            let layout = Layout::from_size_align(len + 2 * PAGE_SIZE, PAGE_SIZE)
                .expect("HeapRegion::new: region size overflows");
            // SAFETY: the layout has a nonzero size (at least three pages).
            let pointer = unsafe { alloc_zeroed(layout) };
            let Some(allocation) = NonNull::new(pointer) else {
                handle_alloc_error(layout)
            };
            let region = HeapRegion {
                allocation,
                layout,
                len,
            };
            for offset in (0..PAGE_SIZE).chain(PAGE_SIZE + len..2 * PAGE_SIZE + len) {
                region
                    .allocation_byte(offset)
                    .store(GUARD_BYTE, Ordering::Relaxed);
            }
            region
        }

        /// The region's length in bytes: whole pages.
        pub fn len(&self) -> usize {
            self.len
        }

        /// Never true: a region has at least one page.
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        /// The region, for endpoints and test peers.
        pub fn memory(&self) -> RingMemory<'_> {
            // SAFETY: the allocation lives as long as self, the returned value borrows self,
            // and nothing accesses the region except atomically (RingMemory, the guard check).
            // The base (allocation + one page) is page-aligned.
            unsafe { RingMemory::new(self.allocation.as_ptr().add(PAGE_SIZE), self.len) }
                .expect("a page-aligned base is 8-aligned")
        }

        /// Whether both guard pages still hold only guard bytes: nothing wrote outside the
        /// region.
        pub fn guards_intact(&self) -> bool {
            (0..PAGE_SIZE)
                .chain(PAGE_SIZE + self.len..2 * PAGE_SIZE + self.len)
                .all(|offset| self.allocation_byte(offset).load(Ordering::Relaxed) == GUARD_BYTE)
        }

        fn allocation_byte(&self, offset: usize) -> &AtomicU8 {
            assert!(offset < self.layout.size());
            // SAFETY: offset is inside the allocation, which lives as long as the returned
            // borrow of self; all accesses to it are atomic.
            unsafe { AtomicU8::from_ptr(self.allocation.as_ptr().add(offset)) }
        }
    }

    impl Drop for HeapRegion {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout; no RingMemory outlives the borrow of
            // self it was made from.
            unsafe { dealloc(self.allocation.as_ptr(), self.layout) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_outside_the_region_are_errors() {
        let region = HeapRegion::new(8192);
        let memory = region.memory();
        assert_eq!(memory.len(), 8192);
        let mut buffer = [0u8; 16];
        assert!(memory.load_u32(8188, Ordering::Relaxed).is_ok());
        for offset in [8189, 8190, 8192, usize::MAX - 2, usize::MAX] {
            assert!(
                memory.load_u32(offset, Ordering::Relaxed).is_err(),
                "{offset}"
            );
            assert!(memory.store_u32(offset, 1, Ordering::Relaxed).is_err());
            assert!(memory.swap_u32(offset, 1, Ordering::Relaxed).is_err());
        }
        // Unaligned words.
        assert!(memory.load_u32(2, Ordering::Relaxed).is_err());
        assert!(memory.read(8176, &mut buffer).is_ok());
        assert!(memory.read(8177, &mut buffer).is_err());
        assert!(memory.write(8177, &buffer).is_err());
        assert!(memory.read(usize::MAX - 4, &mut buffer).is_err());
        assert!(memory.write(usize::MAX, &buffer).is_err());
        assert!(region.guards_intact());
    }

    #[test]
    fn copies_round_trip_at_every_alignment() {
        let region = HeapRegion::new(4096);
        let memory = region.memory();
        let source: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for offset in 0..16 {
            for len in 0..source.len() {
                memory.write(offset, &[0; 64]).unwrap();
                memory.write(offset, &source[..len]).unwrap();
                let mut copy = [0u8; 64];
                memory.read(offset, &mut copy).unwrap();
                assert_eq!(&copy[..len], &source[..len]);
                assert!(copy[len..].iter().all(|&byte| byte == 0));
            }
        }
        // The last bytes of the region, and nothing past them.
        memory.write(4096 - 13, &source[..13]).unwrap();
        let mut tail = [0u8; 13];
        memory.read(4096 - 13, &mut tail).unwrap();
        assert_eq!(tail, source[..13]);
        assert!(region.guards_intact());
    }

    #[test]
    fn words_are_little_endian_bytes() {
        let region = HeapRegion::new(4096);
        let memory = region.memory();
        memory.store_u32(8, 0x0403_0201, Ordering::Relaxed).unwrap();
        let mut bytes = [0u8; 4];
        memory.read(8, &mut bytes).unwrap();
        assert_eq!(u32::from_le_bytes(bytes), 0x0403_0201);
        assert_eq!(memory.swap_u32(8, 7, Ordering::Relaxed), Ok(0x0403_0201));
        assert_eq!(memory.load_u32(8, Ordering::Relaxed), Ok(7));
    }

    #[test]
    fn misaligned_base_is_refused() {
        let region = HeapRegion::new(4096);
        let base = region.memory().base();
        // SAFETY: not used for any access: new() refuses the base first.
        let result = unsafe { RingMemory::new(base.wrapping_add(4), 64) };
        assert_eq!(result.err(), Some(RingError::Misaligned));
    }
}
