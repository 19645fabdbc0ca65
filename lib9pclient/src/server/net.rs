//! Serving a [`Server`] over host byte streams, TCP and Unix sockets.

use super::{Filesystem, Server, ServerError};
use crate::codec::{Dir, HEADER_SIZE, Qid, Stat, frame_size};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

/// Runs one connection: reads requests, handles every complete one in the
/// buffer, and writes all their replies with one write. Returns when the
/// peer closes; errors on I/O failure or a frame that cannot be 9P.
pub fn serve_connection<F: Filesystem, S: Read + Write>(
    server: &mut Server<F>,
    mut stream: S,
) -> io::Result<()> {
    let mut rx: Vec<u8> = Vec::new();
    let mut tx: Vec<u8> = Vec::new();
    let mut buf = std::vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        rx.extend_from_slice(&buf[..n]);
        let mut pos = 0;
        while let Some(size) = frame_size(&rx[pos..]) {
            if size < HEADER_SIZE as u32 || size > server.frame_limit() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad 9P frame size",
                ));
            }
            let end = pos + size as usize;
            if end > rx.len() {
                break;
            }
            server.handle(&rx[pos..end], &mut tx);
            pos = end;
        }
        rx.drain(..pos);
        if !tx.is_empty() {
            match stream.write_all(&tx).and_then(|()| stream.flush()) {
                Ok(()) => {}
                // The client hung up without waiting for these replies (a client that drops its
                // last handle sends its clunks and closes): a normal end of the connection.
                Err(e) if peer_gone(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
            tx.clear();
        }
    }
}

/// Whether a write failed because the other end closed the connection.
fn peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// A filesystem shared by the connections of one server process: each call
/// takes the lock, so connections see one tree.
pub struct Shared<F>(pub Arc<Mutex<F>>);

impl<F> Clone for Shared<F> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<F> Shared<F> {
    /// Wraps `fs` for sharing.
    pub fn new(fs: F) -> Self {
        Self(Arc::new(Mutex::new(fs)))
    }

    fn lock(&self) -> MutexGuard<'_, F> {
        // A panic in another connection must not take the tree down with it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<F: Filesystem> Filesystem for Shared<F> {
    type Node = F::Node;

    fn attach(&mut self, uname: &str, aname: &str) -> Result<Self::Node, ServerError> {
        self.lock().attach(uname, aname)
    }
    fn qid(&mut self, node: &Self::Node) -> Result<Qid, ServerError> {
        self.lock().qid(node)
    }
    fn walk(&mut self, dir: &Self::Node, name: &str) -> Result<Self::Node, ServerError> {
        self.lock().walk(dir, name)
    }
    fn open(&mut self, node: &Self::Node, mode: u8) -> Result<u32, ServerError> {
        self.lock().open(node, mode)
    }
    fn create(
        &mut self,
        dir: &Self::Node,
        name: &str,
        perm: u32,
        mode: u8,
    ) -> Result<(Self::Node, u32), ServerError> {
        self.lock().create(dir, name, perm, mode)
    }
    fn read(
        &mut self,
        node: &Self::Node,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, ServerError> {
        self.lock().read(node, offset, buf)
    }
    fn read_dir(&mut self, node: &Self::Node) -> Result<Vec<Dir>, ServerError> {
        self.lock().read_dir(node)
    }
    fn write(&mut self, node: &Self::Node, offset: u64, data: &[u8]) -> Result<usize, ServerError> {
        self.lock().write(node, offset, data)
    }
    fn stat(&mut self, node: &Self::Node) -> Result<Dir, ServerError> {
        self.lock().stat(node)
    }
    fn wstat(&mut self, node: &Self::Node, stat: &Stat<'_>) -> Result<(), ServerError> {
        self.lock().wstat(node, stat)
    }
    fn remove(&mut self, node: &Self::Node) -> Result<(), ServerError> {
        self.lock().remove(node)
    }
    fn clunk(&mut self, node: &Self::Node) {
        self.lock().clunk(node)
    }
}

/// Accepts TCP connections forever, one thread and one [`Server`] each, all
/// over the same shared filesystem.
pub fn serve_tcp<F>(
    listener: std::net::TcpListener,
    fs: Shared<F>,
    max_msize: u32,
) -> io::Result<()>
where
    F: Filesystem + Send + 'static,
{
    for conn in listener.incoming() {
        let conn = conn?;
        let _ = conn.set_nodelay(true);
        let fs = fs.clone();
        std::thread::spawn(move || {
            let mut server = Server::new(fs, max_msize);
            let _ = serve_connection(&mut server, conn);
        });
    }
    Ok(())
}

/// Accepts Unix-socket connections forever, like [`serve_tcp`].
#[cfg(unix)]
pub fn serve_unix<F>(
    listener: std::os::unix::net::UnixListener,
    fs: Shared<F>,
    max_msize: u32,
) -> io::Result<()>
where
    F: Filesystem + Send + 'static,
{
    for conn in listener.incoming() {
        let conn = conn?;
        let fs = fs.clone();
        std::thread::spawn(move || {
            let mut server = Server::new(fs, max_msize);
            let _ = serve_connection(&mut server, conn);
        });
    }
    Ok(())
}
