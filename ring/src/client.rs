//! The client's endpoint: submits requests, receives replies.

use crate::doorbell;
use crate::error::{Direction, RingError, note};
use crate::layout::{Geometry, offset};
use crate::memory::Memory;
use crate::region::read_geometry;
use crate::ring::{Consumer, Producer};

/// The client's end of a ring region: the producer of the request ring and the consumer of the
/// reply ring.
///
/// A client never has more than `slot_count` requests outstanding (submitted and not yet
/// answered), so the server always finds a free reply slot and never waits for the client.
/// `submit` enforces it.
#[derive(Debug)]
pub struct Client<M: Memory> {
    memory: M,
    geometry: Geometry,
    requests: Producer,
    replies: Consumer,
    /// Requests submitted whose reply slot has not been consumed yet.
    outstanding: u32,
    broken: bool,
}

impl<M: Memory> Client<M> {
    /// Attaches to an initialised region: validates the header and the counters, and keeps
    /// the geometry and this side's counters privately from now on.
    pub fn attach(memory: M) -> Result<Client<M>, RingError> {
        let geometry = read_geometry(&memory)?;
        let requests = Producer::attach(&memory, geometry, Direction::Requests)?;
        let replies = Consumer::attach(&memory, geometry, Direction::Replies)?;
        let outstanding = requests.tail().wrapping_sub(replies.head());
        if outstanding > geometry.slot_count() {
            return Err(RingError::CorruptIndex {
                ring: Direction::Replies,
                head: replies.head(),
                tail: requests.tail(),
            });
        }
        Ok(Client {
            memory,
            geometry,
            requests,
            replies,
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

    /// Whether a fatal error has broken this endpoint.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Requests submitted whose replies have not been received.
    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Publishes as many of `messages` (whole 9P messages, in order) as there are free slots
    /// and credit for, with one Release store of the tail. Returns how many; messages after
    /// those are not taken from the iterator, and `Ok(0)` means the ring or the credit is full.
    /// An invalid message is [`RingError::InvalidMessage`] and publishes nothing. Afterwards
    /// call [`Client::peer_waiting`] and notify the server if it says so.
    pub fn submit<'m>(
        &mut self,
        messages: impl IntoIterator<Item = &'m [u8]>,
    ) -> Result<usize, RingError> {
        if self.broken {
            return Err(RingError::Broken);
        }
        let credit = self.geometry.slot_count() - self.outstanding;
        let result = self.requests.send(&self.memory, messages, credit);
        if let Ok(published) = result {
            // published <= credit, so this stays <= slot_count.
            self.outstanding += published as u32;
        }
        note(&mut self.broken, result)
    }

    /// Copies the next reply into `buffer`: `Ok(Some(len))`, or `Ok(None)` if there is none
    /// yet. A malformed reply is consumed and returned as an error ([`RingError::BadLength`],
    /// [`RingError::SizeMismatch`], [`RingError::UnsolicitedReply`]); the next call reads the
    /// next one. [`RingError::BufferTooSmall`] leaves the reply on the ring.
    pub fn poll_reply(&mut self, buffer: &mut [u8]) -> Result<Option<usize>, RingError> {
        if self.broken {
            return Err(RingError::Broken);
        }
        let result = self.receive(buffer);
        note(&mut self.broken, result)
    }

    fn receive(&mut self, buffer: &mut [u8]) -> Result<Option<usize>, RingError> {
        if self.replies.available(&self.memory)? == 0 {
            return Ok(None);
        }
        if self.outstanding == 0 {
            self.replies.skip(&self.memory)?;
            return Err(RingError::UnsolicitedReply);
        }
        let head = self.replies.head();
        let result = self.replies.receive(&self.memory, buffer);
        // Every consumed entry, good or bad, used the reply slot of one request.
        if self.replies.head() != head {
            self.outstanding -= 1;
        }
        result
    }

    /// Gives back the credit of a request that will never be answered: the server answered a
    /// `Tflush` for it without replying to it first.
    pub fn reply_dropped(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    /// Before sleeping for replies: sets `client_waiting` and looks at the reply ring again.
    /// `Ok(true)`: still empty, so sleep now with `futex_wait` on `client_waiting` (offset
    /// [`offset::CLIENT_WAITING`]) expecting 1, then call [`Client::clear_waiting`].
    /// `Ok(false)`: replies arrived meanwhile; the flag is cleared again, do not sleep.
    pub fn set_waiting(&mut self) -> Result<bool, RingError> {
        if self.broken {
            return Err(RingError::Broken);
        }
        let result = self.announce_and_look();
        note(&mut self.broken, result)
    }

    fn announce_and_look(&mut self) -> Result<bool, RingError> {
        doorbell::announce_sleep(&self.memory, offset::CLIENT_WAITING)?;
        if self.replies.available(&self.memory)? > 0 {
            doorbell::clear(&self.memory, offset::CLIENT_WAITING)?;
            doorbell::count_skip(&self.memory, offset::CLIENT_SKIPS)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// After waking: clears `client_waiting`.
    pub fn clear_waiting(&mut self) -> Result<(), RingError> {
        doorbell::clear(&self.memory, offset::CLIENT_WAITING)
    }

    /// After submitting: whether the server sleeps waiting for requests, in which case the
    /// caller must notify it (a futex wake on `server_waiting`). Takes the flag, so a second
    /// call says false until the server sleeps again.
    pub fn peer_waiting(&mut self) -> Result<bool, RingError> {
        doorbell::take_peer_waiting(&self.memory, offset::SERVER_WAITING)
    }
}
