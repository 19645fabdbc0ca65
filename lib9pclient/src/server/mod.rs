//! The server side: what every Lux9 9P server needs, written once.
//!
//! [`Server`] owns the fid table, walk bookkeeping, directory-read offsets,
//! version negotiation, open-mode checks and Rerror mapping, and dispatches
//! decoded requests to a [`Filesystem`]. It is `handle(request) -> reply`
//! over bytes, so direct calls, rings and sockets are thin adapters.

mod error;
mod fids;
mod loopback;
pub mod memfs;
#[cfg(feature = "std")]
pub mod net;
mod read;
mod walk;

pub use error::ServerError;
pub use loopback::Loopback;
pub use memfs::MemFs;

use crate::codec::{
    DMDIR, Dir, Message, NOFID, ORCLOSE, ORDWR, OTRUNC, OWRITE, Qid, Stat, decode_with_limit,
    frame_header,
};
use alloc::format;
use alloc::vec::Vec;
use fids::FidTable;

/// The file tree a server serves. `Node` names a file (an index, a path, an
/// inode number); the framework keeps one per fid.
pub trait Filesystem {
    /// How the filesystem names a file.
    type Node: Clone;

    /// The root for `uname` attaching to `aname`.
    fn attach(&mut self, uname: &str, aname: &str) -> Result<Self::Node, ServerError>;
    /// The qid of a file.
    fn qid(&mut self, node: &Self::Node) -> Result<Qid, ServerError>;
    /// One walk step from directory `dir` to `name` (which may be "..").
    fn walk(&mut self, dir: &Self::Node, name: &str) -> Result<Self::Node, ServerError>;
    /// Opens a file; returns the iounit (0 for "msize decides"). The framework
    /// has checked that directories are opened for reading only.
    fn open(&mut self, node: &Self::Node, mode: u8) -> Result<u32, ServerError>;
    /// Creates `name` in `dir` and opens it; returns the new node and iounit.
    fn create(
        &mut self,
        dir: &Self::Node,
        name: &str,
        perm: u32,
        mode: u8,
    ) -> Result<(Self::Node, u32), ServerError>;
    /// Reads file data at `offset` into `buf`; 0 means end of file.
    fn read(
        &mut self,
        node: &Self::Node,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, ServerError>;
    /// The entries of a directory (the framework packs them and tracks offsets).
    fn read_dir(&mut self, node: &Self::Node) -> Result<Vec<Dir>, ServerError>;
    /// Writes data at `offset`; returns the count written.
    fn write(&mut self, node: &Self::Node, offset: u64, data: &[u8]) -> Result<usize, ServerError>;
    /// The stat of a file.
    fn stat(&mut self, node: &Self::Node) -> Result<Dir, ServerError>;
    /// The stat of a file, lent to `reply` instead of returned, so a filesystem whose names
    /// and owners already exist as `&str` need not build a [`Dir`] of owned strings for each
    /// Tstat. The server answers Tstat through this; the default calls [`stat`](Self::stat).
    /// Returns what `reply` returns.
    fn stat_with(
        &mut self,
        node: &Self::Node,
        reply: &mut dyn FnMut(&Stat<'_>) -> Result<(), ServerError>,
    ) -> Result<(), ServerError> {
        let dir = self.stat(node)?;
        reply(&dir.as_stat())
    }
    /// Applies a Twstat (don't-touch fields are all ones or empty).
    fn wstat(&mut self, node: &Self::Node, stat: &Stat<'_>) -> Result<(), ServerError>;
    /// Removes a file.
    fn remove(&mut self, node: &Self::Node) -> Result<(), ServerError>;
    /// Told when a fid on `node` goes away.
    fn clunk(&mut self, _node: &Self::Node) {}
}

struct DirCursor {
    entries: Vec<Dir>,
    index: usize,
    offset: u64,
}

struct FidEntry<N> {
    node: N,
    qid: Qid,
    open: Option<u8>,
    dir: Option<DirCursor>,
}

/// One connection's server state over a [`Filesystem`].
pub struct Server<F: Filesystem> {
    fs: F,
    max_msize: u32,
    msize: u32,
    fids: FidTable<FidEntry<F::Node>>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b != b'/' && b != 0)
}

/// Where replies are written: `buf` from `end` on. Bytes of `buf` past `end` may be left
/// over from earlier replies (a caller that reuses one buffer keeps it at its high-water
/// length), so room is made by overwriting them, and zeroed only where `buf` must grow.
pub(crate) struct Out<'a> {
    buf: &'a mut Vec<u8>,
    end: usize,
}

impl<'a> Out<'a> {
    fn new(buf: &'a mut Vec<u8>, at: usize) -> Self {
        Self { buf, end: at }
    }

    /// The `n` bytes after the end, to be written and then committed with [`Out::advance`].
    fn room(&mut self, n: usize) -> &mut [u8] {
        let need = self.end + n;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        &mut self.buf[self.end..need]
    }

    fn advance(&mut self, n: usize) {
        self.end += n;
    }

    fn end(&self) -> usize {
        self.end
    }

    /// Forgets what was written past `at`.
    fn rewind(&mut self, at: usize) {
        self.end = at;
    }
}

/// The longest error text this server sends (an Rerror is at most 9 bytes more): longer ones
/// are cut on a character boundary. A client may count on it to bound the replies to a batch
/// (the runtime's colocated transport does).
pub const ERROR_MAX: usize = 1024;

/// Appends `msg` to `out`. Replies are built from validated parts, so an
/// encoding failure means a filesystem returned something unencodable (for
/// example a name over 64 KiB): it becomes an Rerror.
fn put(out: &mut Out<'_>, tag: u16, msg: &Message<'_>) {
    let len = msg.encoded_len();
    match msg.encode(tag, out.room(len)) {
        Ok(n) => out.advance(n),
        Err(e) => {
            let text = format!("server cannot encode reply: {e}");
            put(out, tag, &Message::Rerror { ename: &text });
        }
    }
}

impl<F: Filesystem> Server<F> {
    /// A server over `fs` accepting an msize of at most `max_msize`.
    pub fn new(fs: F, max_msize: u32) -> Self {
        Self {
            fs,
            max_msize: max_msize.max(256),
            msize: 0,
            fids: FidTable::new(),
        }
    }

    /// The filesystem.
    pub fn filesystem(&mut self) -> &mut F {
        &mut self.fs
    }

    /// The negotiated msize (0 before Tversion).
    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// The largest frame this server accepts right now.
    pub fn frame_limit(&self) -> u32 {
        if self.msize == 0 {
            self.max_msize
        } else {
            self.msize
        }
    }

    /// Fids in the table.
    pub fn fid_count(&self) -> usize {
        self.fids.len()
    }

    /// Handles one request frame, appending exactly one reply frame to `out`
    /// (none only if the request is too short to carry a tag).
    pub fn handle(&mut self, request: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        let end = self.handle_at(request, out, at);
        out.truncate(end);
    }

    /// Like [`handle`](Self::handle), but writes the reply into `buf` at `at` and returns
    /// where it ends, leaving `buf`'s length alone unless it must grow. For a caller that
    /// reuses one reply buffer: bytes past `at` are overwritten instead of being zeroed first
    /// (a 4 KiB Rread then costs no 4 KiB memset). `at` must not exceed `buf.len()`.
    pub fn handle_at(&mut self, request: &[u8], buf: &mut Vec<u8>, at: usize) -> usize {
        let mut out = Out::new(buf, at.min(buf.len()));
        if let Some((tag, fid, offset, count)) =
            crate::codec::decode_tread(request, self.frame_limit())
        {
            self.handle_out(tag, &Message::Tread { fid, offset, count }, &mut out);
            return out.end();
        }
        match decode_with_limit(request, self.frame_limit()) {
            Ok((tag, msg)) => self.handle_out(tag, &msg, &mut out),
            Err(e) => {
                if let Some((_, tag)) = frame_header(request) {
                    let text = format!("bad 9P message: {e}");
                    put(&mut out, tag, &Message::Rerror { ename: &text });
                }
            }
        }
        out.end()
    }

    /// Like [`handle`](Self::handle), for a server that must not block: when the filesystem
    /// answers [`ServerError::WouldBlock`], nothing is appended and this returns `false`; the
    /// caller keeps the request and passes it in again later (say when input arrives). The
    /// refused request changed nothing, so the retry is handled as if it came first. Returns
    /// `true` when a reply was appended (or the request was too short to carry a tag).
    pub fn handle_deferrable(&mut self, request: &[u8], out: &mut Vec<u8>) -> bool {
        let (tag, msg) = match decode_with_limit(request, self.frame_limit()) {
            Ok(decoded) => decoded,
            Err(_) => {
                self.handle(request, out);
                return true;
            }
        };
        let start = out.len();
        let mut o = Out::new(out, start);
        let done = match self.dispatch(tag, &msg, &mut o) {
            Ok(()) => true,
            Err(ServerError::WouldBlock) => {
                o.rewind(start);
                false
            }
            Err(e) => {
                o.rewind(start);
                self.put_error(tag, &e, &mut o);
                true
            }
        };
        let end = o.end();
        out.truncate(end);
        done
    }

    /// Handles one decoded request, appending its reply to `out`.
    pub fn handle_message(&mut self, tag: u16, msg: &Message<'_>, out: &mut Vec<u8>) {
        let start = out.len();
        let mut o = Out::new(out, start);
        self.handle_out(tag, msg, &mut o);
        let end = o.end();
        out.truncate(end);
    }

    fn handle_out(&mut self, tag: u16, msg: &Message<'_>, out: &mut Out<'_>) {
        let start = out.end();
        if let Err(e) = self.dispatch(tag, msg, out) {
            out.rewind(start);
            self.put_error(tag, &e, out);
        }
    }

    /// Appends the Rerror for `e`, cut to [`ERROR_MAX`] bytes and to fit msize.
    fn put_error(&self, tag: u16, e: &ServerError, out: &mut Out<'_>) {
        let mut text = e.message();
        let room = (self.frame_limit() as usize)
            .saturating_sub(9)
            .min(ERROR_MAX);
        while text.len() > room {
            // Keep the Rerror inside msize, cutting on a char boundary.
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text = &text[..cut];
        }
        put(out, tag, &Message::Rerror { ename: text });
    }

    fn entry(&mut self, fid: u32) -> Result<&mut FidEntry<F::Node>, ServerError> {
        self.fids.get_mut(fid).ok_or(ServerError::UnknownFid)
    }

    fn dispatch(
        &mut self,
        tag: u16,
        msg: &Message<'_>,
        out: &mut Out<'_>,
    ) -> Result<(), ServerError> {
        if self.msize == 0 && !matches!(msg, Message::Tversion { .. }) {
            return Err(ServerError::NotNegotiated);
        }
        match *msg {
            Message::Tversion { msize, version } => self.version(tag, msize, version, out),
            Message::Tauth { .. } => Err(ServerError::NoAuth),
            Message::Tattach {
                fid,
                afid,
                uname,
                aname,
            } => {
                if afid != NOFID {
                    return Err(ServerError::NoAuth);
                }
                if self.fids.contains(fid) {
                    return Err(ServerError::DuplicateFid);
                }
                let node = self.fs.attach(uname, aname)?;
                let qid = self.fs.qid(&node)?;
                self.fids.insert(
                    fid,
                    FidEntry {
                        node,
                        qid,
                        open: None,
                        dir: None,
                    },
                );
                put(out, tag, &Message::Rattach { qid });
                Ok(())
            }
            // Requests are handled one at a time, to completion, so by the
            // time a Tflush is read its old request has been answered.
            Message::Tflush { .. } => {
                put(out, tag, &Message::Rflush);
                Ok(())
            }
            Message::Twalk {
                fid,
                newfid,
                ref wnames,
            } => self.walk(tag, fid, newfid, wnames, out),
            Message::Topen { fid, mode } => {
                let e = self.entry(fid)?;
                if e.open.is_some() {
                    return Err(ServerError::FidOpen);
                }
                if e.qid.is_dir() && (mode & 3 != 0 || mode & OTRUNC != 0) {
                    return Err(ServerError::IsDirectory);
                }
                let node = e.node.clone();
                let iounit = self.fs.open(&node, mode)?;
                let qid = self.fs.qid(&node)?;
                let e = self.entry(fid)?;
                e.qid = qid;
                e.open = Some(mode);
                put(out, tag, &Message::Ropen { qid, iounit });
                Ok(())
            }
            Message::Tcreate {
                fid,
                name,
                perm,
                mode,
            } => {
                let e = self.entry(fid)?;
                if e.open.is_some() {
                    return Err(ServerError::FidOpen);
                }
                if !e.qid.is_dir() {
                    return Err(ServerError::NotDirectory);
                }
                if !valid_name(name) || name == "." || name == ".." {
                    return Err(ServerError::BadName);
                }
                if perm & DMDIR != 0 && (mode & 3 != 0 || mode & OTRUNC != 0) {
                    return Err(ServerError::IsDirectory);
                }
                let dir = e.node.clone();
                let (node, iounit) = self.fs.create(&dir, name, perm, mode)?;
                let qid = self.fs.qid(&node)?;
                self.fs.clunk(&dir);
                let e = self.entry(fid)?;
                *e = FidEntry {
                    node,
                    qid,
                    open: Some(mode),
                    dir: None,
                };
                put(out, tag, &Message::Rcreate { qid, iounit });
                Ok(())
            }
            Message::Tread { fid, offset, count } => self.read(tag, fid, offset, count, out),
            Message::Twrite { fid, offset, data } => {
                let e = self.entry(fid)?;
                match e.open {
                    Some(m) if matches!(m & 3, OWRITE | ORDWR) => {}
                    _ => return Err(ServerError::NotOpen),
                }
                if e.qid.is_dir() {
                    return Err(ServerError::IsDirectory);
                }
                let node = e.node.clone();
                let n = self.fs.write(&node, offset, data)?;
                let count = n.min(data.len()) as u32;
                put(out, tag, &Message::Rwrite { count });
                Ok(())
            }
            Message::Tclunk { fid } => {
                let e = self.fids.remove(fid).ok_or(ServerError::UnknownFid)?;
                if e.open.is_some_and(|m| m & ORCLOSE != 0) {
                    // The clunk succeeds even if the remove does not.
                    let _ = self.fs.remove(&e.node);
                }
                self.fs.clunk(&e.node);
                put(out, tag, &Message::Rclunk);
                Ok(())
            }
            Message::Tremove { fid } => {
                // The fid is clunked whether or not the remove succeeds.
                let e = self.fids.remove(fid).ok_or(ServerError::UnknownFid)?;
                let r = self.fs.remove(&e.node);
                self.fs.clunk(&e.node);
                r?;
                put(out, tag, &Message::Rremove);
                Ok(())
            }
            Message::Tstat { fid } => {
                let node = &self.fids.get(fid).ok_or(ServerError::UnknownFid)?.node;
                let msize = self.msize as usize;
                self.fs.stat_with(node, &mut |stat| {
                    let reply = Message::Rstat { stat: *stat };
                    if reply.encoded_len() > msize {
                        return Err(ServerError::Other("stat does not fit in msize".into()));
                    }
                    put(out, tag, &reply);
                    Ok(())
                })
            }
            Message::Twstat { fid, ref stat } => {
                let node = self.entry(fid)?.node.clone();
                if !stat.name.is_empty()
                    && (!valid_name(stat.name) || stat.name == "." || stat.name == "..")
                {
                    return Err(ServerError::BadName);
                }
                self.fs.wstat(&node, stat)?;
                if let Ok(qid) = self.fs.qid(&node) {
                    self.entry(fid)?.qid = qid;
                }
                put(out, tag, &Message::Rwstat);
                Ok(())
            }
            _ => Err(ServerError::BadMessage("not a T-message".into())),
        }
    }

    /// Clunks every fid (honouring ORCLOSE), as a Tversion does: for an adapter whose client
    /// has gone away, so the filesystem sees each fid end.
    pub fn clunk_all(&mut self) {
        for e in self.fids.take_all() {
            if e.open.is_some_and(|m| m & ORCLOSE != 0) {
                let _ = self.fs.remove(&e.node);
            }
            self.fs.clunk(&e.node);
        }
    }

    fn version(
        &mut self,
        tag: u16,
        msize: u32,
        version: &str,
        out: &mut Out<'_>,
    ) -> Result<(), ServerError> {
        // A Tversion aborts everything.
        self.clunk_all();
        if msize < 256 {
            return Err(ServerError::BadMessage("msize too small".into()));
        }
        let ours = msize.min(self.max_msize);
        // "9P2000.u", "9P2000.L": answer with the base version we speak.
        let speaks = version == "9P2000" || version.starts_with("9P2000.");
        let answer = if speaks {
            crate::codec::VERSION
        } else {
            "unknown"
        };
        self.msize = if speaks { ours } else { 0 };
        put(
            out,
            tag,
            &Message::Rversion {
                msize: ours,
                version: answer,
            },
        );
        Ok(())
    }
}
