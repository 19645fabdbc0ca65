//! Twalk: element-by-element walks, partial-walk replies, newfid binding.

use super::{FidEntry, Filesystem, Out, Server, ServerError, put, valid_name};
use crate::codec::{MAXWELEM, Message, Qid, WalkNames, WalkQids};

impl<F: Filesystem> Server<F> {
    pub(super) fn walk(
        &mut self,
        tag: u16,
        fid: u32,
        newfid: u32,
        wnames: &WalkNames<'_>,
        out: &mut Out<'_>,
    ) -> Result<(), ServerError> {
        let e = self.entry(fid)?;
        if e.open.is_some() {
            return Err(ServerError::FidOpen);
        }
        let (mut node, mut qid) = (e.node.clone(), e.qid);
        if newfid != fid && self.fids.contains(newfid) {
            return Err(ServerError::DuplicateFid);
        }
        let mut qids = [Qid::default(); MAXWELEM];
        let mut walked = 0;
        for (i, name) in wnames.iter().enumerate() {
            let step = if !qid.is_dir() {
                Err(ServerError::WalkNotDirectory)
            } else if !valid_name(name) {
                Err(ServerError::BadName)
            } else {
                self.fs
                    .walk(&node, name)
                    .and_then(|n| Ok((self.fs.qid(&n)?, n)))
            };
            match step {
                Ok((q, n)) => {
                    node = n;
                    qid = q;
                    // In bounds: the codec allows at most 16 names.
                    qids[walked] = q;
                    walked += 1;
                }
                Err(e) if i == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if walked == wnames.len() {
            let old = self.fids.insert(
                newfid,
                FidEntry {
                    node,
                    qid,
                    open: None,
                    dir: None,
                },
            );
            if let Some(old) = old {
                self.fs.clunk(&old.node);
            }
        }
        let wqids = WalkQids::new(&qids[..walked]).unwrap_or_default();
        put(out, tag, &Message::Rwalk { wqids });
        Ok(())
    }
}
