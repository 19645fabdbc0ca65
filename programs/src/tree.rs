//! A depth-first walk of a file tree, for `du` and `find`: entries come in name order as
//! events, a directory's before and after its entries; what cannot be read is an event too,
//! and the walk goes on around it. Depth is bounded, so a loop in the name space (a tree
//! mounted inside itself) ends.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Display};

use lib9pclient::codec::{DMDIR, Dir};

use crate::format::natural_cmp;

/// What a walk reads: the name space, or a fake in tests.
pub trait FileTree {
    type Error: Display;
    /// The directory entry of `path`.
    fn stat(&mut self, path: &str) -> Result<Dir, Self::Error>;
    /// The entries of directory `path`, in any order.
    fn read_dir(&mut self, path: &str) -> Result<Vec<Dir>, Self::Error>;
}

/// The process's name space, through the runtime.
pub struct NameSpace;

impl FileTree for NameSpace {
    type Error = lib9pclient::Error;

    fn stat(&mut self, path: &str) -> Result<Dir, Self::Error> {
        lux9_rt::ns::stat(path)
    }

    fn read_dir(&mut self, path: &str) -> Result<Vec<Dir>, Self::Error> {
        lux9_rt::ns::read_dir(path)
    }
}

/// How deep a walk goes below its starting point at most, whatever it was asked: a directory
/// this deep is reported ([`WalkError::TooDeep`]) and not read.
pub const DEPTH_LIMIT: usize = 64;

/// Why part of a tree was not walked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalkError<E> {
    /// The tree refused a stat or a directory read.
    Tree(E),
    /// A directory [`DEPTH_LIMIT`] levels below the start.
    TooDeep,
}

impl<E: Display> Display for WalkError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tree(error) => error.fmt(f),
            Self::TooDeep => write!(
                f,
                "more than {DEPTH_LIMIT} levels deep (a loop?); not descending"
            ),
        }
    }
}

/// One step of a walk. `depth` is 0 for the starting point, 1 for its entries, and so on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<E> {
    /// An entry that is not a directory.
    File {
        path: String,
        dir: Dir,
        depth: usize,
    },
    /// A directory, before its entries.
    EnterDir {
        path: String,
        dir: Dir,
        depth: usize,
    },
    /// The end of the directory entered at `path`: after its entries, or right after
    /// [`Event::EnterDir`] when it was not read (too deep, or an error).
    LeaveDir { path: String, depth: usize },
    /// Something at `path` could not be read; the walk goes on with the rest.
    Error { path: String, error: WalkError<E> },
}

/// A directory being walked: its path, depth and the entries not yet visited.
struct Frame {
    path: String,
    depth: usize,
    entries: alloc::vec::IntoIter<Dir>,
}

/// The events of a walk, as an iterator (see [`walk`]).
pub struct Walk<'t, T: FileTree> {
    tree: &'t mut T,
    /// Read no directory at this depth (`find -maxdepth`).
    max_depth: usize,
    /// The starting point, until the first event.
    start: Option<String>,
    stack: Vec<Frame>,
    /// Events decided but not yet handed out (at most three).
    queue: VecDeque<Event<T::Error>>,
}

/// Walks the tree below `start` (included), reading no directory deeper than `max_depth`
/// (0: the starting point alone) nor than [`DEPTH_LIMIT`]. Entries come sorted by name as
/// `ls` sorts them; a path is its directory's path, a `/` (unless that ends with one) and the
/// name. The starting point's entry is named as the last element of `start`.
pub fn walk<'t, T: FileTree>(
    tree: &'t mut T,
    start: &str,
    max_depth: Option<usize>,
) -> Walk<'t, T> {
    Walk {
        tree,
        max_depth: max_depth.unwrap_or(usize::MAX),
        start: Some(start.into()),
        stack: Vec::new(),
        queue: VecDeque::new(),
    }
}

impl<T: FileTree> Walk<'_, T> {
    /// Queues the events of reaching entry `dir` at `path`, reading it if it is a directory.
    fn visit(&mut self, path: String, dir: Dir, depth: usize) {
        if dir.mode & DMDIR == 0 {
            self.queue.push_back(Event::File { path, dir, depth });
            return;
        }
        self.queue.push_back(Event::EnterDir {
            path: path.clone(),
            dir,
            depth,
        });
        if depth >= self.max_depth {
            self.queue.push_back(Event::LeaveDir { path, depth });
            return;
        }
        let error = if depth >= DEPTH_LIMIT {
            WalkError::TooDeep
        } else {
            match self.tree.read_dir(&path) {
                Ok(mut entries) => {
                    entries.sort_by(|a, b| natural_cmp(&a.name, &b.name));
                    self.stack.push(Frame {
                        path,
                        depth,
                        entries: entries.into_iter(),
                    });
                    return;
                }
                Err(error) => WalkError::Tree(error),
            }
        };
        self.queue.push_back(Event::Error {
            path: path.clone(),
            error,
        });
        self.queue.push_back(Event::LeaveDir { path, depth });
    }
}

impl<T: FileTree> Iterator for Walk<'_, T> {
    type Item = Event<T::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(event) = self.queue.pop_front() {
            return Some(event);
        }
        if let Some(start) = self.start.take() {
            match self.tree.stat(&start) {
                Ok(mut dir) => {
                    dir.name = base_name(&start).into();
                    self.visit(start, dir, 0);
                }
                Err(error) => {
                    return Some(Event::Error {
                        path: start,
                        error: WalkError::Tree(error),
                    });
                }
            }
            return self.queue.pop_front();
        }
        let frame = self.stack.last_mut()?;
        match frame.entries.next() {
            Some(entry) => {
                let path = join(&frame.path, &entry.name);
                let depth = frame.depth + 1;
                self.visit(path, entry, depth);
                self.queue.pop_front()
            }
            None => {
                let frame = self.stack.pop()?;
                Some(Event::LeaveDir {
                    path: frame.path,
                    depth: frame.depth,
                })
            }
        }
    }
}

/// `dir/name`, without doubling a `/` that `dir` ends with.
pub fn join(dir: &str, name: &str) -> String {
    let mut path = String::with_capacity(dir.len() + 1 + name.len());
    path.push_str(dir);
    if !dir.ends_with('/') {
        path.push('/');
    }
    path.push_str(name);
    path
}

/// The last element of `path`: `c` for `/a/b/c` and `/a/b/c/`, `/` for `/`, `.` for `.`.
pub fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "" } else { "/" };
    }
    match trimmed.rfind('/') {
        Some(slash) => &trimmed[slash + 1..],
        None => trimmed,
    }
}

/// A file tree in memory, for the tests of the walk and of the programs built on it.
#[cfg(test)]
pub mod fake {
    use super::FileTree;
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use lib9pclient::codec::{DMDIR, Dir};

    /// Paths to entries; a directory's entries are the paths one element below it.
    #[derive(Default)]
    pub struct FakeTree {
        entries: BTreeMap<String, Dir>,
        /// Directories whose reads fail.
        pub unreadable: BTreeSet<String>,
    }

    impl FakeTree {
        /// A tree of directories (paths ending in `/`) and files with lengths, e.g.
        /// `[("/a/", 0), ("/a/f", 10)]`; `/` is always there.
        pub fn new(paths: &[(&str, u64)]) -> Self {
            let mut tree = Self::default();
            tree.add("/", true, 0);
            for &(path, length) in paths {
                let is_dir = path.ends_with('/') && path != "/";
                tree.add(path.trim_end_matches('/'), is_dir, length);
            }
            tree
        }

        fn add(&mut self, path: &str, is_dir: bool, length: u64) {
            let dir = Dir {
                name: super::base_name(path).to_string(),
                mode: if is_dir { DMDIR | 0o755 } else { 0o644 },
                length,
                ..Default::default()
            };
            self.entries.insert(path.to_string(), dir);
        }
    }

    impl FileTree for FakeTree {
        type Error = String;

        fn stat(&mut self, path: &str) -> Result<Dir, String> {
            let path = if path == "/" {
                path
            } else {
                path.trim_end_matches('/')
            };
            self.entries
                .get(path)
                .cloned()
                .ok_or_else(|| "file does not exist".into())
        }

        fn read_dir(&mut self, path: &str) -> Result<Vec<Dir>, String> {
            if self.unreadable.contains(path) {
                return Err("permission denied".into());
            }
            let prefix = super::join(path, "");
            // Reversed, so that the walk's sorting is what puts them in order.
            Ok(self
                .entries
                .iter()
                .rev()
                .filter(|(p, _)| {
                    p.strip_prefix(prefix.as_str())
                        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                })
                .map(|(_, d)| d.clone())
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeTree;
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    /// The events as short strings: `f PATH DEPTH`, `> PATH DEPTH`, `< PATH DEPTH`, `! PATH: WHY`.
    fn events(tree: &mut FakeTree, start: &str, max_depth: Option<usize>) -> Vec<String> {
        walk(tree, start, max_depth)
            .map(|event| match event {
                Event::File { path, dir, depth } => {
                    assert_eq!(dir.name, base_name(&path));
                    format!("f {path} {depth}")
                }
                Event::EnterDir { path, depth, .. } => format!("> {path} {depth}"),
                Event::LeaveDir { path, depth } => format!("< {path} {depth}"),
                Event::Error { path, error } => format!("! {path}: {error}"),
            })
            .collect()
    }

    fn sample() -> FakeTree {
        FakeTree::new(&[
            ("/a/", 0),
            ("/a/x10", 1),
            ("/a/x9", 2),
            ("/a/sub/", 0),
            ("/a/sub/deep", 3),
            ("/b", 4),
        ])
    }

    #[test]
    fn walks_depth_first_in_name_order() {
        let mut tree = sample();
        assert_eq!(
            events(&mut tree, "/", None),
            [
                "> / 0",
                "> /a 1",
                "> /a/sub 2",
                "f /a/sub/deep 3",
                "< /a/sub 2",
                "f /a/x9 2",
                "f /a/x10 2",
                "< /a 1",
                "f /b 1",
                "< / 0",
            ]
        );
        assert_eq!(events(&mut tree, "/b", None), ["f /b 0"]);
        assert_eq!(
            events(&mut tree, "/a/sub/", None),
            ["> /a/sub/ 0", "f /a/sub/deep 1", "< /a/sub/ 0"],
            "a trailing slash is kept and not doubled"
        );
    }

    #[test]
    fn max_depth_stops_reading() {
        let mut tree = sample();
        assert_eq!(events(&mut tree, "/a", Some(0)), ["> /a 0", "< /a 0"]);
        assert_eq!(
            events(&mut tree, "/a", Some(1)),
            [
                "> /a 0",
                "> /a/sub 1",
                "< /a/sub 1",
                "f /a/x9 1",
                "f /a/x10 1",
                "< /a 0"
            ]
        );
    }

    #[test]
    fn errors_are_events_and_the_walk_goes_on() {
        let mut tree = sample();
        tree.unreadable.insert("/a/sub".into());
        assert_eq!(
            events(&mut tree, "/a", None),
            [
                "> /a 0",
                "> /a/sub 1",
                "! /a/sub: permission denied",
                "< /a/sub 1",
                "f /a/x9 1",
                "f /a/x10 1",
                "< /a 0",
            ]
        );
        assert_eq!(
            events(&mut tree, "/nope", None),
            ["! /nope: file does not exist"]
        );
    }

    #[test]
    fn depth_is_bounded() {
        // A chain of directories deeper than the limit, as a name-space loop would look.
        let mut paths = Vec::new();
        let mut path = String::new();
        for _ in 0..DEPTH_LIMIT + 5 {
            path += "/d";
            paths.push(format!("{path}/"));
        }
        let owned: Vec<(&str, u64)> = paths.iter().map(|p| (p.as_str(), 0)).collect();
        let mut tree = FakeTree::new(&owned);
        let all = events(&mut tree, "/d", None);
        let errors: Vec<&String> = all.iter().filter(|e| e.starts_with('!')).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].ends_with("more than 64 levels deep (a loop?); not descending"));
        let enters = all.iter().filter(|e| e.starts_with('>')).count();
        let leaves = all.iter().filter(|e| e.starts_with('<')).count();
        assert_eq!(enters, DEPTH_LIMIT + 1, "depths 0 to the limit");
        assert_eq!(leaves, enters, "every directory entered is left");
    }

    #[test]
    fn paths_and_names() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(join("a/", "b"), "a/b");
        assert_eq!(join(".", "b"), "./b");
        assert_eq!(base_name("/a/b/c"), "c");
        assert_eq!(base_name("/a/b/c//"), "c");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("//"), "/");
        assert_eq!(base_name("."), ".");
        assert_eq!(base_name("x"), "x");
        assert_eq!(base_name(""), "");
        let error: WalkError<String> = WalkError::Tree("gone".to_string());
        assert_eq!(error.to_string(), "gone");
    }
}
