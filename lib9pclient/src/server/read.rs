//! Tread: file data straight into the reply, and directory reads packed
//! with whole entries at checked offsets (an entry never split across
//! replies; a count too small for the next one reads 0 bytes).

use super::{DirCursor, Filesystem, Out, Server, ServerError};
use crate::codec::{IOHDRSZ, MessageType, OEXEC, ORDWR, OREAD};
use alloc::format;

impl<F: Filesystem> Server<F> {
    pub(super) fn read(
        &mut self,
        tag: u16,
        fid: u32,
        offset: u64,
        count: u32,
        out: &mut Out<'_>,
    ) -> Result<(), ServerError> {
        let limit = self.msize - IOHDRSZ;
        let e = self.fids.get_mut(fid).ok_or(ServerError::UnknownFid)?;
        match e.open {
            Some(m) if matches!(m & 3, OREAD | ORDWR | OEXEC) => {}
            _ => return Err(ServerError::NotOpen),
        }
        let count = count.min(limit) as usize;
        // Reply header first; the data is produced straight into `out`.
        let room = out.room(11 + count);
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
            let buf = &mut room[11..];
            let mut used = 0;
            while let Some(d) = cursor.entries.get(cursor.index) {
                let st = d.as_stat();
                let len = st.encoded_len();
                // Only whole entries. When the next one does not fit, the reply is shorter
                // (0 bytes if it is the first): a client reading into the space left in its
                // buffer (Linux's v9fs) empties the buffer and asks again at the same offset,
                // which stays valid. plan9port's lib9p answers the same way.
                if used + len > count {
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
            let n = self.fs.read(&e.node, offset, &mut room[11..])?;
            n.min(count)
        };
        let size = (11 + n) as u32;
        room[..4].copy_from_slice(&size.to_le_bytes());
        room[4] = MessageType::Rread as u8;
        room[5..7].copy_from_slice(&tag.to_le_bytes());
        room[7..11].copy_from_slice(&(n as u32).to_le_bytes());
        out.advance(11 + n);
        Ok(())
    }
}
