//! The kernel's endpoint: creates the region, takes requests (each one checked), writes
//! responses.

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use lux9_ring::Memory;

use super::entry::{Request, Response};
use super::fault::{Fault, Queue, note};
use super::layout::{Geometry, REQUEST_SIZE, in_window, initialise, offset};
use super::status::Status;
use super::validate::{Checked, Target, validate};

/// One request the kernel took: the copy it read, and [`validate`]'s verdict on that copy.
///
/// Every taken request is *in flight* until the kernel completes it: a refused one at once,
/// with its status and a count of 0; an accepted one when the device is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The entry as it was copied out of the region (the peer may have changed the region
    /// since; this copy is what was checked).
    pub request: Request,
    /// What the device should do, or why the request is refused.
    pub verdict: Result<Checked, Status>,
}

impl Default for Taken {
    /// What an all-zero entry gives: an id of 0, refused as [`Status::Malformed`] (op 0).
    fn default() -> Taken {
        Taken {
            request: Request::default(),
            verdict: Err(Status::Malformed),
        }
    }
}

/// The kernel's end of a block ring: the consumer of the submission queue and the producer of
/// the completion queue.
///
/// It trusts nothing in the region. Its geometry and target are its own records; its
/// submission head and completion tail are private counters that it writes to the region and
/// never reads back; the server's counters are checked on every load.
///
/// **Flow control.** The kernel only takes a request when the completion queue has room for
/// its response, counting the responses not yet consumed and the requests in flight:
/// `(cq_tail - cq_head) + in_flight <= entry_count` always holds. So [`Kernel::complete`]
/// never finds the queue full and never overwrites a response the server has not consumed,
/// whatever the server does; a server that stops consuming responses only stops its own
/// requests from being taken.
#[derive(Debug)]
pub struct Kernel<M: Memory> {
    memory: M,
    geometry: Geometry,
    target: Target,
    /// The next submission entry to take. The region's `sq_head` is written, never read.
    sq_head: u32,
    /// The next completion entry to write, staged ones included.
    cq_tail: u32,
    /// `cq_tail` as last published in the region.
    cq_published: u32,
    /// The server's `cq_head` as last checked: it may only move forward, up to `cq_published`.
    cq_head_seen: u32,
    /// Requests taken and not yet completed.
    in_flight: u32,
    broken: bool,
}

impl<M: Memory> Kernel<M> {
    /// Writes a fresh header for `geometry` into `memory` (every counter 0) and returns the
    /// kernel's endpoint for requests to `target`. Done before the server can map the region;
    /// `memory` must hold `geometry.region_len()` bytes of zeroed frames.
    pub fn create(memory: M, geometry: Geometry, target: Target) -> Result<Kernel<M>, Fault> {
        Kernel::create_with_counters(memory, geometry, target, 0)
    }

    /// [`Kernel::create`] with every counter starting at `start` (tests cross the wrap-around
    /// with starts near `u32::MAX`).
    pub fn create_with_counters(
        memory: M,
        geometry: Geometry,
        target: Target,
        start: u32,
    ) -> Result<Kernel<M>, Fault> {
        initialise(&memory, geometry, start)?;
        Ok(Kernel {
            memory,
            geometry,
            target,
            sq_head: start,
            cq_tail: start,
            cq_published: start,
            cq_head_seen: start,
            in_flight: 0,
            broken: false,
        })
    }

    /// The geometry the region was created with.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// What requests are checked against.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The region.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// Whether a fatal fault has broken this endpoint; the ring must then be torn down.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Requests taken and not yet completed.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Takes up to `out.len()` requests, in order, into `out`: each entry is copied out of the
    /// region once, decoded and checked ([`validate`]) on the copy. Returns how many; `Ok(0)`
    /// when the submission queue is empty or the completion queue has no room for more
    /// responses (see the type's flow control). The new `sq_head` is published with one
    /// Release store for the batch. Each request taken must be completed.
    ///
    /// A `sq_tail` more than `entry_count` ahead of `sq_head`, or a `cq_head` that moved
    /// backwards or past the published `cq_tail`, is [`Fault::CorruptIndex`]: nothing is
    /// taken, the endpoint is broken, and the kernel refuses the whole ring (towards the
    /// server: [`Status::RingCorrupt`], [`Fault::status`]).
    pub fn take(&mut self, out: &mut [Taken]) -> Result<usize, Fault> {
        if self.broken {
            return Err(Fault::Broken);
        }
        let result = self.take_checked(out);
        note(&mut self.broken, result)
    }

    fn take_checked(&mut self, out: &mut [Taken]) -> Result<usize, Fault> {
        let count = self.geometry.entry_count();
        // Acquire: the server's entry writes before its tail store are visible.
        let tail = self.memory.load_u32(offset::SQ_TAIL, Acquire)?;
        let available = tail.wrapping_sub(self.sq_head);
        if available > count {
            return Err(Fault::CorruptIndex {
                queue: Queue::Submission,
                head: self.sq_head,
                tail,
            });
        }
        let room = self.completion_room()?;
        let wanted = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let taken = available.min(room).min(wanted);
        for (index, slot) in (0..taken).zip(out.iter_mut()) {
            let entry = self
                .geometry
                .request_offset(self.sq_head.wrapping_add(index));
            let mut bytes = [0; REQUEST_SIZE];
            self.memory.read(entry, &mut bytes)?;
            let request = Request::from_bytes(&bytes);
            *slot = Taken {
                request,
                verdict: validate(&request, &self.target),
            };
        }
        if taken > 0 {
            self.sq_head = self.sq_head.wrapping_add(taken);
            // Release: our reads of the entries happen before the store (the server does not
            // read it to reuse entries, see the module docs, but a debugger or a later reader
            // may).
            self.memory
                .store_u32(offset::SQ_HEAD, self.sq_head, Release)?;
            self.in_flight += taken;
        }
        Ok(taken as usize)
    }

    /// Responses that may still be reserved: Acquire-loads the server's `cq_head` (its reads
    /// of the entries it consumed happen before our next writes to them) and checks it.
    fn completion_room(&mut self) -> Result<u32, Fault> {
        let head = self.memory.load_u32(offset::CQ_HEAD, Acquire)?;
        if !in_window(self.cq_head_seen, head, self.cq_published) {
            return Err(Fault::CorruptIndex {
                queue: Queue::Completion,
                head,
                tail: self.cq_published,
            });
        }
        self.cq_head_seen = head;
        // At most entry_count (the flow-control invariant); saturating keeps a bug here from
        // turning into a wrapped, huge room.
        let used = self
            .cq_tail
            .wrapping_sub(head)
            .saturating_add(self.in_flight);
        Ok(self.geometry.entry_count().saturating_sub(used))
    }

    /// Writes the response for a request in flight: its `id`, its `status` and the sectors
    /// done. The response is staged: the server sees it after [`Kernel::publish`]. There is
    /// always room (flow control); with no request in flight it is [`Fault::NotInFlight`]
    /// and nothing is written.
    pub fn complete(&mut self, id: u64, status: Status, count: u32) -> Result<(), Fault> {
        if self.broken {
            return Err(Fault::Broken);
        }
        if self.in_flight == 0 {
            return Err(Fault::NotInFlight);
        }
        let response = Response { id, status, count };
        let entry = self.geometry.response_offset(self.cq_tail);
        let result = self
            .memory
            .write(entry, &response.to_bytes())
            .map_err(Fault::from);
        note(&mut self.broken, result)?;
        self.cq_tail = self.cq_tail.wrapping_add(1);
        self.in_flight -= 1;
        Ok(())
    }

    /// Publishes the staged responses with one Release store of `cq_tail`, then says whether
    /// the server sleeps waiting for them: `Ok(true)` means wake it (a futex wake on
    /// `server_waiting`, offset [`offset::SERVER_WAITING`]). Takes the flag, so a second call
    /// says false until the server sleeps again; with nothing staged, `Ok(false)` and no store.
    pub fn publish(&mut self) -> Result<bool, Fault> {
        if self.broken {
            return Err(Fault::Broken);
        }
        let result = self.publish_staged();
        note(&mut self.broken, result)
    }

    fn publish_staged(&mut self) -> Result<bool, Fault> {
        if self.cq_tail == self.cq_published {
            return Ok(false);
        }
        self.memory
            .store_u32(offset::CQ_TAIL, self.cq_tail, Release)?;
        self.cq_published = self.cq_tail;
        // The waker's half of lux9_ring::doorbell: store tail; fence; load flag.
        self.memory.fence_seq_cst();
        if self.memory.load_u32(offset::SERVER_WAITING, Relaxed)? == 0 {
            return Ok(false);
        }
        Ok(self.memory.swap_u32(offset::SERVER_WAITING, 0, Relaxed)? != 0)
    }
}
