//! Small text helpers shared by the trees.

use alloc::string::String;

/// `s` ending in exactly the newline it needs: unchanged if empty or already ending in one.
pub fn line(s: &str) -> String {
    let mut out = String::from(s);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `s` with control characters (newlines included) shown as `?`, so a value cannot break
/// the one-`name value`-per-line format.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(line(""), "");
        assert_eq!(line("a"), "a\n");
        assert_eq!(line("a\n"), "a\n");
        assert_eq!(one_line("a\nb\tc d"), "a?b?c d");
    }
}
