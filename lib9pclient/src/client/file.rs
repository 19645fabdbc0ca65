//! An open file: read, write, seek and stat, with reads and writes split by
//! iounit and msize and pipelined in batches.

use super::{Client, Error, expect};
use crate::codec::{Dir, DirEntries, Message, MessageType, Qid};
use crate::transport::Transport;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Where to seek to, as in `std::io::SeekFrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start of the file.
    Start(u64),
    /// From the end of the file (needs a Tstat).
    End(i64),
    /// From the current offset.
    Current(i64),
}

/// How many reads or writes one large transfer keeps in flight.
const WINDOW: usize = 16;

/// An open fid with a file offset. Dropping it clunks the fid (the Tclunk
/// rides in the next batch); [`File::close`] clunks it and waits.
pub struct File<T: Transport> {
    client: Client<T>,
    fid: u32,
    qid: Qid,
    iounit: u32,
    mode: u8,
    offset: u64,
    open: bool,
}

impl<T: Transport> File<T> {
    pub(crate) fn new(client: Client<T>, fid: u32, qid: Qid, iounit: u32, mode: u8) -> Self {
        Self {
            client,
            fid,
            qid,
            iounit,
            mode,
            offset: 0,
            open: true,
        }
    }

    /// The connection the file was opened on (for batches of requests on its fid).
    pub fn client(&self) -> &Client<T> {
        &self.client
    }

    /// The fid this file is open on.
    pub fn fid(&self) -> u32 {
        self.fid
    }

    /// The qid the server returned from Topen/Tcreate.
    pub fn qid(&self) -> Qid {
        self.qid
    }

    /// The iounit the server returned (0: no limit beyond msize).
    pub fn iounit(&self) -> u32 {
        self.iounit
    }

    /// The mode the file was opened with.
    pub fn mode(&self) -> u8 {
        self.mode
    }

    /// The current offset.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Largest data payload of one Tread/Twrite on this file.
    pub fn max_io(&self) -> u32 {
        let m = self.client.max_io();
        if self.iounit == 0 {
            m
        } else {
            self.iounit.min(m)
        }
    }

    /// One Tread at `offset` into `buf` (at most [`File::max_io`] bytes).
    /// Returns 0 at end of file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Error> {
        let count = (buf.len() as u64).min(self.max_io() as u64) as u32;
        let msg = Message::Tread {
            fid: self.fid,
            offset,
            count,
        };
        self.client.with(|c| {
            c.call(&msg, |m| match m {
                Message::Rread { data } if data.len() <= count as usize => {
                    buf[..data.len()].copy_from_slice(data);
                    Ok(data.len())
                }
                Message::Rread { .. } => Err(Error::Protocol("Rread longer than requested")),
                _ => Err(Error::Protocol("expected Rread")),
            })
        })
    }

    /// Reads at the current offset and advances it.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Reads from the current offset to end of file, keeping up to 16 Treads
    /// in flight. Returns the bytes appended.
    pub fn read_to_end(&mut self, out: &mut Vec<u8>) -> Result<usize, Error> {
        self.read_each(|data| {
            out.extend_from_slice(data);
            true
        })
    }

    /// Streams the file from the current offset to end of file through
    /// `sink`, in order, keeping up to 16 Treads in flight. `sink` returns
    /// false to stop early. Returns the bytes delivered.
    pub fn read_each(&mut self, mut sink: impl FnMut(&[u8]) -> bool) -> Result<usize, Error> {
        let chunk = self.max_io();
        let fid = self.fid;
        let mut next = self.offset;
        let mut delivered = 0usize;
        let r = self.client.with(|c| {
            let mut inflight = VecDeque::with_capacity(WINDOW);
            let mut result = Ok(());
            let mut stop = false;
            loop {
                while !stop && result.is_ok() && inflight.len() < WINDOW {
                    let msg = Message::Tread {
                        fid,
                        offset: next,
                        count: chunk,
                    };
                    match c.enqueue(&msg, None) {
                        Ok(t) => inflight.push_back(t),
                        Err(e) => result = Err(e),
                    }
                    next += chunk as u64;
                }
                let Some((tag, generation)) = inflight.pop_front() else {
                    break;
                };
                if stop || result.is_err() {
                    // Past the end: the reply is not needed.
                    c.detach(tag, generation);
                    continue;
                }
                let r = c.wait(tag, generation).and_then(|_| {
                    c.with_reply(tag, |m| match m {
                        Message::Rread { data } if data.len() <= chunk as usize => {
                            delivered += data.len();
                            Ok((data.len(), sink(data)))
                        }
                        _ => Err(Error::Protocol("bad Rread")),
                    })
                });
                match r {
                    Ok((n, more)) => stop = n < chunk as usize || !more,
                    Err(e) => result = Err(e),
                }
            }
            result
        });
        self.offset += delivered as u64;
        r.map(|_| delivered)
    }

    /// One Twrite of up to [`File::max_io`] bytes at `offset`; returns the
    /// count the server wrote.
    pub fn write_at(&self, data: &[u8], offset: u64) -> Result<usize, Error> {
        let n = data.len().min(self.max_io() as usize);
        let msg = Message::Twrite {
            fid: self.fid,
            offset,
            data: &data[..n],
        };
        self.client.with(|c| c.call(&msg, |m| rwrite(m, n)))
    }

    /// Writes at the current offset and advances it.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        let n = self.write_at(data, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Writes all of `data` at the current offset, split by iounit and msize,
    /// with up to 16 Twrites in flight. A short write is an error.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let chunk = self.max_io() as usize;
        let fid = self.fid;
        let base = self.offset;
        let written = self.client.with(|c| {
            let mut inflight = VecDeque::with_capacity(WINDOW);
            let mut chunks = data.chunks(chunk).enumerate();
            let mut done = 0usize;
            let mut result = Ok(());
            loop {
                while result.is_ok() && inflight.len() < WINDOW {
                    let Some((i, piece)) = chunks.next() else {
                        break;
                    };
                    let offset = base + (i * chunk) as u64;
                    match c.enqueue(
                        &Message::Twrite {
                            fid,
                            offset,
                            data: piece,
                        },
                        None,
                    ) {
                        Ok((tag, g)) => inflight.push_back((tag, g, piece.len())),
                        Err(e) => result = Err(e),
                    }
                }
                let Some((tag, generation, len)) = inflight.pop_front() else {
                    break;
                };
                if result.is_err() {
                    c.detach(tag, generation);
                    continue;
                }
                match c
                    .wait(tag, generation)
                    .and_then(|_| c.with_reply(tag, |m| rwrite(m, len)))
                {
                    Ok(n) if n == len => done += n,
                    Ok(n) => {
                        done += n;
                        result = Err(Error::Protocol("short write"));
                    }
                    Err(e) => result = Err(e),
                }
            }
            result.map(|_| done).map_err(|e| (e, done))
        });
        match written {
            Ok(n) => {
                self.offset += n as u64;
                Ok(())
            }
            Err((e, n)) => {
                self.offset += n as u64;
                Err(e)
            }
        }
    }

    /// Moves the offset; `End` asks the server for the length.
    pub fn seek(&mut self, pos: SeekFrom) -> Result<u64, Error> {
        let (base, delta) = match pos {
            SeekFrom::Start(o) => (0, o as i128),
            SeekFrom::Current(d) => (self.offset, d as i128),
            SeekFrom::End(d) => (self.stat()?.length, d as i128),
        };
        let target = base as i128 + delta;
        if !(0..=u64::MAX as i128).contains(&target) {
            return Err(Error::InvalidArgument(
                "seek to a negative or overflowing offset",
            ));
        }
        self.offset = target as u64;
        Ok(self.offset)
    }

    /// The file's stat.
    pub fn stat(&self) -> Result<Dir, Error> {
        let msg = Message::Tstat { fid: self.fid };
        self.client.with(|c| {
            c.call(&msg, |m| match m {
                Message::Rstat { stat } => Ok(stat.to_dir()),
                _ => Err(Error::Protocol("expected Rstat")),
            })
        })
    }

    /// Changes the file's stat; start from [`Dir::dont_touch`].
    pub fn wstat(&self, dir: &Dir) -> Result<(), Error> {
        let msg = Message::Twstat {
            fid: self.fid,
            stat: dir.as_stat(),
        };
        self.client
            .with(|c| c.call(&msg, |m| expect(&m, MessageType::Rwstat)))
    }

    /// Reads every entry of a directory opened for reading, from offset 0.
    pub fn read_dir(&mut self) -> Result<Vec<Dir>, Error> {
        if !self.qid.is_dir() {
            return Err(Error::InvalidArgument("not a directory"));
        }
        let mut entries = Vec::new();
        let count = self.max_io();
        let fid = self.fid;
        let mut offset = 0u64;
        loop {
            let msg = Message::Tread { fid, offset, count };
            let n = self.client.with(|c| {
                c.call(&msg, |m| match m {
                    Message::Rread { data } if data.len() <= count as usize => {
                        for e in DirEntries::new(data) {
                            entries.push(e?.to_dir());
                        }
                        Ok(data.len())
                    }
                    _ => Err(Error::Protocol("bad Rread")),
                })
            })?;
            if n == 0 {
                break;
            }
            offset += n as u64;
        }
        self.offset = offset;
        Ok(entries)
    }

    /// Reads every entry of a directory opened for reading, from offset 0,
    /// the way a client with a fixed buffer of `buf_len` bytes does (Linux's
    /// v9fs among them): each Tread asks for the space left in the buffer,
    /// and a reply of 0 bytes means "the next entry does not fit" while the
    /// buffer holds entries (they are taken and the buffer emptied), or the
    /// end of the directory when it is empty. `buf_len` must exceed the
    /// largest entry, or the listing ends early.
    pub fn read_dir_buffered(&mut self, buf_len: usize) -> Result<Vec<Dir>, Error> {
        if !self.qid.is_dir() {
            return Err(Error::InvalidArgument("not a directory"));
        }
        let mut buf = alloc::vec![0u8; buf_len];
        let mut filled = 0;
        let mut offset = 0u64;
        let mut entries = Vec::new();
        loop {
            let n = self.read_at(&mut buf[filled..], offset)?;
            if n > 0 {
                filled += n;
                offset += n as u64;
                continue;
            }
            if filled == 0 {
                break;
            }
            for e in DirEntries::new(&buf[..filled]) {
                entries.push(e?.to_dir());
            }
            filled = 0;
        }
        self.offset = offset;
        Ok(entries)
    }

    /// Clunks the fid and waits for the server to confirm.
    pub fn close(mut self) -> Result<(), Error> {
        self.open = false;
        let msg = Message::Tclunk { fid: self.fid };
        self.client
            .with(|c| c.call(&msg, |m| expect(&m, MessageType::Rclunk)))
    }
}

fn rwrite(m: Message<'_>, asked: usize) -> Result<usize, Error> {
    match m {
        Message::Rwrite { count } if count as usize <= asked => Ok(count as usize),
        Message::Rwrite { .. } => Err(Error::Protocol("Rwrite count larger than the write")),
        _ => Err(Error::Protocol("expected Rwrite")),
    }
}

impl<T: Transport> Drop for File<T> {
    fn drop(&mut self) {
        if self.open
            && let Ok(mut c) = self.client.core.try_borrow_mut()
        {
            let _ = c.clunk_detached(self.fid);
        }
    }
}

#[cfg(feature = "std")]
impl<T: Transport> std::io::Read for File<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(File::read(self, buf)?)
    }
}

#[cfg(feature = "std")]
impl<T: Transport> std::io::Write for File<T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(File::write(self, buf)?)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(self.client.submit()?)
    }
}

#[cfg(feature = "std")]
impl<T: Transport> std::io::Seek for File<T> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let p = match pos {
            std::io::SeekFrom::Start(o) => SeekFrom::Start(o),
            std::io::SeekFrom::End(d) => SeekFrom::End(d),
            std::io::SeekFrom::Current(d) => SeekFrom::Current(d),
        };
        Ok(File::seek(self, p)?)
    }
}
