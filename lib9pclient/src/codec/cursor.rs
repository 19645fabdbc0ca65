//! Bounds-checked little-endian readers and writers over byte slices.

use super::{DecodeError, Qid};

/// Reads 9P fields from a borrowed slice; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos + N;
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                let mut a = [0u8; N];
                a.copy_from_slice(s);
                Ok(a)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.u16()? as usize;
        let b = self.bytes(n)?;
        core::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads `N` consecutive strings, validating their UTF-8 in one pass
    /// where possible: with every length under 128 the length bytes are
    /// ASCII, so the whole run is UTF-8 exactly when each string is, and one
    /// long check beats `N` short ones.
    #[inline]
    pub(crate) fn strs<const N: usize>(&mut self) -> Result<[&'a str; N], DecodeError> {
        let start = self.pos;
        let mut spans = [(0usize, 0usize); N];
        for span in spans.iter_mut() {
            let n = self.u16()? as usize;
            let at = self.pos;
            self.bytes(n)?;
            *span = (at - start, at - start + n);
        }
        let run = &self.buf[start..self.pos];
        let mut out = [""; N];
        if let Ok(all) = core::str::from_utf8(run) {
            for (o, &(a, b)) in out.iter_mut().zip(spans.iter()) {
                // Always a char boundary when the length bytes are ASCII.
                match all.get(a..b) {
                    Some(s) => *o = s,
                    None => return Self::strs_slow(run, &spans),
                }
            }
            Ok(out)
        } else {
            Self::strs_slow(run, &spans)
        }
    }

    /// Reads `count` consecutive strings and returns their raw run (length
    /// prefixes included), every string checked to be UTF-8; see [`Reader::strs`].
    #[inline]
    pub(crate) fn str_run(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let mut ascii_lengths = true;
        for _ in 0..count {
            let n = self.u16()?;
            ascii_lengths &= n < 0x80;
            self.bytes(n as usize)?;
        }
        let run = &self.buf[start..self.pos];
        if ascii_lengths && core::str::from_utf8(run).is_ok() {
            return Ok(run);
        }
        let mut again = Reader::new(run);
        for _ in 0..count {
            again.str()?;
        }
        Ok(run)
    }

    #[cold]
    fn strs_slow<const N: usize>(
        run: &'a [u8],
        spans: &[(usize, usize); N],
    ) -> Result<[&'a str; N], DecodeError> {
        let mut out = [""; N];
        for (o, &(a, b)) in out.iter_mut().zip(spans.iter()) {
            *o = core::str::from_utf8(&run[a..b]).map_err(|_| DecodeError::InvalidUtf8)?;
        }
        Ok(out)
    }

    #[inline]
    pub(crate) fn qid(&mut self) -> Result<Qid, DecodeError> {
        let a: [u8; 13] = self.array()?;
        Ok(Qid::from_bytes(&a))
    }

    /// Data preceded by a 4-byte count that must not run past the end.
    #[inline]
    pub(crate) fn data32(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        if n > self.remaining() {
            return Err(DecodeError::CountPastEnd);
        }
        self.bytes(n)
    }

    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Writes 9P fields into a slice whose length the caller has already checked
/// against the message's encoded length, so the writes cannot run out.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        let end = self.pos + b.len();
        self.buf[self.pos..end].copy_from_slice(b);
        self.pos = end;
    }

    #[inline]
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    #[inline]
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// A string whose length was validated by `encoded_len`.
    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        self.u16(s.len() as u16);
        self.bytes(s.as_bytes());
    }

    #[inline]
    pub(crate) fn qid(&mut self, q: &Qid) {
        self.bytes(&q.to_bytes());
    }
}
