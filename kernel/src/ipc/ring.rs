//! Shared rings: frames mapped into two address spaces, for requests and replies that the
//! kernel never copies.
//!
//! `ring_create(peer, pages, max_message)` allocates `pages` zeroed frames, writes the
//! `lux9-ring` header for the largest power-of-two slot count that holds messages of
//! `max_message` bytes (8192 if 0), and maps the frames, writable, into the caller's (the
//! client's) and the peer's (the server's) mapping regions; the peer finds its address with
//! `ring_info(id)` (the creator passes the id in a message). The layout is `lux9-ring`'s (see
//! docs/rings.md); the kernel keeps its own copy of the geometry and never trusts the header's.
//!
//! The kernel never copies ring entries, but it counts them: at every `notify` and at teardown
//! it reads the four index words (validated against its geometry) and adds the entries that
//! passed since its last look to `zero_copy_transfers`; the entries the notifier published
//! since its last notify form one batch (`batched_operations`, `batches`); the sleeps each side
//! skipped because work was already there (the header's skip counts, see docs/rings.md) go to
//! `futex_skips`. The kernel records both parties; when either ends, or calls `ring_destroy`, it unmaps the frames from both sides, frees them, and wakes anyone
//! sleeping on a word of the ring with `PeerDead`.
//!
//! `notify(id)` wakes the other party's threads sleeping (in `futex_wait`) on a word in the
//! ring's first page. Senders call it only after seeing the peer's "waiting" flag set, so it
//! costs nothing while the peer is awake.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use lux9_abi::Error;
use lux9_ring::{Geometry, initialise, observed_counts};
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

use crate::arch::address_space::PageRights;
use crate::arch::paging;
use crate::arch::shared_page::SharedPage;
use crate::arch::sync::IrqMutex;
use crate::ipc::futex;
use crate::memory::frames;
use crate::process::{self, Pid};
use crate::sched;
use lux9_kernel_core::units::PAGE_SIZE;

/// Largest ring, in pages.
pub const MAX_PAGES: usize = 256;
/// Rings one process may take part in at once.
pub const MAX_RINGS_PER_PROCESS: usize = 16;

struct Ring {
    /// The client: produces requests.
    creator: Pid,
    /// The server: produces replies.
    peer: Pid,
    frames: Vec<PhysFrame>,
    creator_addr: u64,
    peer_addr: u64,
    geometry: Geometry,
    /// Tails (requests, replies) at the kernel's last look, for counting transfers.
    seen: (u32, u32),
    /// Each side's producing tail at its last notify, for batch sizes.
    notified: (u32, u32),
    /// The header's skip counts (client, server) at the kernel's last look.
    seen_skips: (u32, u32),
    /// The peer has used the ring (`ring_info` or `notify`): only then may it be touching the
    /// ring's memory when the creator ends, and only then is the ring kept for it. A ring
    /// forced on a process that never looked at it goes with its creator (otherwise any
    /// process could fill another's ring quota with rings it does not know of).
    attached: bool,
    /// Parties that asked (`ring_info` with `RING_NOTIFY_IPC`) to be woken by an IPC
    /// notification when the other side notifies: they sleep in `receive`, serving IPC and
    /// rings from one loop, rather than on the ring's futex words.
    ipc_notified: [Option<Pid>; 2],
    /// The party that has ended, when the other asked for IPC notifications: the survivor
    /// keeps its mapping (so it never touches unmapped ring memory) until it destroys the ring
    /// or ends too. `notify` then fails with `PeerDead`.
    ended: Option<Pid>,
}

impl Ring {
    fn address_of(&self, pid: Pid) -> Option<u64> {
        // A party that destroyed its side has no ring any more.
        if Some(pid) == self.ended {
            return None;
        }
        if pid == self.creator {
            Some(self.creator_addr)
        } else if pid == self.peer {
            Some(self.peer_addr)
        } else {
            None
        }
    }

    fn other(&self, pid: Pid) -> Pid {
        if pid == self.creator {
            self.peer
        } else {
            self.creator
        }
    }
}

struct Rings {
    rings: BTreeMap<u64, Ring>,
    next_id: u64,
}

impl Rings {
    /// Takes ring `id` out of the table. The last one out frees the table's root node too,
    /// which a `BTreeMap` keeps when it empties: with no ring alive the table holds no heap,
    /// and the leak tests can count every byte a ring cost.
    fn remove(&mut self, id: u64) -> Option<Ring> {
        let ring = self.rings.remove(&id);
        if self.rings.is_empty() {
            self.rings = BTreeMap::new();
        }
        ring
    }
}

static RINGS: IrqMutex<Rings> = IrqMutex::new(Rings {
    rings: BTreeMap::new(),
    next_id: 1,
});

/// `ring_create(peer, pages, max_message)`: the new ring's id and address.
pub fn create_call(args: [usize; 6]) -> Result<(usize, usize), Error> {
    let me = sched::current_pid();
    create(me, Pid::from_raw(args[0]), args[1], args[2])
        .map(|(id, addr)| (id as usize, addr as usize))
}

/// `ring_info(id, flags)`: the ring's address in the caller and its page count.
pub fn info_call(args: [usize; 6]) -> Result<(usize, usize), Error> {
    let me = sched::current_pid();
    let flags = args[1];
    if flags & !lux9_abi::ipc::RING_NOTIFY_IPC != 0 {
        return Err(Error::InvalidArgument);
    }
    let mut rings = RINGS.lock();
    let ring = rings
        .rings
        .get_mut(&(args[0] as u64))
        .ok_or(Error::NotFound)?;
    let addr = ring.address_of(me).ok_or(Error::NotFound)?;
    if ring.ended.is_some() {
        // The survivor of a ring whose other side has gone: only `ring_destroy` is left.
        return Err(Error::PeerDead);
    }
    ring.attached |= me == ring.peer;
    if flags & lux9_abi::ipc::RING_NOTIFY_IPC != 0 {
        let side = usize::from(me == ring.peer);
        ring.ipc_notified[side] = Some(me);
    }
    Ok((addr as usize, ring.frames.len()))
}

/// `notify(id)`: wakes the other side; how many threads woke.
pub fn notify_call(args: [usize; 6]) -> Result<usize, Error> {
    notify(sched::current_pid(), args[0] as u64)
}

/// `ring_destroy(id)`.
pub fn destroy_call(args: [usize; 6]) -> Result<usize, Error> {
    let me = sched::current_pid();
    let id = args[0] as u64;
    let (ring, orphaned) = {
        let mut rings = RINGS.lock();
        let ring = rings.rings.get_mut(&id).ok_or(Error::NotFound)?;
        let my_addr = ring.address_of(me).ok_or(Error::NotFound)?;
        let other = ring.other(me);
        if ring.ended.is_none() && ring.ipc_notified.contains(&Some(other)) {
            // The other side serves rings from a receive loop: it keeps its mapping
            // until it destroys the ring too (as when this side exits).
            ring.ended = Some(me);
            (
                None,
                Some((me, my_addr, ring.frames.len(), other, ring.frames[0])),
            )
        } else {
            (rings.remove(id), None)
        }
    };
    if let Some(ring) = ring {
        tear_down(ring, None);
    }
    if let Some((me, addr, pages, survivor, header)) = orphaned {
        if let Some(space) = process::space_of(me) {
            for index in 0..pages as u64 {
                let _ = space.lock().unmap_shared(addr + index * PAGE_SIZE);
            }
        }
        process::add_ring_pages(me, -(pages as i64));
        tell_survivor(survivor, header, true);
    }
    Ok(0)
}

fn rings_of(rings: &Rings, pid: Pid) -> usize {
    rings
        .rings
        .values()
        .filter(|r| (r.creator == pid || r.peer == pid) && r.ended != Some(pid))
        .count()
}

/// Message size of a ring when `ring_create` is given 0: the default 9P msize.
pub const DEFAULT_MAX_MESSAGE: u32 = 8192;

fn create(me: Pid, peer: Pid, pages: usize, max_message: usize) -> Result<(u64, u64), Error> {
    if pages == 0 || pages > MAX_PAGES || peer == me {
        return Err(Error::InvalidArgument);
    }
    let max_message = match max_message {
        0 => DEFAULT_MAX_MESSAGE,
        n => u32::try_from(n).map_err(|_| Error::InvalidArgument)?,
    };
    let geometry = Geometry::fit(pages, max_message).map_err(|_| Error::InvalidArgument)?;
    {
        let rings = RINGS.lock();
        if rings_of(&rings, me) >= MAX_RINGS_PER_PROCESS
            || rings_of(&rings, peer) >= MAX_RINGS_PER_PROCESS
        {
            return Err(Error::LimitReached);
        }
    }
    let my_space = sched::current_space().ok_or(Error::InvalidArgument)?;
    let peer_space = process::space_of(peer).ok_or(if process::ever_existed(peer) {
        Error::PeerDead
    } else {
        Error::NotFound
    })?;
    let mut frames_taken = Vec::with_capacity(pages);
    for _ in 0..pages {
        match paging::alloc_zeroed_frame() {
            Some(frame) => {
                frames_taken.push(frame);
            }
            None => {
                frames_taken.into_iter().for_each(frames::free);
                return Err(Error::NoMemory);
            }
        }
    }
    let len = pages as u64 * PAGE_SIZE;
    let (Some(my_addr), Some(peer_addr)) = (
        process::reserve_region(me, len),
        process::reserve_region(peer, len),
    ) else {
        frames_taken.into_iter().for_each(frames::free);
        return Err(Error::NoMemory);
    };
    let rights = PageRights {
        write: true,
        execute: false,
        user: true,
    };
    let mut mapped = (0, 0);
    let result = (|| {
        for (index, &frame) in frames_taken.iter().enumerate() {
            let offset = index as u64 * 4096;
            my_space
                .lock()
                .map_shared(my_addr + offset, frame, rights)
                .map_err(|_| Error::NoMemory)?;
            mapped.0 += 1;
            peer_space
                .lock()
                .map_shared(peer_addr + offset, frame, rights)
                .map_err(|_| Error::NoMemory)?;
            mapped.1 += 1;
        }
        Ok(())
    })();
    if let Err(error) = result {
        for index in 0..mapped.0 {
            let _ = my_space.lock().unmap_shared(my_addr + index * 4096);
        }
        for index in 0..mapped.1 {
            let _ = peer_space.lock().unmap_shared(peer_addr + index * 4096);
        }
        frames_taken.into_iter().for_each(frames::free);
        return Err(error);
    }
    process::add_ring_pages(me, pages as i64);
    process::add_ring_pages(peer, pages as i64);
    initialise(&SharedPage::new(frames_taken[0]), geometry)
        .expect("a fresh header page holds any geometry's header");
    let mut rings = RINGS.lock();
    let id = rings.next_id;
    rings.next_id += 1;
    rings.rings.insert(
        id,
        Ring {
            creator: me,
            peer,
            frames: frames_taken,
            creator_addr: my_addr,
            peer_addr,
            geometry,
            seen: (0, 0),
            notified: (0, 0),
            seen_skips: (0, 0),
            attached: false,
            ipc_notified: [None, None],
            ended: None,
        },
    );
    Ok((id, my_addr))
}

/// Reads the ring's counters and credits the entries that passed since the last look to the
/// running thread; with `notifier`, also counts the batch that party published. A corrupt index
/// (a hostile party) counts nothing.
fn observe(ring: &mut Ring, notifier: Option<Pid>) {
    let Ok(counts) = observed_counts(&SharedPage::new(ring.frames[0]), ring.geometry) else {
        return;
    };
    let (requests, replies) = (counts.requests.tail, counts.replies.tail);
    let passed = u64::from(requests.wrapping_sub(ring.seen.0))
        + u64::from(replies.wrapping_sub(ring.seen.1));
    ring.seen = (requests, replies);
    let batch = match notifier {
        Some(pid) if pid == ring.creator => {
            let batch = requests.wrapping_sub(ring.notified.0);
            ring.notified.0 = requests;
            u64::from(batch)
        }
        Some(_) => {
            let batch = replies.wrapping_sub(ring.notified.1);
            ring.notified.1 = replies;
            u64::from(batch)
        }
        None => 0,
    };
    // A hostile party can move the indices backwards; only plausible steps are counted.
    let slots = u64::from(ring.geometry.slot_count());
    let passed = if passed <= 2 * slots { passed } else { 0 };
    let batch = if batch <= slots { batch } else { 0 };
    // The skip counts are the parties' own; a count that went backwards (a hostile party) adds
    // nothing, and one party can at worst inflate the figures, never corrupt the kernel's.
    let forward = |now: u32, then: u32| {
        let step = now.wrapping_sub(then);
        if step < 1 << 31 { u64::from(step) } else { 0 }
    };
    let skips =
        forward(counts.skips.0, ring.seen_skips.0) + forward(counts.skips.1, ring.seen_skips.1);
    ring.seen_skips = counts.skips;
    sched::with_state(|s| {
        let me = s.current();
        let stats = &mut s.thread(me).ipc.stats;
        stats.zero_copy += passed;
        stats.futex_skips += skips;
        if batch > 0 {
            stats.batched += batch;
            stats.batches += 1;
        }
    });
}

fn notify(me: Pid, id: u64) -> Result<usize, Error> {
    let (other, header, by_ipc) = {
        let mut rings = RINGS.lock();
        let ring = rings.rings.get_mut(&id).ok_or(Error::NotFound)?;
        ring.address_of(me).ok_or(Error::NotFound)?;
        if ring.ended.is_some() {
            return Err(Error::PeerDead);
        }
        ring.attached |= me == ring.peer;
        observe(ring, Some(me));
        let other = ring.other(me);
        let by_ipc = ring.ipc_notified.contains(&Some(other));
        (other, ring.frames[0].start_address().as_u64(), by_ipc)
    };
    let mut woken = futex::wake_owned_by(header, header + 4096, other);
    if by_ipc && let Some(tid) = sched::with_state(|s| s.thread_of(other)) {
        super::notify(tid, lux9_abi::ipc::NOTIFY_RING);
        woken += 1;
    }
    Ok(woken)
}

/// Unmaps a ring from whichever sides still exist, wakes its sleepers and frees its frames.
/// `dying` is a party that is ending (its address space is going away anyway).
fn tear_down(mut ring: Ring, dying: Option<Pid>) {
    observe(&mut ring, None);
    for (pid, addr) in [
        (ring.creator, ring.creator_addr),
        (ring.peer, ring.peer_addr),
    ] {
        process::add_ring_pages(pid, -(ring.frames.len() as i64));
        if Some(pid) == dying {
            continue;
        }
        if let Some(space) = process::space_of(pid) {
            for index in 0..ring.frames.len() as u64 {
                let _ = space.lock().unmap_shared(addr + index * 4096);
            }
        }
    }
    for frame in &ring.frames {
        let phys = frame.start_address().as_u64();
        futex::wake_range(phys, phys + 4096, Error::PeerDead);
    }
    ring.frames.into_iter().for_each(frames::free);
}

/// Tears down every ring process `pid` takes part in; called as it exits, before its address
/// space goes away.
pub fn process_exiting(pid: Pid) {
    let mut orphaned: Vec<(Pid, PhysFrame, bool)> = Vec::new();
    let ending: Vec<Ring> = {
        let mut rings = RINGS.lock();
        let ids: Vec<u64> = rings
            .rings
            .iter()
            .filter(|(_, r)| r.creator == pid || r.peer == pid)
            .map(|(&id, _)| id)
            .collect();
        let mut ending = Vec::new();
        for id in ids {
            let Some(ring) = rings.rings.get_mut(&id) else {
                continue;
            };
            if ring.ended == Some(pid) {
                continue; // already given up by this process; the survivor still holds it
            }
            let survivor = ring.other(pid);
            let knows = survivor == ring.creator || ring.attached;
            let keep = ring.ended.is_none() && knows && process::space_of(survivor).is_some();
            if keep {
                // Leave the survivor's side mapped until it destroys the ring or ends: it may
                // be running, between two looks at the ring, and must not fault on memory
                // taken from under it (a client whose server was killed, a server whose client
                // ended). Its futex waits on the ring now fail with `PeerDead`, so it finds out
                // at its next sleep at the latest; one that serves rings from a receive loop
                // is also told by IPC.
                ring.ended = Some(pid);
                process::add_ring_pages(pid, -(ring.frames.len() as i64));
                let by_ipc = ring.ipc_notified.contains(&Some(survivor));
                orphaned.push((survivor, ring.frames[0], by_ipc));
            } else if let Some(ring) = rings.remove(id) {
                ending.push(ring);
            }
        }
        ending
    };
    for ring in ending {
        tear_down(ring, Some(pid));
    }
    for (survivor, header, by_ipc) in orphaned {
        tell_survivor(survivor, header, by_ipc);
    }
}

/// Wakes whoever sleeps on a ring whose other side has gone, and notifies the survivor if it
/// serves the ring from a receive loop (`by_ipc`).
fn tell_survivor(survivor: Pid, header: PhysFrame, by_ipc: bool) {
    let header = header.start_address().as_u64();
    futex::wake_range(header, header + 4096, Error::PeerDead);
    if by_ipc && let Some(tid) = sched::with_state(|s| s.thread_of(survivor)) {
        super::notify(tid, lux9_abi::ipc::NOTIFY_RING);
    }
}

/// Whether physical page `page` belongs to a ring whose other side has gone: a futex wait on
/// it would never be woken, so it fails with `PeerDead` instead.
pub fn page_orphaned(page: u64) -> bool {
    let frame = PhysFrame::containing_address(PhysAddr::new(page));
    RINGS
        .lock()
        .rings
        .values()
        .any(|ring| ring.ended.is_some() && ring.frames.contains(&frame))
}

/// Rings alive now (for tests).
pub fn count() -> usize {
    RINGS.lock().rings.len()
}
