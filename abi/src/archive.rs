//! The initial program archive: the user programs embedded in the kernel image.
//!
//! Layout (little-endian):
//! - header: magic `LUX9ARC1` (8 bytes), entry count (u32), reserved (u32, 0);
//! - `count` entries of 48 bytes: name (32 bytes, UTF-8, NUL-padded), offset (u64, from the
//!   start of the archive), length (u64);
//! - the files, each starting at a multiple of 16.
//!
//! `cargo xtask` writes it with [`build`]; the kernel reads it in place with [`Archive`]. Every
//! offset and length is checked, so a damaged archive is an error, never an out-of-bounds read.

use alloc::vec::Vec;

pub const MAGIC: [u8; 8] = *b"LUX9ARC1";
pub const NAME_LEN: usize = 32;
const HEADER_LEN: usize = 16;
const ENTRY_LEN: usize = NAME_LEN + 16;
const FILE_ALIGN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveError {
    /// Shorter than its header or entry table.
    Truncated,
    BadMagic,
    /// An entry's name is empty, too long or not UTF-8.
    BadName,
    /// An entry's data lies outside the archive.
    BadBounds,
    /// Two entries share a name.
    DuplicateName,
}

/// A parsed, validated archive borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    data: &'a [u8],
    count: usize,
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"))
}

impl<'a> Archive<'a> {
    /// Checks the header and every entry.
    pub fn parse(data: &'a [u8]) -> Result<Self, ArchiveError> {
        if data.len() < HEADER_LEN {
            return Err(ArchiveError::Truncated);
        }
        if data[..8] != MAGIC {
            return Err(ArchiveError::BadMagic);
        }
        let count = u32_at(data, 8) as usize;
        let table_end = count
            .checked_mul(ENTRY_LEN)
            .and_then(|len| len.checked_add(HEADER_LEN))
            .ok_or(ArchiveError::Truncated)?;
        if table_end > data.len() {
            return Err(ArchiveError::Truncated);
        }
        let archive = Self { data, count };
        for index in 0..count {
            let (name, _) = archive.entry(index)?;
            if archive.entries_until(index).any(|(other, _)| other == name) {
                return Err(ArchiveError::DuplicateName);
            }
        }
        Ok(archive)
    }

    fn entry(&self, index: usize) -> Result<(&'a str, &'a [u8]), ArchiveError> {
        let at = HEADER_LEN + index * ENTRY_LEN;
        let raw_name = &self.data[at..at + NAME_LEN];
        let name_len = raw_name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        let name =
            core::str::from_utf8(&raw_name[..name_len]).map_err(|_| ArchiveError::BadName)?;
        if name.is_empty() {
            return Err(ArchiveError::BadName);
        }
        let offset = usize::try_from(u64_at(self.data, at + NAME_LEN))
            .map_err(|_| ArchiveError::BadBounds)?;
        let len = usize::try_from(u64_at(self.data, at + NAME_LEN + 8))
            .map_err(|_| ArchiveError::BadBounds)?;
        let end = offset.checked_add(len).ok_or(ArchiveError::BadBounds)?;
        let bytes = self.data.get(offset..end).ok_or(ArchiveError::BadBounds)?;
        Ok((name, bytes))
    }

    fn entries_until(&self, end: usize) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        (0..end).filter_map(|index| self.entry(index).ok())
    }

    /// Every file, in archive order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.entries_until(self.count)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The file called `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.entries()
            .find(|(entry, _)| *entry == name)
            .map(|(_, bytes)| bytes)
    }
}

/// Writes an archive of `files` (name, contents). Names must be 1 to 32 bytes and unique.
pub fn build(files: &[(&str, &[u8])]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut offset = (HEADER_LEN + files.len() * ENTRY_LEN).next_multiple_of(FILE_ALIGN);
    for (index, (name, bytes)) in files.iter().enumerate() {
        if name.is_empty() || name.len() > NAME_LEN || name.contains('\0') {
            return Err(ArchiveError::BadName);
        }
        if files[..index].iter().any(|(other, _)| other == name) {
            return Err(ArchiveError::DuplicateName);
        }
        let mut raw_name = [0u8; NAME_LEN];
        raw_name[..name.len()].copy_from_slice(name.as_bytes());
        out.extend_from_slice(&raw_name);
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        offset = (offset + bytes.len()).next_multiple_of(FILE_ALIGN);
    }
    for (_, bytes) in files {
        out.resize(out.len().next_multiple_of(FILE_ALIGN), 0);
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let files: [(&str, &[u8]); 3] = [
            ("init", b"\x7fELF init"),
            ("hello", b""),
            ("x", &[7u8; 100]),
        ];
        let bytes = build(&files).unwrap();
        let archive = Archive::parse(&bytes).unwrap();
        assert_eq!(archive.len(), 3);
        assert_eq!(archive.get("init"), Some(&b"\x7fELF init"[..]));
        assert_eq!(archive.get("hello"), Some(&b""[..]));
        assert_eq!(archive.get("x").map(|b| b.len()), Some(100));
        assert_eq!(archive.get("nope"), None);
        let names: Vec<_> = archive.entries().map(|(name, _)| name).collect();
        assert_eq!(names, ["init", "hello", "x"]);
        for (_, data) in archive.entries() {
            assert_eq!(
                (data.as_ptr() as usize - bytes.as_ptr() as usize) % FILE_ALIGN,
                0
            );
        }
    }

    #[test]
    fn bad_names_are_refused_when_building() {
        assert_eq!(build(&[("", b"x")]), Err(ArchiveError::BadName));
        assert_eq!(
            build(&[(&"n".repeat(33), b"x")]),
            Err(ArchiveError::BadName)
        );
        assert_eq!(
            build(&[("a", b"x"), ("a", b"y")]),
            Err(ArchiveError::DuplicateName)
        );
        assert!(build(&[(&"n".repeat(32), b"x")]).is_ok());
    }

    #[test]
    fn damage_is_detected() {
        let good = build(&[("init", b"hello world")]).unwrap();
        assert_eq!(
            Archive::parse(&good[..10]).unwrap_err(),
            ArchiveError::Truncated
        );
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(Archive::parse(&bad).unwrap_err(), ArchiveError::BadMagic);
        let mut bad = good.clone();
        bad[8] = 200; // entry count far past the end
        assert_eq!(Archive::parse(&bad).unwrap_err(), ArchiveError::Truncated);
        let mut bad = good.clone();
        bad[HEADER_LEN + NAME_LEN + 8] = 0xff; // length past the end
        assert_eq!(Archive::parse(&bad).unwrap_err(), ArchiveError::BadBounds);
        let mut bad = good.clone();
        bad[HEADER_LEN..HEADER_LEN + NAME_LEN].fill(0);
        assert_eq!(Archive::parse(&bad).unwrap_err(), ArchiveError::BadName);
        assert_eq!(
            Archive::parse(&good[..good.len() - 1]).unwrap_err(),
            ArchiveError::BadBounds
        );
    }

    /// Every single-byte change either still parses or is an error; nothing panics.
    #[test]
    fn every_byte_flip_is_handled() {
        let good = build(&[("init", b"0123456789"), ("two", b"abc")]).unwrap();
        for at in 0..good.len() {
            for value in [0u8, 1, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[at] = value;
                if let Ok(archive) = Archive::parse(&bad) {
                    for (_, data) in archive.entries() {
                        assert!(data.len() <= bad.len());
                    }
                }
            }
        }
    }
}
