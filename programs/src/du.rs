//! `du`'s sums over a walk: a directory's usage is the sum of the lengths of the files below
//! it (directories' own lengths are not content, and Plan 9's servers, sysserver and ext4srv
//! report 0 for them anyway), printed after its entries, in KiB rounded up or with `-h` as
//! [`human::size`] does.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::human;
use crate::tree::{Event, WalkError};

/// What `du` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-s`: only each starting path's total.
    pub summary: bool,
    /// `-a`: files too, not only directories.
    pub all: bool,
    /// `-h`: human sizes instead of KiB.
    pub human: bool,
}

/// Goes through a walk's events, calling `line(bytes, path)` for each line `du` prints (each
/// directory after its entries, files with `-a`, and the starting path always) and
/// `error(path, why)` for what could not be read (its bytes are not counted).
pub fn sums<E>(
    events: impl Iterator<Item = Event<E>>,
    options: Options,
    mut line: impl FnMut(u64, &str),
    mut error: impl FnMut(&str, WalkError<E>),
) {
    // The bytes counted so far in each directory being walked, the innermost last.
    let mut open: Vec<u64> = Vec::new();
    for event in events {
        match event {
            Event::File { path, dir, depth } => {
                if let Some(total) = open.last_mut() {
                    *total = total.saturating_add(dir.length);
                }
                if depth == 0 || (options.all && !options.summary) {
                    line(dir.length, &path);
                }
            }
            Event::EnterDir { .. } => open.push(0),
            Event::LeaveDir { path, depth } => {
                let bytes = open.pop().unwrap_or(0);
                if let Some(total) = open.last_mut() {
                    *total = total.saturating_add(bytes);
                }
                if depth == 0 || !options.summary {
                    line(bytes, &path);
                }
            }
            Event::Error { path, error: why } => error(&path, why),
        }
    }
}

/// A line of `du`: the size, a tab and the path.
pub fn line_text(bytes: u64, path: &str, human_sizes: bool) -> String {
    if human_sizes {
        format!("{}\t{path}", human::size(bytes))
    } else {
        format!("{}\t{path}", human::kib(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fake::FakeTree;
    use crate::tree::walk;

    /// What `du` prints for `start` over `tree`, errors as `! PATH: WHY`.
    fn du(tree: &mut FakeTree, start: &str, options: Options) -> Vec<String> {
        let lines = core::cell::RefCell::new(Vec::new());
        sums(
            walk(tree, start, None),
            options,
            |bytes, path| {
                lines
                    .borrow_mut()
                    .push(line_text(bytes, path, options.human))
            },
            |path, why| lines.borrow_mut().push(format!("! {path}: {why}")),
        );
        lines.into_inner()
    }

    fn sample() -> FakeTree {
        FakeTree::new(&[
            ("/m/", 4096),
            ("/m/a/", 4096),
            ("/m/a/one", 1),
            ("/m/a/big", 3 * 1024 * 1024),
            ("/m/b/", 4096),
            ("/m/b/empty/", 0),
            ("/m/b/k", 2048),
            ("/m/top", 100),
        ])
    }

    #[test]
    fn directories_after_their_entries_in_kib_rounded_up() {
        let mut tree = sample();
        assert_eq!(
            du(&mut tree, "/m", Options::default()),
            ["3073\t/m/a", "0\t/m/b/empty", "2\t/m/b", "3075\t/m"]
        );
    }

    #[test]
    fn all_summary_and_human() {
        let mut tree = sample();
        let all = Options {
            all: true,
            ..Default::default()
        };
        assert_eq!(
            du(&mut tree, "/m", all),
            [
                "3072\t/m/a/big",
                "1\t/m/a/one",
                "3073\t/m/a",
                "0\t/m/b/empty",
                "2\t/m/b/k",
                "2\t/m/b",
                "1\t/m/top",
                "3075\t/m"
            ]
        );
        let summary = Options {
            summary: true,
            ..Default::default()
        };
        assert_eq!(du(&mut tree, "/m", summary), ["3075\t/m"]);
        assert_eq!(
            du(&mut tree, "/m/a/one", summary),
            ["1\t/m/a/one"],
            "a file given"
        );
        assert_eq!(du(&mut tree, "/m/top", Options::default()), ["1\t/m/top"]);
        let human = Options {
            summary: true,
            human: true,
            ..Default::default()
        };
        assert_eq!(du(&mut tree, "/m", human), ["3.1M\t/m"]);
        assert_eq!(du(&mut tree, "/m/b", human), ["2.0K\t/m/b"]);
        assert_eq!(du(&mut tree, "/m/top", human), ["100\t/m/top"]);
    }

    #[test]
    fn unreadable_parts_are_reported_and_left_out() {
        let mut tree = sample();
        tree.unreadable.insert("/m/a".into());
        assert_eq!(
            du(&mut tree, "/m", Options::default()),
            [
                "! /m/a: permission denied",
                "0\t/m/a",
                "0\t/m/b/empty",
                "2\t/m/b",
                "3\t/m"
            ]
        );
        assert_eq!(
            du(&mut tree, "/gone", Options::default()),
            ["! /gone: file does not exist"]
        );
    }
}
