//! The mount table: path prefixes mapped to attached trees, longest prefix
//! winning, as in a Plan 9 name space.

use crate::client::{Error, File, Fs};
use crate::codec::{Dir, Stat};
use crate::transport::Transport;
use alloc::string::String;
use alloc::vec::Vec;

/// Lexically cleans an absolute path (Plan 9 cleanname): collapses `//` and
/// `.`, resolves `..` against the elements before it, never climbs above `/`.
pub fn clean_path(path: &str) -> String {
    if is_clean(path) {
        return String::from(path);
    }
    let mut parts: Vec<&str> = Vec::new();
    for e in path.split('/') {
        match e {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            e => parts.push(e),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Whether `path` is already what [`clean_path`] would make of it (the common case, checked
/// without building anything).
pub fn is_clean(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes == b"/" {
        return true;
    }
    if bytes.first() != Some(&b'/') {
        return false;
    }
    // What follows each '/' must be an element that is non-empty and neither "." nor "..":
    // only the bytes right after a slash need a look.
    let mut at = 0;
    while let Some(slash) = bytes[at..].iter().position(|&b| b == b'/') {
        at += slash + 1;
        if matches!(
            bytes[at..],
            [] | [b'/', ..] | [b'.'] | [b'.', b'/', ..] | [b'.', b'.'] | [b'.', b'.', b'/', ..]
        ) {
            return false;
        }
    }
    true
}

/// If `path` lies under `prefix` (element-wise), the rest of it.
fn strip<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix == "/" {
        return Some(path.trim_start_matches('/'));
    }
    let rest = path.strip_prefix(prefix)?;
    match rest.as_bytes().first() {
        None => Some(""),
        Some(b'/') => Some(&rest[1..]),
        Some(_) => None,
    }
}

/// Path prefix -> attached tree. Paths are cleaned before lookup, and the
/// longest mounted prefix that matches whole elements wins: with `/` and
/// `/dev` mounted, `/dev/cons` goes to `/dev` and `/device` to `/`.
pub struct MountTable<T: Transport> {
    /// Sorted longest prefix first.
    mounts: Vec<(String, Fs<T>)>,
}

impl<T: Transport> Default for MountTable<T> {
    fn default() -> Self {
        Self { mounts: Vec::new() }
    }
}

impl<T: Transport> MountTable<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts `fs` at `prefix`, returning the tree it replaces, if any.
    pub fn mount(&mut self, prefix: &str, fs: Fs<T>) -> Option<Fs<T>> {
        let prefix = clean_path(prefix);
        let old = self.unmount(&prefix);
        let at = self
            .mounts
            .iter()
            .position(|(p, _)| p.len() < prefix.len())
            .unwrap_or(self.mounts.len());
        self.mounts.insert(at, (prefix, fs));
        old
    }

    /// Removes the mount at exactly `prefix`.
    pub fn unmount(&mut self, prefix: &str) -> Option<Fs<T>> {
        let prefix = clean_path(prefix);
        let i = self.mounts.iter().position(|(p, _)| *p == prefix)?;
        Some(self.mounts.remove(i).1)
    }

    /// The mounted prefixes, longest first.
    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.mounts.iter().map(|(p, _)| p.as_str())
    }

    /// The tree serving `path`, its mount prefix, and the path inside the tree.
    pub fn resolve(&self, path: &str) -> Option<(&Fs<T>, &str, String)> {
        let path = clean_path(path);
        self.lookup(&path)
            .map(|(fs, prefix, rest)| (fs, prefix, String::from(rest)))
    }

    /// [`resolve`](Self::resolve) for a path that is already clean, borrowing the rest.
    fn lookup<'p>(&self, path: &'p str) -> Option<(&Fs<T>, &str, &'p str)> {
        self.mounts
            .iter()
            .find_map(|(prefix, fs)| strip(path, prefix).map(|rest| (fs, prefix.as_str(), rest)))
    }

    /// Runs `f` on the tree serving `path` and the path inside it. A clean path (the usual
    /// case) is looked up as it is, without building a cleaned copy.
    fn route<R>(
        &self,
        path: &str,
        f: impl FnOnce(&Fs<T>, &str) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let cleaned;
        let path = if is_clean(path) {
            path
        } else {
            cleaned = clean_path(path);
            &cleaned
        };
        match self.lookup(path) {
            Some((fs, _, rest)) => f(fs, rest),
            None => Err(Error::NotFound {
                name: String::from(path),
            }),
        }
    }

    /// Opens `path` on the tree that serves it.
    pub fn open(&self, path: &str, mode: u8) -> Result<File<T>, Error> {
        self.route(path, |fs, rest| fs.open(rest, mode))
    }

    /// Creates `path` on the tree that serves it.
    pub fn create(&self, path: &str, perm: u32, mode: u8) -> Result<File<T>, Error> {
        self.route(path, |fs, rest| fs.create(rest, perm, mode))
    }

    /// Removes `path`.
    pub fn remove(&self, path: &str) -> Result<(), Error> {
        self.route(path, |fs, rest| fs.remove(rest))
    }

    /// Stats `path`.
    pub fn stat(&self, path: &str) -> Result<Dir, Error> {
        self.route(path, |fs, rest| fs.stat(rest))
    }

    /// Stats `path`, handing `f` the borrowed stat (see [`Fs::stat_with`]).
    pub fn stat_with<R>(&self, path: &str, f: impl FnOnce(&Stat<'_>) -> R) -> Result<R, Error> {
        self.route(path, |fs, rest| fs.stat_with(rest, f))
    }

    /// Lists the directory `path`.
    pub fn read_dir(&self, path: &str) -> Result<Vec<Dir>, Error> {
        self.route(path, |fs, rest| fs.read_dir(rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_clean_paths() {
        for clean in [
            "/",
            "/a",
            "/a/b",
            "/dev/cons",
            "/a.b/..c",
            "/.../x",
            "/a/...",
        ] {
            assert!(is_clean(clean), "{clean}");
            assert_eq!(clean_path(clean), clean);
        }
        for dirty in [
            "", "a", "/a/", "//a", "/a//b", "/./a", "/a/.", "/a/../b", "/..", "/.",
        ] {
            assert!(!is_clean(dirty), "{dirty}");
        }
    }

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path(""), "/");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("//a/./b//"), "/a/b");
        assert_eq!(clean_path("/a/../../b"), "/b");
        assert_eq!(clean_path("a/b/.."), "/a");
    }

    #[test]
    fn strips_whole_elements_only() {
        assert_eq!(strip("/dev/cons", "/dev"), Some("cons"));
        assert_eq!(strip("/dev", "/dev"), Some(""));
        assert_eq!(strip("/device", "/dev"), None);
        assert_eq!(strip("/x/y", "/"), Some("x/y"));
    }
}
