//! The in-memory loopback transport: a client talking to a [`Server`] by direct call.

use super::{Filesystem, Server};
use crate::codec::frame_size;
use crate::transport::{Transport, TransportError, Wait};
use alloc::vec::Vec;

/// Hands each submitted batch to a [`Server`] in the same address space and
/// queues its replies; what a colocated Lux9 server looks like to a client.
pub struct Loopback<F: Filesystem> {
    server: Server<F>,
    replies: Vec<u8>,
    count: usize,
    reverse: bool,
    /// Submissions received (one per batch).
    pub submissions: usize,
}

impl<F: Filesystem> Loopback<F> {
    /// A loopback to a fresh server over `fs`.
    pub fn new(fs: F, max_msize: u32) -> Self {
        Self {
            server: Server::new(fs, max_msize),
            replies: Vec::new(),
            count: 0,
            reverse: false,
            submissions: 0,
        }
    }

    /// Deliver each batch's replies in reverse order, to exercise tag matching.
    pub fn reverse_replies(&mut self, on: bool) {
        self.reverse = on;
    }

    /// The server behind the loopback.
    pub fn server(&mut self) -> &mut Server<F> {
        &mut self.server
    }
}

impl<F: Filesystem> Transport for Loopback<F> {
    fn submit(&mut self, frames: &[u8], _count: usize) -> Result<(), TransportError> {
        self.submissions += 1;
        let mut pos = 0;
        while pos < frames.len() {
            let size = frame_size(&frames[pos..]).unwrap_or(0) as usize;
            let frame = frames
                .get(pos..pos + size)
                .filter(|_| size >= 7)
                .ok_or(TransportError::Malformed("partial frame submitted"))?;
            self.server.handle(frame, &mut self.replies);
            self.count += 1;
            pos += size;
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
        let n = self.count;
        if self.reverse {
            let mut frames = Vec::with_capacity(n);
            let mut pos = 0;
            while pos < self.replies.len() {
                let size = frame_size(&self.replies[pos..]).unwrap_or(0) as usize;
                frames.push(pos..pos + size);
                pos += size;
            }
            for r in frames.into_iter().rev() {
                replies.extend_from_slice(&self.replies[r]);
            }
        } else {
            replies.extend_from_slice(&self.replies);
        }
        self.replies.clear();
        self.count = 0;
        Ok(n)
    }
}
