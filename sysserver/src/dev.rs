//! `/dev`: the console, null, zero, random and the kernel log, straight to the backend.

use lib9pclient::server::ServerError;

use crate::backend::Backend;
use crate::error::bad_console_control;
use crate::node::Kind;

/// Reads a device file. Only kmsg uses the offset (a position in the kernel log); the others
/// are streams. `buf` is the Rread payload, sized to the request's count.
///
/// A console read with no input on a backend that cannot block is
/// [`ServerError::WouldBlock`], before anything changed: the adapter's
/// `Server::handle_deferrable` keeps the request and retries it when input arrives.
pub fn read<B: Backend>(
    backend: &mut B,
    kind: &Kind,
    offset: u64,
    buf: &mut [u8],
) -> Result<usize, ServerError> {
    let n = match kind {
        // One line per read (cooked mode); the backend blocks or says it would.
        Kind::Cons => backend.console_read(buf).ok_or(ServerError::WouldBlock)?,
        Kind::Null => 0,
        Kind::Zero => {
            buf.fill(0);
            buf.len()
        }
        Kind::Random => {
            backend.random(buf);
            buf.len()
        }
        Kind::Kmsg => backend.kmsg(offset, buf),
        _ => return Err(ServerError::PermissionDenied),
    };
    // The backend is trusted, but a count past the buffer would make a malformed reply.
    Ok(n.min(buf.len()))
}

/// Writes a device file: the console prints, consctl switches modes, null discards.
pub fn write<B: Backend>(backend: &mut B, kind: &Kind, data: &[u8]) -> Result<usize, ServerError> {
    match kind {
        Kind::Cons => backend.console_write(data),
        Kind::ConsCtl => {
            let command = data.strip_suffix(b"\n").unwrap_or(data);
            match command {
                b"rawon" => backend.console_set_raw(true),
                b"rawoff" => backend.console_set_raw(false),
                _ => return Err(bad_console_control(command)),
            }
        }
        Kind::Null => {}
        _ => return Err(ServerError::PermissionDenied),
    }
    Ok(data.len())
}
