//! `/dev`: the console, null, zero, random, the kernel log and the block devices, straight to
//! the backend.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lib9pclient::server::ServerError;

use crate::backend::{Backend, DiskInfo};
use crate::error::bad_console_control;
use crate::node::Kind;

/// Reads a device file. A disk's `data` and partitions use the offset; the others are
/// streams. `buf` is the Rread payload, sized to the request's count. (kmsg is a text file
/// with a snapshot per open fid: [`kmsg_text`].)
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
        // Any byte offset; past the end reads nothing.
        Kind::DiskData(name) => backend
            .disk_read(name, 0, offset, buf)
            .map_err(ServerError::Other)?,
        Kind::DiskPart(name, number) => backend
            .disk_read(name, *number, offset, buf)
            .map_err(ServerError::Other)?,
        _ => return Err(ServerError::PermissionDenied),
    };
    // The backend is trusted, but a count past the buffer would make a malformed reply.
    Ok(n.min(buf.len()))
}

/// `/dev/kmsg`'s text: the kernel log as the ring keeps it now. Once the ring has wrapped, its
/// oldest line has usually lost its start, so the text begins after the first newline (unless
/// there is none: a line longer than the ring is kept as it is).
pub fn kmsg_text<B: Backend>(backend: &mut B) -> Vec<u8> {
    let mut log = backend.kmsg();
    if log.first > 0
        && let Some(newline) = log.bytes.iter().position(|&b| b == b'\n')
    {
        log.bytes.drain(..=newline);
    }
    log.bytes
}

/// Writes a device file: the console prints, consctl switches modes, null discards, a disk's
/// `data` and partitions take bytes at `offset`.
pub fn write<B: Backend>(
    backend: &mut B,
    kind: &Kind,
    offset: u64,
    data: &[u8],
) -> Result<usize, ServerError> {
    match kind {
        Kind::DiskData(name) => {
            let n = backend
                .disk_write(name, 0, offset, data)
                .map_err(ServerError::Other)?;
            return Ok(n.min(data.len()));
        }
        Kind::DiskPart(name, number) => {
            let n = backend
                .disk_write(name, *number, offset, data)
                .map_err(ServerError::Other)?;
            return Ok(n.min(data.len()));
        }
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

/// The block device called `name`, if the backend has one.
pub fn disk<B: Backend>(backend: &mut B, name: &str) -> Option<DiskInfo> {
    backend.disks().into_iter().find(|d| d.name == name)
}

/// The disk directories of `/dev`, in the backend's order.
pub fn disk_entries<B: Backend>(backend: &mut B) -> Vec<Kind> {
    backend
        .disks()
        .into_iter()
        .map(|d| Kind::Disk(d.name))
        .collect()
}

/// `/dev/<name>`, if it is a disk.
pub fn walk_disk<B: Backend>(backend: &mut B, name: &str) -> Option<Kind> {
    disk(backend, name).map(|d| Kind::Disk(d.name))
}

/// `/dev/<name>/ctl`: one `key value` line each for the model, the driver, the sector size,
/// the sector count, the size in bytes and whether the disk is read-only.
pub fn ctl_text<B: Backend>(backend: &mut B, name: &str) -> Result<String, ServerError> {
    let d = disk(backend, name).ok_or(ServerError::NotFound)?;
    Ok(format!(
        "model {}\ndriver {}\nsector_size {}\nsectors {}\nsize {}\nread_only {}\n",
        crate::text::one_line(&d.model),
        crate::text::one_line(&d.driver),
        d.sector_size,
        d.sectors,
        d.size(),
        if d.read_only { "yes" } else { "no" }
    ))
}

/// Partition `number` of disk `name` as (first sector, sector count), if it exists.
pub fn partition<B: Backend>(backend: &mut B, name: &str, number: u32) -> Option<(u64, u64)> {
    disk(backend, name)?
        .partitions
        .iter()
        .find(|(n, _, _)| *n == number)
        .map(|&(_, first, count)| (first, count))
}

/// The files of a disk's directory: `ctl`, `data` and one `p<N>` per partition.
pub fn disk_children<B: Backend>(backend: &mut B, name: &str) -> Vec<Kind> {
    let mut children = alloc::vec![Kind::DiskCtl(name.into()), Kind::DiskData(name.into())];
    if let Some(d) = disk(backend, name) {
        children.extend(
            d.partitions
                .iter()
                .map(|(number, _, _)| Kind::DiskPart(name.into(), *number)),
        );
    }
    children
}

/// `p<N>` in the directory of a disk, if that partition exists (`p0` and leading zeros are
/// not partition names).
pub fn walk_partition<B: Backend>(backend: &mut B, dir: &Kind, name: &str) -> Option<Kind> {
    let Kind::Disk(disk_name) = dir else {
        return None;
    };
    let digits = name.strip_prefix('p')?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    partition(backend, disk_name, number).map(|_| Kind::DiskPart(disk_name.clone(), number))
}

/// The length of a disk's `data` or of a partition file, in bytes.
pub fn length<B: Backend>(backend: &mut B, kind: &Kind) -> Option<u64> {
    match kind {
        Kind::DiskData(name) => disk(backend, name).map(|d| d.size()),
        Kind::DiskPart(name, number) => {
            let sector_size = u64::from(disk(backend, name)?.sector_size);
            partition(backend, name, *number).map(|(_, count)| count * sector_size)
        }
        _ => None,
    }
}
