//! The word lexer shared by program arguments and shell command lines.
//!
//! Words are separated by unquoted white space. `'...'` keeps everything literally; `"..."`
//! keeps everything but `\"` and `\\` (and, in the shell, `\$`), which stand for the character
//! after the backslash; outside quotes a backslash makes the next character literal. Quotes
//! join with what is next to them (`a'b c'd` is one word) and `''` is an empty word.
//!
//! For the shell, the lexer also recognises the redirections `<`, `>` and `>>`, the operators
//! `|`, `&&`, `||` and `;`, comments (`#` at the start of a word) and `$?` (unquoted or inside
//! double quotes), whose place in its word is kept so that it can be replaced when the command
//! runs. A lone `&` (a background job) is refused rather than passed on as text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A word, with where `$?` stood in it (byte offsets into `text`, which does not hold them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    status_at: Vec<usize>,
}

impl Word {
    /// A word with no `$?` in it.
    pub fn literal(text: &str) -> Self {
        Self {
            text: text.into(),
            status_at: Vec::new(),
        }
    }

    /// The word with every `$?` replaced by `status`.
    pub fn expand(&self, status: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + self.status_at.len() * status.len());
        let mut from = 0;
        for &at in &self.status_at {
            out.push_str(&self.text[from..at]);
            out.push_str(status);
            from = at;
        }
        out.push_str(&self.text[from..]);
        out
    }

    /// Whether `$?` appears in the word.
    pub fn has_status(&self) -> bool {
        !self.status_at.is_empty()
    }
}

/// A piece of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(Word),
    /// `<`
    Input,
    /// `>`
    Output,
    /// `>>`
    Append,
    /// `|`
    Pipe,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `;`
    Semicolon,
}

impl Token {
    /// How the operator is written (`None` for a word).
    pub fn operator(&self) -> Option<&'static str> {
        Some(match self {
            Token::Word(_) => return None,
            Token::Input => "<",
            Token::Output => ">",
            Token::Append => ">>",
            Token::Pipe => "|",
            Token::And => "&&",
            Token::Or => "||",
            Token::Semicolon => ";",
        })
    }
}

/// Why a line could not be split into words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    /// A quote (`'` or `"`) was opened and never closed.
    UnterminatedQuote(char),
    /// The line ended with a backslash that escapes nothing.
    TrailingBackslash,
    /// A lone `&`: background jobs are not implemented.
    Background,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedQuote(quote) => write!(f, "missing closing {quote}"),
            Self::TrailingBackslash => f.write_str("a backslash ends the line"),
            Self::Background => {
                f.write_str("'&' (a background job) is not supported (quote it to use it as text)")
            }
        }
    }
}

/// Whether the lexer reads shell syntax (operators, comments, `$?`) or plain arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Arguments,
    Shell,
}

/// Splits `line` into tokens.
pub fn lex(line: &str, mode: Mode) -> Result<Vec<Token>, LexError> {
    let shell = mode == Mode::Shell;
    let mut tokens = Vec::new();
    let mut word = Word::default();
    // Whether a word has started (a quote starts one even if it adds no characters).
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            ' ' | '\t' | '\n' | '\r' => finish(&mut tokens, &mut word, &mut in_word),
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.text.push(c),
                        None => return Err(LexError::UnterminatedQuote('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                            word.text.extend(chars.next());
                        }
                        Some('\\') if shell && chars.peek() == Some(&'$') => {
                            word.text.extend(chars.next());
                        }
                        Some('$') if shell && chars.next_if_eq(&'?').is_some() => {
                            word.status_at.push(word.text.len());
                        }
                        Some(c) => word.text.push(c),
                        None => return Err(LexError::UnterminatedQuote('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.text
                    .push(chars.next().ok_or(LexError::TrailingBackslash)?);
            }
            '#' if shell && !in_word => break,
            '<' | '>' if shell => {
                finish(&mut tokens, &mut word, &mut in_word);
                tokens.push(if ch == '<' {
                    Token::Input
                } else if chars.next_if_eq(&'>').is_some() {
                    Token::Append
                } else {
                    Token::Output
                });
            }
            '|' | ';' if shell => {
                finish(&mut tokens, &mut word, &mut in_word);
                tokens.push(if ch == ';' {
                    Token::Semicolon
                } else if chars.next_if_eq(&'|').is_some() {
                    Token::Or
                } else {
                    Token::Pipe
                });
            }
            '&' if shell => {
                if chars.next_if_eq(&'&').is_none() {
                    return Err(LexError::Background);
                }
                finish(&mut tokens, &mut word, &mut in_word);
                tokens.push(Token::And);
            }
            '$' if shell && chars.next_if_eq(&'?').is_some() => {
                in_word = true;
                word.status_at.push(word.text.len());
            }
            c => {
                in_word = true;
                word.text.push(c);
            }
        }
    }
    finish(&mut tokens, &mut word, &mut in_word);
    Ok(tokens)
}

fn finish(tokens: &mut Vec<Token>, word: &mut Word, in_word: &mut bool) {
    if *in_word {
        tokens.push(Token::Word(core::mem::take(word)));
        *in_word = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Token> {
        lex(line, Mode::Shell).unwrap()
    }

    fn w(text: &str) -> Token {
        Token::Word(Word::literal(text))
    }

    #[test]
    fn operators_end_words_only_in_shell_mode() {
        assert_eq!(
            words("echo hi>/dev/null"),
            [w("echo"), w("hi"), Token::Output, w("/dev/null")]
        );
        assert_eq!(
            words("a>>b<c"),
            [w("a"), Token::Append, w("b"), Token::Input, w("c")]
        );
        assert_eq!(
            words("a >>> b"),
            [w("a"), Token::Append, Token::Output, w("b")]
        );
        assert_eq!(lex("a>b #c", Mode::Arguments).unwrap(), [w("a>b"), w("#c")]);
    }

    #[test]
    fn quoted_operators_are_text() {
        assert_eq!(
            words("echo '>' \">>\" \\<"),
            [w("echo"), w(">"), w(">>"), w("<")]
        );
        assert_eq!(
            words("echo 'a|b' \"c;d\" e\\&f"),
            [w("echo"), w("a|b"), w("c;d"), w("e&f")]
        );
    }

    #[test]
    fn comments_start_only_at_a_word() {
        assert_eq!(words("echo a#b # rest > x"), [w("echo"), w("a#b")]);
        assert_eq!(words("# all comment"), []);
        assert_eq!(words("echo '#' \\#x"), [w("echo"), w("#"), w("#x")]);
    }

    #[test]
    fn sequencing_and_pipe_operators() {
        assert_eq!(
            words("a|b||c&&d;e"),
            [
                w("a"),
                Token::Pipe,
                w("b"),
                Token::Or,
                w("c"),
                Token::And,
                w("d"),
                Token::Semicolon,
                w("e")
            ]
        );
        assert_eq!(words("a ||| b"), [w("a"), Token::Or, Token::Pipe, w("b")]);
        assert_eq!(Token::Or.operator(), Some("||"));
        assert_eq!(w("x").operator(), None);
    }

    #[test]
    fn a_lone_ampersand_is_refused() {
        assert_eq!(lex("ls &", Mode::Shell), Err(LexError::Background));
        assert_eq!(lex("a & b", Mode::Shell), Err(LexError::Background));
        assert_eq!(lex("a &&& b", Mode::Shell), Err(LexError::Background));
        assert_eq!(words("echo '&'"), [w("echo"), w("&")]);
        assert_eq!(lex("ls | cat &", Mode::Arguments).unwrap().len(), 4);
    }

    fn word(line: &str) -> Word {
        match lex(line, Mode::Shell).unwrap().as_slice() {
            [Token::Word(word)] => word.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_expands_unquoted_and_in_double_quotes() {
        assert_eq!(word("$?").expand("0"), "0");
        assert_eq!(word("a$?b$?").expand("17"), "a17b17");
        assert_eq!(word("\"[$?]\"").expand("1"), "[1]");
        assert!(word("$?").has_status());
        // Quoted or escaped, it is text.
        assert_eq!(word("'$?'").expand("1"), "$?");
        assert_eq!(word("\\$?").expand("1"), "$?");
        assert_eq!(word("\"\\$?\"").expand("1"), "$?");
        assert!(!word("'$?'").has_status());
        // Other dollars are plain text; so is `$?` in arguments.
        assert_eq!(word("$HOME$").expand("1"), "$HOME$");
        assert_eq!(lex("$?", Mode::Arguments).unwrap(), [w("$?")]);
        assert_eq!(word("$?").text, "");
    }
}
