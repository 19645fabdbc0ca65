//! Every 9P2000 message: the `Message` enum, its encoder and its strict decoder.

use super::cursor::{Reader, Writer};
use super::message_type::MessageType;
use super::{DecodeError, EncodeError, HEADER_SIZE, MAXWELEM, Qid, Stat, WalkNames, WalkQids};

/// One 9P2000 message body; the tag travels beside it.
///
/// Strings and data borrow from the decoded input, or from the caller when
/// encoding, so neither direction allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs, reason = "field names follow intro(5)")]
pub enum Message<'a> {
    Tversion {
        msize: u32,
        version: &'a str,
    },
    Rversion {
        msize: u32,
        version: &'a str,
    },
    Tauth {
        afid: u32,
        uname: &'a str,
        aname: &'a str,
    },
    Rauth {
        aqid: Qid,
    },
    Tattach {
        fid: u32,
        afid: u32,
        uname: &'a str,
        aname: &'a str,
    },
    Rattach {
        qid: Qid,
    },
    Rerror {
        ename: &'a str,
    },
    Tflush {
        oldtag: u16,
    },
    Rflush,
    Twalk {
        fid: u32,
        newfid: u32,
        wnames: WalkNames<'a>,
    },
    Rwalk {
        wqids: WalkQids<'a>,
    },
    Topen {
        fid: u32,
        mode: u8,
    },
    Ropen {
        qid: Qid,
        iounit: u32,
    },
    Tcreate {
        fid: u32,
        name: &'a str,
        perm: u32,
        mode: u8,
    },
    Rcreate {
        qid: Qid,
        iounit: u32,
    },
    Tread {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Rread {
        data: &'a [u8],
    },
    Twrite {
        fid: u32,
        offset: u64,
        data: &'a [u8],
    },
    Rwrite {
        count: u32,
    },
    Tclunk {
        fid: u32,
    },
    Rclunk,
    Tremove {
        fid: u32,
    },
    Rremove,
    Tstat {
        fid: u32,
    },
    Rstat {
        stat: Stat<'a>,
    },
    Twstat {
        fid: u32,
        stat: Stat<'a>,
    },
    Rwstat,
}

#[inline]
fn s(x: &str) -> usize {
    2 + x.len()
}

#[inline]
fn check_str(x: &str) -> Result<(), EncodeError> {
    if x.len() > u16::MAX as usize {
        Err(EncodeError::StringTooLong)
    } else {
        Ok(())
    }
}

impl<'a> Message<'a> {
    /// The message's type.
    pub fn message_type(&self) -> MessageType {
        use MessageType as T;
        match self {
            Self::Tversion { .. } => T::Tversion,
            Self::Rversion { .. } => T::Rversion,
            Self::Tauth { .. } => T::Tauth,
            Self::Rauth { .. } => T::Rauth,
            Self::Tattach { .. } => T::Tattach,
            Self::Rattach { .. } => T::Rattach,
            Self::Rerror { .. } => T::Rerror,
            Self::Tflush { .. } => T::Tflush,
            Self::Rflush => T::Rflush,
            Self::Twalk { .. } => T::Twalk,
            Self::Rwalk { .. } => T::Rwalk,
            Self::Topen { .. } => T::Topen,
            Self::Ropen { .. } => T::Ropen,
            Self::Tcreate { .. } => T::Tcreate,
            Self::Rcreate { .. } => T::Rcreate,
            Self::Tread { .. } => T::Tread,
            Self::Rread { .. } => T::Rread,
            Self::Twrite { .. } => T::Twrite,
            Self::Rwrite { .. } => T::Rwrite,
            Self::Tclunk { .. } => T::Tclunk,
            Self::Rclunk => T::Rclunk,
            Self::Tremove { .. } => T::Tremove,
            Self::Rremove => T::Rremove,
            Self::Tstat { .. } => T::Tstat,
            Self::Rstat { .. } => T::Rstat,
            Self::Twstat { .. } => T::Twstat,
            Self::Rwstat => T::Rwstat,
        }
    }

    /// Size of the encoded message, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_SIZE
            + match self {
                Self::Tversion { version, .. } | Self::Rversion { version, .. } => 4 + s(version),
                Self::Tauth { uname, aname, .. } => 4 + s(uname) + s(aname),
                Self::Rauth { .. } | Self::Rattach { .. } => Qid::SIZE,
                Self::Tattach { uname, aname, .. } => 8 + s(uname) + s(aname),
                Self::Rerror { ename } => s(ename),
                Self::Tflush { .. } => 2,
                Self::Rflush | Self::Rclunk | Self::Rremove | Self::Rwstat => 0,
                Self::Twalk { wnames, .. } => 10 + wnames.names_len(),
                Self::Rwalk { wqids } => 2 + wqids.len() * Qid::SIZE,
                Self::Topen { .. } => 5,
                Self::Ropen { .. } | Self::Rcreate { .. } => Qid::SIZE + 4,
                Self::Tcreate { name, .. } => 4 + s(name) + 5,
                Self::Tread { .. } => 16,
                Self::Rread { data } => 4 + data.len(),
                Self::Twrite { data, .. } => 16 + data.len(),
                Self::Rwrite { .. } => 4,
                Self::Tclunk { .. } | Self::Tremove { .. } | Self::Tstat { .. } => 4,
                Self::Rstat { stat } => 2 + stat.encoded_len(),
                Self::Twstat { stat, .. } => 4 + 2 + stat.encoded_len(),
            }
    }

    fn check(&self) -> Result<(), EncodeError> {
        match self {
            Self::Tversion { version, .. } | Self::Rversion { version, .. } => check_str(version),
            Self::Tauth { uname, aname, .. } | Self::Tattach { uname, aname, .. } => {
                check_str(uname)?;
                check_str(aname)
            }
            Self::Rerror { ename } => check_str(ename),
            Self::Twalk { wnames, .. } => wnames.iter().try_for_each(check_str),
            Self::Tcreate { name, .. } => check_str(name),
            Self::Rstat { stat } | Self::Twstat { stat, .. } => stat.check(),
            _ => Ok(()),
        }
    }

    /// Encodes the message with `tag` into the front of `buf`, returning the
    /// number of bytes written. Never allocates.
    pub fn encode(&self, tag: u16, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.check()?;
        let len = self.encoded_len();
        let size = u32::try_from(len).map_err(|_| EncodeError::MessageTooLarge)?;
        let out = buf
            .get_mut(..len)
            .ok_or(EncodeError::BufferTooSmall { needed: len })?;
        let mut w = Writer::new(out);
        w.u32(size);
        w.u8(self.message_type() as u8);
        w.u16(tag);
        self.write_body(&mut w);
        debug_assert_eq!(w.position(), len);
        Ok(len)
    }

    fn write_body(&self, w: &mut Writer<'_>) {
        match *self {
            Self::Tversion { msize, version } | Self::Rversion { msize, version } => {
                w.u32(msize);
                w.str(version);
            }
            Self::Tauth { afid, uname, aname } => {
                w.u32(afid);
                w.str(uname);
                w.str(aname);
            }
            Self::Rauth { aqid: qid } | Self::Rattach { qid } => w.qid(&qid),
            Self::Tattach {
                fid,
                afid,
                uname,
                aname,
            } => {
                w.u32(fid);
                w.u32(afid);
                w.str(uname);
                w.str(aname);
            }
            Self::Rerror { ename } => w.str(ename),
            Self::Tflush { oldtag } => w.u16(oldtag),
            Self::Rflush | Self::Rclunk | Self::Rremove | Self::Rwstat => {}
            Self::Twalk {
                fid,
                newfid,
                ref wnames,
            } => {
                w.u32(fid);
                w.u32(newfid);
                w.u16(wnames.len() as u16);
                wnames.write(w);
            }
            Self::Rwalk { ref wqids } => {
                w.u16(wqids.len() as u16);
                for q in wqids.iter() {
                    w.qid(&q);
                }
            }
            Self::Topen { fid, mode } => {
                w.u32(fid);
                w.u8(mode);
            }
            Self::Ropen { qid, iounit } | Self::Rcreate { qid, iounit } => {
                w.qid(&qid);
                w.u32(iounit);
            }
            Self::Tcreate {
                fid,
                name,
                perm,
                mode,
            } => {
                w.u32(fid);
                w.str(name);
                w.u32(perm);
                w.u8(mode);
            }
            Self::Tread { fid, offset, count } => {
                w.u32(fid);
                w.u64(offset);
                w.u32(count);
            }
            Self::Rread { data } => {
                w.u32(data.len() as u32);
                w.bytes(data);
            }
            Self::Twrite { fid, offset, data } => {
                w.u32(fid);
                w.u64(offset);
                w.u32(data.len() as u32);
                w.bytes(data);
            }
            Self::Rwrite { count } => w.u32(count),
            Self::Tclunk { fid } | Self::Tremove { fid } | Self::Tstat { fid } => w.u32(fid),
            Self::Rstat { ref stat } => {
                w.u16(stat.encoded_len() as u16);
                stat.write(w);
            }
            Self::Twstat { fid, ref stat } => {
                w.u32(fid);
                w.u16(stat.encoded_len() as u16);
                stat.write(w);
            }
        }
    }

    /// Decodes exactly one message occupying all of `buf`; see [`decode`].
    pub fn decode(buf: &'a [u8]) -> Result<(u16, Self), DecodeError> {
        decode(buf)
    }
}

/// Decodes exactly one message occupying all of `buf`, returning its tag and body.
///
/// Strict: the size field must equal `buf.len()`, every field must be present,
/// counts must stay inside the message, and nothing may follow the last field.
pub fn decode(buf: &[u8]) -> Result<(u16, Message<'_>), DecodeError> {
    decode_with_limit(buf, u32::MAX)
}

/// Like [`decode`], but also rejects messages whose size exceeds `limit`
/// (normally the negotiated msize).
pub fn decode_with_limit(buf: &[u8], limit: u32) -> Result<(u16, Message<'_>), DecodeError> {
    let mut r = Reader::new(buf);
    let size = r.u32()?;
    if size < HEADER_SIZE as u32 {
        return Err(DecodeError::SizeTooSmall(size));
    }
    if size > limit {
        return Err(DecodeError::Oversized { size, limit });
    }
    if size as usize != buf.len() {
        return Err(DecodeError::SizeMismatch {
            declared: size,
            actual: buf.len(),
        });
    }
    let typ = r.u8()?;
    let tag = r.u16()?;
    let t = MessageType::from_u8(typ).ok_or(DecodeError::UnknownType(typ))?;
    let msg = read_body(t, &mut r)?;
    r.finish()?;
    Ok((tag, msg))
}

/// The Tread in `buf`, if it is exactly one well-formed Tread of at most `limit` bytes:
/// (tag, fid, offset, count). The file servers' hot path, without building a [`Message`];
/// whatever it refuses, [`decode_with_limit`] decodes (or refuses) the same as ever.
pub fn decode_tread(buf: &[u8], limit: u32) -> Option<(u16, u32, u64, u32)> {
    let frame: &[u8; 23] = buf.try_into().ok()?;
    let size = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    if size != 23 || size > limit || frame[4] != MessageType::Tread as u8 {
        return None;
    }
    let tag = u16::from_le_bytes([frame[5], frame[6]]);
    let fid = u32::from_le_bytes(frame[7..11].try_into().ok()?);
    let offset = u64::from_le_bytes(frame[11..19].try_into().ok()?);
    let count = u32::from_le_bytes(frame[19..23].try_into().ok()?);
    Some((tag, fid, offset, count))
}

/// The Rread in `buf`, if it is exactly one well-formed Rread of at most `limit` bytes:
/// (tag, data). The clients' hot path, as [`decode_tread`] is the servers'.
pub fn decode_rread(buf: &[u8], limit: u32) -> Option<(u16, &[u8])> {
    if buf.len() < 11 || buf[4] != MessageType::Rread as u8 {
        return None;
    }
    let size = u32::from_le_bytes(buf[0..4].try_into().ok()?);
    let count = u32::from_le_bytes(buf[7..11].try_into().ok()?);
    if size as usize != buf.len() || size > limit || count as usize != buf.len() - 11 {
        return None;
    }
    Some((u16::from_le_bytes([buf[5], buf[6]]), &buf[11..]))
}

/// A stat preceded by the `n[2]` count that Rstat and Twstat put before it.
fn counted_stat<'a>(r: &mut Reader<'a>) -> Result<Stat<'a>, DecodeError> {
    let n = r.u16()? as usize;
    if n > r.remaining() {
        return Err(DecodeError::CountPastEnd);
    }
    let mut inner = Reader::new(r.bytes(n)?);
    let stat = Stat::read(&mut inner).map_err(|e| match e {
        DecodeError::Truncated => DecodeError::StatSizeMismatch,
        e => e,
    })?;
    if inner.remaining() != 0 {
        return Err(DecodeError::StatSizeMismatch);
    }
    Ok(stat)
}

fn read_body<'a>(t: MessageType, r: &mut Reader<'a>) -> Result<Message<'a>, DecodeError> {
    use MessageType as T;
    Ok(match t {
        T::Tversion => Message::Tversion {
            msize: r.u32()?,
            version: r.str()?,
        },
        T::Rversion => Message::Rversion {
            msize: r.u32()?,
            version: r.str()?,
        },
        T::Tauth => Message::Tauth {
            afid: r.u32()?,
            uname: r.str()?,
            aname: r.str()?,
        },
        T::Rauth => Message::Rauth { aqid: r.qid()? },
        T::Tattach => Message::Tattach {
            fid: r.u32()?,
            afid: r.u32()?,
            uname: r.str()?,
            aname: r.str()?,
        },
        T::Rattach => Message::Rattach { qid: r.qid()? },
        T::Rerror => {
            let ename = r.str()?;
            // Some servers (aio9p among them) send 9P2000.u's Rerror, an errno[4]
            // after the text, even when 9P2000 was negotiated. Exactly that form
            // is accepted, its errno dropped; anything else left over is still an
            // error (`TrailingBytes`).
            if r.remaining() == 4 {
                r.u32()?;
            }
            Message::Rerror { ename }
        }
        T::Tflush => Message::Tflush { oldtag: r.u16()? },
        T::Rflush => Message::Rflush,
        T::Twalk => {
            let fid = r.u32()?;
            let newfid = r.u32()?;
            let n = r.u16()?;
            if n as usize > MAXWELEM {
                return Err(DecodeError::TooManyWalkNames(n));
            }
            // Validate every name now; the names stay in the input.
            let bytes = r.str_run(n as usize)?;
            Message::Twalk {
                fid,
                newfid,
                wnames: WalkNames::from_wire(bytes, n as u8),
            }
        }
        T::Rwalk => {
            let n = r.u16()?;
            if n as usize > MAXWELEM {
                return Err(DecodeError::TooManyWalkQids(n));
            }
            Message::Rwalk {
                wqids: WalkQids::from_wire(r.bytes(n as usize * Qid::SIZE)?),
            }
        }
        T::Topen => Message::Topen {
            fid: r.u32()?,
            mode: r.u8()?,
        },
        T::Ropen => Message::Ropen {
            qid: r.qid()?,
            iounit: r.u32()?,
        },
        T::Tcreate => Message::Tcreate {
            fid: r.u32()?,
            name: r.str()?,
            perm: r.u32()?,
            mode: r.u8()?,
        },
        T::Rcreate => Message::Rcreate {
            qid: r.qid()?,
            iounit: r.u32()?,
        },
        T::Tread => Message::Tread {
            fid: r.u32()?,
            offset: r.u64()?,
            count: r.u32()?,
        },
        T::Rread => Message::Rread { data: r.data32()? },
        T::Twrite => Message::Twrite {
            fid: r.u32()?,
            offset: r.u64()?,
            data: r.data32()?,
        },
        T::Rwrite => Message::Rwrite { count: r.u32()? },
        T::Tclunk => Message::Tclunk { fid: r.u32()? },
        T::Rclunk => Message::Rclunk,
        T::Tremove => Message::Tremove { fid: r.u32()? },
        T::Rremove => Message::Rremove,
        T::Tstat => Message::Tstat { fid: r.u32()? },
        T::Rstat => Message::Rstat {
            stat: counted_stat(r)?,
        },
        T::Twstat => Message::Twstat {
            fid: r.u32()?,
            stat: counted_stat(r)?,
        },
        T::Rwstat => Message::Rwstat,
    })
}
