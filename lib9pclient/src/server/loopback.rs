//! The in-memory loopback transport: a client talking to a [`Server`] by direct call.

use super::{Filesystem, Server};
use crate::codec::frames;
use crate::transport::{Transport, TransportError, Wait};
use alloc::vec::Vec;

/// Hands each submitted batch to a [`Server`] in the same address space and
/// queues its replies; what a colocated Lux9 server looks like to a client.
/// It lends its replies to the client ([`Transport::receive_lent`]) unless told
/// not to with [`Loopback::lend_replies`].
pub struct Loopback<F: Filesystem> {
    server: Server<F>,
    replies: Vec<u8>,
    /// What the last `receive_lent` lent.
    lent: Vec<u8>,
    count: usize,
    reverse: bool,
    lend: bool,
    /// What [`Transport::lent_survives_submit`] says.
    lend_survives: bool,
    /// Submissions received (one per batch).
    pub submissions: usize,
}

impl<F: Filesystem> Loopback<F> {
    /// A loopback to a fresh server over `fs`.
    pub fn new(fs: F, max_msize: u32) -> Self {
        Self {
            server: Server::new(fs, max_msize),
            replies: Vec::new(),
            lent: Vec::new(),
            count: 0,
            reverse: false,
            lend: true,
            lend_survives: true,
            submissions: 0,
        }
    }

    /// Deliver each batch's replies in reverse order, to exercise tag matching.
    pub fn reverse_replies(&mut self, on: bool) {
        self.reverse = on;
    }

    /// Lend replies in place (the default) or have the client copy them out with `receive`.
    pub fn lend_replies(&mut self, on: bool) {
        self.lend = on;
    }

    /// Whether to tell the client that lent replies survive a submission (the default): with
    /// `false` the client copies unread lent replies out before each submission, as it must
    /// for a transport that writes its replies over the lent ones.
    pub fn lent_survives_submit(&mut self, on: bool) {
        self.lend_survives = on;
    }

    /// Moves the queued replies to the end of `out`, reversed if asked to.
    fn deliver(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.count;
        if self.reverse {
            // The server wrote these replies itself: they are whole frames.
            let frames: Vec<&[u8]> = frames(&self.replies).filter_map(Result::ok).collect();
            for frame in frames.into_iter().rev() {
                out.extend_from_slice(frame);
            }
        } else {
            out.extend_from_slice(&self.replies);
        }
        self.replies.clear();
        self.count = 0;
        n
    }

    /// The server behind the loopback.
    pub fn server(&mut self) -> &mut Server<F> {
        &mut self.server
    }
}

impl<F: Filesystem> Transport for Loopback<F> {
    fn submit(&mut self, submitted: &[u8], _count: usize) -> Result<(), TransportError> {
        self.submissions += 1;
        for frame in frames(submitted) {
            let frame = frame.map_err(|_| TransportError::Malformed("partial frame submitted"))?;
            self.server.handle(frame, &mut self.replies);
            self.count += 1;
        }
        Ok(())
    }

    fn receive(&mut self, replies: &mut Vec<u8>, wait: Wait) -> Result<usize, TransportError> {
        if self.count == 0 {
            return match wait {
                Wait::Poll => Ok(0),
                // Nothing is in flight, so nothing will ever arrive.
                Wait::Block => Err(TransportError::Io(
                    "loopback: no request outstanding".into(),
                )),
            };
        }
        Ok(self.deliver(replies))
    }

    fn receive_lent(&mut self, wait: Wait) -> Option<Result<usize, TransportError>> {
        if !self.lend {
            return None;
        }
        let mut lent = core::mem::take(&mut self.lent);
        lent.clear();
        let r = if self.count == 0 {
            match wait {
                Wait::Poll => Ok(0),
                Wait::Block => Err(TransportError::Io(
                    "loopback: no request outstanding".into(),
                )),
            }
        } else if self.reverse {
            Ok(self.deliver(&mut lent))
        } else {
            // No copy: the queued replies become the lent buffer.
            core::mem::swap(&mut lent, &mut self.replies);
            let n = self.count;
            self.count = 0;
            Ok(n)
        };
        self.lent = lent;
        Some(r)
    }

    fn lent(&self) -> &[u8] {
        &self.lent
    }

    /// Submissions queue their replies in `replies`, not in the lent buffer.
    fn lent_survives_submit(&self) -> bool {
        self.lend_survives
    }
}
