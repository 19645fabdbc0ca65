//! Arguments every program shares: splitting the argument string into words, quoting words
//! back into one, and a small option parser with a consistent usage and `--help` text.
//!
//! Options follow POSIX: single letters after `-`, combinable (`-ln`); the first operand or
//! `--` ends them, and `-` alone is an operand. `--help` asks for the help text. An option
//! that takes a value has it in the rest of its word or in the next word (`-n5`, `-n 5`,
//! `-vn5`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::lex::{self, LexError, Mode, Token};

/// Splits an argument string into words, honouring quotes and backslashes (see [`crate::lex`]).
pub fn split(args: &str) -> Result<Vec<String>, LexError> {
    Ok(lex::lex(args, Mode::Arguments)?
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(word.text),
            _ => None,
        })
        .collect())
}

/// Characters that need no quoting, in the shell or in [`split`].
fn is_plain(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "-_./:=,+@%^~".contains(ch)
}

/// `word` quoted so that [`split`] (and the shell) read it back as one word, unchanged.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_plain) {
        return word.to_string();
    }
    // Inside single quotes everything is literal; a single quote itself closes the quotes,
    // is escaped, and reopens them.
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The words quoted and joined with spaces: the inverse of [`split`].
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| quote(word.as_ref())).collect();
    quoted.join(" ")
}

/// What a program says about itself, for `--help` and usage errors.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub name: &'static str,
    /// What follows the name in the usage line, e.g. `[-l] [path...]`.
    pub synopsis: &'static str,
    /// One or two sentences on what the program does.
    pub about: &'static str,
    /// The option letters the program accepts, with what each does.
    pub flags: &'static [(char, &'static str)],
    /// The options that take a value: letter, the value's name in the help (`N`), what it does.
    pub values: &'static [(char, &'static str, &'static str)],
}

impl Usage {
    /// `usage: NAME SYNOPSIS`.
    pub fn line(&self) -> String {
        if self.synopsis.is_empty() {
            format!("usage: {}", self.name)
        } else {
            format!("usage: {} {}", self.name, self.synopsis)
        }
    }

    /// The whole `--help` text: usage line, description, options.
    pub fn help(&self) -> String {
        let mut text = format!("{}\n\n{}\n\noptions:\n", self.line(), self.about);
        for (flag, what) in self.flags {
            text += &format!("  -{flag}      {what}\n");
        }
        for (flag, value, what) in self.values {
            let option = format!("-{flag} {value}");
            text += &format!("  {option:<6}  {what}\n");
        }
        text += "  --help  show this help\n";
        text
    }

    fn knows(&self, flag: char) -> bool {
        self.flags.iter().any(|(known, _)| *known == flag) || self.takes_value(flag)
    }

    fn takes_value(&self, flag: char) -> bool {
        self.values.iter().any(|(known, _, _)| *known == flag)
    }
}

/// The options and operands of a command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    flags: Vec<char>,
    /// The values of the options that take one, in the order given.
    values: Vec<(char, String)>,
    pub operands: Vec<String>,
}

impl Options {
    /// Whether option `-flag` was given (with or without a value).
    pub fn has(&self, flag: char) -> bool {
        self.flags.contains(&flag)
    }

    /// The value of option `-flag`; the last one counts when it was given several times.
    pub fn value(&self, flag: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(known, _)| *known == flag)
            .map(|(_, value)| value.as_str())
    }

    /// Every option value as `(letter, value)`, in the order given.
    pub fn values(&self) -> impl Iterator<Item = (char, &str)> {
        self.values
            .iter()
            .map(|(flag, value)| (*flag, value.as_str()))
    }
}

/// What the arguments ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Help,
    Run(Options),
}

/// A usage error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgError {
    Split(LexError),
    UnknownOption(String),
    /// An option that takes a value came last, without one.
    MissingValue(char),
    /// An option's value that the program cannot use: the letter, the value, what is wrong.
    BadValue(char, String, &'static str),
    /// Operands that do not fit the synopsis (a program's own check).
    Operands(&'static str),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Split(error) => write!(f, "bad arguments: {error}"),
            Self::UnknownOption(option) => write!(f, "unknown option {option}"),
            Self::MissingValue(flag) => write!(f, "option -{flag} needs a value"),
            Self::BadValue(flag, value, why) => write!(f, "-{flag} {}: {why}", quote(value)),
            Self::Operands(what) => f.write_str(what),
        }
    }
}

impl From<LexError> for ArgError {
    fn from(error: LexError) -> Self {
        Self::Split(error)
    }
}

/// Splits `args` and parses the words against `usage`.
pub fn parse(args: &str, usage: &Usage) -> Result<Parsed, ArgError> {
    parse_words(split(args)?, usage)
}

/// Parses words against `usage`.
pub fn parse_words(words: Vec<String>, usage: &Usage) -> Result<Parsed, ArgError> {
    let mut options = Options::default();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        } else if word == "--help" {
            return Ok(Parsed::Help);
        } else if word.starts_with("--") {
            return Err(ArgError::UnknownOption(word));
        } else if let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) {
            for (at, flag) in letters.char_indices() {
                if !usage.knows(flag) {
                    return Err(ArgError::UnknownOption(format!("-{flag}")));
                }
                if !options.has(flag) {
                    options.flags.push(flag);
                }
                if usage.takes_value(flag) {
                    // The rest of the word, or else the next word whatever it looks like.
                    let rest = &letters[at + flag.len_utf8()..];
                    let value = if rest.is_empty() {
                        words.next().ok_or(ArgError::MissingValue(flag))?
                    } else {
                        rest.to_string()
                    };
                    options.values.push((flag, value));
                    break;
                }
            }
        } else {
            options.operands.push(word);
            break;
        }
    }
    options.operands.extend(words);
    Ok(Parsed::Run(options))
}

/// A count given as an option's value (`-n 10`): decimal digits only. One too large for 64
/// bits means "more than there can be" and gives `u64::MAX`, as GNU's tools take it.
pub fn count(value: &str) -> Result<u64, &'static str> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err("not a count (decimal digits expected)");
    }
    Ok(value
        .bytes()
        .try_fold(0u64, |total, digit| {
            total.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
        .unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const LS: Usage = Usage {
        name: "ls",
        synopsis: "[-l] [path...]",
        about: "Lists directories.",
        flags: &[('l', "long format"), ('n', "numbers")],
        values: &[],
    };

    const HEAD: Usage = Usage {
        name: "head",
        synopsis: "[-v] [-n N] [-c N] [file...]",
        about: "Prints the start of files.",
        flags: &[('v', "verbose")],
        values: &[('n', "N", "lines"), ('c', "N", "bytes")],
    };

    fn run_head(args: &str) -> Options {
        match parse(args, &HEAD).unwrap() {
            Parsed::Run(options) => options,
            Parsed::Help => panic!("asked for help"),
        }
    }

    fn run(args: &str) -> Options {
        match parse(args, &LS).unwrap() {
            Parsed::Run(options) => options,
            Parsed::Help => panic!("asked for help"),
        }
    }

    #[test]
    fn splits_with_quotes_and_escapes() {
        assert_eq!(split("  a  b\tc\n").unwrap(), ["a", "b", "c"]);
        assert_eq!(split("'a b' \"c d\" e\\ f").unwrap(), ["a b", "c d", "e f"]);
        assert_eq!(split("x'y z'w").unwrap(), ["xy zw"]);
        assert_eq!(split("'' \"\" a").unwrap(), ["", "", "a"]);
        assert_eq!(split(r#""a\"b\\c\d""#).unwrap(), [r#"a"b\c\d"#]);
        assert_eq!(split(r"'a\b'").unwrap(), [r"a\b"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("'open"), Err(LexError::UnterminatedQuote('\'')));
        assert_eq!(split("\"open"), Err(LexError::UnterminatedQuote('"')));
        assert_eq!(split("end\\"), Err(LexError::TrailingBackslash));
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("plain-word_1.txt"), "plain-word_1.txt");
        assert_eq!(quote("/dev/cons"), "/dev/cons");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(">"), "'>'");
        assert_eq!(join(&["echo", "a b", ""]), "echo 'a b' ''");
    }

    #[test]
    fn join_is_the_inverse_of_split() {
        let cases: Vec<Vec<&str>> = vec![
            vec![],
            vec![""],
            vec!["a", "", "b"],
            vec!["it's", "\"quoted\"", "back\\slash", "tab\there"],
            vec!["new\nline", "'", "''", "\\", "#hash", "a>b", "<", ">>"],
            vec!["ünïcödé", "日本", " lead", "trail "],
        ];
        for words in cases {
            assert_eq!(split(&join(&words)).unwrap(), words, "{words:?}");
        }
    }

    #[test]
    fn join_round_trips_random_words() {
        // A fixed-seed generator over an alphabet of troublesome characters.
        let alphabet: Vec<char> = "ab '\"\\#<>|;& \t\nxé".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..500 {
            let words: Vec<String> = (0..next(5))
                .map(|_| {
                    (0..next(6))
                        .map(|_| alphabet[next(alphabet.len())])
                        .collect()
                })
                .collect();
            assert_eq!(split(&join(&words)).unwrap(), words);
        }
    }

    #[test]
    fn parses_flags_and_operands() {
        let options = run("-l /proc");
        assert!(options.has('l') && !options.has('n'));
        assert_eq!(options.operands, ["/proc"]);
        let options = run("-ln -l a -l");
        assert!(options.has('l') && options.has('n'));
        assert_eq!(
            options.operands,
            ["a", "-l"],
            "options end at the first operand"
        );
        assert_eq!(run("-- -l").operands, ["-l"]);
        assert!(!run("-- -l").has('l'));
        assert_eq!(run("- x").operands, ["-", "x"], "a lone dash is an operand");
        assert_eq!(run("").operands, Vec::<String>::new());
    }

    #[test]
    fn help_and_errors() {
        assert_eq!(parse("--help", &LS), Ok(Parsed::Help));
        assert_eq!(parse("-l --help", &LS), Ok(Parsed::Help));
        assert_eq!(run("x --help").operands, ["x", "--help"]);
        assert_eq!(parse("-lx", &LS), Err(ArgError::UnknownOption("-x".into())));
        assert_eq!(
            parse("--long", &LS),
            Err(ArgError::UnknownOption("--long".into()))
        );
        assert_eq!(
            parse("'a", &LS),
            Err(ArgError::Split(LexError::UnterminatedQuote('\'')))
        );
        assert_eq!(
            ArgError::UnknownOption("-x".into()).to_string(),
            "unknown option -x"
        );
    }

    #[test]
    fn usage_texts() {
        assert_eq!(LS.line(), "usage: ls [-l] [path...]");
        let help = LS.help();
        assert!(help.starts_with("usage: ls [-l] [path...]\n\nLists directories.\n"));
        assert!(help.contains("  -l      long format\n"));
        assert!(help.ends_with("  --help  show this help\n"));
        let bare = Usage {
            name: "ps",
            synopsis: "",
            about: "Lists processes.",
            flags: &[],
            values: &[],
        };
        assert_eq!(bare.line(), "usage: ps");
        let help = HEAD.help();
        assert!(help.contains("  -v      verbose\n  -n N    lines\n  -c N    bytes\n"));
    }

    #[test]
    fn options_with_values() {
        for args in ["-n 5 a", "-n5 a", "-vn5 a", "-v -n 5 a", "-n 7 -n5 a"] {
            let options = run_head(args);
            assert_eq!(options.value('n'), Some("5"), "{args}");
            assert!(options.has('n'));
            assert_eq!(options.operands, ["a"], "{args}");
        }
        assert!(run_head("-vn5").has('v'));
        assert!(
            !run_head("-n5").has('v'),
            "the value's letters are not options"
        );
        assert_eq!(
            run_head("-n -5").value('n'),
            Some("-5"),
            "the next word, whatever it is"
        );
        assert_eq!(run_head("-n +5").value('n'), Some("+5"));
        assert_eq!(run_head("-n ''").value('n'), Some(""));
        assert_eq!(run_head("-c 3 -n 2 -c 4").value('c'), Some("4"));
        assert_eq!(run_head("").value('n'), None);
        assert_eq!(run_head("-- -n 5").operands, ["-n", "5"]);
        let options = run_head("-c 3 -n 2 -c4");
        let order: Vec<(char, &str)> = options.values().collect();
        assert_eq!(order, [('c', "3"), ('n', "2"), ('c', "4")]);
        assert_eq!(parse("-n", &HEAD), Err(ArgError::MissingValue('n')));
        assert_eq!(parse("-vn", &HEAD), Err(ArgError::MissingValue('n')));
        assert_eq!(
            parse("-x5", &HEAD),
            Err(ArgError::UnknownOption("-x".into()))
        );
        assert_eq!(
            ArgError::MissingValue('n').to_string(),
            "option -n needs a value"
        );
        assert_eq!(
            ArgError::BadValue('n', "1 x".into(), "not a count").to_string(),
            "-n '1 x': not a count"
        );
    }

    #[test]
    fn counts() {
        assert_eq!(count("0"), Ok(0));
        assert_eq!(count("0010"), Ok(10));
        assert_eq!(count("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(count("18446744073709551616"), Ok(u64::MAX), "saturates");
        assert_eq!(count("99999999999999999999999999999"), Ok(u64::MAX));
        for bad in ["", "-1", "+1", "1k", " 1", "x", "١"] {
            assert!(count(bad).is_err(), "{bad:?}");
        }
    }
}
