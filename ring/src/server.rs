//! The server's endpoint: receives requests, sends replies.

use crate::doorbell;
use crate::error::{Direction, RingError, note};
use crate::layout::{Geometry, offset};
use crate::memory::Memory;
use crate::region::read_geometry;
use crate::ring::{Consumer, Producer};

/// The server's end of a ring region: the consumer of the request ring and the producer of the
/// reply ring.
#[derive(Debug)]
pub struct Server<M: Memory> {
    memory: M,
    geometry: Geometry,
    requests: Consumer,
    replies: Producer,
    broken: bool,
}

impl<M: Memory> Server<M> {
    /// Attaches to an initialised region: validates the header and the counters, and keeps
    /// the geometry and this side's counters privately from now on.
    pub fn attach(memory: M) -> Result<Server<M>, RingError> {
        let geometry = read_geometry(&memory)?;
        let requests = Consumer::attach(&memory, geometry, Direction::Requests)?;
        let replies = Producer::attach(&memory, geometry, Direction::Replies)?;
        Ok(Server {
            memory,
            geometry,
            requests,
            replies,
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

    /// Copies the next request into `buffer`: `Ok(Some(len))`, or `Ok(None)` if there is none.
    /// A malformed request is consumed and returned as an error ([`RingError::BadLength`],
    /// [`RingError::SizeMismatch`]); the next call reads the next one.
    /// [`RingError::BufferTooSmall`] leaves the request on the ring.
    pub fn next_request(&mut self, buffer: &mut [u8]) -> Result<Option<usize>, RingError> {
        if self.broken {
            return Err(RingError::Broken);
        }
        let result = self.requests.receive(&self.memory, buffer);
        note(&mut self.broken, result)
    }

    /// Publishes as many of `replies` (whole 9P messages, in order) as there are free slots,
    /// with one Release store of the tail. Returns how many; `Ok(0)` means the reply ring is
    /// full, which an honest client (at most `slot_count` requests outstanding) never lets
    /// happen. An invalid message is [`RingError::InvalidMessage`] and publishes nothing.
    /// Afterwards call [`Server::peer_waiting`] and notify the client if it says so.
    pub fn reply<'m>(
        &mut self,
        replies: impl IntoIterator<Item = &'m [u8]>,
    ) -> Result<usize, RingError> {
        if self.broken {
            return Err(RingError::Broken);
        }
        let result = self
            .replies
            .send(&self.memory, replies, self.geometry.slot_count());
        note(&mut self.broken, result)
    }

    /// Before sleeping for requests: sets `server_waiting` and looks at the request ring again.
    /// `Ok(true)`: still empty, so sleep now with `futex_wait` on `server_waiting` (offset
    /// [`offset::SERVER_WAITING`]) expecting 1, then call [`Server::clear_waiting`].
    /// `Ok(false)`: requests arrived meanwhile; the flag is cleared again, do not sleep.
    pub fn set_waiting(&mut self) -> Result<bool, RingError> {
        if self.broken {
            return Err(RingError::Broken);
        }
        let result = self.announce_and_look();
        note(&mut self.broken, result)
    }

    fn announce_and_look(&mut self) -> Result<bool, RingError> {
        doorbell::announce_sleep(&self.memory, offset::SERVER_WAITING)?;
        if self.requests.available(&self.memory)? > 0 {
            doorbell::clear(&self.memory, offset::SERVER_WAITING)?;
            doorbell::count_skip(&self.memory, offset::SERVER_SKIPS)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// After waking: clears `server_waiting`.
    pub fn clear_waiting(&mut self) -> Result<(), RingError> {
        doorbell::clear(&self.memory, offset::SERVER_WAITING)
    }

    /// After replying: whether the client sleeps waiting for replies, in which case the caller
    /// must notify it (a futex wake on `client_waiting`). Takes the flag, so a second call says
    /// false until the client sleeps again.
    pub fn peer_waiting(&mut self) -> Result<bool, RingError> {
        doorbell::take_peer_waiting(&self.memory, offset::CLIENT_WAITING)
    }
}
