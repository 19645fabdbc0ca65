//! Path-level operations on an attached tree: open, create, remove, stat, read_dir.
//!
//! Each operation is one batch where it is safe: walk + open, walk + create,
//! walk + stat + clunk go out in a single submission.

use super::core::Core;
use super::{Client, Error, File, expect};
use crate::codec::{Dir, MAXWELEM, Message, MessageType, NOFID, OREAD, Qid, Stat, WalkNames};
use crate::transport::Transport;
use alloc::vec::Vec;
use core::ops::Deref;

/// Splits a slash-separated path into walk names, dropping empty and `.` elements.
pub fn split_path(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|e| !e.is_empty() && *e != ".")
        .collect()
}

/// The walk names of a path, as [`split_path`] gives them: on the stack when they fit one
/// Twalk (nearly always), so a path operation allocates nothing for them.
#[allow(
    clippy::large_enum_variant,
    reason = "lives on the stack for one call; being there instead of on the heap is the point"
)]
enum Names<'a> {
    Inline([&'a str; MAXWELEM], usize),
    Heap(Vec<&'a str>),
}

impl<'a> Names<'a> {
    fn of(path: &'a str) -> Self {
        let mut names = [""; MAXWELEM];
        let mut n = 0;
        let mut rest = path;
        loop {
            // '/' is ASCII, so cutting at it keeps char boundaries.
            let slash = rest.as_bytes().iter().position(|&b| b == b'/');
            let element = &rest[..slash.unwrap_or(rest.len())];
            if !element.is_empty() && element != "." {
                if n == MAXWELEM {
                    return Self::Heap(split_path(path));
                }
                names[n] = element;
                n += 1;
            }
            match slash {
                Some(i) => rest = &rest[i + 1..],
                None => return Self::Inline(names, n),
            }
        }
    }
}

impl<'a> Deref for Names<'a> {
    type Target = [&'a str];

    fn deref(&self) -> &[&'a str] {
        match self {
            Self::Inline(names, n) => &names[..*n],
            Self::Heap(names) => names,
        }
    }
}

/// One queued Twalk: tag, generation, and the names it covers (start, count).
type Ticket = (u16, u32, usize, usize);

/// A queued multi-message walk: one ticket per Twalk (the first kept inline, since a walk
/// of more than 16 names is rare).
pub(crate) struct WalkTickets {
    pub(crate) newfid: u32,
    first: Option<Ticket>,
    more: Vec<Ticket>,
}

impl WalkTickets {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn push(&mut self, ticket: Ticket) {
        if self.first.is_none() {
            self.first = Some(ticket);
        } else {
            self.more.push(ticket);
        }
    }
}

/// Queues the Twalks that take a new fid from `from` along `names`,
/// 16 names per message, all in the current batch.
pub(crate) fn queue_walk<T: Transport>(
    c: &mut Core<T>,
    from: u32,
    names: &[&str],
) -> Result<WalkTickets, Error> {
    let newfid = c.alloc_fid()?;
    let mut tickets = WalkTickets {
        newfid,
        first: None,
        more: Vec::new(),
    };
    let mut start = 0;
    loop {
        let end = (start + MAXWELEM).min(names.len());
        let chunk = &names[start..end];
        let wnames = WalkNames::new(chunk).map_err(|_| Error::InvalidArgument("walk"))?;
        let fid = if start == 0 { from } else { newfid };
        match c.enqueue(
            &Message::Twalk {
                fid,
                newfid,
                wnames,
            },
            None,
        ) {
            Ok((tag, generation)) => tickets.push((tag, generation, start, chunk.len())),
            Err(e) => {
                if tickets.len() == 0 {
                    c.fids.release(newfid);
                } else {
                    let _ = finish_walk(c, tickets, names);
                }
                return Err(e);
            }
        }
        start = end;
        if start >= names.len() {
            return Ok(tickets);
        }
    }
}

/// Waits for every Twalk of a queued walk; on failure clunks the new fid if
/// it was made. Returns the qid the walk reached (None for a clone).
pub(crate) fn finish_walk<T: Transport>(
    c: &mut Core<T>,
    w: WalkTickets,
    names: &[&str],
) -> Result<Option<Qid>, Error> {
    let mut result: Result<Option<Qid>, Error> = Ok(None);
    let mut created = false;
    let tickets = w.first.into_iter().chain(w.more);
    for (i, (tag, generation, start, len)) in tickets.enumerate() {
        let r = c.wait(tag, generation).and_then(|_| {
            c.with_reply(tag, |m| {
                let Message::Rwalk { wqids } = m else {
                    return Err(Error::Protocol("expected Rwalk"));
                };
                if wqids.len() == len {
                    Ok(wqids.last())
                } else if wqids.len() < len {
                    let name = names.get(start + wqids.len()).copied().unwrap_or("");
                    Err(Error::NotFound { name: name.into() })
                } else {
                    Err(Error::Protocol("Rwalk with more qids than names"))
                }
            })
        });
        match r {
            Ok(q) => {
                if i == 0 {
                    created = true;
                }
                if result.is_ok() {
                    result = Ok(q.or(result.unwrap_or(None)));
                }
            }
            Err(e) => {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
    }
    if result.is_err() && created {
        c.clunk_detached(w.newfid)?;
    }
    result
}

/// Walks to a new fid and waits; returns the fid and the qid reached.
pub(crate) fn walk<T: Transport>(
    c: &mut Core<T>,
    from: u32,
    from_qid: Qid,
    names: &[&str],
) -> Result<(u32, Qid), Error> {
    let w = queue_walk(c, from, names)?;
    let fid = w.newfid;
    let q = finish_walk(c, w, names)?;
    Ok((fid, q.unwrap_or(from_qid)))
}

/// A tree attached on a client: the root fid plus path operations.
pub struct Fs<T: Transport> {
    client: Client<T>,
    root: u32,
    root_qid: Qid,
}

impl<T: Transport> Fs<T> {
    /// Attaches as `uname` to `aname` (no authentication).
    pub fn attach(client: Client<T>, uname: &str, aname: &str) -> Result<Self, Error> {
        let (root, root_qid) = client.with(|c| {
            let fid = c.alloc_fid()?;
            let msg = Message::Tattach {
                fid,
                afid: NOFID,
                uname,
                aname,
            };
            let qid = c.call(&msg, |m| match m {
                Message::Rattach { qid } => Ok(qid),
                _ => Err(Error::Protocol("expected Rattach")),
            })?;
            Ok::<_, Error>((fid, qid))
        })?;
        Ok(Self {
            client,
            root,
            root_qid,
        })
    }

    /// The connection this tree is attached on.
    pub fn client(&self) -> &Client<T> {
        &self.client
    }

    /// The fid of the root of the tree.
    pub fn root_fid(&self) -> u32 {
        self.root
    }

    /// The qid of the root of the tree.
    pub fn root_qid(&self) -> Qid {
        self.root_qid
    }

    /// Walks to `path` and returns a new fid (not opened) with its qid. The
    /// caller owns the fid: clunk it with a Tclunk when done.
    pub fn walk(&self, path: &str) -> Result<(u32, Qid), Error> {
        let names = Names::of(path);
        self.client
            .with(|c| walk(c, self.root, self.root_qid, &names))
    }

    /// Opens `path` with an O* mode.
    pub fn open(&self, path: &str, mode: u8) -> Result<File<T>, Error> {
        let names = Names::of(path);
        let (fid, _, (qid, iounit)) = self.client.with(|c| {
            let op = |fid| Message::Topen { fid, mode };
            self.fid_op(c, &names, &op, ropen, true)
        })?;
        Ok(File::new(self.client.clone(), fid, qid, iounit, mode))
    }

    /// Creates `path` with permissions `perm` (DM* bits included) and opens
    /// it with `mode`. The parent directory must exist.
    pub fn create(&self, path: &str, perm: u32, mode: u8) -> Result<File<T>, Error> {
        let all = Names::of(path);
        let (&name, names) = all
            .split_last()
            .ok_or(Error::InvalidArgument("create needs a file name"))?;
        if name == ".." {
            return Err(Error::InvalidArgument("cannot create '..'"));
        }
        let (fid, _, (qid, iounit)) = self.client.with(|c| {
            let op = |fid| Message::Tcreate {
                fid,
                name,
                perm,
                mode,
            };
            self.fid_op(c, names, &op, rcreate, true)
        })?;
        Ok(File::new(self.client.clone(), fid, qid, iounit, mode))
    }

    /// Removes `path`.
    pub fn remove(&self, path: &str) -> Result<(), Error> {
        let names = Names::of(path);
        self.client.with(|c| {
            self.fid_op(
                c,
                &names,
                &|fid| Message::Tremove { fid },
                |m| expect(&m, MessageType::Rremove),
                false,
            )
            .map(|_| ())
        })
    }

    /// The stat of `path`: walk, Tstat and Tclunk in one submission.
    pub fn stat(&self, path: &str) -> Result<Dir, Error> {
        self.stat_with(path, |stat| stat.to_dir())
    }

    /// Like [`stat`](Self::stat), but hands `f` the stat as decoded, borrowing its strings
    /// from the reply, so a caller that wants only some fields (or other names) builds no
    /// [`Dir`].
    pub fn stat_with<R>(&self, path: &str, f: impl FnOnce(&Stat<'_>) -> R) -> Result<R, Error> {
        let names = Names::of(path);
        self.client.with(|c| {
            let (_, _, r) = self.fid_op(
                c,
                &names,
                &|fid| Message::Tstat { fid },
                |m| match m {
                    Message::Rstat { stat } => Ok(f(&stat)),
                    _ => Err(Error::Protocol("expected Rstat")),
                },
                false,
            )?;
            Ok(r)
        })
    }

    /// Changes the stat of `path`; start from [`Dir::dont_touch`].
    pub fn wstat(&self, path: &str, dir: &Dir) -> Result<(), Error> {
        let names = Names::of(path);
        let stat = dir.as_stat();
        self.client.with(|c| {
            self.fid_op(
                c,
                &names,
                &|fid| Message::Twstat { fid, stat },
                |m| expect(&m, MessageType::Rwstat),
                false,
            )
            .map(|_| ())
        })
    }

    /// The entries of the directory `path`.
    pub fn read_dir(&self, path: &str) -> Result<Vec<Dir>, Error> {
        let mut f = self.open(path, OREAD)?;
        let r = f.read_dir();
        let c = f.close();
        let v = r?;
        c?;
        Ok(v)
    }

    /// Walks from the root along `names` to a new fid, then runs `op` on it.
    ///
    /// `keep`: the fid stays bound (open, create) on success; otherwise it is
    /// clunked in the same batch (stat, wstat) or consumed by the op (remove).
    /// On failure the fid is always released.
    fn fid_op<'m, R>(
        &self,
        c: &mut Core<T>,
        names: &[&str],
        op: &dyn Fn(u32) -> Message<'m>,
        reply: impl FnOnce(Message<'_>) -> Result<R, Error>,
        keep: bool,
    ) -> Result<(u32, Qid, R), Error> {
        let w = queue_walk(c, self.root, names)?;
        let fid = w.newfid;
        let msg = op(fid);
        let consumes = matches!(msg, Message::Tremove { .. });
        let clunks = !keep && !consumes;
        // Ops queued behind a one-message walk ride in its submission; their
        // fid bookkeeping is done here, since a failed walk makes them moot.
        let mut queued = None;
        if w.len() == 1 {
            let op = c.enqueue_plain(&msg);
            let clunk = if clunks {
                Some(c.enqueue_plain(&Message::Tclunk { fid }))
            } else {
                None
            };
            queued = Some((op, clunk));
        }
        let walked = match finish_walk(c, w, names) {
            Ok(q) => q.unwrap_or(self.root_qid),
            Err(e) => {
                // The ops ran on a fid that does not exist; ignore their replies.
                if let Some((op, clunk)) = queued {
                    for (tag, generation) in
                        [op.ok(), clunk.and_then(Result::ok)].into_iter().flatten()
                    {
                        c.detach(tag, generation);
                    }
                }
                return Err(e);
            }
        };
        let (op, clunk) = match queued {
            Some((op, clunk)) => (op, clunk),
            None => {
                let op = c.enqueue_plain(&msg);
                (
                    op,
                    if clunks {
                        Some(c.enqueue_plain(&Message::Tclunk { fid }))
                    } else {
                        None
                    },
                )
            }
        };
        let r = op.and_then(|(tag, generation)| {
            c.wait(tag, generation)?;
            c.with_reply(tag, reply)
        });
        let clunked = match clunk {
            Some(clunk) => {
                let r = clunk.and_then(|(tag, generation)| {
                    c.wait(tag, generation)?;
                    c.with_reply(tag, |m| expect(&m, MessageType::Rclunk))
                });
                // The fid is gone whatever the Rclunk said, unless it was never sent.
                if !matches!(r, Err(Error::TooLarge { .. } | Error::TagsExhausted)) {
                    c.fids.release(fid);
                }
                r
            }
            None if consumes => {
                // Tremove clunks the fid whether or not the remove succeeded.
                c.fids.release(fid);
                Ok(())
            }
            None if r.is_err() => c.clunk_detached(fid),
            None => Ok(()),
        };
        let r = r?;
        clunked?;
        Ok((fid, walked, r))
    }
}

impl<T: Transport> Drop for Fs<T> {
    fn drop(&mut self) {
        if let Ok(mut c) = self.client.core.try_borrow_mut() {
            let _ = c.clunk_detached(self.root);
        }
    }
}

fn ropen(m: Message<'_>) -> Result<(Qid, u32), Error> {
    match m {
        Message::Ropen { qid, iounit } => Ok((qid, iounit)),
        _ => Err(Error::Protocol("expected Ropen")),
    }
}

fn rcreate(m: Message<'_>) -> Result<(Qid, u32), Error> {
    match m {
        Message::Rcreate { qid, iounit } => Ok((qid, iounit)),
        _ => Err(Error::Protocol("expected Rcreate")),
    }
}

#[cfg(test)]
mod tests {
    use super::{Names, split_path};

    #[test]
    fn names_are_split_path() {
        let long = "/a".repeat(17);
        for path in [
            "",
            "/",
            "a",
            "/a/b/c",
            "a//b/./c/",
            "./..//x",
            "/é/ü/",
            "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
            long.as_str(),
        ] {
            let names = Names::of(path);
            assert_eq!(&names[..], &split_path(path)[..], "{path}");
            assert_eq!(matches!(names, Names::Heap(_)), names.len() > 16);
        }
    }
}
