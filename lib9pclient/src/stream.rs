//! The host stream transport: 9P frames over any `Read + Write` (TCP, Unix
//! sockets, pipes), and dialing by dial string.

use crate::codec::{HEADER_SIZE, frame_size};
use crate::dial::{DialAddress, DialError};
use crate::transport::{Transport, TransportError, Wait};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::string::ToString;
use std::vec::Vec;

/// A byte stream a [`StreamTransport`] can run over. Streams that can switch
/// to non-blocking mode let [`Wait::Poll`] read without blocking; for others
/// a poll returns only replies already buffered.
pub trait Stream: Read + Write {
    /// Switches non-blocking mode; `Err(Unsupported)` if the stream cannot.
    fn set_nonblocking(&mut self, _on: bool) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Stream for TcpStream {
    fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        TcpStream::set_nonblocking(self, on)
    }
}

#[cfg(unix)]
impl Stream for std::os::unix::net::UnixStream {
    fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_nonblocking(self, on)
    }
}

/// A read half and a write half joined into one [`Stream`] (pipes, a child
/// process's stdout and stdin). Polls return only buffered replies.
pub struct Duplex<R, W> {
    /// Where replies come from.
    pub reader: R,
    /// Where requests go.
    pub writer: W,
}

impl<R: Read, W> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl<R: Read, W: Write> Stream for Duplex<R, W> {}

/// A connection made from a dial string.
pub enum Connection {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain socket connection.
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Self::Unix(s) => s.flush(),
        }
    }
}

impl Stream for Connection {
    fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_nonblocking(on),
            #[cfg(unix)]
            Self::Unix(s) => s.set_nonblocking(on),
        }
    }
}

/// Why dialing failed.
#[derive(Debug)]
pub enum DialFailure {
    /// The dial string is malformed.
    Address(DialError),
    /// The connection could not be made.
    Connect(io::Error),
}

impl std::fmt::Display for DialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Address(e) => write!(f, "{e}"),
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
        }
    }
}

impl std::error::Error for DialFailure {}

/// Connects to a dial string (`tcp!host!port`, `unix!path`).
pub fn dial(address: &str) -> Result<StreamTransport<Connection>, DialFailure> {
    let conn = match DialAddress::parse(address).map_err(DialFailure::Address)? {
        DialAddress::Tcp { host, port } => {
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let s = TcpStream::connect((host.as_str(), port)).map_err(DialFailure::Connect)?;
            // Requests are already batched; do not let Nagle delay them.
            let _ = s.set_nodelay(true);
            Connection::Tcp(s)
        }
        #[cfg(unix)]
        DialAddress::Unix(path) => Connection::Unix(
            std::os::unix::net::UnixStream::connect(path).map_err(DialFailure::Connect)?,
        ),
        #[cfg(not(unix))]
        DialAddress::Unix(_) => {
            return Err(DialFailure::Connect(io::ErrorKind::Unsupported.into()));
        }
    };
    Ok(StreamTransport::new(conn))
}

/// 9P over a byte stream: frames are written back to back, one write per
/// batch, and read back by their size fields.
pub struct StreamTransport<S: Stream> {
    stream: S,
    rx: Vec<u8>,
    limit: u32,
}

fn io_err(e: io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe => TransportError::Closed,
        _ => TransportError::Io(e.to_string()),
    }
}

impl<S: Stream> StreamTransport<S> {
    /// A transport over `stream`. Until the version is negotiated, replies
    /// over 1 MiB are refused.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            rx: Vec::new(),
            limit: 1 << 20,
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Moves complete frames from the receive buffer to `out`.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<usize, TransportError> {
        let mut pos = 0;
        let mut n = 0;
        while let Some(size) = frame_size(&self.rx[pos..]) {
            if size < HEADER_SIZE as u32 {
                return Err(TransportError::Malformed(
                    "size field smaller than the header",
                ));
            }
            if size > self.limit {
                return Err(TransportError::FrameTooLarge {
                    size,
                    limit: self.limit,
                });
            }
            let end = pos + size as usize;
            if end > self.rx.len() {
                break;
            }
            out.extend_from_slice(&self.rx[pos..end]);
            pos = end;
            n += 1;
        }
        self.rx.drain(..pos);
        Ok(n)
    }

    /// Reads once from the stream into the receive buffer.
    fn fill(&mut self) -> io::Result<usize> {
        let start = self.rx.len();
        let want = match frame_size(&self.rx) {
            Some(s) if (s as usize) > start => (s as usize - start).max(4096),
            _ => 64 * 1024,
        };
        self.rx.resize(start + want, 0);
        let r = self.stream.read(&mut self.rx[start..]);
        self.rx.truncate(start + *r.as_ref().unwrap_or(&0));
        match r {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            r => r,
        }
    }
}

impl<S: Stream> Transport for StreamTransport<S> {
    fn submit(&mut self, frames: &[u8], _count: usize) -> Result<(), TransportError> {
        self.stream.write_all(frames).map_err(io_err)?;
        self.stream.flush().map_err(io_err)
    }

    fn receive(&mut self, replies: &mut Vec<u8>, wait: Wait) -> Result<usize, TransportError> {
        let n = self.drain(replies)?;
        if n > 0 {
            return Ok(n);
        }
        match wait {
            Wait::Block => loop {
                match self.fill() {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err(e)),
                }
                let n = self.drain(replies)?;
                if n > 0 {
                    return Ok(n);
                }
            },
            Wait::Poll => {
                if self.stream.set_nonblocking(true).is_err() {
                    return Ok(0);
                }
                let r = loop {
                    match self.fill() {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(io_err(e)),
                    }
                };
                self.stream.set_nonblocking(false).map_err(io_err)?;
                r?;
                self.drain(replies)
            }
        }
    }

    fn set_msize(&mut self, msize: u32) {
        self.limit = msize;
    }
}
