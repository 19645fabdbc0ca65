//! `find`'s command line and its test of an entry. The starting paths come first, then the
//! expression: `-name GLOB` (the entry's name matches [`Glob`]; given twice, both must),
//! `-type f` or `-type d` (not a directory, or a directory), `-maxdepth N` (read no directory
//! deeper than N below a starting path), `-print` (print the path: the only action, and what
//! happens without one). Every test must hold for a path to be printed.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use lib9pclient::codec::{DMDIR, Dir};

use crate::glob::Glob;

/// What `-type` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `f`: anything but a directory (9P has no links or devices).
    File,
    /// `d`
    Directory,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The starting paths (`.` if none was given).
    pub paths: Vec<String>,
    names: Vec<Glob>,
    kind: Option<Kind>,
    /// `-maxdepth`.
    pub max_depth: Option<usize>,
}

/// What the arguments ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Help,
    Run(Query),
}

/// A usage error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindError {
    /// A word starting with `-` that is not a primary.
    UnknownPrimary(String),
    /// A primary whose argument is missing.
    MissingArgument(&'static str),
    /// `-type` with something other than `f` or `d`.
    BadType(String),
    /// `-maxdepth` with something other than a number.
    BadDepth(String),
    /// A path after the expression began.
    PathAfterExpression(String),
}

impl fmt::Display for FindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPrimary(word) => write!(f, "unknown primary {word}"),
            Self::MissingArgument(primary) => write!(f, "{primary} needs an argument"),
            Self::BadType(word) => write!(f, "-type {word}: f or d expected"),
            Self::BadDepth(word) => write!(f, "-maxdepth {word}: a number expected"),
            Self::PathAfterExpression(word) => {
                write!(f, "{word}: paths must come before the expression")
            }
        }
    }
}

/// Parses `find`'s words (already split). `--help` where a primary may stand asks for help.
pub fn parse(words: Vec<String>) -> Result<Parsed, FindError> {
    let mut query = Query {
        paths: Vec::new(),
        names: Vec::new(),
        kind: None,
        max_depth: None,
    };
    let mut words = words.into_iter().peekable();
    while let Some(word) = words.next_if(|w| !w.starts_with('-') || w == "-") {
        query.paths.push(word);
    }
    while let Some(word) = words.next() {
        let mut argument =
            |primary: &'static str| words.next().ok_or(FindError::MissingArgument(primary));
        match word.as_str() {
            "--help" => return Ok(Parsed::Help),
            "-name" => query.names.push(Glob::new(&argument("-name")?)),
            "-type" => {
                query.kind = Some(match argument("-type")?.as_str() {
                    "f" => Kind::File,
                    "d" => Kind::Directory,
                    other => return Err(FindError::BadType(other.into())),
                })
            }
            "-maxdepth" => {
                let depth = argument("-maxdepth")?;
                query.max_depth = Some(depth.parse().map_err(|_| FindError::BadDepth(depth))?);
            }
            "-print" => {}
            _ if word.starts_with('-') => return Err(FindError::UnknownPrimary(word)),
            _ => return Err(FindError::PathAfterExpression(word)),
        }
    }
    if query.paths.is_empty() {
        query.paths.push(".".into());
    }
    Ok(Parsed::Run(query))
}

impl Query {
    /// Whether the entry passes every test (its name is the last element of its path).
    pub fn matches(&self, dir: &Dir) -> bool {
        let is_dir = dir.mode & DMDIR != 0;
        let kind_ok = match self.kind {
            None => true,
            Some(Kind::File) => !is_dir,
            Some(Kind::Directory) => is_dir,
        };
        kind_ok && self.names.iter().all(|glob| glob.matches(&dir.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fake::FakeTree;
    use crate::tree::{Event, walk};
    use alloc::string::ToString;

    fn words(line: &str) -> Vec<String> {
        crate::args::split(line).unwrap()
    }

    fn query(line: &str) -> Query {
        match parse(words(line)).unwrap() {
            Parsed::Run(query) => query,
            Parsed::Help => panic!("help for {line:?}"),
        }
    }

    /// What `find LINE` prints over `tree`.
    fn find(tree: &mut FakeTree, line: &str) -> Vec<String> {
        let query = query(line);
        let mut printed = Vec::new();
        for path in &query.paths {
            for event in walk(tree, path, query.max_depth) {
                match event {
                    Event::File { path, dir, .. } | Event::EnterDir { path, dir, .. }
                        if query.matches(&dir) =>
                    {
                        printed.push(path)
                    }
                    Event::Error { path, error } => {
                        printed.push(alloc::format!("! {path}: {error}"))
                    }
                    _ => {}
                }
            }
        }
        printed
    }

    fn sample() -> FakeTree {
        FakeTree::new(&[
            ("/src/", 0),
            ("/src/main.rs", 10),
            ("/src/lib.rs", 20),
            ("/src/bin/", 0),
            ("/src/bin/ls.rs", 30),
            ("/README.md", 5),
        ])
    }

    #[test]
    fn parses_paths_then_primaries() {
        let q = query("/a b -name '*.rs' -type f -maxdepth 2 -print");
        assert_eq!(q.paths, ["/a", "b"]);
        assert_eq!(q.names, [Glob::new("*.rs")]);
        assert_eq!(q.kind, Some(Kind::File));
        assert_eq!(q.max_depth, Some(2));
        assert_eq!(query("").paths, ["."]);
        assert_eq!(query("-type d").paths, ["."]);
        assert_eq!(query("- x").paths, ["-", "x"], "a lone dash is a path");
        assert_eq!(parse(words("--help")), Ok(Parsed::Help));
        assert_eq!(parse(words(". -type d --help")), Ok(Parsed::Help));
        assert!(matches!(parse(words("-name --help")), Ok(Parsed::Run(_))));
    }

    #[test]
    fn usage_errors() {
        let error = |line: &str| parse(words(line)).unwrap_err().to_string();
        assert_eq!(error("-size 3"), "unknown primary -size");
        assert_eq!(error(". -name"), "-name needs an argument");
        assert_eq!(error("-type"), "-type needs an argument");
        assert_eq!(error("-type l"), "-type l: f or d expected");
        assert_eq!(error("-maxdepth x"), "-maxdepth x: a number expected");
        assert_eq!(error("-maxdepth -1"), "-maxdepth -1: a number expected");
        assert_eq!(
            error("-print /a"),
            "/a: paths must come before the expression"
        );
    }

    #[test]
    fn prints_what_matches() {
        let mut tree = sample();
        assert_eq!(
            find(&mut tree, "/"),
            [
                "/",
                "/README.md",
                "/src",
                "/src/bin",
                "/src/bin/ls.rs",
                "/src/lib.rs",
                "/src/main.rs"
            ]
        );
        assert_eq!(
            find(&mut tree, "/src -name '*.rs'"),
            ["/src/bin/ls.rs", "/src/lib.rs", "/src/main.rs"]
        );
        assert_eq!(find(&mut tree, "/ -type d"), ["/", "/src", "/src/bin"]);
        assert_eq!(
            find(&mut tree, "/src -type f -maxdepth 1"),
            ["/src/lib.rs", "/src/main.rs"]
        );
        assert_eq!(find(&mut tree, "/src -maxdepth 0"), ["/src"]);
        assert_eq!(
            find(&mut tree, "/src -name '*.rs' -name 'l*'"),
            ["/src/bin/ls.rs", "/src/lib.rs"],
            "every -name must match"
        );
        assert_eq!(
            find(&mut tree, "/src/ -name src"),
            ["/src/"],
            "the starting point's name"
        );
        assert_eq!(
            find(&mut tree, "/README.md /src/lib.rs"),
            ["/README.md", "/src/lib.rs"]
        );
    }

    #[test]
    fn errors_are_reported_and_the_rest_found() {
        let mut tree = sample();
        tree.unreadable.insert("/src/bin".into());
        assert_eq!(
            find(&mut tree, "/nope /src -type f"),
            [
                "! /nope: file does not exist",
                "! /src/bin: permission denied",
                "/src/lib.rs",
                "/src/main.rs"
            ]
        );
    }
}
