//! Fixed-capacity lists of walk names and qids, so decoding Twalk/Rwalk never allocates.

use super::{MAXWELEM, Qid};
use core::fmt;
use core::ops::Deref;

/// More than [`MAXWELEM`] elements were given for one Twalk or Rwalk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyElements;

impl fmt::Display for TooManyElements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("more than 16 walk elements")
    }
}

impl core::error::Error for TooManyElements {}

/// Up to 16 names of one Twalk, borrowed from the caller or from the input.
#[derive(Clone, Copy)]
pub struct WalkNames<'a> {
    len: u8,
    names: [&'a str; MAXWELEM],
}

impl<'a> WalkNames<'a> {
    /// Names for one Twalk; fails if there are more than 16.
    pub fn new(names: &[&'a str]) -> Result<Self, TooManyElements> {
        if names.len() > MAXWELEM {
            return Err(TooManyElements);
        }
        let mut out = Self::default();
        out.names[..names.len()].copy_from_slice(names);
        out.len = names.len() as u8;
        Ok(out)
    }

    /// Appends a name; fails once 16 are held.
    pub fn push(&mut self, name: &'a str) -> Result<(), TooManyElements> {
        let slot = self
            .names
            .get_mut(self.len as usize)
            .ok_or(TooManyElements)?;
        *slot = name;
        self.len += 1;
        Ok(())
    }
}

impl Default for WalkNames<'_> {
    fn default() -> Self {
        Self {
            len: 0,
            names: [""; MAXWELEM],
        }
    }
}

impl<'a> Deref for WalkNames<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &[&'a str] {
        &self.names[..self.len as usize]
    }
}

impl PartialEq for WalkNames<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for WalkNames<'_> {}

impl fmt::Debug for WalkNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Up to 16 qids of one Rwalk.
#[derive(Clone, Copy)]
pub struct WalkQids {
    len: u8,
    qids: [Qid; MAXWELEM],
}

impl WalkQids {
    /// Qids for one Rwalk; fails if there are more than 16.
    pub fn new(qids: &[Qid]) -> Result<Self, TooManyElements> {
        if qids.len() > MAXWELEM {
            return Err(TooManyElements);
        }
        let mut out = Self::default();
        out.qids[..qids.len()].copy_from_slice(qids);
        out.len = qids.len() as u8;
        Ok(out)
    }

    /// Appends a qid; fails once 16 are held.
    pub fn push(&mut self, qid: Qid) -> Result<(), TooManyElements> {
        let slot = self
            .qids
            .get_mut(self.len as usize)
            .ok_or(TooManyElements)?;
        *slot = qid;
        self.len += 1;
        Ok(())
    }
}

impl Default for WalkQids {
    fn default() -> Self {
        Self {
            len: 0,
            qids: [Qid::default(); MAXWELEM],
        }
    }
}

impl Deref for WalkQids {
    type Target = [Qid];
    fn deref(&self) -> &[Qid] {
        &self.qids[..self.len as usize]
    }
}

impl PartialEq for WalkQids {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for WalkQids {}

impl fmt::Debug for WalkQids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
