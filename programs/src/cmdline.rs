//! The shell's command line: words plus the redirections `<`, `>` and `>>`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::lex::{self, LexError, Mode, Token};

/// Where a command's standard output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub path: String,
    /// `>>` rather than `>`.
    pub append: bool,
}

/// One parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// The program or built-in name, then its arguments (never empty).
    pub words: Vec<String>,
    pub stdin: Option<String>,
    pub stdout: Option<Output>,
}

impl CommandLine {
    pub fn name(&self) -> &str {
        &self.words[0]
    }

    pub fn args(&self) -> &[String] {
        &self.words[1..]
    }
}

/// Why a line is not a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    Lex(LexError),
    /// A redirection with no file name after it (the operator is given).
    MissingFile(&'static str),
    /// Two redirections of the same stream.
    Duplicate(&'static str),
    /// Redirections but no command.
    EmptyCommand,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lex(error) => write!(f, "syntax error: {error}"),
            Self::MissingFile(op) => write!(f, "syntax error: '{op}' needs a file name"),
            Self::Duplicate(what) => write!(f, "syntax error: more than one {what} redirection"),
            Self::EmptyCommand => f.write_str("syntax error: a redirection without a command"),
        }
    }
}

impl From<LexError> for ParseError {
    fn from(error: LexError) -> Self {
        Self::Lex(error)
    }
}

/// Parses one line. `Ok(None)` for a blank line or a comment.
pub fn parse(line: &str) -> Result<Option<CommandLine>, ParseError> {
    let mut words = Vec::new();
    let mut stdin = None;
    let mut stdout = None;
    let mut tokens = lex::lex(line, Mode::Shell)?.into_iter();
    let mut redirected = false;
    while let Some(token) = tokens.next() {
        let (op, append) = match token {
            Token::Word(word) => {
                words.push(word);
                continue;
            }
            Token::Input => ("<", false),
            Token::Output => (">", false),
            Token::Append => (">>", true),
        };
        redirected = true;
        let Some(Token::Word(path)) = tokens.next() else {
            return Err(ParseError::MissingFile(op));
        };
        if op == "<" {
            if stdin.replace(path).is_some() {
                return Err(ParseError::Duplicate("input"));
            }
        } else if stdout.replace(Output { path, append }).is_some() {
            return Err(ParseError::Duplicate("output"));
        }
    }
    match (words.is_empty(), redirected) {
        (true, false) => Ok(None),
        (true, true) => Err(ParseError::EmptyCommand),
        (false, _) => Ok(Some(CommandLine {
            words,
            stdin,
            stdout,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn command(line: &str) -> CommandLine {
        parse(line).unwrap().expect("a command")
    }

    fn out(path: &str, append: bool) -> Option<Output> {
        Some(Output {
            path: path.into(),
            append,
        })
    }

    #[test]
    fn words_and_quotes() {
        let c = command("  echo 'hello world' \"a\\\"b\" c\\ d  ");
        assert_eq!(c.words, ["echo", "hello world", "a\"b", "c d"]);
        assert_eq!(c.name(), "echo");
        assert_eq!(c.args(), ["hello world", "a\"b", "c d"]);
        assert_eq!((c.stdin, c.stdout), (None, None));
    }

    #[test]
    fn redirections_with_and_without_spaces() {
        for line in [
            "echo hi>/dev/null",
            "echo hi > /dev/null",
            "echo >/dev/null hi",
        ] {
            let c = command(line);
            assert_eq!(c.words, ["echo", "hi"], "{line}");
            assert_eq!(c.stdout, out("/dev/null", false), "{line}");
        }
        let c = command("cat<in>>log");
        assert_eq!(c.words, ["cat"]);
        assert_eq!(c.stdin.as_deref(), Some("in"));
        assert_eq!(c.stdout, out("log", true));
        let c = command("cat < 'my file' >> \"other file\"");
        assert_eq!(c.stdin.as_deref(), Some("my file"));
        assert_eq!(c.stdout, out("other file", true));
        assert_eq!(command("echo '>' x").words, ["echo", ">", "x"]);
    }

    #[test]
    fn blank_lines_and_comments_are_nothing() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   \t"), Ok(None));
        assert_eq!(parse("# comment > x"), Ok(None));
        assert_eq!(command("ls # the root").words, ["ls"]);
        assert_eq!(
            command("''").words,
            [""],
            "an empty word is still a command"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse("echo >"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("echo >>"), Err(ParseError::MissingFile(">>")));
        assert_eq!(parse("cat <"), Err(ParseError::MissingFile("<")));
        assert_eq!(parse("echo > > x"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("echo > < x"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("> x"), Err(ParseError::EmptyCommand));
        assert_eq!(parse("<x"), Err(ParseError::EmptyCommand));
        assert_eq!(parse("a > x > y"), Err(ParseError::Duplicate("output")));
        assert_eq!(parse("a > x >> y"), Err(ParseError::Duplicate("output")));
        assert_eq!(parse("a < x < y"), Err(ParseError::Duplicate("input")));
        assert_eq!(
            parse("echo 'oops"),
            Err(ParseError::Lex(LexError::UnterminatedQuote('\'')))
        );
        assert_eq!(
            parse("ls | cat").unwrap_err().to_string(),
            "syntax error: '|' is not supported (quote it to use it as text)"
        );
        assert_eq!(
            parse("echo >").unwrap_err().to_string(),
            "syntax error: '>' needs a file name"
        );
    }
}
