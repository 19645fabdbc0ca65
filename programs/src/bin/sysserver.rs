//! sysserver, isolated: the `sysserver` crate's `/dev`, `/proc` and `/sys` trees served from a
//! ring-3 process (`isolation = strict`, or `sysserver = isolated` in lux9.conf).
//!
//! The tree code is the same as in the colocated kernel server; only this adapter differs:
//! - [`UserBackend`] answers sysserver's questions with system calls (`sysinfo`, `ipc_stats`,
//!   `info`, `console_read`, ...);
//! - requests arrive by IPC: a message labelled `LABEL_9P | connection` holds whole 9P frames
//!   (up to 64 bytes in registers, taking the fastpath; longer ones in the IPC buffer), and
//!   the reply holds their reply frames. One `reply_recv` answers a client and takes the next
//!   request.
//!
//! A client may also hand over a shared ring (a message labelled `LABEL_RING | connection`
//! with the ring id): batches of requests then travel on it, one 9P frame per slot, replies in
//! the same order on the reply ring, for two context switches per batch. The server sleeps in
//! `receive` for both: it announces the sleep on each ring, and a client's `notify` reaches it
//! as a kernel notification (`NOTIFY_RING`). A client that ends leaves its ring mapped here
//! until the next sweep destroys it, so the server never touches unmapped ring memory.
//!
//! A console read with no input ready cannot block this single thread (every client would
//! wait): the backend asks the kernel for a notification instead, the request is parked
//! without a reply (its client stays blocked in `call`), and when the notification arrives
//! parked requests are retried.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use lib9pclient::Server;
use lib9pclient::codec::frames;
use lux9_rt::abi::ipc::{
    IpcStats, KNOB_READ, Knob, LABEL_9P, LABEL_9P_CONNECTION, LABEL_RING, LONG_MAX, MsgInfo,
    NOTIFICATION_LABEL, NOTIFY_RING, SHORT_MAX, bytes_to_words, words_to_bytes,
};
use lux9_rt::abi::syscall::{Info, console, service};
use lux9_rt::abi::sysinfo::{MemInfo, ProcInfo, SysInfo};
use lux9_rt::ipc::{self, Message};
use lux9_rt::shared::{IpcBuffer, Ring};
use lux9_rt::{eprintln, sys};
use sysserver::{Backend, KnobError, SysFs};

lux9_rt::entry!(run);

/// Largest msize negotiated: a reply must fit one long message.
const MAX_MSIZE: u32 = LONG_MAX as u32;

/// The system's facts, through system calls.
struct UserBackend;

fn text(what: SysInfo, arg: usize) -> String {
    sys::sysinfo_text(what, arg).unwrap_or_default()
}

impl Backend for UserBackend {
    fn processes(&mut self) -> Vec<ProcInfo> {
        sys::processes().unwrap_or_default()
    }

    fn cmdline(&mut self, pid: u64) -> Option<String> {
        sys::sysinfo_text(SysInfo::Cmdline, pid as usize).ok()
    }

    fn ipc_stats(&mut self, pid: u64) -> Option<IpcStats> {
        ipc::stats(pid as usize).ok()
    }

    fn colocated_calls(&mut self) -> u64 {
        sys::info(Info::ColocatedCalls, 0).unwrap_or(0)
    }

    fn memory(&mut self) -> MemInfo {
        sys::memory().unwrap_or_default()
    }

    fn uptime_ms(&mut self) -> u64 {
        // The kernel's timer runs at 1000 Hz: a tick is a millisecond.
        sys::info(Info::Ticks, 0).unwrap_or(0)
    }

    fn kmsg(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        sys::sysinfo(SysInfo::Kmsg, offset, buf).unwrap_or(0)
    }

    fn version(&mut self) -> String {
        text(SysInfo::Version, 0)
    }

    fn kernel_cmdline(&mut self) -> String {
        text(SysInfo::KernelCmdline, 0)
    }

    fn config(&mut self) -> String {
        text(SysInfo::Config, 0)
    }

    fn isolation(&mut self) -> String {
        text(SysInfo::Isolation, 0)
    }

    fn mounts(&mut self) -> String {
        text(SysInfo::Mounts, 0)
    }

    fn pci(&mut self) -> String {
        text(SysInfo::Pci, 0)
    }

    fn disks(&mut self) -> Vec<sysserver::DiskInfo> {
        lux9_programs::disks::parse(&text(SysInfo::Disks, 0))
    }

    fn disk_read(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        let number = self
            .disks()
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| alloc::format!("no disk {name}"))?;
        let len = buf.len().min(lux9_rt::abi::syscall::DISK_READ_MAX);
        sys::disk_read(number, part, offset, &mut buf[..len])
            .map_err(|e| alloc::format!("{name}: {e}"))
    }

    fn disk_write(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<usize, String> {
        let number = self
            .disks()
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| alloc::format!("no disk {name}"))?;
        let len = data.len().min(lux9_rt::abi::syscall::DISK_READ_MAX);
        sys::disk_write(number, part, offset, &data[..len])
            .map_err(|e| alloc::format!("{name}: {e}"))
    }

    fn console_write(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match sys::debug_write(data) {
                Ok(0) | Err(_) => break,
                Ok(n) => data = &data[n.min(data.len())..],
            }
        }
    }

    fn console_read(&mut self, buf: &mut [u8]) -> Option<usize> {
        match sys::console_read(buf, console::NONBLOCK | console::NOTIFY) {
            Ok(n) => Some(n),
            Err(lux9_rt::abi::Error::WouldBlock) => None,
            Err(_) => Some(0),
        }
    }

    fn console_set_raw(&mut self, raw: bool) {
        let _ = sys::console_set_raw(raw);
    }

    fn random(&mut self, buf: &mut [u8]) {
        let _ = sys::random(buf);
    }

    fn knobs(&mut self) -> Vec<(String, u64)> {
        Knob::ALL
            .into_iter()
            .filter_map(|knob| Some((knob.name().to_string(), ipc::knob(knob).ok()? as u64)))
            .collect()
    }

    fn set_knob(&mut self, name: &str, value: u64) -> Result<(), KnobError> {
        let knob = Knob::from_name(name).ok_or(KnobError::Unknown)?;
        let value = usize::try_from(value)
            .ok()
            .filter(|&v| v != KNOB_READ)
            .ok_or(KnobError::BadValue)?;
        ipc::set_knob(knob, value)
            .map(|_| ())
            .map_err(|_| KnobError::BadValue)
    }
}

/// One 9P connection per (client pid, connection number): its IPC requests and its ring
/// share the fid table.
type Connections = BTreeMap<(usize, u32), Server<SysFs<UserBackend>>>;

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

/// Serves `frames` on a connection, appending replies; on a read that would block, returns
/// the unserved frames (from the blocked one on).
fn serve(
    server: &mut Server<SysFs<UserBackend>>,
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
fn sweep(connections: &mut Connections, parked: &mut VecDeque<Parked>, rings: &mut Vec<RingConn>) {
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
fn drain_rings(
    rings: &mut Vec<RingConn>,
    connections: &mut Connections,
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
                    let end = server.handle_at(&request[..len], scratch, 0);
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

fn run(_args: &str) -> i32 {
    let mut buffer = match IpcBuffer::register(LONG_MAX) {
        Ok(buffer) => buffer,
        Err(error) => {
            eprintln!("sysserver: cannot register an IPC buffer: {error}");
            return 1;
        }
    };
    if let Err(error) = sys::service_register(service::SYSSERVER) {
        eprintln!(
            "sysserver: cannot register as the '{}' service: {error}",
            service::SYSSERVER
        );
        return 1;
    }
    let mut connections: Connections = BTreeMap::new();
    let mut parked: VecDeque<Parked> = VecDeque::new();
    let mut rings: Vec<RingConn> = Vec::new();
    // One ring slot's worth (the largest request a ring carries), on the heap: the stack is
    // 64 KiB.
    let mut ring_request = alloc::vec![0u8; MAX_MSIZE as usize];
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
            eprintln!("sysserver: receive failed: {error}");
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
                        // A connection's new ring replaces its old one.
                        rings.retain(|r| {
                            let old = (r.client, r.connection) == key;
                            if old {
                                let _ = ipc::ring_destroy(r.ring.id());
                            }
                            !old
                        });
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
            connections.insert(key, Server::new(SysFs::new(UserBackend), MAX_MSIZE));
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
