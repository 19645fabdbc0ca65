//! The word lexer shared by program arguments and shell command lines.
//!
//! Words are separated by unquoted white space. `'...'` keeps everything literally; `"..."`
//! keeps everything but `\"` and `\\`, which stand for `"` and `\`; outside quotes a backslash
//! makes the next character literal. Quotes join with what is next to them (`a'b c'd` is one
//! word) and `''` is an empty word. For the shell, the lexer also recognises the redirections
//! `<`, `>` and `>>`, comments (`#` at the start of a word), and refuses `|`, `&` and `;`, which
//! it does not implement, rather than passing them on as text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A piece of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `<`
    Input,
    /// `>`
    Output,
    /// `>>`
    Append,
}

/// Why a line could not be split into words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    /// A quote (`'` or `"`) was opened and never closed.
    UnterminatedQuote(char),
    /// The line ended with a backslash that escapes nothing.
    TrailingBackslash,
    /// An unquoted shell operator that is not implemented.
    Unsupported(char),
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedQuote(quote) => write!(f, "missing closing {quote}"),
            Self::TrailingBackslash => f.write_str("a backslash ends the line"),
            Self::Unsupported(op) => {
                write!(f, "'{op}' is not supported (quote it to use it as text)")
            }
        }
    }
}

/// Whether the lexer reads shell syntax (redirections, comments) or plain arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Arguments,
    Shell,
}

/// Splits `line` into tokens.
pub fn lex(line: &str, mode: Mode) -> Result<Vec<Token>, LexError> {
    let shell = mode == Mode::Shell;
    let mut tokens = Vec::new();
    let mut word = String::new();
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
                        Some(c) => word.push(c),
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
                            word.extend(chars.next());
                        }
                        Some(c) => word.push(c),
                        None => return Err(LexError::UnterminatedQuote('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().ok_or(LexError::TrailingBackslash)?);
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
            '|' | '&' | ';' if shell => return Err(LexError::Unsupported(ch)),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    finish(&mut tokens, &mut word, &mut in_word);
    Ok(tokens)
}

fn finish(tokens: &mut Vec<Token>, word: &mut String, in_word: &mut bool) {
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
        Token::Word(text.into())
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
    fn unsupported_operators_are_refused() {
        assert_eq!(
            lex("ls | cat", Mode::Shell),
            Err(LexError::Unsupported('|'))
        );
        assert_eq!(lex("ls; ls", Mode::Shell), Err(LexError::Unsupported(';')));
        assert_eq!(lex("ls &", Mode::Shell), Err(LexError::Unsupported('&')));
        assert_eq!(lex("ls | cat", Mode::Arguments).unwrap().len(), 3);
    }
}
