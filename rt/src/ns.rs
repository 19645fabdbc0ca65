//! The name space: the standard mounts (`/dev`, `/proc`, `/sys`, ...) attached with lib9pclient.
//!
//! The kernel keeps the standard name space (set with `mount`, listed by `sysinfo`); every
//! process attaches it on first use. Each mount names a file server and an attach name; the
//! kernel's `service` call says where that server runs:
//! - **colocated**: requests go to the kernel with `sys9p`, which calls the server directly;
//! - **isolated**: requests go to the server process with IPC `call`: a request frame of up to
//!   64 bytes travels in registers (the fastpath), a longer one (or a batch) in the IPC buffer.
//!
//! Paths are relative to the working directory ([`crate::env::cwd`]). `/` itself is a
//! directory listing the top-level mount points.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use lib9pclient::codec::{DMDIR, Dir, OREAD, OTRUNC, OWRITE, QTDIR, Qid};
use lib9pclient::{Client, Error, MountTable, Transport, TransportError, Wait};
use lux9_abi::ipc::{LABEL_9P, LONG_MAX, MsgInfo, SHORT_MAX, bytes_to_words, words_to_bytes};
use lux9_abi::sysinfo::SysInfo;

use crate::local::ProcessLocal;
use crate::shared::IpcBuffer;
use crate::sys::{self, Placement};

/// The msize clients ask for: 16 KiB of data per read or write, plus the 9P header.
pub const MSIZE: u32 = 16 * 1024 + 24;

/// Requests per submission to an isolated server: as many as the small-message ring holds.
const BATCH_ISOLATED: usize = SMALL_SLOTS;
/// Requests per IPC message to an isolated server: their replies must fit one long message.
const BATCH_IPC: usize = LONG_MAX / MSIZE as usize;
/// Slots per direction of the ring a connection to an isolated server uses for batches of
/// large messages (reads of more than [`SMALL_MESSAGE`]): one msize each.
const RING_SLOTS: usize = 8;
/// Pages of that ring: a header page and `RING_SLOTS` slots of one msize each way.
const RING_PAGES: usize = 1 + (2 * RING_SLOTS * (MSIZE as usize + 8)).div_ceil(4096);
/// The largest message of the small-message ring: a 1 KiB read's reply and its header, with
/// room to spare (walks, opens, clunks and small reads and writes travel on it).
const SMALL_MESSAGE: usize = 1024 + 64;
/// Slots per direction of the small-message ring: a batch of 128 small requests is one
/// submission, two context switches.
const SMALL_SLOTS: usize = 128;
/// Pages of the small-message ring (70: 280 KiB).
const SMALL_PAGES: usize = 1 + (2 * SMALL_SLOTS * (SMALL_MESSAGE + 8)).div_ceil(4096);
/// Requests per submission to a colocated server. One `sys9p` call takes up to 256 KiB of
/// requests and needs room for their largest possible replies ([`reply_bound`]); a submission
/// needing more goes in several calls.
const BATCH_COLOCATED: usize = 64;
/// The most reply room one `sys9p` call gets.
const COLOCATED_ROOM: usize = 4 * LONG_MAX;
/// The most request bytes one `sys9p` call takes (the kernel's limit).
const COLOCATED_REQUEST: usize = 256 * 1024;

/// The largest reply a colocated server (a lib9pclient `Server`) can send to `frame`: a
/// Tread's data and header, or an Rerror of at most `ERROR_MAX` bytes of text; one msize for
/// anything else.
fn reply_bound(frame: &[u8], msize: u32) -> usize {
    match lib9pclient::codec::decode_tread(frame, u32::MAX) {
        Some((_, _, _, count)) => (11 + count as usize)
            .max(9 + lib9pclient::ERROR_MAX)
            .min(msize as usize),
        None => msize as usize,
    }
}

/// The connection to one file server, as lib9pclient's transport.
///
/// Replies land in `buffer` (the kernel writes colocated ones straight into it) and the
/// client decodes them there: the transport lends them ([`Transport::receive_lent`]) rather
/// than copying them out. Lending swaps `buffer` with `spare`, so the next submissions'
/// replies go into the other buffer and the lent ones stay where they are until the next
/// receive: a client that reads them one by one while it keeps submitting (a window of
/// tagged reads) never has them copied.
pub struct Conn {
    route: Route,
    /// `buffer[..filled]`: reply frames not yet taken by the client. The bytes past them stay
    /// initialized from earlier replies, so making room costs nothing once it has grown.
    buffer: Vec<u8>,
    filled: usize,
    /// `spare[..lent]`: the frames the last `receive_lent` lent.
    spare: Vec<u8>,
    lent: usize,
    msize: u32,
}

enum Route {
    Colocated {
        conn: usize,
    },
    Isolated {
        pid: usize,
        label: u32,
        /// The rings for batches, set up on first use: `[small, large]` ([`RingClass`]).
        rings: [RingState; 2],
    },
}

/// Which of a connection's two rings a batch travels on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RingClass {
    /// [`SMALL_SLOTS`] slots of [`SMALL_MESSAGE`] bytes.
    Small = 0,
    /// [`RING_SLOTS`] slots of one msize.
    Large = 1,
}

impl RingClass {
    /// (pages, largest message) of the ring.
    fn shape(self, msize: u32) -> (usize, usize) {
        match self {
            RingClass::Small => (SMALL_PAGES, SMALL_MESSAGE),
            RingClass::Large => (RING_PAGES, msize as usize),
        }
    }

    /// The ring a batch of `frames` needs: the small one if every reply is bounded by
    /// [`SMALL_MESSAGE`] (walks, opens, clunks, removes, flushes, reads of up to 1 KiB and a
    /// bit, writes whose request fits); the large one otherwise (stats, whose replies hold
    /// names of any length, and large reads).
    fn of(frames: &[&[u8]]) -> RingClass {
        use lib9pclient::codec::MessageType as T;
        let small = frames.iter().all(|frame| {
            if frame.len() > SMALL_MESSAGE || frame.len() < 7 {
                return false;
            }
            match T::from_u8(frame[4]) {
                Some(T::Twalk | T::Topen | T::Tclunk | T::Tremove | T::Tflush | T::Twrite) => true,
                // size[4] type[1] tag[2] fid[4] offset[8] count[4]; Rread adds 11 bytes.
                Some(T::Tread) => frame.get(19..23).is_some_and(|count| {
                    let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
                    (count as usize) + 11 <= SMALL_MESSAGE
                }),
                _ => false,
            }
        });
        if small {
            RingClass::Small
        } else {
            RingClass::Large
        }
    }
}

/// The ring of a connection to an isolated server, set up on its first batch.
enum RingState {
    Untried,
    Ready(alloc::boxed::Box<RingEnd>),
    /// The server refused it (or it broke): batches go by IPC.
    Unavailable,
}

struct RingEnd {
    ring: crate::shared::Ring,
    client: lux9_ring::Client<crate::shared::Memory>,
}

/// Hands the server a new ring for connection `label` (a `LABEL_9P` label): `pages` pages
/// for messages of up to `max_message` bytes.
fn set_up_ring(pid: usize, label: u32, pages: usize, max_message: usize) -> Option<RingEnd> {
    let ring = crate::shared::Ring::create(pid, pages, max_message).ok()?;
    let connection = label & lux9_abi::ipc::LABEL_9P_CONNECTION;
    let handover = crate::ipc::call(
        pid,
        MsgInfo::short(8, lux9_abi::ipc::LABEL_RING | connection),
        [ring.id(), 0, 0, 0, 0, 0, 0, 0],
    );
    let client = match handover {
        Ok(reply) if reply.info.len == 0 => ring.client().ok(),
        _ => None,
    };
    match client {
        Some(client) => Some(RingEnd { ring, client }),
        None => {
            let _ = crate::ipc::ring_destroy(ring.id());
            None
        }
    }
}

/// The process's buffer for long messages to isolated servers (created on first use).
static BUFFER: ProcessLocal<Option<IpcBuffer>> = ProcessLocal::new(None);

fn io_error(what: &str, error: lux9_abi::Error) -> TransportError {
    match error {
        lux9_abi::Error::PeerDead => TransportError::Closed,
        error => TransportError::Io(format!("{what}: {error}")),
    }
}

/// Counts whole frames in `bytes`.
fn frames_in(bytes: &[u8]) -> Result<usize, TransportError> {
    lib9pclient::codec::frames(bytes).try_fold(0, |count, frame| {
        frame
            .map(|_| count + 1)
            .map_err(|_| TransportError::Malformed("partial reply frame"))
    })
}

impl Conn {
    /// A connection to file server `service`, wherever it runs. Waits (up to about five
    /// seconds) for an isolated server that is still starting.
    pub fn open(service: &str) -> Result<Self, TransportError> {
        let mut placement = sys::service_lookup(service).map_err(|e| io_error(service, e))?;
        for _ in 0..500 {
            if placement != Placement::Starting {
                break;
            }
            sys::sleep_ms(10);
            placement = sys::service_lookup(service).map_err(|e| io_error(service, e))?;
        }
        let route = match placement {
            Placement::Colocated => Route::Colocated {
                conn: sys::sys9p_open(service).map_err(|e| io_error(service, e))?,
            },
            Placement::Isolated { pid } => {
                BUFFER.with(|buffer| -> Result<(), TransportError> {
                    if buffer.is_none() {
                        *buffer = Some(
                            IpcBuffer::register(LONG_MAX).map_err(|e| io_error("ipc buffer", e))?,
                        );
                    }
                    Ok(())
                })?;
                static NEXT: ProcessLocal<u32> = ProcessLocal::new(1);
                let number = NEXT.with(|n| {
                    *n += 1;
                    *n - 1
                });
                Route::Isolated {
                    pid,
                    label: LABEL_9P | (number & lux9_abi::ipc::LABEL_9P_CONNECTION),
                    rings: [RingState::Untried, RingState::Untried],
                }
            }
            Placement::Starting => {
                return Err(TransportError::Io(format!(
                    "{service}: the server did not start"
                )));
            }
        };
        Ok(Self {
            route,
            buffer: Vec::new(),
            filled: 0,
            spare: Vec::new(),
            lent: 0,
            msize: MSIZE,
        })
    }

    /// The `len` bytes after the replies held, to be written and then counted in `filled`.
    fn room(&mut self, len: usize) -> &mut [u8] {
        let end = self.filled + len;
        if self.buffer.len() < end {
            self.buffer.resize(end, 0);
        }
        &mut self.buffer[self.filled..end]
    }

    fn push(&mut self, bytes: &[u8]) {
        self.room(bytes.len()).copy_from_slice(bytes);
        self.filled += bytes.len();
    }

    /// Counts the replies held and hands them over: the next submission writes over them.
    fn take_replies(&mut self, wait: Wait) -> Result<(usize, usize), TransportError> {
        let bytes = self.filled;
        let count = frames_in(&self.buffer[..bytes])?;
        if count == 0 && wait == Wait::Block {
            return Err(TransportError::Io("no request outstanding".into()));
        }
        self.filled = 0;
        Ok((bytes, count))
    }

    /// Whether requests go to a colocated server.
    pub fn is_colocated(&self) -> bool {
        matches!(self.route, Route::Colocated { .. })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        match &self.route {
            Route::Colocated { conn } => {
                let _ = sys::sys9p_close(*conn);
            }
            Route::Isolated { rings, .. } => {
                for ring in rings {
                    if let RingState::Ready(end) = ring {
                        let _ = crate::ipc::ring_destroy(end.ring.id());
                    }
                }
            }
        }
    }
}

/// The frames of a submission, one slice each.
fn split(submitted: &[u8]) -> Result<Vec<&[u8]>, TransportError> {
    lib9pclient::codec::frames(submitted)
        .map(|frame| frame.map_err(|_| TransportError::Malformed("partial frame submitted")))
        .collect()
}

impl Conn {
    /// One IPC round trip with the isolated server: a short message if the frames fit in
    /// registers, else the IPC buffer. The replies are appended.
    fn ipc_round_trip(
        &mut self,
        pid: usize,
        label: u32,
        frames: &[u8],
    ) -> Result<(), TransportError> {
        if frames.len() > LONG_MAX {
            return Err(TransportError::FrameTooLarge {
                size: frames.len() as u32,
                limit: LONG_MAX as u32,
            });
        }
        let reply = if frames.len() <= SHORT_MAX {
            // Small requests (walks, stats, clunks, reads) travel in registers.
            crate::ipc::call(
                pid,
                MsgInfo::short(frames.len(), label),
                bytes_to_words(frames),
            )
            .map_err(|e| io_error("file server", e))?
        } else {
            BUFFER
                .with(|buffer| {
                    let buffer = buffer.as_mut().expect("registered when the route was made");
                    buffer.bytes()[..frames.len()].copy_from_slice(frames);
                    let info = MsgInfo {
                        len: frames.len(),
                        long: true,
                        label,
                    };
                    crate::ipc::call_with(pid, info, [0; 8], buffer)
                })
                .map_err(|e| io_error("file server", e))?
        };
        if reply.info.long {
            BUFFER.with(|buffer| {
                let buffer = buffer.as_mut().expect("registered");
                let len = reply.info.len.min(buffer.bytes().len());
                self.push(&buffer.bytes()[..len]);
            });
        } else {
            let mut bytes = [0u8; SHORT_MAX];
            let len = words_to_bytes(&reply.words, reply.info.len, &mut bytes);
            self.push(&bytes[..len]);
        }
        Ok(())
    }

    /// A batch through ring `class`, in turns of at most the ring's slot count: publish every
    /// frame of a turn (one per slot), notify the server if it sleeps, then take the replies in
    /// order, sleeping on the ring while they are not there. `Ok(false)` if the ring cannot be
    /// used (then nothing was sent).
    fn ring_batch(&mut self, frames: &[&[u8]], class: RingClass) -> Result<bool, TransportError> {
        let (_, max_message) = class.shape(self.msize);
        let Route::Isolated { rings, .. } = &mut self.route else {
            return Ok(false);
        };
        let RingState::Ready(end) = &mut rings[class as usize] else {
            return Ok(false);
        };
        if end.client.outstanding() != 0 {
            return Ok(false);
        }
        let slots = (end.client.geometry().slot_count() as usize).max(1);
        let ring_error = |e: lux9_ring::RingError| TransportError::Io(format!("ring: {e:?}"));
        for turn in frames.chunks(slots) {
            let Route::Isolated { rings, .. } = &mut self.route else {
                unreachable!("checked above");
            };
            let RingState::Ready(end) = &mut rings[class as usize] else {
                unreachable!("checked above");
            };
            let published = end
                .client
                .submit(turn.iter().copied())
                .map_err(ring_error)?;
            if published != turn.len() {
                return Err(TransportError::Io(format!(
                    "ring: {published} of {} requests published",
                    turn.len()
                )));
            }
            if end.client.peer_waiting().map_err(ring_error)? {
                end.ring.notify().map_err(|e| io_error("ring notify", e))?;
            }
            let mut received = 0;
            while received < turn.len() {
                // Borrow juggling: the reply lands in this connection's reply buffer.
                let Route::Isolated { rings, .. } = &mut self.route else {
                    unreachable!("checked above");
                };
                let RingState::Ready(end) = &mut rings[class as usize] else {
                    unreachable!("checked above");
                };
                let filled = self.filled;
                if self.buffer.len() < filled + max_message {
                    self.buffer.resize(filled + max_message, 0);
                }
                match end
                    .client
                    .poll_reply(&mut self.buffer[filled..filled + max_message])
                    .map_err(ring_error)?
                {
                    Some(len) => {
                        self.filled += len;
                        received += 1;
                    }
                    None => end
                        .ring
                        .client_sleep(&mut end.client, 0)
                        .map_err(|e| TransportError::Io(format!("ring: {e}")))?,
                }
            }
        }
        Ok(true)
    }
}

impl Conn {
    /// One `sys9p` call: `frames` go to the colocated server, whose replies (at most `room`
    /// bytes) are appended.
    fn colocated_call(
        &mut self,
        conn: usize,
        frames: &[u8],
        room: usize,
    ) -> Result<(), TransportError> {
        let len = sys::sys9p(conn, frames, self.room(room))
            .map_err(|e| io_error("colocated server", e))?;
        self.filled += len.min(room);
        Ok(())
    }
}

impl Transport for Conn {
    fn submit(&mut self, frames: &[u8], count: usize) -> Result<(), TransportError> {
        // What was lent is in `spare`: the replies of this submission do not touch it.
        match self.route {
            Route::Colocated { conn } => {
                if count == 1 {
                    let room = reply_bound(frames, self.msize);
                    return self.colocated_call(conn, frames, room);
                }
                // Calls of as many requests as their largest replies leave room for.
                let mut start = 0;
                let mut at = 0;
                let mut room = 0;
                for frame in lib9pclient::codec::frames(frames) {
                    let frame =
                        frame.map_err(|_| TransportError::Malformed("partial frame submitted"))?;
                    let need = reply_bound(frame, self.msize);
                    if at > start
                        && (room + need > COLOCATED_ROOM
                            || at + frame.len() - start > COLOCATED_REQUEST)
                    {
                        self.colocated_call(conn, &frames[start..at], room)?;
                        start = at;
                        room = 0;
                    }
                    room += need;
                    at += frame.len();
                }
                if at > start || count == 0 {
                    self.colocated_call(conn, &frames[start..at], room.max(self.msize as usize))?;
                }
            }
            Route::Isolated { pid, label, .. } => {
                // One request, or requests that fit in registers (whose replies then fit one
                // long message: at most two reads of an msize each): one IPC round trip.
                if count <= 1 || frames.len() <= SHORT_MAX {
                    return self.ipc_round_trip(pid, label, frames);
                }
                let split = split(frames)?;
                let class = RingClass::of(&split);
                let (pages, max_message) = class.shape(self.msize);
                if let Route::Isolated { rings, .. } = &mut self.route
                    && matches!(rings[class as usize], RingState::Untried)
                {
                    rings[class as usize] = match set_up_ring(pid, label, pages, max_message) {
                        Some(end) => RingState::Ready(alloc::boxed::Box::new(end)),
                        None => RingState::Unavailable,
                    };
                }
                if self.ring_batch(&split, class)? {
                    return Ok(());
                }
                // By IPC: in groups whose replies fit one long message.
                let mut at = 0;
                for group in split.chunks(BATCH_IPC.max(1)) {
                    let len: usize = group.iter().map(|frame| frame.len()).sum();
                    self.ipc_round_trip(pid, label, &frames[at..at + len])?;
                    at += len;
                }
            }
        }
        Ok(())
    }

    fn receive(&mut self, replies: &mut Vec<u8>, wait: Wait) -> Result<usize, TransportError> {
        self.lent = 0;
        let (bytes, count) = self.take_replies(wait)?;
        replies.extend_from_slice(&self.buffer[..bytes]);
        Ok(count)
    }

    fn receive_lent(&mut self, wait: Wait) -> Option<Result<usize, TransportError>> {
        self.lent = 0;
        Some(self.take_replies(wait).map(|(bytes, count)| {
            // The received frames become the lent buffer; the old one takes the next replies.
            core::mem::swap(&mut self.buffer, &mut self.spare);
            self.lent = bytes;
            count
        }))
    }

    fn lent(&self) -> &[u8] {
        &self.spare[..self.lent]
    }

    fn lent_survives_submit(&self) -> bool {
        true
    }

    fn set_msize(&mut self, msize: u32) {
        self.msize = msize;
    }

    fn max_msize(&self) -> u32 {
        MSIZE
    }
}

/// A file opened through the name space.
pub type File = lib9pclient::File<Conn>;

/// One entry of the standard name space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub path: String,
    pub service: String,
    /// The attach name ("" for the server's default tree).
    pub aname: String,
    /// `colocated`, `isolated` or `starting`, as the kernel reported it.
    pub placement: String,
}

/// The standard name space, as the kernel holds it.
pub fn mounts() -> Result<Vec<Mount>, lux9_abi::Error> {
    let text = sys::sysinfo_text(SysInfo::Mounts, 0)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let path = words.next()?.to_string();
            let service = words.next()?.to_string();
            let aname = words.next().unwrap_or("-");
            let placement = words.next().unwrap_or("").to_string();
            Some(Mount {
                path,
                service,
                aname: if aname == "-" {
                    String::new()
                } else {
                    aname.to_string()
                },
                placement,
            })
        })
        .collect())
}

struct Namespace {
    table: MountTable<Conn>,
    /// Top-level names of the mount points, for listing `/`.
    top: Vec<String>,
}

static NS: ProcessLocal<Option<Result<Namespace, String>>> = ProcessLocal::new(None);

fn attach_all() -> Result<Namespace, String> {
    let mounts = mounts().map_err(|e| format!("cannot read the name space: {e}"))?;
    let mut clients: Vec<(String, Client<Conn>)> = Vec::new();
    let mut table = MountTable::new();
    let mut top: Vec<String> = Vec::new();
    for mount in &mounts {
        let client = match clients.iter().find(|(s, _)| *s == mount.service) {
            Some((_, client)) => client.clone(),
            None => {
                let conn =
                    Conn::open(&mount.service).map_err(|e| format!("{}: {e}", mount.service))?;
                let colocated = conn.is_colocated();
                let client =
                    Client::connect(conn, MSIZE).map_err(|e| format!("{}: {e}", mount.service))?;
                // Replies to one submission must fit what carries them back: one long IPC
                // message (isolated), or the kernel's reply limit (colocated).
                client.set_batch_limit(if colocated {
                    BATCH_COLOCATED
                } else {
                    BATCH_ISOLATED
                });
                clients.push((mount.service.clone(), client.clone()));
                client
            }
        };
        let fs = client
            .attach("lux9", &mount.aname)
            .map_err(|e| format!("attach {} at {}: {e}", mount.service, mount.path))?;
        table.mount(&mount.path, fs);
        if let Some(first) = mount.path.split('/').find(|e| !e.is_empty())
            && !top.iter().any(|t| t == first)
        {
            top.push(first.to_string());
        }
    }
    top.sort();
    Ok(Namespace { table, top })
}

/// Runs `f` on the attached name space (attaching it on first use).
fn with_ns<R>(f: impl FnOnce(&Namespace) -> Result<R, Error>) -> Result<R, Error> {
    NS.with(|ns| {
        let ns = ns.get_or_insert_with(attach_all);
        match ns {
            Ok(ns) => f(ns),
            Err(text) => Err(Error::Transport(TransportError::Io(text.clone()))),
        }
    })
}

/// Drops every connection (clunking open fids); the next use attaches afresh.
pub fn detach() {
    NS.with(|ns| *ns = None);
}

fn is_root(path: &str) -> bool {
    path == "/"
}

fn root_dir(name: &str) -> Dir {
    Dir {
        qid: Qid {
            typ: QTDIR,
            version: 0,
            path: 0,
        },
        mode: DMDIR | 0o555,
        name: name.to_string(),
        uid: "lux9".into(),
        gid: "lux9".into(),
        muid: "lux9".into(),
        ..Default::default()
    }
}

/// Runs `f` on `path` made absolute and clean ([`crate::env::absolute`]), without building a
/// new string when it already is (an absolute, clean path: the usual case).
fn with_absolute<R>(path: &str, f: impl FnOnce(&str) -> R) -> R {
    if lib9pclient::mount::is_clean(path) {
        f(path)
    } else {
        f(&crate::env::absolute(path))
    }
}

/// Opens `path` with 9P `mode` (`OREAD`, `OWRITE`, `ORDWR`, plus `OTRUNC`...).
pub fn open(path: &str, mode: u8) -> Result<File, Error> {
    with_absolute(path, |path| with_ns(|ns| ns.table.open(path, mode)))
}

/// Creates `path` with permissions `perm` and opens it with `mode`.
pub fn create(path: &str, perm: u32, mode: u8) -> Result<File, Error> {
    with_absolute(path, |path| with_ns(|ns| ns.table.create(path, perm, mode)))
}

/// Opens `path` for writing, truncating it, or creates it if it does not exist.
pub fn open_or_create(path: &str, append: bool) -> Result<File, Error> {
    let mode = if append { OWRITE } else { OWRITE | OTRUNC };
    match open(path, mode) {
        Ok(mut file) => {
            if append {
                let end = file.stat()?.length;
                file.seek(lib9pclient::client::SeekFrom::Start(end))?;
            }
            Ok(file)
        }
        Err(Error::NotFound { .. }) => create(path, 0o664, OWRITE),
        Err(Error::Server(text)) if text.contains("does not exist") => create(path, 0o664, OWRITE),
        Err(error) => Err(error),
    }
}

/// The directory entry of `path`.
pub fn stat(path: &str) -> Result<Dir, Error> {
    with_absolute(path, |path| {
        if is_root(path) {
            return Ok(root_dir("/"));
        }
        // A mount point shows the name it is mounted under, not its tree's root name.
        let last = match path.as_bytes().iter().rposition(|&b| b == b'/') {
            Some(slash) => &path[slash + 1..],
            None => path,
        };
        with_ns(|ns| {
            ns.table.stat_with(path, |stat| Dir {
                name: last.to_string(),
                ..stat_dir(stat)
            })
        })
    })
}

/// An owned copy of `stat` with an empty name (filled in by the caller).
fn stat_dir(stat: &lib9pclient::codec::Stat<'_>) -> Dir {
    Dir {
        typ: stat.typ,
        dev: stat.dev,
        qid: stat.qid,
        mode: stat.mode,
        atime: stat.atime,
        mtime: stat.mtime,
        length: stat.length,
        name: String::new(),
        uid: stat.uid.to_string(),
        gid: stat.gid.to_string(),
        muid: stat.muid.to_string(),
    }
}

/// The entries of directory `path`.
pub fn read_dir(path: &str) -> Result<Vec<Dir>, Error> {
    with_absolute(path, |path| {
        with_ns(|ns| {
            if is_root(path) {
                return Ok(ns.top.iter().map(|name| root_dir(name)).collect());
            }
            ns.table.read_dir(path)
        })
    })
}

/// The whole content of file `path`.
pub fn read(path: &str) -> Result<Vec<u8>, Error> {
    let mut file = open(path, OREAD)?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}

/// The standard name space: each path and the sysserver tree mounted there.
pub const STANDARD_MOUNTS: [(&str, &str); 3] =
    [("/dev", "dev"), ("/proc", "proc"), ("/sys", "sys")];

/// Where sysserver ended up, as [`set_up_standard`] found or made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysserverAt {
    Colocated,
    /// Already running as this process.
    Running(usize),
    /// Started now as this process.
    Started(usize),
}

/// What init does at boot (and benchmarks in a bare test boot): starts the isolated sysserver
/// (under `supervise`) if the configuration isolates it and it is not running, then mounts `/dev`, `/proc` and
/// `/sys`. Waits up to five seconds for a started sysserver to register.
pub fn set_up_standard() -> Result<SysserverAt, String> {
    use lux9_abi::syscall::service::SYSSERVER;
    let at = match sys::service_lookup(SYSSERVER) {
        Ok(Placement::Colocated) => SysserverAt::Colocated,
        Ok(Placement::Isolated { pid }) => SysserverAt::Running(pid),
        Ok(Placement::Starting) => {
            // Under `supervise`, which starts it again if it is killed or faults: the mounts
            // name the service, so /dev, /proc and /sys work again once it has registered.
            let supervisor = sys::spawn("supervise", "sysserver")
                .map_err(|e| format!("cannot start sysserver: {e}"))?;
            let mut registered = None;
            for _ in 0..500 {
                if let Ok(Placement::Isolated { pid }) = sys::service_lookup(SYSSERVER) {
                    registered = Some(pid);
                    break;
                }
                sys::sleep_ms(10);
            }
            let Some(pid) = registered else {
                return Err(format!(
                    "sysserver (supervise pid {supervisor}) did not register within 5 s"
                ));
            };
            SysserverAt::Started(pid)
        }
        Err(e) => return Err(format!("the kernel knows no sysserver: {e}")),
    };
    for (path, tree) in STANDARD_MOUNTS {
        sys::mount(path, &format!("{SYSSERVER} {tree}"))
            .map_err(|e| format!("mount {path}: {e}"))?;
    }
    Ok(at)
}
