//! The client's engine: outgoing batch, tag slots, reply dispatch, fid effects and flush.

use super::pool::{FidPool, TagPool};
use super::{Callback, Error, Reply, Stats};
use crate::codec::{HEADER_SIZE, Message, MessageType, Qid, frame_header, frame_size};
use crate::transport::{Transport, TransportError, Wait};
use alloc::vec::Vec;

/// A batch is submitted before it grows past this many bytes (or one msize).
const BATCH_BYTES: usize = 256 * 1024;

/// Where the replies of the last receive are.
#[derive(Clone, Copy)]
enum Source {
    /// In the core's inbox, copied there by `Transport::receive`.
    Inbox,
    /// In the transport's own buffer, lent by `Transport::receive_lent`.
    Lent,
}

/// What the reply to a request does to the fid table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    None,
    /// Tattach, Tauth, or a Twalk to a new fid: the fid exists only if the
    /// reply is of type `reply` (for a walk, with all `nwname` qids).
    NewFid {
        fid: u32,
        nwname: u16,
        reply: MessageType,
    },
    /// Tclunk or Tremove: the fid is gone whatever the reply.
    ReleaseFid(u32),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Free,
    /// Sent or queued; the reply has not arrived.
    Waiting,
    /// The reply is in `reply`, waiting for its owner.
    Done,
    /// A Tflush was sent for it; `answered` once its own reply came anyway.
    Abandoned {
        answered: bool,
    },
    /// Nobody wants the reply; apply its effect and free the tag.
    Detached,
    /// This tag carries a Tflush for `oldtag`.
    Flushing {
        oldtag: u16,
    },
}

pub(crate) struct Slot {
    pub(crate) state: SlotState,
    pub(crate) generation: u32,
    pub(crate) reply: Vec<u8>,
    /// Where the reply lies in the transport's lent buffer, if it was not copied to `reply`.
    lent: Option<(usize, usize)>,
    effect: Effect,
    /// A fid that a successful reply created and nobody has taken yet.
    created: Option<u32>,
    callback: Option<Callback>,
}

impl Slot {
    fn new() -> Self {
        Self {
            state: SlotState::Free,
            generation: 0,
            reply: Vec::new(),
            lent: None,
            effect: Effect::None,
            created: None,
            callback: None,
        }
    }
}

pub(crate) struct Core<T> {
    pub(crate) transport: T,
    pub(crate) msize: u32,
    tags: TagPool,
    pub(crate) fids: FidPool,
    slots: Vec<Slot>,
    /// The outgoing batch is `out[..out_len]`; the rest is room left from earlier batches,
    /// overwritten rather than zeroed again.
    out: Vec<u8>,
    out_len: usize,
    out_count: usize,
    pub(crate) batch_limit: usize,
    inbox: Vec<u8>,
    /// Slots whose reply lies in the transport's lent buffer.
    lent_slots: usize,
    /// Callbacks whose replies arrived; run once the core is unborrowed.
    pub(crate) ready: Vec<(Callback, Result<Reply, Error>)>,
    broken: Option<TransportError>,
    pub(crate) stats: Stats,
}

fn effect_of(msg: &Message<'_>) -> Effect {
    match *msg {
        Message::Tattach { fid, .. } => Effect::NewFid {
            fid,
            nwname: 0,
            reply: MessageType::Rattach,
        },
        Message::Tauth { afid, .. } => Effect::NewFid {
            fid: afid,
            nwname: 0,
            reply: MessageType::Rauth,
        },
        Message::Twalk {
            fid,
            newfid,
            wnames,
        } if fid != newfid => Effect::NewFid {
            fid: newfid,
            nwname: wnames.len() as u16,
            reply: MessageType::Rwalk,
        },
        Message::Tclunk { fid } | Message::Tremove { fid } => Effect::ReleaseFid(fid),
        _ => Effect::None,
    }
}

/// Whether `frame` (one whole frame, as its size field says) is a successful reply for a
/// request with effect NewFid.
///
/// The rule must be the one the operations apply when they read the reply (it decodes, and a
/// walk got every qid), or a damaged reply could leave the fid table and the server
/// disagreeing. Rattach, Rauth and Rwalk have no strings, so "it decodes" is a matter of
/// type and length, checked here without decoding (the operation decodes it once, later).
fn creates_fid(frame: &[u8], effect: Effect, msize: u32) -> bool {
    let Effect::NewFid { nwname, reply, .. } = effect else {
        return false;
    };
    let len = frame.len();
    if frame_header(frame).map(|(typ, _)| typ) != Some(reply as u8)
        || frame_size(frame) != Some(len as u32)
        || len > msize as usize
    {
        return false;
    }
    match reply {
        MessageType::Rattach | MessageType::Rauth => len == HEADER_SIZE + Qid::SIZE,
        MessageType::Rwalk => {
            // nwname is at most 16 (WalkNames), so a match is within MAXWELEM.
            frame.get(7..9) == Some(&nwname.to_le_bytes()[..])
                && len == HEADER_SIZE + 2 + nwname as usize * Qid::SIZE
        }
        _ => false,
    }
}

impl<T: Transport> Core<T> {
    pub(crate) fn new(transport: T, msize: u32) -> Self {
        Self {
            transport,
            msize,
            tags: TagPool::default(),
            fids: FidPool::default(),
            slots: Vec::new(),
            out: Vec::new(),
            out_len: 0,
            out_count: 0,
            batch_limit: 64,
            inbox: Vec::new(),
            lent_slots: 0,
            ready: Vec::new(),
            broken: None,
            stats: Stats::default(),
        }
    }

    fn check_broken(&self) -> Result<(), Error> {
        match &self.broken {
            Some(e) => Err(Error::Transport(e.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn fail(&mut self, e: TransportError) -> Error {
        self.broken = Some(e.clone());
        Error::Transport(e)
    }

    pub(crate) fn alloc_fid(&mut self) -> Result<u32, Error> {
        self.fids.alloc().ok_or(Error::FidsExhausted)
    }

    /// Queues `msg` in the outgoing batch; the batch is submitted first if full.
    pub(crate) fn enqueue(
        &mut self,
        msg: &Message<'_>,
        callback: Option<Callback>,
    ) -> Result<(u16, u32), Error> {
        self.check_broken()?;
        if matches!(
            msg.message_type(),
            MessageType::Tversion | MessageType::Tflush
        ) || msg.message_type().is_reply()
        {
            return Err(Error::InvalidArgument(
                "the client sends Tversion and Tflush itself",
            ));
        }
        self.enqueue_raw(msg, effect_of(msg), callback)
    }

    fn enqueue_raw(
        &mut self,
        msg: &Message<'_>,
        effect: Effect,
        callback: Option<Callback>,
    ) -> Result<(u16, u32), Error> {
        let len = msg.encoded_len();
        if len > self.msize as usize {
            return Err(Error::TooLarge {
                size: len,
                msize: self.msize,
            });
        }
        if self.out_count >= self.batch_limit
            || (self.out_count > 0 && self.out_len + len > BATCH_BYTES.max(self.msize as usize))
        {
            self.submit()?;
        }
        let tag = self.tags.alloc().ok_or(Error::TagsExhausted)?;
        let start = self.out_len;
        if self.out.len() < start + len {
            self.out.resize(start + len, 0);
        }
        if let Err(e) = msg.encode(tag, &mut self.out[start..start + len]) {
            self.tags.release(tag);
            return Err(e.into());
        }
        self.out_len = start + len;
        self.out_count += 1;
        let i = tag as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::new);
        }
        let slot = &mut self.slots[i];
        slot.state = SlotState::Waiting;
        slot.generation = slot.generation.wrapping_add(1);
        slot.effect = effect;
        slot.created = None;
        slot.callback = callback;
        Ok((tag, slot.generation))
    }

    /// Sends the queued batch, if any, in one transport submission.
    pub(crate) fn submit(&mut self) -> Result<(), Error> {
        if self.out_count == 0 {
            return Ok(());
        }
        self.check_broken()?;
        if !self.transport.lent_survives_submit() {
            self.spill();
        }
        let r = self
            .transport
            .submit(&self.out[..self.out_len], self.out_count);
        self.stats.submissions += 1;
        self.stats.messages += self.out_count as u64;
        self.out_len = 0;
        self.out_count = 0;
        r.map_err(|e| self.fail(e))
    }

    /// Copies the replies still lying in the transport's lent buffer into their slots, before
    /// anything that may overwrite that buffer (a receive, or a submission unless the
    /// transport keeps the lent buffer apart from new replies).
    pub(crate) fn spill(&mut self) {
        if self.lent_slots == 0 {
            return;
        }
        let lent = self.transport.lent();
        for slot in &mut self.slots {
            if let Some((at, len)) = slot.lent.take() {
                slot.reply.clear();
                slot.reply.extend_from_slice(&lent[at..at + len]);
                self.stats.spilled += 1;
            }
        }
        self.lent_slots = 0;
    }

    /// Receives available replies and dispatches them to their slots.
    pub(crate) fn pump(&mut self, wait: Wait) -> Result<usize, Error> {
        self.check_broken()?;
        self.spill();
        let (source, n) = match self.transport.receive_lent(wait) {
            Some(Ok(n)) => (Source::Lent, n),
            Some(Err(e)) => return Err(self.fail(e)),
            None => {
                self.inbox.clear();
                match self.transport.receive(&mut self.inbox, wait) {
                    Ok(n) => (Source::Inbox, n),
                    Err(e) => return Err(self.fail(e)),
                }
            }
        };
        let total = self.frames(source).len();
        let mut pos = 0;
        while pos < total {
            let size = frame_size(&self.frames(source)[pos..]).unwrap_or(0) as usize;
            if size < HEADER_SIZE || pos + size > total {
                return Err(self.fail(TransportError::Malformed(
                    "transport returned a partial frame",
                )));
            }
            self.dispatch(source, pos, size)?;
            pos += size;
        }
        self.stats.replies += n as u64;
        Ok(n)
    }

    /// The replies the last receive brought.
    fn frames(&self, source: Source) -> &[u8] {
        match source {
            Source::Inbox => &self.inbox,
            Source::Lent => self.transport.lent(),
        }
    }

    /// Hands the frame at `at..at + len` of `source` to its slot.
    fn dispatch(&mut self, source: Source, at: usize, len: usize) -> Result<(), Error> {
        let frame = &self.frames(source)[at..at + len];
        let Some((typ, tag)) = frame_header(frame) else {
            return Ok(());
        };
        let Some(slot) = self.slots.get(tag as usize) else {
            self.stats.stray_replies += 1;
            return Ok(());
        };
        let created = creates_fid(frame, slot.effect, self.msize);
        let new_fid = match slot.effect {
            Effect::NewFid { fid, .. } if created => Some(fid),
            _ => None,
        };
        match slot.state {
            SlotState::Waiting => {
                self.apply_effect(tag, created);
                if self.slots[tag as usize].callback.is_some() {
                    let reply = Reply {
                        frame: self.frames(source)[at..at + len].to_vec(),
                    };
                    let slot = &mut self.slots[tag as usize];
                    let cb = slot.callback.take();
                    self.free_slot(tag);
                    if let Some(cb) = cb {
                        self.ready.push((cb, Ok(reply)));
                    }
                } else {
                    match source {
                        Source::Lent => {
                            self.slots[tag as usize].lent = Some((at, len));
                            self.lent_slots += 1;
                        }
                        Source::Inbox => {
                            let slot = &mut self.slots[tag as usize];
                            slot.reply.clear();
                            slot.reply.extend_from_slice(&self.inbox[at..at + len]);
                        }
                    }
                    let slot = &mut self.slots[tag as usize];
                    slot.created = new_fid;
                    slot.state = SlotState::Done;
                }
            }
            SlotState::Detached => {
                if let Some(fid) = new_fid {
                    self.clunk_detached(fid)?;
                } else {
                    self.apply_effect(tag, created);
                }
                self.free_slot(tag);
            }
            SlotState::Abandoned { answered: false } => {
                self.slots[tag as usize].state = SlotState::Abandoned { answered: true };
                if let Some(fid) = new_fid {
                    self.slots[tag as usize].effect = Effect::None;
                    self.clunk_detached(fid)?;
                } else {
                    self.apply_effect(tag, created);
                }
            }
            SlotState::Flushing { oldtag } => {
                if typ != MessageType::Rflush as u8 {
                    self.stats.stray_replies += 1;
                }
                self.free_slot(tag);
                if let Some(old) = self.slots.get_mut(oldtag as usize)
                    && matches!(old.state, SlotState::Abandoned { .. })
                {
                    // Flushed before it was answered: a new fid was never made.
                    if old.state == (SlotState::Abandoned { answered: false })
                        && let Effect::NewFid { fid, .. } = old.effect
                    {
                        self.fids.release(fid);
                    }
                    self.free_slot(oldtag);
                }
            }
            SlotState::Free | SlotState::Done | SlotState::Abandoned { answered: true } => {
                self.stats.stray_replies += 1;
            }
        }
        Ok(())
    }

    /// Releases fids as the reply dictates (failed creations, clunks, removes);
    /// `created`: the reply made the new fid.
    fn apply_effect(&mut self, tag: u16, created: bool) {
        let slot = &mut self.slots[tag as usize];
        match core::mem::replace(&mut slot.effect, Effect::None) {
            Effect::NewFid { fid, .. } if !created => self.fids.release(fid),
            Effect::ReleaseFid(fid) => self.fids.release(fid),
            _ => {}
        }
    }

    fn free_slot(&mut self, tag: u16) {
        let slot = &mut self.slots[tag as usize];
        if slot.lent.take().is_some() {
            self.lent_slots -= 1;
        }
        slot.state = SlotState::Free;
        slot.effect = Effect::None;
        slot.callback = None;
        slot.created = None;
        self.tags.release(tag);
    }

    /// Queues a Tclunk whose reply nobody waits for.
    pub(crate) fn clunk_detached(&mut self, fid: u32) -> Result<(), Error> {
        let (tag, _) = self.enqueue_raw(&Message::Tclunk { fid }, Effect::ReleaseFid(fid), None)?;
        self.slots[tag as usize].state = SlotState::Detached;
        Ok(())
    }

    pub(crate) fn state(&self, tag: u16, generation: u32) -> Option<SlotState> {
        self.slots
            .get(tag as usize)
            .filter(|s| s.generation == generation)
            .map(|s| s.state)
    }

    /// Blocks until the request on `tag` has its reply.
    pub(crate) fn wait(&mut self, tag: u16, generation: u32) -> Result<(), Error> {
        loop {
            match self.state(tag, generation) {
                Some(SlotState::Done) => return Ok(()),
                Some(SlotState::Waiting) => {
                    self.submit()?;
                    self.pump(Wait::Block)?;
                }
                _ => return Err(Error::InvalidArgument("no such outstanding request")),
            }
        }
    }

    /// Non-blocking: submits the batch, takes any arrived replies, and says
    /// whether `tag` is done.
    pub(crate) fn poll(&mut self, tag: u16, generation: u32) -> Result<bool, Error> {
        if self.state(tag, generation) == Some(SlotState::Waiting) {
            self.submit()?;
            self.pump(Wait::Poll)?;
        }
        Ok(self.state(tag, generation) == Some(SlotState::Done))
    }

    /// Takes the reply of a done request and frees its tag.
    pub(crate) fn take(&mut self, tag: u16) -> Reply {
        let slot = &mut self.slots[tag as usize];
        let frame = match slot.lent {
            Some((at, len)) => self.transport.lent()[at..at + len].to_vec(),
            None => core::mem::take(&mut slot.reply),
        };
        self.free_slot(tag);
        Reply { frame }
    }

    /// Runs `f` on the decoded reply of a done request, then frees its tag. The reply is
    /// decoded where it lies: in the transport's lent buffer, or in the slot's own buffer,
    /// which stays with the slot for reuse.
    pub(crate) fn with_reply<R>(
        &mut self,
        tag: u16,
        f: impl FnOnce(Message<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let slot = &self.slots[tag as usize];
        let frame = match slot.lent {
            Some((at, len)) => &self.transport.lent()[at..at + len],
            None => &slot.reply[..],
        };
        let r = Reply::decode_frame(frame, self.msize).and_then(f);
        self.free_slot(tag);
        r
    }

    /// Queues, submits and waits for one request, handing the reply to `f`.
    pub(crate) fn call<R>(
        &mut self,
        msg: &Message<'_>,
        f: impl FnOnce(Message<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let (tag, generation) = self.enqueue(msg, None)?;
        self.wait(tag, generation)?;
        self.with_reply(tag, f)
    }

    /// Gives up on a request: flushes it if it may still be running.
    pub(crate) fn abandon(&mut self, tag: u16, generation: u32) {
        let Some(state) = self.state(tag, generation) else {
            return;
        };
        match state {
            SlotState::Done => {
                if let Some(fid) = self.slots[tag as usize].created.take() {
                    // Best effort: a failure here means the connection is gone.
                    let _ = self.clunk_detached(fid);
                }
                self.free_slot(tag);
            }
            SlotState::Waiting => {
                let slot = &mut self.slots[tag as usize];
                slot.callback = None;
                if matches!(slot.effect, Effect::ReleaseFid(_)) || self.broken.is_some() {
                    // Never flush a clunk or remove: the fid is gone either way.
                    slot.state = SlotState::Detached;
                    return;
                }
                match self.enqueue_raw(&Message::Tflush { oldtag: tag }, Effect::None, None) {
                    Ok((ftag, _)) => {
                        self.slots[ftag as usize].state = SlotState::Flushing { oldtag: tag };
                        self.slots[tag as usize].state = SlotState::Abandoned { answered: false };
                        self.stats.flushes += 1;
                    }
                    Err(_) => self.slots[tag as usize].state = SlotState::Detached,
                }
            }
            _ => {}
        }
    }

    /// Requests sent or queued whose replies have not been consumed.
    pub(crate) fn outstanding(&self) -> usize {
        self.tags.in_use()
    }
}

impl<T: Transport> Core<T> {
    /// Whether any reply is still expected from the server.
    pub(crate) fn has_waiting(&self) -> bool {
        self.slots.iter().any(|s| {
            matches!(
                s.state,
                SlotState::Waiting
                    | SlotState::Detached
                    | SlotState::Abandoned { .. }
                    | SlotState::Flushing { .. }
            )
        })
    }
}

impl<T: Transport> Core<T> {
    /// Queues a request whose fid bookkeeping the caller does itself.
    pub(crate) fn enqueue_plain(&mut self, msg: &Message<'_>) -> Result<(u16, u32), Error> {
        self.check_broken()?;
        self.enqueue_raw(msg, Effect::None, None)
    }

    /// Stops caring about a request's reply, without a flush or any fid effect.
    pub(crate) fn detach(&mut self, tag: u16, generation: u32) {
        match self.state(tag, generation) {
            Some(SlotState::Done) => self.free_slot(tag),
            Some(SlotState::Waiting) => {
                let slot = &mut self.slots[tag as usize];
                slot.effect = Effect::None;
                slot.callback = None;
                slot.state = SlotState::Detached;
            }
            _ => {}
        }
    }
}

impl<T: Transport> Core<T> {
    /// Best effort on the way out: sends what is queued unless the transport is broken.
    pub(crate) fn submit_on_drop(&mut self) {
        if self.broken.is_none() {
            let _ = self.submit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{WalkQids, decode_with_limit};
    use alloc::vec;

    fn frame(tag: u16, m: Message<'_>) -> Vec<u8> {
        let mut f = vec![0u8; m.encoded_len()];
        m.encode(tag, &mut f).unwrap();
        f
    }

    /// The rule creates_fid applies without decoding: the reply decodes, has the type that
    /// makes the fid, and (a walk) carries a qid per name.
    fn by_decoding(frame: &[u8], effect: Effect, msize: u32) -> bool {
        let Effect::NewFid { nwname, reply, .. } = effect else {
            return false;
        };
        match decode_with_limit(frame, msize) {
            Ok((_, m)) if m.message_type() != reply => false,
            Ok((_, Message::Rattach { .. } | Message::Rauth { .. })) => true,
            Ok((_, Message::Rwalk { wqids })) => wqids.len() == nwname as usize,
            _ => false,
        }
    }

    #[test]
    fn creates_fid_agrees_with_decoding() {
        let qids = [Qid::default(); 16];
        let mut frames = vec![
            frame(1, Message::Rattach { qid: qids[0] }),
            frame(1, Message::Rauth { aqid: qids[0] }),
            frame(1, Message::Rerror { ename: "no" }),
            frame(1, Message::Rclunk),
            frame(1, Message::Tclunk { fid: 3 }),
        ];
        for n in [0, 1, 2, 15, 16] {
            frames.push(frame(
                1,
                Message::Rwalk {
                    wqids: WalkQids::new(&qids[..n]).unwrap(),
                },
            ));
        }
        // Damaged copies: cut short, grown, size field wrong, count wrong.
        for f in frames.clone() {
            let mut short = f.clone();
            short.pop();
            frames.push(short);
            let mut long = f.clone();
            long.push(0);
            frames.push(long.clone());
            let n = long.len() as u32;
            long[..4].copy_from_slice(&n.to_le_bytes());
            frames.push(long);
            if f.len() > 8 {
                let mut count = f.clone();
                count[7] = count[7].wrapping_add(1);
                frames.push(count);
            }
        }
        let mut effects = vec![Effect::None, Effect::ReleaseFid(1)];
        for reply in [MessageType::Rattach, MessageType::Rauth, MessageType::Rwalk] {
            for nwname in [0, 1, 2, 15, 16] {
                effects.push(Effect::NewFid {
                    fid: 9,
                    nwname,
                    reply,
                });
            }
        }
        for f in &frames {
            for &effect in &effects {
                for msize in [8192, 20, 7] {
                    assert_eq!(
                        creates_fid(f, effect, msize),
                        by_decoding(f, effect, msize),
                        "{f:?} msize {msize}"
                    );
                }
            }
        }
    }
}
