//! The isolated file servers' loop: 9P requests by IPC (in registers on the fastpath, or in the
//! IPC buffer) and by shared rings (batches, one frame per slot), one [`Server`] per client
//! connection, for any [`Filesystem`]. The isolated `sysserver` and `ext4srv` programs run it.
//!
//! One `reply_recv` answers a client and takes the next request. A client may hand over a
//! shared ring (a message labelled `LABEL_RING | connection` with the ring id): batches of
//! requests then travel on it, replies in the same order on the reply ring, for two context
//! switches per batch. The server sleeps in `receive` for both: it announces the sleep on each
//! ring, and a client's `notify` reaches it as a kernel notification (`NOTIFY_RING`). A client
//! that ends leaves its ring mapped here until the next sweep destroys it, so the server never
//! touches unmapped ring memory.
//!
//! A request the filesystem defers (`Server::handle_deferrable`: sysserver's console read with
//! no input) is parked without a reply (its client stays blocked in `call`) and retried when a
//! kernel notification arrives.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use lib9pclient::codec::frames;
use lib9pclient::{Filesystem, Server};
use lux9_rt::abi::ipc::{
    LABEL_9P, LABEL_9P_CONNECTION, LABEL_RING, LONG_MAX, MsgInfo, NOTIFICATION_LABEL, NOTIFY_RING,
    SHORT_MAX, bytes_to_words, words_to_bytes,
};
use lux9_rt::abi::sysinfo::ProcInfo;
use lux9_rt::ipc::{self, Message};
use lux9_rt::shared::{IpcBuffer, Ring};
use lux9_rt::{eprintln, sys};

/// Largest msize a server may negotiate: a reply must fit one long message.
pub const MAX_MSIZE: u32 = LONG_MAX as u32;

/// Rings one connection may hand over (rt's client uses one for small messages and one for
/// large ones).
const RINGS_PER_CONNECTION: usize = 2;

/// One 9P connection per (client pid, connection number): its IPC requests and its ring
/// share the fid table.
type Connections<F> = BTreeMap<(usize, u32), Server<F>>;

/// The connection number of a `LABEL_9P` or `LABEL_RING` label.
fn connection(label: u32) -> u32 {
    label & LABEL_9P_CONNECTION
}

/// A ring a client handed over: batches of 9P requests arrive on it.
struct RingConn {
    client: usize,
    connection: u32,
    ring: Ring,
    server: lux9_ring::Server<lux9_rt::shared::Memory>,
}

/// A request whose console read would have blocked: the rest of its frames, and the replies
/// produced before it.
struct Parked {
    client: usize,
    label: u32,
    frames: Vec<u8>,
    replies: Vec<u8>,
}

/// Serves `frames` on a connection, appending replies; on a request the filesystem defers (a
/// read that would block), returns the unserved frames (from the deferred one on).
fn serve<F: Filesystem>(
    server: &mut Server<F>,
    submitted: &[u8],
    replies: &mut Vec<u8>,
) -> Option<Vec<u8>> {
    let mut served = 0;
    // A partial frame means the client broke the protocol: what came before it is served.
    for frame in frames(submitted).map_while(Result::ok) {
        if !server.handle_deferrable(frame, replies) {
            return Some(submitted[served..].to_vec());
        }
        served += frame.len();
    }
    None
}

/// The reply message for `replies`: in registers if it fits, else in the IPC buffer.
fn reply_message(replies: &[u8], label: u32, buffer: &mut IpcBuffer) -> (MsgInfo, [u64; 8]) {
    if replies.len() <= SHORT_MAX {
        (
            MsgInfo::short(replies.len(), label),
            bytes_to_words(replies),
        )
    } else {
        let len = replies.len().min(LONG_MAX);
        buffer.bytes()[..len].copy_from_slice(&replies[..len]);
        (
            MsgInfo {
                len,
                long: true,
                label,
            },
            [0; 8],
        )
    }
}

/// Forgets (and resets) the connections of client processes that have ended, and destroys
/// their rings.
fn sweep<F: Filesystem>(
    connections: &mut Connections<F>,
    parked: &mut VecDeque<Parked>,
    rings: &mut Vec<RingConn>,
) {
    let Ok(live) = sys::processes() else {
        return;
    };
    let alive = |pid: usize| {
        live.iter()
            .any(|p| p.pid == pid as u64 && p.state != ProcInfo::STATE_ZOMBIE)
    };
    connections.retain(|(pid, _), server| {
        if !alive(*pid) {
            // Every fid ends, so the trees see it: a shell that died in raw mode leaves the
            // console cooked.
            server.clunk_all();
        }
        alive(*pid)
    });
    parked.retain(|p| alive(p.client));
    rings.retain(|r| {
        if !alive(r.client) {
            let _ = ipc::ring_destroy(r.ring.id());
        }
        alive(r.client)
    });
}

/// Serves every request waiting on every ring: each is one 9P frame, answered by one reply
/// frame on the reply ring, in order. A read that would block (console input) is answered
/// with an error: blocking reads travel by IPC, where they can be deferred. A ring that
/// breaks the protocol (a hostile or confused client) is destroyed.
fn drain_rings<F: Filesystem>(
    rings: &mut Vec<RingConn>,
    connections: &mut Connections<F>,
    request: &mut [u8],
    scratch: &mut Vec<u8>,
) {
    rings.retain_mut(|r| {
        let Some(server) = connections.get_mut(&(r.client, r.connection)) else {
            let _ = ipc::ring_destroy(r.ring.id());
            return false;
        };
        loop {
            match r.server.next_request(request) {
                Ok(Some(len)) => {
                    // Written over the last reply's bytes, not into a freshly zeroed buffer.
                    let mut end = server.handle_at(&request[..len], scratch, 0);
                    if end > r.server.geometry().max_message() as usize {
                        // The client picked a ring too small for this reply (a stat with long
                        // names on its small-message ring): it gets an error, never silence.
                        end = too_large(&request[..len], scratch);
                    }
                    if !matches!(r.server.reply([&scratch[..end]]), Ok(1)) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let _ = ipc::ring_destroy(r.ring.id());
                    return false;
                }
            }
        }
        if r.server.peer_waiting().unwrap_or(false) {
            let _ = r.ring.notify();
        }
        true
    });
}

/// Writes an Rerror for `request` (its tag) saying the reply does not fit the ring's slots;
/// returns its length.
fn too_large(request: &[u8], scratch: &mut Vec<u8>) -> usize {
    let tag = u16::from_le_bytes([request[5], request[6]]);
    let error = lib9pclient::codec::Message::Rerror {
        ename: "the reply does not fit the ring's slots",
    };
    let len = error.encoded_len();
    if scratch.len() < len {
        scratch.resize(len, 0);
    }
    error.encode(tag, &mut scratch[..len]).unwrap_or(0)
}

/// Before sleeping in `receive`: announces the sleep on every ring (the clients then notify,
/// which reaches this thread as a `NOTIFY_RING` notification). False if requests arrived on
/// one meanwhile: drain again instead of sleeping.
fn arm_rings(rings: &mut [RingConn]) -> bool {
    rings
        .iter_mut()
        .all(|r| r.server.set_waiting().unwrap_or(true))
}

/// Takes a ring a client hands over for connection `connection`.
fn attach_ring(client: usize, connection: u32, id: u64) -> Result<RingConn, lux9_rt::abi::Error> {
    let ring = Ring::attach(id)?;
    let server = ring
        .server()
        .map_err(|_| lux9_rt::abi::Error::InvalidArgument)?;
    ipc::ring_notify_by_ipc(id)?;
    Ok(RingConn {
        client,
        connection,
        ring,
        server,
    })
}

/// Registers as the isolated server of `service` and serves it until the process ends, one
/// [`Server`] over a fresh `new_fs()` per connection. `name` prefixes error messages. Returns
/// only on failure, with the exit status.
pub fn run<F: Filesystem>(
    name: &str,
    service: &str,
    msize: u32,
    mut new_fs: impl FnMut() -> F,
) -> i32 {
    let mut buffer = match IpcBuffer::register(LONG_MAX) {
        Ok(buffer) => buffer,
        Err(error) => {
            eprintln!("{name}: cannot register an IPC buffer: {error}");
            return 1;
        }
    };
    if let Err(error) = sys::service_register(service) {
        eprintln!("{name}: cannot register as the '{service}' service: {error}");
        return 1;
    }
    let mut connections: Connections<F> = BTreeMap::new();
    let mut parked: VecDeque<Parked> = VecDeque::new();
    let mut rings: Vec<RingConn> = Vec::new();
    // One ring slot's worth (the largest request a ring carries), on the heap: the stack is
    // 64 KiB.
    let mut ring_request = alloc::vec![0u8; msize as usize];
    let mut request = Vec::with_capacity(LONG_MAX);
    let mut replies = Vec::with_capacity(LONG_MAX);
    // Nobody to answer before the first request.
    let mut answer: Option<(usize, MsgInfo, [u64; 8])> = None;
    loop {
        if !rings.is_empty() {
            loop {
                drain_rings(
                    &mut rings,
                    &mut connections,
                    &mut ring_request,
                    &mut replies,
                );
                if arm_rings(&mut rings) {
                    break;
                }
            }
        }
        let message: Message = match answer.take() {
            Some((client, info, words)) => ipc::reply_recv_with(client, info, words, &mut buffer),
            None => ipc::receive_with(0, &mut buffer),
        }
        .or_else(|error| {
            // The client we answered may have died meanwhile: just take the next request.
            if error == lux9_rt::abi::Error::PeerDead {
                ipc::receive_with(0, &mut buffer)
            } else {
                Err(error)
            }
        })
        .unwrap_or_else(|error| {
            eprintln!("{name}: receive failed: {error}");
            lux9_rt::exit(1)
        });
        for r in &mut rings {
            let _ = r.server.clear_waiting();
        }
        if message.peer == 0 && message.info.label & NOTIFICATION_LABEL != 0 {
            // Ring requests are served at the top of the loop; a ring whose client gave it up
            // (or ended) is destroyed here.
            if message.words[0] & NOTIFY_RING != 0 {
                rings.retain(|r| {
                    let gone = ipc::ring_info(r.ring.id()) == Err(lux9_rt::abi::Error::PeerDead);
                    if gone {
                        let _ = ipc::ring_destroy(r.ring.id());
                    }
                    !gone
                });
            }
            // Console input arrived: retry parked requests, oldest first.
            for _ in 0..parked.len() {
                let Some(mut entry) = parked.pop_front() else {
                    break;
                };
                let Some(server) = connections.get_mut(&(entry.client, connection(entry.label)))
                else {
                    continue;
                };
                match serve(server, &entry.frames, &mut entry.replies) {
                    Some(rest) => {
                        entry.frames = rest;
                        parked.push_back(entry);
                    }
                    None => {
                        let (info, words) = reply_message(&entry.replies, entry.label, &mut buffer);
                        let _ = ipc::reply_with(entry.client, info, words, &mut buffer);
                    }
                }
            }
            continue;
        }
        let label = message.info.label;
        if label & !LABEL_9P_CONNECTION == LABEL_RING && !message.info.long {
            let key = (message.peer, connection(label));
            let reply = if connections.contains_key(&key) {
                match attach_ring(message.peer, connection(label), message.words[0]) {
                    Ok(ring) => {
                        // A connection has up to two rings (the client's small-message and
                        // large-message rings); a third replaces the oldest.
                        let held = rings
                            .iter()
                            .filter(|r| (r.client, r.connection) == key)
                            .count();
                        if held >= RINGS_PER_CONNECTION
                            && let Some(oldest) =
                                rings.iter().position(|r| (r.client, r.connection) == key)
                        {
                            let _ = ipc::ring_destroy(rings.remove(oldest).ring.id());
                        }
                        rings.push(ring);
                        MsgInfo::short(0, label)
                    }
                    Err(error) => MsgInfo::short(8, error as u32),
                }
            } else {
                // A ring for a connection that has not negotiated a version yet.
                MsgInfo::short(8, lux9_rt::abi::Error::NotFound as u32)
            };
            answer = Some((message.peer, reply, [0; 8]));
            continue;
        }
        if label & !LABEL_9P_CONNECTION != LABEL_9P {
            // Not a 9P request: answer with nothing, which the client reads as a broken reply.
            answer = Some((message.peer, MsgInfo::short(0, label), [0; 8]));
            continue;
        }
        request.clear();
        if message.info.long {
            let len = message.info.len.min(LONG_MAX);
            request.extend_from_slice(&buffer.bytes()[..len]);
        } else {
            let mut bytes = [0u8; SHORT_MAX];
            let len = words_to_bytes(&message.words, message.info.len, &mut bytes);
            request.extend_from_slice(&bytes[..len]);
        }
        let key = (message.peer, connection(label));
        if !connections.contains_key(&key) {
            // A new client: a good moment to drop the connections of clients that have ended
            // (one `sysinfo` per program start, not per request).
            sweep(&mut connections, &mut parked, &mut rings);
            connections.insert(key, Server::new(new_fs(), msize));
        }
        let server = connections.get_mut(&key).expect("inserted above");
        replies.clear();
        match serve(server, &request, &mut replies) {
            None => {
                let (info, words) = reply_message(&replies, label, &mut buffer);
                answer = Some((message.peer, info, words));
            }
            Some(rest) => parked.push_back(Parked {
                client: message.peer,
                label,
                frames: rest,
                replies: core::mem::take(&mut replies),
            }),
        }
    }
}
