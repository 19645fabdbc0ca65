//! The shell's command line: lists of pipelines joined by `;`, `&&` and `||`, each pipeline
//! commands joined by `|`, each command words plus the redirections `<`, `>` and `>>`.
//!
//! ```text
//! line     = [ list ]
//! list     = pipeline { ( ";" | "&&" | "||" ) pipeline } [ ";" ]
//! pipeline = command { "|" command }
//! command  = { word | redirection }   (at least one word)
//! ```
//!
//! `&&` and `||` bind as tightly as `;` and are read left to right, as in POSIX: in
//! `a && b || c`, `c` runs when `a` or `b` failed. `$?` is kept unexpanded here (see
//! [`Word`]): [`Command::expand`] replaces it when the command is about to run, so that
//! `false; echo $?` prints 1.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::lex::{self, LexError, Mode, Token, Word};

/// Where a command's standard output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub path: String,
    /// `>>` rather than `>`.
    pub append: bool,
}

/// One command, ready to run: its words with `$?` replaced.
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

/// One command as parsed: words that may still hold `$?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<Word>,
    pub stdin: Option<Word>,
    /// The file, and `>>` rather than `>`.
    pub stdout: Option<(Word, bool)>,
}

impl Command {
    /// The command with every `$?` replaced by `status`.
    pub fn expand(&self, status: i32) -> CommandLine {
        let status = status.to_string();
        CommandLine {
            words: self.words.iter().map(|w| w.expand(&status)).collect(),
            stdin: self.stdin.as_ref().map(|w| w.expand(&status)),
            stdout: self.stdout.as_ref().map(|(w, append)| Output {
                path: w.expand(&status),
                append: *append,
            }),
        }
    }
}

/// Commands joined by `|`: each one's standard output is the next one's standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// Never empty.
    pub commands: Vec<Command>,
}

/// When a pipeline of a list runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// First, or after `;`: always.
    Always,
    /// After `&&`: if the status so far is 0.
    IfSucceeded,
    /// After `||`: if the status so far is not 0.
    IfFailed,
}

impl Condition {
    /// Whether a pipeline with this condition runs after a status of `status`.
    pub fn holds(self, status: i32) -> bool {
        match self {
            Condition::Always => true,
            Condition::IfSucceeded => status == 0,
            Condition::IfFailed => status != 0,
        }
    }
}

/// A whole line: pipelines in order, each with the condition it runs under. Empty for a blank
/// line or a comment.
pub type List = Vec<(Condition, Pipeline)>;

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
    /// An operator with no command before it (the operator is given).
    NothingBefore(&'static str),
    /// The line ends with an operator that needs a command after it.
    NothingAfter(&'static str),
    /// Standard output redirected by a command that pipes it on, or standard input by one
    /// that reads a pipe.
    RedirectedPipe(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lex(error) => write!(f, "syntax error: {error}"),
            Self::MissingFile(op) => write!(f, "syntax error: '{op}' needs a file name"),
            Self::Duplicate(what) => write!(f, "syntax error: more than one {what} redirection"),
            Self::EmptyCommand => f.write_str("syntax error: a redirection without a command"),
            Self::NothingBefore(op) => write!(f, "syntax error: no command before '{op}'"),
            Self::NothingAfter(op) => write!(f, "syntax error: no command after '{op}'"),
            Self::RedirectedPipe(which) => write!(
                f,
                "syntax error: in a pipeline only the {which} command may redirect its {}",
                if *which == "first" { "input" } else { "output" }
            ),
        }
    }
}

impl From<LexError> for ParseError {
    fn from(error: LexError) -> Self {
        Self::Lex(error)
    }
}

/// Parses one line into a list. An empty list for a blank line or a comment.
pub fn parse_list(line: &str) -> Result<List, ParseError> {
    let mut list = List::new();
    let mut condition = Condition::Always;
    let mut pipeline: Vec<Command> = Vec::new();
    let mut command = Vec::new();
    // The operator just read, that still needs a command after it.
    let mut pending: Option<&'static str> = None;
    for token in lex::lex(line, Mode::Shell)? {
        let op = match token {
            Token::Pipe | Token::And | Token::Or | Token::Semicolon => {
                token.operator().expect("an operator")
            }
            other => {
                command.push(other);
                pending = None;
                continue;
            }
        };
        let Some(done) = parse_command(core::mem::take(&mut command))? else {
            return Err(ParseError::NothingBefore(op));
        };
        pipeline.push(done);
        if op == "|" {
            pending = Some(op);
            continue;
        }
        list.push((condition, finish_pipeline(core::mem::take(&mut pipeline))?));
        condition = match op {
            "&&" => Condition::IfSucceeded,
            "||" => Condition::IfFailed,
            _ => Condition::Always,
        };
        pending = (op != ";").then_some(op);
    }
    match parse_command(command)? {
        Some(done) => pipeline.push(done),
        None => {
            if let Some(op) = pending {
                return Err(ParseError::NothingAfter(op));
            }
        }
    }
    if !pipeline.is_empty() {
        list.push((condition, finish_pipeline(pipeline)?));
    }
    Ok(list)
}

/// Checks that only the ends of a pipeline redirect what the pipes carry.
fn finish_pipeline(commands: Vec<Command>) -> Result<Pipeline, ParseError> {
    let last = commands.len() - 1;
    for (at, command) in commands.iter().enumerate() {
        if at > 0 && command.stdin.is_some() {
            return Err(ParseError::RedirectedPipe("first"));
        }
        if at < last && command.stdout.is_some() {
            return Err(ParseError::RedirectedPipe("last"));
        }
    }
    Ok(Pipeline { commands })
}

/// One command's tokens (words and redirections). `Ok(None)` when there are none.
fn parse_command(tokens: Vec<Token>) -> Result<Option<Command>, ParseError> {
    let mut words = Vec::new();
    let mut stdin = None;
    let mut stdout = None;
    let mut tokens = tokens.into_iter();
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
            _ => unreachable!("parse_list splits at the other operators"),
        };
        redirected = true;
        let Some(Token::Word(path)) = tokens.next() else {
            return Err(ParseError::MissingFile(op));
        };
        if op == "<" {
            if stdin.replace(path).is_some() {
                return Err(ParseError::Duplicate("input"));
            }
        } else if stdout.replace((path, append)).is_some() {
            return Err(ParseError::Duplicate("output"));
        }
    }
    match (words.is_empty(), redirected) {
        (true, false) => Ok(None),
        (true, true) => Err(ParseError::EmptyCommand),
        (false, _) => Ok(Some(Command {
            words,
            stdin,
            stdout,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A line that must be one simple command, expanded with status 0.
    fn command(line: &str) -> CommandLine {
        let list = parse_list(line).unwrap();
        assert_eq!(list.len(), 1, "{line}");
        assert_eq!(list[0].1.commands.len(), 1, "{line}");
        list[0].1.commands[0].expand(0)
    }

    fn parse(line: &str) -> Result<Option<CommandLine>, ParseError> {
        parse_list(line).map(|list| list.first().map(|(_, p)| p.commands[0].expand(0)))
    }

    fn out(path: &str, append: bool) -> Option<Output> {
        Some(Output {
            path: path.into(),
            append,
        })
    }

    /// The list's shape: each pipeline's condition and its commands' names.
    fn shape(line: &str) -> Vec<(Condition, Vec<String>)> {
        parse_list(line)
            .unwrap()
            .iter()
            .map(|(condition, pipeline)| {
                let names = pipeline
                    .commands
                    .iter()
                    .map(|c| c.expand(0).words.join(" "))
                    .collect();
                (*condition, names)
            })
            .collect()
    }

    fn names(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
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
        assert_eq!(parse_list(""), Ok(vec![]));
        assert_eq!(parse_list("   \t"), Ok(vec![]));
        assert_eq!(parse_list("# comment > x | y"), Ok(vec![]));
        assert_eq!(command("ls # the root; pwd").words, ["ls"]);
        assert_eq!(
            command("''").words,
            [""],
            "an empty word is still a command"
        );
    }

    #[test]
    fn pipelines() {
        assert_eq!(
            shape("cat /dev/zero | head -c 10 | wc -c"),
            [(
                Condition::Always,
                names(&["cat /dev/zero", "head -c 10", "wc -c"])
            )]
        );
        assert_eq!(
            shape("echo abc|wc -c"),
            [(Condition::Always, names(&["echo abc", "wc -c"]))]
        );
        // The ends may redirect.
        let list = parse_list("sort < in | uniq > out").unwrap();
        let commands = &list[0].1.commands;
        assert_eq!(commands[0].expand(0).stdin.as_deref(), Some("in"));
        assert_eq!(commands[1].expand(0).stdout, out("out", false));
        // Quoted, a bar is text.
        assert_eq!(command("grep 'a|b' x").words, ["grep", "a|b", "x"]);
    }

    #[test]
    fn sequencing() {
        use Condition::*;
        assert_eq!(
            shape("true && false; echo $?"),
            [
                (Always, names(&["true"])),
                (IfSucceeded, names(&["false"])),
                (Always, names(&["echo 0"])),
            ]
        );
        assert_eq!(
            shape("false || echo ok"),
            [(Always, names(&["false"])), (IfFailed, names(&["echo ok"]))]
        );
        assert_eq!(
            shape("a | b && c || d | e;"),
            [
                (Always, names(&["a", "b"])),
                (IfSucceeded, names(&["c"])),
                (IfFailed, names(&["d", "e"])),
            ]
        );
        assert_eq!(
            shape("a;b ; c"),
            [
                (Always, names(&["a"])),
                (Always, names(&["b"])),
                (Always, names(&["c"]))
            ]
        );
        assert!(Always.holds(5) && IfSucceeded.holds(0) && !IfSucceeded.holds(1));
        assert!(IfFailed.holds(1) && !IfFailed.holds(0));
    }

    #[test]
    fn the_status_is_expanded_when_the_command_runs() {
        let list = parse_list("false; echo \"status $?\" > s$?.txt").unwrap();
        let echo = &list[1].1.commands[0];
        let ran = echo.expand(1);
        assert_eq!(ran.words, ["echo", "status 1"]);
        assert_eq!(ran.stdout, out("s1.txt", false));
        assert_eq!(echo.expand(130).words, ["echo", "status 130"]);
        assert_eq!(command("echo '$?'").words, ["echo", "$?"]);
    }

    #[test]
    fn errors() {
        assert_eq!(parse("echo >"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("echo >>"), Err(ParseError::MissingFile(">>")));
        assert_eq!(parse("cat <"), Err(ParseError::MissingFile("<")));
        assert_eq!(parse("echo > > x"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("echo > < x"), Err(ParseError::MissingFile(">")));
        assert_eq!(parse("echo > | x"), Err(ParseError::MissingFile(">")));
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
            parse("echo >").unwrap_err().to_string(),
            "syntax error: '>' needs a file name"
        );
    }

    #[test]
    fn operators_need_commands_on_both_sides() {
        assert_eq!(parse("| wc"), Err(ParseError::NothingBefore("|")));
        assert_eq!(parse("; ls"), Err(ParseError::NothingBefore(";")));
        assert_eq!(parse("ls ;; ls"), Err(ParseError::NothingBefore(";")));
        assert_eq!(parse("&& ls"), Err(ParseError::NothingBefore("&&")));
        assert_eq!(parse("ls | | wc"), Err(ParseError::NothingBefore("|")));
        assert_eq!(parse("ls || && wc"), Err(ParseError::NothingBefore("&&")));
        assert_eq!(parse("ls |"), Err(ParseError::NothingAfter("|")));
        assert_eq!(parse("ls &&"), Err(ParseError::NothingAfter("&&")));
        assert_eq!(
            parse("ls || # nothing"),
            Err(ParseError::NothingAfter("||"))
        );
        assert_eq!(parse("ls | > x"), Err(ParseError::EmptyCommand));
        assert_eq!(
            parse("ls |").unwrap_err().to_string(),
            "syntax error: no command after '|'"
        );
        assert_eq!(
            parse("ls &").unwrap_err().to_string(),
            "syntax error: '&' (a background job) is not supported (quote it to use it as text)"
        );
    }

    #[test]
    fn only_the_ends_of_a_pipeline_redirect() {
        assert_eq!(parse("a > x | b"), Err(ParseError::RedirectedPipe("last")));
        assert_eq!(parse("a | b < x"), Err(ParseError::RedirectedPipe("first")));
        assert_eq!(
            parse("a | b < x").unwrap_err().to_string(),
            "syntax error: in a pipeline only the first command may redirect its input"
        );
        assert_eq!(
            parse("a > x | b").unwrap_err().to_string(),
            "syntax error: in a pipeline only the last command may redirect its output"
        );
    }
}
