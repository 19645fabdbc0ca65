//! Memory the kernel or another process also writes: the IPC buffer and shared rings.
//!
//! Neither is ever handed out as a plain `&[u8]` that could change underneath Rust's feet: the
//! IPC buffer is borrowed mutably only between system calls, and a ring's memory is reached
//! through atomics and volatile copies.

use core::sync::atomic::AtomicU32;

use lux9_abi::Error;

use crate::ipc;

/// A registered buffer for long messages. The kernel writes into it only during a message
/// system call, which needs `&mut` access to it, so reads between calls see stable bytes.
pub struct IpcBuffer {
    bytes: &'static mut [u8],
}

impl IpcBuffer {
    /// Allocates a `len`-byte buffer and registers it with the kernel.
    pub fn register(len: usize) -> Result<Self, Error> {
        let bytes: &'static mut [u8] =
            alloc::boxed::Box::leak(alloc::vec![0u8; len].into_boxed_slice());
        ipc::register_buffer(bytes.as_mut_ptr() as usize, bytes.len())?;
        Ok(Self { bytes })
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        self.bytes
    }
}

/// A shared ring's memory in this address space.
#[derive(Clone, Copy, Debug)]
pub struct SharedRegion {
    addr: usize,
    len: usize,
}

impl SharedRegion {
    /// The region of ring `id` (created by this process or its peer).
    pub fn of_ring(id: u64) -> Result<Self, Error> {
        let (addr, pages) = ipc::ring_info(id)?;
        Ok(Self {
            addr,
            len: pages * 4096,
        })
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The 32-bit word at `offset` (4-aligned, inside the region), for flags and futexes.
    pub fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset.is_multiple_of(4) && offset + 4 <= self.len,
            "word {offset:#x} outside the ring"
        );
        // SAFETY: the kernel maps the ring's pages for as long as the ring lives; the word is
        // inside them and aligned (asserted); atomics are the only access, so the peer's
        // concurrent writes are not data races. If the ring is torn down, the access faults
        // and the kernel ends this process rather than letting it read freed memory.
        unsafe { &*((self.addr + offset) as *const AtomicU32) }
    }

    /// Copies bytes out of the region.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        assert!(
            offset
                .checked_add(out.len())
                .is_some_and(|end| end <= self.len),
            "read outside the ring"
        );
        for (index, byte) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (asserted); volatile because the peer may write concurrently.
            *byte = unsafe { core::ptr::read_volatile((self.addr + offset + index) as *const u8) };
        }
    }

    /// Copies bytes into the region.
    pub fn write(&self, offset: usize, data: &[u8]) {
        assert!(
            offset
                .checked_add(data.len())
                .is_some_and(|end| end <= self.len),
            "write outside the ring"
        );
        for (index, &byte) in data.iter().enumerate() {
            // SAFETY: in bounds (asserted); volatile because the peer may read concurrently.
            unsafe { core::ptr::write_volatile((self.addr + offset + index) as *mut u8, byte) };
        }
    }
}
