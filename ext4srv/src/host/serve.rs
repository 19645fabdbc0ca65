//! The host server: a filesystem thread owning the volume, and a reader and a
//! writer thread per connection.

use super::args::Args;
use super::conn::{Conn, Listener};
use crate::Ext4Fs;
use crate::device::{BlockDevice, ImageFile, Partition};
use lib9pclient::codec::{HEADER_SIZE, Message, frame_header, frame_size};
use std::boxed::Box;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::vec::Vec;

/// Replies one batch of requests may produce, at most: a reader hands the
/// filesystem thread at most this much work at a time.
const BATCH_REPLY_BUDGET: usize = 4 << 20;
/// Batches of one connection in flight (handled or being written) at once.
const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 256 << 10;
/// Replies up to this size are written by the filesystem thread itself when
/// the connection's writer has nothing queued: one thread hop fewer per
/// small request.
const DIRECT_REPLY_MAX: usize = 64 << 10;
/// How long a direct write may wait for room in the socket before the rest
/// of the reply goes to the writer thread. Set as the socket's send timeout.
const DIRECT_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// Flow control of one connection: batches handed to the filesystem thread
/// and not yet written back (at most [`MAX_BATCHES_IN_FLIGHT`]), and batches
/// queued for the writer thread.
struct Flow {
    state: Mutex<(usize, bool)>,
    room: Condvar,
    queued: AtomicUsize,
}

impl Flow {
    fn new() -> Self {
        Self {
            state: Mutex::new((0, false)),
            room: Condvar::new(),
            queued: AtomicUsize::new(0),
        }
    }

    /// Waits for room for one more batch; false once the connection is closing.
    fn acquire(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.0 >= MAX_BATCHES_IN_FLIGHT && !st.1 {
            st = self.room.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.0 += 1;
        !st.1
    }

    /// One batch has been written back.
    fn release(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 = st.0.saturating_sub(1);
        self.room.notify_all();
    }

    /// The socket is gone: wake and stop the reader.
    fn close(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.1 = true;
        self.room.notify_all();
    }
}

/// Writes as much of `bytes` as the socket takes within its send timeout.
/// Returns the count written, or an error if the peer is gone.
fn write_some(conn: &mut Conn, bytes: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match conn.write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn log(line: &str) {
    eprintln!("ext4srv: {line}");
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// Opens the image (and partition) named in `args` and loads the volume.
/// Returns it with a one-line description for the log.
pub fn open_volume(args: &Args) -> Result<(Ext4Fs, String), String> {
    let shown = args.image.display();
    let file = ImageFile::open(&args.image).map_err(|e| format!("{shown}: {e}"))?;
    let size = file.size();
    let (device, what): (Box<dyn BlockDevice>, String) = match args.partition {
        None => (Box::new(file), shown.to_string()),
        Some(n) => {
            let p = Partition::open(Box::new(file), n).map_err(|e| format!("{shown}: {e}"))?;
            (Box::new(p), format!("{shown} partition {n}"))
        }
    };
    let fs = Ext4Fs::open(device, args.cache_bytes).map_err(|e| {
        let mut msg = format!("{what}: {e}");
        if args.partition.is_none()
            && matches!(e, crate::ImageError::NotExt4 { .. })
            && let Ok(mut f) = ImageFile::open(&args.image)
            && let Ok(Some(t)) = crate::device::partition::read_table(&mut f)
        {
            let numbers: Vec<String> = t
                .partitions()
                .iter()
                .map(|p| p.number.to_string())
                .collect();
            msg = format!(
                "{what}: not an ext2/3/4 filesystem, but it has a {} partition table \
                 (partitions {}): pick one with --partition N",
                t.name(),
                numbers.join(", ")
            );
        }
        msg
    })?;
    let g = fs.geometry();
    let label = if g.label.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", g.label)
    };
    let summary = format!(
        "{what}: ext4{label}, {} blocks of {} bytes ({}) in a {} image, features {}; \
         block cache {}",
        g.blocks_count,
        g.block_size,
        human(g.blocks_count * u64::from(g.block_size)),
        human(size),
        g.features.join(","),
        human(fs.cache_capacity() as u64),
    );
    if g.needs_recovery {
        log(
            "the journal needs recovery: ext4-view replays it in memory; qid.path is a hash of the path",
        );
    }
    Ok((fs, summary))
}

enum Event {
    Open {
        id: u64,
        replies: Sender<(Vec<u8>, usize)>,
        recycle: Receiver<Vec<u8>>,
        direct: Conn,
        flow: Arc<Flow>,
    },
    Requests {
        id: u64,
        frames: Vec<u8>,
    },
    Close {
        id: u64,
    },
    Stop,
}

struct Connection {
    server: lib9pclient::Server<Ext4Fs>,
    /// Replies for the writer thread, with the count already written directly.
    replies: Sender<(Vec<u8>, usize)>,
    recycle: Receiver<Vec<u8>>,
    direct: Conn,
    flow: Arc<Flow>,
    requests: u64,
}

/// Handles one frame; a panic below (which would be a bug in ext4srv or
/// ext4-view) becomes an Rerror for that request instead of ending the server.
fn handle_frame(server: &mut lib9pclient::Server<Ext4Fs>, frame: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    if catch_unwind(AssertUnwindSafe(|| server.handle(frame, out))).is_ok() {
        return;
    }
    out.truncate(start);
    log(
        "internal error while handling a request (see the panic message above); answered with Rerror",
    );
    if let Some((_, tag)) = frame_header(frame) {
        let msg = Message::Rerror {
            ename: "ext4srv internal error",
        };
        out.resize(start + msg.encoded_len(), 0);
        if msg.encode(tag, &mut out[start..]).is_err() {
            out.truncate(start);
        }
    }
}

fn fs_thread(
    args: Args,
    ready: Sender<Result<String, String>>,
    events: Receiver<Event>,
) -> Option<crate::device::CacheStats> {
    let fs = match open_volume(&args) {
        Ok((fs, summary)) => {
            let _ = ready.send(Ok(summary));
            fs
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return None;
        }
    };
    let mut conns: BTreeMap<u64, Connection> = BTreeMap::new();
    for event in events {
        match event {
            Event::Open {
                id,
                replies,
                recycle,
                direct,
                flow,
            } => {
                let server = lib9pclient::Server::new(fs.clone(), args.msize);
                conns.insert(
                    id,
                    Connection {
                        server,
                        replies,
                        recycle,
                        direct,
                        flow,
                        requests: 0,
                    },
                );
            }
            Event::Requests { id, frames } => {
                let Some(c) = conns.get_mut(&id) else {
                    continue;
                };
                let mut out = c.recycle.try_recv().unwrap_or_default();
                out.clear();
                let mut pos = 0;
                while let Some(size) = frame_size(&frames[pos..]) {
                    let end = pos + size as usize;
                    handle_frame(&mut c.server, &frames[pos..end], &mut out);
                    c.requests += 1;
                    pos = end;
                }
                // Small replies go straight out when nothing is queued before them.
                let mut written = 0;
                if out.len() <= DIRECT_REPLY_MAX && c.flow.queued.load(Ordering::SeqCst) == 0 {
                    match write_some(&mut c.direct, &out) {
                        Ok(n) if n == out.len() => {
                            c.flow.release();
                            continue;
                        }
                        Ok(n) => written = n,
                        // The writer finds the socket gone too and ends the connection.
                        Err(_) => {}
                    }
                }
                c.flow.queued.fetch_add(1, Ordering::SeqCst);
                let _ = c.replies.send((out, written));
            }
            Event::Close { id } => {
                if let Some(c) = conns.remove(&id)
                    && args.verbose
                {
                    log(&format!(
                        "connection {id} closed after {} requests",
                        c.requests
                    ));
                }
            }
            Event::Stop => break,
        }
    }
    Some(fs.cache_stats())
}

/// Cuts the byte stream into frames and hands them over in batches.
fn reader(id: u64, mut conn: Conn, events: Sender<Event>, flow: Arc<Flow>, max_msize: u32) {
    let batch_frames = (BATCH_REPLY_BUDGET / max_msize as usize).max(1);
    let mut rx: Vec<u8> = Vec::new();
    let mut buf = std::vec![0u8; READ_CHUNK];
    let send = |frames: Vec<u8>| -> bool {
        flow.acquire() && events.send(Event::Requests { id, frames }).is_ok()
    };
    'conn: loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        rx.extend_from_slice(&buf[..n]);
        let mut pos = 0;
        let mut batch = Vec::new();
        let mut count = 0;
        while let Some(size) = frame_size(&rx[pos..]) {
            if size < HEADER_SIZE as u32 || size > max_msize {
                log(&format!(
                    "connection {id}: a frame of {size} bytes is not 9P (msize is at most {max_msize}); closing it"
                ));
                if count > 0 {
                    send(batch);
                }
                break 'conn;
            }
            let end = pos + size as usize;
            if end > rx.len() {
                break;
            }
            batch.extend_from_slice(&rx[pos..end]);
            count += 1;
            pos = end;
            if count == batch_frames {
                if !send(core::mem::take(&mut batch)) {
                    break 'conn;
                }
                count = 0;
            }
        }
        rx.drain(..pos);
        if count > 0 && !send(batch) {
            break;
        }
    }
    let _ = events.send(Event::Close { id });
}

/// Writes replies back, in order, and returns each buffer for reuse.
fn writer(
    mut conn: Conn,
    replies: Receiver<(Vec<u8>, usize)>,
    flow: Arc<Flow>,
    recycle: Sender<Vec<u8>>,
) {
    'replies: for (reply, mut done) in replies {
        while done < reply.len() {
            // The send timeout makes a full socket return early; keep at it.
            match write_some(&mut conn, &reply[done..]) {
                Ok(n) => done += n,
                Err(_) => break 'replies,
            }
        }
        flow.queued.fetch_sub(1, Ordering::SeqCst);
        flow.release();
        let _ = recycle.send(reply);
    }
    flow.close();
    conn.shutdown();
}

/// A running host server.
pub struct Server {
    listener: Arc<Listener>,
    stopping: Arc<AtomicBool>,
}

impl Server {
    /// Asks the accept loop to stop (what SIGINT does).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.listener.poke();
    }
}

/// Serves `args.image` until SIGINT or SIGTERM. Logs one line per connection.
pub fn serve(args: Args) -> Result<(), String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (events_tx, events_rx) = mpsc::channel();
    let fs_args = args.clone();
    let fs_thread = thread::Builder::new()
        .name("ext4srv-fs".into())
        .spawn(move || fs_thread(fs_args, ready_tx, events_rx))
        .map_err(|e| format!("cannot start the filesystem thread: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(summary)) => log(&summary),
        Ok(Err(e)) => {
            let _ = fs_thread.join();
            return Err(e);
        }
        Err(_) => return Err("the filesystem thread failed while opening the image".into()),
    }
    let listener = match Listener::bind(&args.listen) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            let _ = events_tx.send(Event::Stop);
            let _ = fs_thread.join();
            return Err(format!("cannot listen on {}: {e}", describe(&args)));
        }
    };
    let server = Arc::new(Server {
        listener: listener.clone(),
        stopping: Arc::new(AtomicBool::new(false)),
    });
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| format!("cannot catch SIGINT: {e}"))?;
    let signal_handle = signals.handle();
    {
        let server = server.clone();
        let mut signals = signals;
        thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let name = if sig == signal_hook::consts::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                log(&format!("{name}: shutting down"));
                server.stop();
            }
        });
    }
    log(&format!(
        "listening on {} (msize up to {})",
        listener.describe(),
        args.msize
    ));

    let open: Arc<Mutex<BTreeMap<u64, Conn>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    loop {
        let accepted = listener.accept();
        if server.stopping.load(Ordering::SeqCst) {
            break;
        }
        let (conn, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                log(&format!("accept failed: {e}"));
                thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        threads.retain(|t| !t.is_finished());
        match start_connection(id, conn, &events_tx, &open, args.msize) {
            Ok(mut t) => {
                log(&format!("connection {id} from {peer}"));
                threads.append(&mut t);
            }
            Err(e) => log(&format!("connection {id} from {peer} refused: {e}")),
        }
    }
    // Stop: no new connections; end the open ones; then the filesystem thread.
    signal_handle.close();
    let still_open: Vec<Conn> = {
        let mut map = open.lock().unwrap_or_else(|e| e.into_inner());
        core::mem::take(&mut *map).into_values().collect()
    };
    for c in &still_open {
        c.shutdown();
    }
    for t in threads {
        let _ = t.join();
    }
    let _ = events_tx.send(Event::Stop);
    let stats = fs_thread.join().ok().flatten();
    listener.cleanup();
    let cache = stats
        .map(|s| format!("; block cache: {} hits, {} misses", s.hits, s.misses))
        .unwrap_or_default();
    log(&format!(
        "stopped after {next_id} connection{} ({} still open at the end){cache}",
        if next_id == 1 { "" } else { "s" },
        still_open.len()
    ));
    Ok(())
}

fn describe(args: &Args) -> String {
    match &args.listen {
        lib9pclient::dial::DialAddress::Tcp { host, port } => format!("tcp!{host}!{port}"),
        lib9pclient::dial::DialAddress::Unix(p) => format!("unix!{p}"),
    }
}

fn start_connection(
    id: u64,
    conn: Conn,
    events: &Sender<Event>,
    open: &Arc<Mutex<BTreeMap<u64, Conn>>>,
    max_msize: u32,
) -> io::Result<Vec<JoinHandle<()>>> {
    let write_half = conn.try_clone()?;
    let direct = conn.try_clone()?;
    let registry_copy = conn.try_clone()?;
    // The timeout belongs to the socket, so it also bounds direct writes.
    conn.set_write_timeout(Some(DIRECT_WRITE_WAIT))?;
    let (replies_tx, replies_rx) = mpsc::channel();
    let (recycle_tx, recycle_rx) = mpsc::channel();
    let flow = Arc::new(Flow::new());
    events
        .send(Event::Open {
            id,
            replies: replies_tx,
            recycle: recycle_rx,
            direct,
            flow: flow.clone(),
        })
        .map_err(|_| io::Error::other("the filesystem thread has stopped"))?;
    open.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, registry_copy);
    let events = events.clone();
    let reader_flow = flow.clone();
    let r = thread::Builder::new()
        .name(format!("ext4srv-read-{id}"))
        .spawn(move || reader(id, conn, events, reader_flow, max_msize))?;
    let open = open.clone();
    let w = thread::Builder::new()
        .name(format!("ext4srv-write-{id}"))
        .spawn(move || {
            writer(write_half, replies_rx, flow, recycle_tx);
            open.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        })?;
    Ok(std::vec![r, w])
}
