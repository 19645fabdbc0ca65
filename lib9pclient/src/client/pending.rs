//! Completion handles for tagged async requests, and batches of them.

use super::{Client, Error, Reply};
use crate::codec::Message;
use crate::transport::Transport;
use alloc::vec::Vec;

/// The completion of one outstanding request, matched by tag.
///
/// Poll it with [`Pending::poll`] or block with [`Pending::wait`]. Dropping it
/// before the reply arrives abandons the request: the client sends Tflush (or,
/// for a clunk or remove, just ignores the reply) and keeps the fid table right.
pub struct Pending<T: Transport> {
    client: Client<T>,
    tag: u16,
    generation: u32,
    finished: bool,
}

impl<T: Transport> Pending<T> {
    pub(crate) fn new(client: Client<T>, tag: u16, generation: u32) -> Self {
        Self {
            client,
            tag,
            generation,
            finished: false,
        }
    }

    /// The request's tag.
    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// Without blocking: sends the batch if needed, takes arrived replies, and
    /// returns this request's reply if it is here. After it returns `Some`,
    /// further polls return `Some(Err(InvalidArgument))`.
    pub fn poll(&mut self) -> Option<Result<Reply, Error>> {
        if self.finished {
            return Some(Err(Error::InvalidArgument("reply already taken")));
        }
        let (tag, generation) = (self.tag, self.generation);
        let r = self.client.with(|c| match c.poll(tag, generation) {
            Ok(true) => Some(Ok(c.take(tag))),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        });
        if r.is_some() {
            self.finished = true;
        }
        r
    }

    /// Whether the reply has arrived (does not send or receive anything).
    pub fn is_ready(&self) -> bool {
        !self.finished
            && self.client.core.borrow().state(self.tag, self.generation)
                == Some(super::core::SlotState::Done)
    }

    /// Blocks until the reply arrives and returns it.
    pub fn wait(mut self) -> Result<Reply, Error> {
        if self.finished {
            return Err(Error::InvalidArgument("reply already taken"));
        }
        self.finished = true;
        let (tag, generation) = (self.tag, self.generation);
        let r = self.client.with(|c| {
            c.wait(tag, generation)?;
            Ok(c.take(tag))
        });
        if r.is_err() {
            self.client.with(|c| c.abandon(tag, generation));
        }
        r
    }

    /// Blocks until the reply arrives and runs `f` on it, decoded where it lies (in the
    /// transport's buffer or the tag's own): no copy of the reply and no allocation, unlike
    /// [`Pending::wait`]. An Rerror is returned as an error without calling `f`. `f` must not
    /// use the client (it runs while the client is borrowed).
    pub fn wait_with<R>(
        mut self,
        f: impl FnOnce(Message<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        if self.finished {
            return Err(Error::InvalidArgument("reply already taken"));
        }
        self.finished = true;
        let (tag, generation) = (self.tag, self.generation);
        let r = self.client.with(|c| match c.wait(tag, generation) {
            Ok(()) => Ok(c.with_reply(tag, f)),
            Err(e) => Err(e),
        });
        match r {
            Ok(reply) => reply,
            Err(e) => {
                self.client.with(|c| c.abandon(tag, generation));
                Err(e)
            }
        }
    }

    /// Abandons the request (same as dropping the handle).
    pub fn cancel(self) {}
}

impl<T: Transport> Drop for Pending<T> {
    fn drop(&mut self) {
        if !self.finished {
            let (tag, generation) = (self.tag, self.generation);
            // try_borrow: a handle dropped inside a callback must not panic.
            if let Ok(mut c) = self.client.core.try_borrow_mut() {
                c.abandon(tag, generation);
            }
        }
    }
}

/// N requests submitted together and answered together.
///
/// Requests may depend on earlier ones in the same batch (a Twalk to a new fid
/// and a Topen of that fid): the server handles a connection's requests in
/// order. The client submits early if its batch limit is reached.
pub struct Batch<T: Transport> {
    client: Client<T>,
    pending: Vec<Pending<T>>,
}

impl<T: Transport> Batch<T> {
    pub(crate) fn new(client: Client<T>) -> Self {
        Self {
            client,
            pending: Vec::new(),
        }
    }

    /// Adds a request; returns its index in the replies.
    pub fn push(&mut self, msg: &Message<'_>) -> Result<usize, Error> {
        self.pending.push(self.client.start(msg)?);
        Ok(self.pending.len() - 1)
    }

    /// Allocates a fid for use as a newfid inside the batch.
    pub fn alloc_fid(&self) -> Result<u32, Error> {
        self.client.alloc_fid()
    }

    /// Requests added so far.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no request was added.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Submits the batch and runs `f` on each reply in push order, with its index, decoded
    /// where it lies ([`Pending::wait_with`]: no copy, no allocation). Every reply is taken
    /// even after one fails; the first error (a transport failure, an Rerror, or one `f`
    /// returned) is returned. `f` must not use the client.
    pub fn run_each(
        self,
        mut f: impl FnMut(usize, Message<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.client.submit()?;
        let mut first = None;
        for (index, pending) in self.pending.into_iter().enumerate() {
            match pending.wait_with(|message| f(index, message)) {
                Ok(()) => {}
                Err(e @ Error::Transport(_)) => return Err(e),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Submits the batch and waits for every reply, returned in push order.
    /// The outer error is a transport failure; the inner ones are per request.
    pub fn run(self) -> Result<Vec<Result<Reply, Error>>, Error> {
        self.client.submit()?;
        let mut out = Vec::with_capacity(self.pending.len());
        for p in self.pending {
            match p.wait() {
                Err(e @ Error::Transport(_)) => return Err(e),
                r => out.push(r),
            }
        }
        Ok(out)
    }
}
