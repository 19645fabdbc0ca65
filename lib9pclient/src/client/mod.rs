//! The 9P2000 client: version and attach, tags and fids, batching, tagged
//! async completion, and a file API on top (see [`Fs`] and [`File`]).

mod core;
mod error;
mod file;
mod fs;
mod pending;
mod pool;
mod version;

pub use error::Error;
pub use file::{File, SeekFrom};
pub use fs::Fs;
pub use pending::{Batch, Pending};

use self::core::Core;
use crate::codec::{Message, MessageType, decode_with_limit};
use crate::transport::{Transport, Wait};
use ::core::cell::RefCell;
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

/// A completion callback: runs with the reply once it has arrived and the
/// client is being pumped (by a wait, a poll or [`Client::run_until_idle`]).
pub type Callback = Box<dyn FnOnce(Result<Reply, Error>)>;

/// The msize a client asks for unless told otherwise: 8 KiB of data per read
/// plus headers, as plan9port does.
pub const DEFAULT_MSIZE: u32 = 8192 + 24;

/// Counters that show what batching saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Transport submissions (system calls, ring doorbells).
    pub submissions: u64,
    /// Requests sent.
    pub messages: u64,
    /// Replies received.
    pub replies: u64,
    /// Tflush messages sent for abandoned requests.
    pub flushes: u64,
    /// Replies whose tag matched no outstanding request (ignored).
    pub stray_replies: u64,
    /// Replies copied out of the transport's lent buffer into their own storage because
    /// something was about to overwrite it before their owners read them.
    pub spilled: u64,
}

/// One received reply frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    frame: Vec<u8>,
}

impl Reply {
    /// Decodes the reply; an Rerror becomes [`Error::Server`].
    pub fn message(&self) -> Result<Message<'_>, Error> {
        Self::decode_frame(&self.frame, u32::MAX)
    }

    /// The raw frame as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.frame
    }

    pub(crate) fn decode_frame(frame: &[u8], limit: u32) -> Result<Message<'_>, Error> {
        if let Some((_, data)) = crate::codec::decode_rread(frame, limit) {
            return Ok(Message::Rread { data });
        }
        let (_, msg) = decode_with_limit(frame, limit)?;
        match msg {
            Message::Rerror { ename } => Err(Error::Server(ename.into())),
            m if !m.message_type().is_reply() => Err(Error::Protocol("server sent a T-message")),
            m => Ok(m),
        }
    }
}

/// Checks that a reply has the type that answers the request.
pub(crate) fn expect(msg: &Message<'_>, want: MessageType) -> Result<(), Error> {
    if msg.message_type() == want {
        Ok(())
    } else {
        Err(Error::Protocol("reply of the wrong type"))
    }
}

/// A connection to one 9P2000 server. Cheap to clone: clones share the
/// connection, its tags and its fids.
///
/// Requests are queued in a batch and sent in one transport submission when
/// the batch is full, on [`Client::submit`], or when anything waits for a
/// reply (every synchronous operation does).
pub struct Client<T: Transport> {
    core: Rc<RefCell<Core<T>>>,
}

impl<T: Transport> Clone for Client<T> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
        }
    }
}

impl<T: Transport> Drop for Client<T> {
    /// When the last handle goes, sends what is still queued (the clunks of
    /// dropped files, typically) so the server can free those fids.
    fn drop(&mut self) {
        if Rc::strong_count(&self.core) == 1
            && let Ok(mut c) = self.core.try_borrow_mut()
        {
            c.submit_on_drop();
        }
    }
}

impl<T: Transport> Client<T> {
    /// Negotiates the version over `transport`, asking for `msize` (the
    /// server may lower it).
    pub fn connect(transport: T, msize: u32) -> Result<Self, Error> {
        let msize = msize.min(transport.max_msize());
        let mut core = Core::new(transport, msize);
        core.version(msize)?;
        Ok(Self {
            core: Rc::new(RefCell::new(core)),
        })
    }

    /// Runs `f` with the engine, then any callbacks that became ready.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Core<T>) -> R) -> R {
        let r = f(&mut self.core.borrow_mut());
        self.run_callbacks();
        r
    }

    fn run_callbacks(&self) {
        loop {
            let ready = ::core::mem::take(&mut self.core.borrow_mut().ready);
            if ready.is_empty() {
                return;
            }
            for (cb, r) in ready {
                cb(r);
            }
        }
    }

    /// The negotiated message size.
    pub fn msize(&self) -> u32 {
        self.core.borrow().msize
    }

    /// Largest data payload of one Tread or Twrite under this msize.
    pub fn max_io(&self) -> u32 {
        self.msize() - crate::codec::IOHDRSZ
    }

    /// Submits the batch once it holds `limit` requests (at least 1).
    pub fn set_batch_limit(&self, limit: usize) {
        self.core.borrow_mut().batch_limit = limit.max(1);
    }

    /// Batching and flush counters.
    pub fn stats(&self) -> Stats {
        self.core.borrow().stats
    }

    /// Allocates a fid number for a Tattach, Tauth or Twalk newfid.
    ///
    /// The client frees it by itself when the reply to a Tclunk or Tremove
    /// arrives, or when the request meant to create it fails; otherwise free
    /// it with [`Client::release_fid`].
    pub fn alloc_fid(&self) -> Result<u32, Error> {
        self.core.borrow_mut().alloc_fid()
    }

    /// Returns a fid that was allocated but never bound on the server.
    pub fn release_fid(&self, fid: u32) {
        self.core.borrow_mut().fids.release(fid)
    }

    /// Fids bound or allocated now.
    pub fn fids_in_use(&self) -> usize {
        self.core.borrow().fids.in_use()
    }

    /// Requests sent or queued whose replies have not been consumed yet.
    pub fn outstanding(&self) -> usize {
        self.core.borrow().outstanding()
    }

    /// Queues a request and returns a handle to its completion.
    pub fn start(&self, msg: &Message<'_>) -> Result<Pending<T>, Error> {
        let (tag, generation) = self.core.borrow_mut().enqueue(msg, None)?;
        Ok(Pending::new(self.clone(), tag, generation))
    }

    /// Queues a request whose reply goes to `callback`; returns its tag.
    pub fn start_with(
        &self,
        msg: &Message<'_>,
        callback: impl FnOnce(Result<Reply, Error>) + 'static,
    ) -> Result<u16, Error> {
        let (tag, _) = self
            .core
            .borrow_mut()
            .enqueue(msg, Some(Box::new(callback)))?;
        Ok(tag)
    }

    /// Sends one request (with everything queued before it) and waits for it.
    pub fn call(&self, msg: &Message<'_>) -> Result<Reply, Error> {
        self.with(|c| {
            let (tag, generation) = c.enqueue(msg, None)?;
            c.wait(tag, generation)?;
            Ok(c.take(tag))
        })
    }

    /// Sends the queued batch now.
    pub fn submit(&self) -> Result<(), Error> {
        self.with(|c| c.submit())
    }

    /// Sends the batch, takes whatever replies have arrived without blocking,
    /// and runs the callbacks they complete. Returns the replies taken.
    pub fn poll(&self) -> Result<usize, Error> {
        self.with(|c| {
            c.submit()?;
            c.pump(Wait::Poll)
        })
    }

    /// Blocks until no request is outstanding except those whose handles
    /// hold finished replies; runs callbacks as replies arrive.
    pub fn run_until_idle(&self) -> Result<(), Error> {
        loop {
            let waiting = self.with(|c| -> Result<bool, Error> {
                c.submit()?;
                if c.has_waiting() {
                    c.pump(Wait::Block)?;
                    Ok(true)
                } else {
                    Ok(false)
                }
            })?;
            if !waiting {
                return Ok(());
            }
        }
    }

    /// A batch: queue N requests, submit them together, collect N replies.
    pub fn batch(&self) -> Batch<T> {
        Batch::new(self.clone())
    }

    /// Attaches as `uname` to the tree `aname`, giving a file-level view.
    pub fn attach(&self, uname: &str, aname: &str) -> Result<Fs<T>, Error> {
        Fs::attach(self.clone(), uname, aname)
    }
}
