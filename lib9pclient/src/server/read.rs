//! Tread: file data straight into the reply, and directory reads packed
//! with whole entries at checked offsets.

use super::{DirCursor, Filesystem, Server, ServerError};
use crate::codec::{IOHDRSZ, MessageType, OEXEC, ORDWR, OREAD};
use alloc::format;
use alloc::vec::Vec;

impl<F: Filesystem> Server<F> {
    pub(super) fn read(
        &mut self,
        tag: u16,
        fid: u32,
        offset: u64,
        count: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), ServerError> {
        let limit = self.msize - IOHDRSZ;
        let e = self.fids.get_mut(&fid).ok_or(ServerError::UnknownFid)?;
        match e.open {
            Some(m) if matches!(m & 3, OREAD | ORDWR | OEXEC) => {}
            _ => return Err(ServerError::NotOpen),
        }
        let count = count.min(limit) as usize;
        // Reply header first; the data is produced straight into `out`.
        let start = out.len();
        out.resize(start + 11 + count, 0);
        let n = if e.qid.is_dir() {
            if offset == 0 {
                let entries = self.fs.read_dir(&e.node)?;
                e.dir = Some(DirCursor {
                    entries,
                    index: 0,
                    offset: 0,
                });
            }
            let cursor = match e.dir.as_mut() {
                Some(c) if c.offset == offset => c,
                _ => return Err(ServerError::BadOffset),
            };
            let buf = &mut out[start + 11..];
            let mut used = 0;
            while let Some(d) = cursor.entries.get(cursor.index) {
                let st = d.as_stat();
                let len = st.encoded_len();
                if used + len > count {
                    if used == 0 {
                        return Err(ServerError::Other(
                            "read count too small for a directory entry".into(),
                        ));
                    }
                    break;
                }
                st.encode(&mut buf[used..])
                    .map_err(|e| ServerError::Other(format!("{e}")))?;
                used += len;
                cursor.index += 1;
            }
            cursor.offset += used as u64;
            used
        } else {
            let node = e.node.clone();
            let n = self.fs.read(&node, offset, &mut out[start + 11..])?;
            n.min(count)
        };
        out.truncate(start + 11 + n);
        let size = (11 + n) as u32;
        out[start..start + 4].copy_from_slice(&size.to_le_bytes());
        out[start + 4] = MessageType::Rread as u8;
        out[start + 5..start + 7].copy_from_slice(&tag.to_le_bytes());
        out[start + 7..start + 11].copy_from_slice(&(n as u32).to_le_bytes());
        Ok(())
    }
}
