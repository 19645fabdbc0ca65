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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::vec::Vec;

/// Replies one batch of requests may produce, at most: a reader hands the
/// filesystem thread at most this much work at a time.
const BATCH_REPLY_BUDGET: usize = 4 << 20;
/// Batches of one connection in flight (handled or being written) at once.
const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 256 << 10;

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
        replies: Sender<Vec<u8>>,
        recycle: Receiver<Vec<u8>>,
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
    replies: Sender<Vec<u8>>,
    recycle: Receiver<Vec<u8>>,
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
            } => {
                let server = lib9pclient::Server::new(fs.clone(), args.msize);
                conns.insert(
                    id,
                    Connection {
                        server,
                        replies,
                        recycle,
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
                let _ = c.replies.send(out);
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
fn reader(id: u64, mut conn: Conn, events: Sender<Event>, tokens: SyncSender<()>, max_msize: u32) {
    let batch_frames = (BATCH_REPLY_BUDGET / max_msize as usize).max(1);
    let mut rx: Vec<u8> = Vec::new();
    let mut buf = std::vec![0u8; READ_CHUNK];
    let send = |frames: Vec<u8>| -> bool {
        tokens.send(()).is_ok() && events.send(Event::Requests { id, frames }).is_ok()
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
    replies: Receiver<Vec<u8>>,
    tokens: Receiver<()>,
    recycle: Sender<Vec<u8>>,
) {
    for reply in replies {
        if !reply.is_empty() && conn.write_all(&reply).is_err() {
            break;
        }
        let _ = tokens.recv();
        let _ = recycle.send(reply);
    }
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
    let registry_copy = conn.try_clone()?;
    let (replies_tx, replies_rx) = mpsc::channel();
    let (recycle_tx, recycle_rx) = mpsc::channel();
    let (tokens_tx, tokens_rx) = mpsc::sync_channel(MAX_BATCHES_IN_FLIGHT);
    events
        .send(Event::Open {
            id,
            replies: replies_tx,
            recycle: recycle_rx,
        })
        .map_err(|_| io::Error::other("the filesystem thread has stopped"))?;
    open.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, registry_copy);
    let events = events.clone();
    let r = thread::Builder::new()
        .name(format!("ext4srv-read-{id}"))
        .spawn(move || reader(id, conn, events, tokens_tx, max_msize))?;
    let open = open.clone();
    let w = thread::Builder::new()
        .name(format!("ext4srv-write-{id}"))
        .spawn(move || {
            writer(write_half, replies_rx, tokens_rx, recycle_tx);
            open.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        })?;
    Ok(std::vec![r, w])
}
