//! Tversion/Rversion: msize and version negotiation, before any tag is used.

use super::Error;
use super::core::Core;
use crate::codec::{Message, NOTAG, frame_size};
use crate::transport::{Transport, Wait};
use alloc::vec::Vec;

impl<T: Transport> Core<T> {
    /// Negotiates the version: Tversion travels with NOTAG, outside the slots.
    pub(crate) fn version(&mut self, msize: u32) -> Result<(), Error> {
        let mut buf = [0u8; 32];
        let n = Message::Tversion {
            msize,
            version: crate::codec::VERSION,
        }
        .encode(NOTAG, &mut buf)?;
        self.transport
            .submit(&buf[..n], 1)
            .map_err(|e| self.fail(e))?;
        let mut inbox = Vec::new();
        self.transport
            .receive(&mut inbox, Wait::Block)
            .map_err(|e| self.fail(e))?;
        let size = frame_size(&inbox).unwrap_or(0) as usize;
        let frame = inbox.get(..size).ok_or(Error::Protocol("short Rversion"))?;
        match crate::codec::decode(frame)? {
            (NOTAG, Message::Rversion { msize: m, version }) => {
                if version != crate::codec::VERSION {
                    return Err(Error::Version(version.into()));
                }
                if m > msize || m < 64 {
                    return Err(Error::Protocol("server chose an impossible msize"));
                }
                self.msize = m;
                self.transport.set_msize(m);
                Ok(())
            }
            (_, Message::Rerror { ename }) => Err(Error::Server(ename.into())),
            _ => Err(Error::Protocol("expected Rversion")),
        }
    }
}
