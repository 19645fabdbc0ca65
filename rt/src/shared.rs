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

    /// Copies bytes out of the region. The peer may write them meanwhile: the copy is
    /// `rep movs` (`lux9_ring::copy_shared`), never plain loads the compiler could reason about.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        assert!(
            offset
                .checked_add(out.len())
                .is_some_and(|end| end <= self.len),
            "read outside the ring"
        );
        // SAFETY: in bounds (asserted) of a mapping that lives as long as `self`; `out` is
        // private memory, so the two do not overlap.
        unsafe {
            lux9_ring::copy_shared(
                out.as_mut_ptr(),
                (self.addr + offset) as *const u8,
                out.len(),
            )
        };
    }

    /// Copies bytes into the region (the peer may read them meanwhile), as [`Self::read`].
    pub fn write(&self, offset: usize, data: &[u8]) {
        assert!(
            offset
                .checked_add(data.len())
                .is_some_and(|end| end <= self.len),
            "write outside the ring"
        );
        // SAFETY: in bounds (asserted); `data` is private memory, so the two do not overlap.
        unsafe {
            lux9_ring::copy_shared((self.addr + offset) as *mut u8, data.as_ptr(), data.len())
        };
    }
}

/// Why a ring operation failed: the ring protocol refused something, or a system call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingFailure {
    Ring(lux9_ring::RingError),
    Kernel(Error),
}

impl From<lux9_ring::RingError> for RingFailure {
    fn from(error: lux9_ring::RingError) -> Self {
        RingFailure::Ring(error)
    }
}

impl From<Error> for RingFailure {
    fn from(error: Error) -> Self {
        RingFailure::Kernel(error)
    }
}

impl core::fmt::Display for RingFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RingFailure::Ring(error) => write!(f, "ring: {error:?}"),
            RingFailure::Kernel(error) => write!(f, "{error}"),
        }
    }
}

/// The ring memory in this address space, as `lux9-ring` accesses it.
pub type Memory = lux9_ring::RingMemory<'static>;

/// A shared ring this process takes part in: the kernel's id and the mapping here.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    id: u64,
    region: SharedRegion,
}

impl Ring {
    /// Creates a ring of `pages` pages with `server`, for messages of up to `max_message` bytes.
    pub fn create(server: usize, pages: usize, max_message: usize) -> Result<Self, Error> {
        let (id, _) = ipc::ring_create(server, pages, max_message)?;
        Self::attach(id)
    }

    /// The ring `id`, created by this process or by its peer.
    pub fn attach(id: u64) -> Result<Self, Error> {
        Ok(Self {
            id,
            region: SharedRegion::of_ring(id)?,
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn region(&self) -> &SharedRegion {
        &self.region
    }

    fn memory(&self) -> Result<Memory, lux9_ring::RingError> {
        // SAFETY: the kernel keeps the ring mapped at this address for as long as it lives, and
        // this process reaches it only through `RingMemory` (atomics) and `SharedRegion`
        // (atomics and volatile copies). If the ring is torn down the pages go away and an
        // access faults, which ends this process instead of reading freed memory.
        unsafe { lux9_ring::RingMemory::new(self.region.addr() as *mut u8, self.region.len()) }
    }

    /// The client end (it submits requests and takes replies).
    pub fn client(&self) -> Result<lux9_ring::Client<Memory>, RingFailure> {
        Ok(lux9_ring::Client::attach(self.memory()?)?)
    }

    /// The server end (it takes requests and publishes replies).
    pub fn server(&self) -> Result<lux9_ring::Server<Memory>, RingFailure> {
        Ok(lux9_ring::Server::attach(self.memory()?)?)
    }

    /// Writes a fresh header with `geometry` and zeroed indices and flags over the ring: how a
    /// test's client recovers the ring after a peer has scribbled over it.
    pub fn reinitialise(&self, geometry: lux9_ring::Geometry) -> Result<(), RingFailure> {
        Ok(lux9_ring::initialise(&self.memory()?, geometry)?)
    }

    /// Wakes the peer if it sleeps on the ring.
    pub fn notify(&self) -> Result<(), Error> {
        ipc::notify(self.id).map(|_| ())
    }

    /// Sleeps until replies arrive (or `timeout_ms` passes; 0 waits as long as it takes),
    /// following the doorbell protocol: announce, look once more, then `futex_wait`.
    pub fn client_sleep(
        &self,
        client: &mut lux9_ring::Client<Memory>,
        timeout_ms: u64,
    ) -> Result<(), RingFailure> {
        if client.set_waiting()? {
            let word = self.region.word(lux9_ring::layout::offset::CLIENT_WAITING);
            match ipc::futex_wait(word, 1, timeout_ms) {
                Ok(()) | Err(Error::WouldBlock) | Err(Error::TimedOut) => {}
                Err(error) => return Err(error.into()),
            }
            client.clear_waiting()?;
        }
        Ok(())
    }

    /// Sleeps until requests arrive (or `timeout_ms` passes).
    pub fn server_sleep(
        &self,
        server: &mut lux9_ring::Server<Memory>,
        timeout_ms: u64,
    ) -> Result<(), RingFailure> {
        if server.set_waiting()? {
            let word = self.region.word(lux9_ring::layout::offset::SERVER_WAITING);
            match ipc::futex_wait(word, 1, timeout_ms) {
                Ok(()) | Err(Error::WouldBlock) | Err(Error::TimedOut) => {}
                Err(error) => return Err(error.into()),
            }
            server.clear_waiting()?;
        }
        Ok(())
    }
}

/// A block ring this process holds: the kernel's id, the ring region (requests and
/// responses, `lux9_blk::ring`'s layout) and the data region right after it, where the device
/// moves the sectors.
pub struct BlockRing {
    id: u64,
    ring: SharedRegion,
    data: SharedRegion,
}

impl BlockRing {
    /// A ring of `entries` slots each way (a power of two up to 1024) and a data region of
    /// `data_pages` pages, for partition `part` (0: the whole disk) of block device number
    /// `disk` (the order of `SysInfo::Disks`).
    pub fn create(disk: usize, part: u32, entries: u32, data_pages: usize) -> Result<Self, Error> {
        let geometry = lux9_blk::ring::Geometry::new(entries).ok_or(Error::InvalidArgument)?;
        let (id, addr) = ipc::blk_ring_create(disk, part, entries, data_pages)?;
        let ring_len = geometry.pages() * 4096;
        Ok(Self {
            id,
            ring: SharedRegion {
                addr,
                len: ring_len,
            },
            data: SharedRegion {
                addr: addr + ring_len,
                len: data_pages * 4096,
            },
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The ring region (for tests that scribble on it).
    pub fn region(&self) -> &SharedRegion {
        &self.ring
    }

    /// The data region: requests name byte offsets in it.
    pub fn data(&self) -> &SharedRegion {
        &self.data
    }

    /// The server's end of the ring protocol.
    pub fn server(&self) -> Result<lux9_blk::ring::Server<Memory>, lux9_blk::ring::Fault> {
        // SAFETY: as for `Ring::memory`: the kernel keeps the region mapped while the ring
        // lives, and it is reached only through `RingMemory`'s atomics.
        let memory =
            unsafe { lux9_ring::RingMemory::new(self.ring.addr as *mut u8, self.ring.len) }
                .map_err(lux9_blk::ring::Fault::Memory)?;
        lux9_blk::ring::Server::attach(memory)
    }

    /// Rings the doorbell: the kernel runs every request waiting and publishes the responses.
    pub fn submit(&self) -> Result<usize, Error> {
        ipc::blk_ring_submit(self.id)
    }

    /// Rings the asynchronous doorbell: the ring's worker runs the requests while this
    /// process goes on.
    pub fn submit_async(&self) -> Result<(), Error> {
        ipc::blk_ring_submit_async(self.id)
    }

    /// Sleeps until the kernel publishes responses or `timeout_ms` passes (0: no limit), using
    /// the ring's doorbell protocol: nothing is slept on if responses are already there.
    pub fn wait_for_responses(
        &self,
        server: &mut lux9_blk::ring::Server<Memory>,
        timeout_ms: u64,
    ) -> Result<(), Error> {
        if !server.set_waiting().map_err(|_| Error::InvalidArgument)? {
            return Ok(());
        }
        let word = self
            .ring
            .word(lux9_blk::ring::layout::offset::SERVER_WAITING);
        let slept = ipc::futex_wait(word, 1, timeout_ms);
        let _ = server.clear_waiting();
        match slept {
            Ok(()) | Err(Error::WouldBlock) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Unmaps and frees the ring (its regions must not be used afterwards).
    pub fn destroy(self) -> Result<(), Error> {
        ipc::blk_ring_destroy(self.id)
    }
}
