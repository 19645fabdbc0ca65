//! Shell-style name patterns, for `find -name`: `*` matches any run of characters (none
//! included), `?` any one character, `[...]` one character of a set (`[abc]`, ranges such as
//! `[a-z0-9]`, `[!...]` or `[^...]` for the complement; a `]` right after the `[` or the `!` is
//! a member), and `\` makes the next character literal. A `[` without its `]` is literal.
//! A leading `.` needs no special match, as in `find`.

use alloc::vec::Vec;

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    Any,
    /// `*`
    Star,
    /// `[...]`: inclusive ranges (a single character is a range of one).
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    /// Whether this token (not a star) matches `c`.
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Char(want) => *want == c,
            Token::Any => true,
            Token::Star => false,
            Token::Set { negated, ranges } => {
                ranges.iter().any(|&(low, high)| low <= c && c <= high) != *negated
            }
        }
    }
}

impl Glob {
    /// Compiles `pattern`; every pattern is valid (see the module documentation).
    pub fn new(pattern: &str) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut at = 0;
        while at < chars.len() {
            let token = match chars[at] {
                '*' => Token::Star,
                '?' => Token::Any,
                '\\' if at + 1 < chars.len() => {
                    at += 1;
                    Token::Char(chars[at])
                }
                '[' => match set(&chars[at + 1..]) {
                    Some((token, used)) => {
                        at += used;
                        token
                    }
                    None => Token::Char('['),
                },
                c => Token::Char(c),
            };
            // Consecutive stars match what one does.
            if !(token == Token::Star && tokens.last() == Some(&Token::Star)) {
                tokens.push(token);
            }
            at += 1;
        }
        Self { tokens }
    }

    /// Whether the whole of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let tokens = &self.tokens;
        let (mut t, mut n) = (0, 0);
        // The last star seen and the name position it was tried at: on a mismatch the star
        // takes one more character and matching resumes after it. One star to return to is
        // enough: a later star can absorb whatever an earlier one would have.
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    star = Some((t, n));
                    t += 1;
                }
                Some(token) if token.matches(name[n]) => {
                    t += 1;
                    n += 1;
                }
                _ => match star {
                    Some((star_t, star_n)) => {
                        star = Some((star_t, star_n + 1));
                        t = star_t + 1;
                        n = star_n + 1;
                    }
                    None => return false,
                },
            }
        }
        tokens[t..].iter().all(|token| *token == Token::Star)
    }
}

/// The set after a `[` in `rest`: the token and how many characters it used, its `]`
/// included; `None` if the set has no closing `]`.
fn set(rest: &[char]) -> Option<(Token, usize)> {
    let mut at = 0;
    let negated = matches!(rest.first(), Some('!' | '^'));
    if negated {
        at += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut low = *rest.get(at)?;
        if low == ']' && !first {
            return Some((Token::Set { negated, ranges }, at + 1));
        }
        first = false;
        if low == '\\' {
            at += 1;
            low = *rest.get(at)?;
        }
        at += 1;
        // `a-z`, unless the `-` is the last member (`[a-]`).
        if rest.get(at) == Some(&'-') && rest.get(at + 1).is_some_and(|&c| c != ']') {
            let mut high = rest[at + 1];
            at += 2;
            if high == '\\' {
                high = *rest.get(at)?;
                at += 1;
            }
            ranges.push((low, high));
        } else {
            ranges.push((low, low));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        let glob = Glob::new(pattern);
        for name in yes {
            assert!(glob.matches(name), "{pattern:?} should match {name:?}");
        }
        for name in no {
            assert!(!glob.matches(name), "{pattern:?} should not match {name:?}");
        }
    }

    #[test]
    fn literals_and_question_marks() {
        check(
            "hello.txt",
            &["hello.txt"],
            &["hello", "hello.txt2", "Hello.txt", ""],
        );
        check("", &[""], &["a"]);
        check("?", &["a", "é", "?"], &["", "ab"]);
        check("a?c", &["abc", "a.c"], &["ac", "abbc"]);
    }

    #[test]
    fn stars() {
        check("*", &["", "a", ".hidden", "anything at all"], &[]);
        check(
            "*.txt",
            &["a.txt", ".txt", "a.b.txt"],
            &["a.txt.gz", "txt", "a.tx"],
        );
        check("a*", &["a", "abc"], &["ba", ""]);
        check("*a*b*", &["ab", "xaxbx", "ba-ab"], &["ba", "a", "b"]);
        check("a**b", &["ab", "axxb"], &["a", "ba"]);
        check("*x*y*z", &["xyz", "axbyczxyz"], &["xzy", "xyzq"]);
        // Backtracking past a partial match.
        check("*aab", &["aaab", "aab", "xaaaab"], &["aaba", "ab"]);
    }

    #[test]
    fn sets() {
        check("[abc]", &["a", "b", "c"], &["d", "", "ab"]);
        check("[a-c0-9]x", &["bx", "7x"], &["dx", "-x", "x"]);
        check("[!a-c]", &["d", "-"], &["a", "b", ""]);
        check("[^a]", &["b"], &["a"]);
        check("[]]", &["]"], &["a"]);
        check("[!]]", &["a"], &["]"]);
        check("[a-]", &["a", "-"], &["b"]);
        check("[\\]]", &["]"], &["\\"]);
        check(
            "file[0-9][0-9].log",
            &["file01.log"],
            &["file1.log", "filea1.log"],
        );
        check("[[]", &["["], &["a"]);
    }

    #[test]
    fn unclosed_sets_and_escapes_are_literal() {
        check("[abc", &["[abc"], &["a"]);
        check("a[", &["a["], &["a"]);
        check("\\*", &["*"], &["a", ""]);
        check("\\?x", &["?x"], &["ax"]);
        check("a\\", &["a\\"], &["a"]);
        check("[!", &["[!"], &["a"]);
    }

    #[test]
    fn long_names_do_not_blow_up() {
        // Many stars against a long name that almost matches: the one-star backtracking
        // keeps this linear in practice.
        let name: String = core::iter::repeat_n('a', 2000).collect();
        assert!(!Glob::new("*a*a*a*a*a*b").matches(&name));
        assert!(Glob::new("*a*a*a*a*a").matches(&name));
    }
}
