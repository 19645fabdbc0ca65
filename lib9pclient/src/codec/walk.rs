//! Walk names and qids: borrowed from the caller when encoding, and left in
//! the (already validated) input when decoding, so neither direction
//! allocates or copies 16-slot arrays around.

use super::cursor::Writer;
use super::{MAXWELEM, Qid};
use core::fmt;

/// More than [`MAXWELEM`] elements were given for one Twalk or Rwalk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyElements;

impl fmt::Display for TooManyElements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("more than 16 walk elements")
    }
}

impl core::error::Error for TooManyElements {}

#[derive(Clone, Copy)]
enum Names<'a> {
    Slice(&'a [&'a str]),
    /// `count` strings s[2] back to back, each checked to be UTF-8 by the decoder.
    Wire {
        bytes: &'a [u8],
        count: u8,
    },
}

/// The names of one Twalk: at most 16.
#[derive(Clone, Copy)]
pub struct WalkNames<'a>(Names<'a>);

impl<'a> WalkNames<'a> {
    /// Names for one Twalk; fails if there are more than 16.
    pub fn new(names: &'a [&'a str]) -> Result<Self, TooManyElements> {
        if names.len() > MAXWELEM {
            return Err(TooManyElements);
        }
        Ok(Self(Names::Slice(names)))
    }

    pub(crate) fn from_wire(bytes: &'a [u8], count: u8) -> Self {
        Self(Names::Wire { bytes, count })
    }

    /// How many names.
    pub fn len(&self) -> usize {
        match self.0 {
            Names::Slice(s) => s.len(),
            Names::Wire { count, .. } => count as usize,
        }
    }

    /// Whether there are no names (a Twalk that clones the fid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names in order.
    pub fn iter(&self) -> WalkNamesIter<'a> {
        WalkNamesIter(self.0, 0)
    }

    /// Bytes the names take on the wire (each with its length prefix).
    pub(crate) fn names_len(&self) -> usize {
        match self.0 {
            Names::Slice(s) => s.iter().map(|n| 2 + n.len()).sum(),
            Names::Wire { bytes, .. } => bytes.len(),
        }
    }

    /// Writes the names (lengths checked by the encoder).
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        match self.0 {
            Names::Slice(s) => s.iter().for_each(|n| w.str(n)),
            Names::Wire { bytes, .. } => w.bytes(bytes),
        }
    }

    /// The `i`th name.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.iter().nth(i)
    }
}

impl Default for WalkNames<'_> {
    fn default() -> Self {
        Self(Names::Slice(&[]))
    }
}

/// Iterator over [`WalkNames`].
pub struct WalkNamesIter<'a>(Names<'a>, usize);

impl<'a> Iterator for WalkNamesIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match &mut self.0 {
            Names::Slice(s) => {
                let n = s.get(self.1).copied();
                self.1 += 1;
                n
            }
            Names::Wire { bytes, count } => {
                if *count == 0 {
                    return None;
                }
                *count -= 1;
                let len = match bytes {
                    [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
                    _ => return None,
                };
                let s = bytes.get(2..2 + len)?;
                *bytes = &bytes[2 + len..];
                // Validated by the decoder; the check cannot fail.
                core::str::from_utf8(s).ok()
            }
        }
    }
}

impl<'a> IntoIterator for &WalkNames<'a> {
    type Item = &'a str;
    type IntoIter = WalkNamesIter<'a>;
    fn into_iter(self) -> WalkNamesIter<'a> {
        self.iter()
    }
}

impl PartialEq for WalkNames<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for WalkNames<'_> {}

impl fmt::Debug for WalkNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[derive(Clone, Copy)]
enum Qids<'a> {
    Slice(&'a [Qid]),
    /// `count` 13-byte qids back to back.
    Wire(&'a [u8]),
}

/// The qids of one Rwalk: at most 16.
#[derive(Clone, Copy)]
pub struct WalkQids<'a>(Qids<'a>);

impl<'a> WalkQids<'a> {
    /// Qids for one Rwalk; fails if there are more than 16.
    pub fn new(qids: &'a [Qid]) -> Result<Self, TooManyElements> {
        if qids.len() > MAXWELEM {
            return Err(TooManyElements);
        }
        Ok(Self(Qids::Slice(qids)))
    }

    pub(crate) fn from_wire(bytes: &'a [u8]) -> Self {
        Self(Qids::Wire(bytes))
    }

    /// How many qids.
    pub fn len(&self) -> usize {
        match self.0 {
            Qids::Slice(s) => s.len(),
            Qids::Wire(b) => b.len() / Qid::SIZE,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th qid.
    pub fn get(&self, i: usize) -> Option<Qid> {
        match self.0 {
            Qids::Slice(s) => s.get(i).copied(),
            Qids::Wire(b) => {
                let chunk = b.get(i * Qid::SIZE..(i + 1) * Qid::SIZE)?;
                chunk.try_into().ok().map(Qid::from_bytes)
            }
        }
    }

    /// The last qid: where the walk arrived.
    pub fn last(&self) -> Option<Qid> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The qids in order.
    pub fn iter(&self) -> impl Iterator<Item = Qid> + 'a {
        let me = *self;
        (0..me.len()).filter_map(move |i| me.get(i))
    }
}

impl Default for WalkQids<'_> {
    fn default() -> Self {
        Self(Qids::Slice(&[]))
    }
}

impl PartialEq for WalkQids<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for WalkQids<'_> {}

impl fmt::Debug for WalkQids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
