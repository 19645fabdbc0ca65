//! The shell's command history: the last lines entered, oldest first, bounded.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};

/// How many lines the shell remembers.
pub const DEFAULT_LIMIT: usize = 100;

#[derive(Clone, Debug)]
pub struct History {
    entries: VecDeque<String>,
    limit: usize,
}

impl History {
    /// A history keeping at most `limit` lines (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Remembers `line`, unless it is blank or repeats the newest entry; forgets the oldest
    /// entry when full.
    pub fn push(&mut self, line: &str) {
        if line.trim().is_empty() || self.entries.back().is_some_and(|last| last == line) {
            return;
        }
        if self.entries.len() == self.limit {
            self.entries.pop_front();
        }
        self.entries.push_back(line.to_string());
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entry `index`, 0 being the oldest.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(String::as_str)
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new(DEFAULT_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    fn all(history: &History) -> Vec<&str> {
        (0..history.len()).filter_map(|i| history.get(i)).collect()
    }

    #[test]
    fn skips_blank_lines_and_consecutive_duplicates() {
        let mut history = History::new(10);
        for line in ["ls", "ls", "", "   ", "ps", "ls", "ls"] {
            history.push(line);
        }
        assert_eq!(all(&history), ["ls", "ps", "ls"]);
    }

    #[test]
    fn is_bounded() {
        let mut history = History::default();
        for i in 0..250 {
            history.push(&format!("echo {i}"));
        }
        assert_eq!(history.len(), DEFAULT_LIMIT);
        assert_eq!(history.get(0), Some("echo 150"));
        assert_eq!(history.get(99), Some("echo 249"));
        assert_eq!(history.get(100), None);
        let mut one = History::new(0);
        one.push("a");
        one.push("b");
        assert_eq!(all(&one), ["b"]);
    }
}
