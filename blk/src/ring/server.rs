//! The server's endpoint: submits requests, polls responses, sleeps on its waiting flag.

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use lux9_ring::Memory;

use super::entry::{Request, Response};
use super::fault::{Fault, Queue, note};
use super::layout::{Geometry, RESPONSE_SIZE, in_window, offset, read_geometry};

/// The server's end of a block ring: the producer of the submission queue and the consumer of
/// the completion queue.
///
/// A server never has more than `entry_count` requests outstanding (submitted, response not
/// yet polled); [`Server::submit`] enforces it. That bound is also what makes a submission
/// entry free again: the kernel takes requests in order and answers each after taking it, so
/// once `n` responses are polled the oldest `n` entries have been read.
#[derive(Debug)]
pub struct Server<M: Memory> {
    memory: M,
    geometry: Geometry,
    /// The next submission entry to fill. The region's `sq_tail` is written, never read.
    sq_tail: u32,
    /// The next completion entry to read. The region's `cq_head` is written, never read.
    cq_head: u32,
    /// The kernel's `cq_tail` as last checked: it may only move forward, at most
    /// `outstanding` past `cq_head`.
    cq_tail_seen: u32,
    /// Requests submitted whose responses have not been polled.
    outstanding: u32,
    broken: bool,
}

impl<M: Memory> Server<M> {
    /// Attaches to a region the kernel created: checks the header (magic, version, entry
    /// count, length) and the counters, then keeps the geometry and its own counters
    /// privately.
    pub fn attach(memory: M) -> Result<Server<M>, Fault> {
        let geometry = read_geometry(&memory)?;
        let sq_tail = memory.load_u32(offset::SQ_TAIL, Relaxed)?;
        let cq_head = memory.load_u32(offset::CQ_HEAD, Relaxed)?;
        let cq_tail = memory.load_u32(offset::CQ_TAIL, Acquire)?;
        let outstanding = sq_tail.wrapping_sub(cq_head);
        if outstanding > geometry.entry_count() {
            return Err(Fault::CorruptIndex {
                queue: Queue::Submission,
                head: cq_head,
                tail: sq_tail,
            });
        }
        if cq_tail.wrapping_sub(cq_head) > outstanding {
            return Err(Fault::CorruptIndex {
                queue: Queue::Completion,
                head: cq_head,
                tail: cq_tail,
            });
        }
        Ok(Server {
            memory,
            geometry,
            sq_tail,
            cq_head,
            cq_tail_seen: cq_tail,
            outstanding,
            broken: false,
        })
    }

    /// The region's geometry, as read when attaching.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The region.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// Whether a fatal fault has broken this endpoint.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Requests submitted whose responses have not been polled: at most `entry_count`.
    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Writes as many of `requests` as fit (`entry_count - outstanding`), in order, and
    /// publishes them with one Release store of `sq_tail`. Returns how many; `Ok(0)` means the
    /// ring is full. Afterwards tell the kernel (a system call: the kernel has no waiting flag
    /// in the region). Requests are not checked here; the kernel refuses bad ones with a
    /// status.
    pub fn submit(&mut self, requests: &[Request]) -> Result<usize, Fault> {
        if self.broken {
            return Err(Fault::Broken);
        }
        let credit = self.geometry.entry_count() - self.outstanding;
        let mut written = 0;
        for request in requests.iter().take(credit as usize) {
            let entry = self
                .geometry
                .request_offset(self.sq_tail.wrapping_add(written));
            let result = self.memory.write(entry, &request.to_bytes());
            note(&mut self.broken, result.map_err(Fault::from))?;
            written += 1;
        }
        if written > 0 {
            self.sq_tail = self.sq_tail.wrapping_add(written);
            // Release: the entry writes above are visible to whoever Acquire-loads the tail.
            let result = self
                .memory
                .store_u32(offset::SQ_TAIL, self.sq_tail, Release);
            note(&mut self.broken, result.map_err(Fault::from))?;
            self.outstanding += written;
        }
        Ok(written as usize)
    }

    /// Copies up to `out.len()` responses into `out` and consumes them with one Release store
    /// of `cq_head`. Returns how many; `Ok(0)` if none is there. Responses come in the order
    /// the kernel completed requests, not the order they were submitted: match them by `id`.
    pub fn poll(&mut self, out: &mut [Response]) -> Result<usize, Fault> {
        if self.broken {
            return Err(Fault::Broken);
        }
        let result = self.receive(out);
        note(&mut self.broken, result)
    }

    fn receive(&mut self, out: &mut [Response]) -> Result<usize, Fault> {
        let available = self.available()?;
        let wanted = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let received = available.min(wanted);
        for (index, slot) in (0..received).zip(out.iter_mut()) {
            let entry = self
                .geometry
                .response_offset(self.cq_head.wrapping_add(index));
            let mut bytes = [0; RESPONSE_SIZE];
            self.memory.read(entry, &mut bytes)?;
            *slot = Response::from_bytes(&bytes).map_err(|code| Fault::BadStatus { code })?;
        }
        if received > 0 {
            self.cq_head = self.cq_head.wrapping_add(received);
            // Release: our reads of the entries happen before the kernel's next writes to
            // them (it Acquire-loads cq_head before reusing them).
            self.memory
                .store_u32(offset::CQ_HEAD, self.cq_head, Release)?;
            self.outstanding -= received;
        }
        Ok(received as usize)
    }

    /// Responses published and not yet polled. Acquire-loads `cq_tail` (the kernel's entry
    /// writes before it are visible) and checks that it moved forward and not past the
    /// requests outstanding.
    fn available(&mut self) -> Result<u32, Fault> {
        let tail = self.memory.load_u32(offset::CQ_TAIL, Acquire)?;
        let limit = self.cq_head.wrapping_add(self.outstanding);
        if !in_window(self.cq_tail_seen, tail, limit) {
            return Err(Fault::CorruptIndex {
                queue: Queue::Completion,
                head: self.cq_head,
                tail,
            });
        }
        self.cq_tail_seen = tail;
        Ok(tail.wrapping_sub(self.cq_head))
    }

    /// Before sleeping for responses: sets `server_waiting` and looks at the completion queue
    /// again. `Ok(true)`: still empty, so sleep now with `futex_wait` on `server_waiting`
    /// (offset [`offset::SERVER_WAITING`]) expecting 1, then call [`Server::clear_waiting`].
    /// `Ok(false)`: responses arrived meanwhile; the flag is cleared again, do not sleep.
    pub fn set_waiting(&mut self) -> Result<bool, Fault> {
        if self.broken {
            return Err(Fault::Broken);
        }
        let result = self.announce_and_look();
        note(&mut self.broken, result)
    }

    fn announce_and_look(&mut self) -> Result<bool, Fault> {
        // The sleeper's half of lux9_ring::doorbell: store flag; fence; load tail.
        self.memory.store_u32(offset::SERVER_WAITING, 1, Relaxed)?;
        self.memory.fence_seq_cst();
        if self.available()? > 0 {
            self.memory.store_u32(offset::SERVER_WAITING, 0, Relaxed)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// After waking: clears `server_waiting`.
    pub fn clear_waiting(&mut self) -> Result<(), Fault> {
        Ok(self.memory.store_u32(offset::SERVER_WAITING, 0, Relaxed)?)
    }
}
