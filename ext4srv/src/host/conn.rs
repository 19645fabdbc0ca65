//! A socket of either kind, and a listener of either kind.

use lib9pclient::dial::DialAddress;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::string::String;

/// An accepted connection.
pub enum Conn {
    /// TCP.
    Tcp(TcpStream),
    /// Unix-domain stream socket.
    Unix(UnixStream),
}

impl Conn {
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
            Self::Unix(s) => Self::Unix(s.try_clone()?),
        })
    }

    pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(t),
            Self::Unix(s) => s.set_write_timeout(t),
        }
    }

    pub fn shutdown(&self) {
        let _ = match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Both),
            Self::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A listening socket.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// Unix-domain, with the path to remove at the end.
    Unix(UnixListener, String),
}

impl Listener {
    /// Binds `address`. A Unix socket path left behind by a server that is no
    /// longer running is replaced; one that answers is "address in use".
    pub fn bind(address: &DialAddress) -> io::Result<Self> {
        match address {
            DialAddress::Tcp { host, port } => {
                Ok(Self::Tcp(TcpListener::bind((host.as_str(), *port))?))
            }
            DialAddress::Unix(path) => match UnixListener::bind(path) {
                Ok(l) => Ok(Self::Unix(l, path.clone())),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    // Only a socket nobody answers on is replaced, never another file.
                    use std::os::unix::fs::FileTypeExt;
                    let is_socket = std::fs::symlink_metadata(path)
                        .map(|m| m.file_type().is_socket())
                        .unwrap_or(false);
                    if !is_socket || UnixStream::connect(path).is_ok() {
                        return Err(e);
                    }
                    std::fs::remove_file(path)?;
                    Ok(Self::Unix(UnixListener::bind(path)?, path.clone()))
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Waits for the next connection; returns it and the peer's description.
    pub fn accept(&self) -> io::Result<(Conn, String)> {
        match self {
            Self::Tcp(l) => {
                let (s, peer) = l.accept()?;
                let _ = s.set_nodelay(true);
                Ok((Conn::Tcp(s), format!("{peer}")))
            }
            Self::Unix(l, _) => {
                let (s, _) = l.accept()?;
                Ok((Conn::Unix(s), String::from("unix socket")))
            }
        }
    }

    /// Connects to this listener (to wake a blocked `accept` at shutdown).
    pub fn poke(&self) {
        match self {
            Self::Tcp(l) => {
                if let Ok(mut a) = l.local_addr() {
                    if a.ip().is_unspecified() {
                        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    let _ = TcpStream::connect(a);
                }
            }
            Self::Unix(_, path) => {
                let _ = UnixStream::connect(path);
            }
        }
    }

    /// Removes the socket file of a Unix listener.
    pub fn cleanup(&self) {
        if let Self::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The address as a dial string.
    pub fn describe(&self) -> String {
        match self {
            Self::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("tcp!{}!{}", a.ip(), a.port()),
                Err(_) => String::from("tcp"),
            },
            Self::Unix(_, path) => format!("unix!{path}"),
        }
    }
}
