//! The `fuzz` program's command line, and its protocol with the live peer of its message calls.
//!
//! The peer (`ipcpeer fuzz-peer`) answers every call with a short reply; a message labelled [`SEND_ONE`] makes it
//! reply and then send the caller one message whose first word is [`MARK`], so that the
//! fuzzer's receives from it have something to take; [`QUIT`] from its parent ends it, and its
//! reply carries [`Counts`].

/// What `fuzz [COUNT [SEED [PEER]]]` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub count: u64,
    pub seed: u64,
    pub peer: Option<usize>,
}

/// Why the command line does not describe a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgsError<'a> {
    /// `--help` was asked for.
    Help,
    /// More than three operands.
    TooMany,
    /// An operand that is not a decimal number.
    NotANumber(&'a str),
}

pub const USAGE: &str = "usage: fuzz [COUNT [SEED [PEER]]]";

pub const HELP: &str = "usage: fuzz [COUNT [SEED [PEER]]]

Makes COUNT (100000) system calls with random numbers and arguments from the generator seeded
with SEED, aiming some message calls at the live process PEER (an `ipcpeer fuzz-peer`), and
prints how the calls ended.

options:
  --help  show this help
";

/// Parses the command line without allocating (the fuzzer must not: see `bin/fuzz.rs`).
pub fn parse(args: &str) -> Result<Run, ArgsError<'_>> {
    let mut numbers = [None; 3];
    if args.split_whitespace().any(|word| word == "--help") {
        return Err(ArgsError::Help);
    }
    for (index, word) in args.split_whitespace().enumerate() {
        let slot = numbers.get_mut(index).ok_or(ArgsError::TooMany)?;
        *slot = Some(
            word.parse::<u64>()
                .map_err(|_| ArgsError::NotANumber(word))?,
        );
    }
    Ok(Run {
        count: numbers[0].unwrap_or(100_000),
        seed: numbers[1].unwrap_or(0x5eed),
        peer: numbers[2].map(|pid| pid as usize),
    })
}

/// Label asking the peer to reply and then send the caller one message.
pub const SEND_ONE: u32 = 0xf022_0001;
/// Label with which the peer's parent ends it.
pub const QUIT: u32 = 0xf022_00ff;
/// The first word of the message the peer sends after [`SEND_ONE`].
pub const MARK: u64 = 0x6675_7a7a_7065_6572;

/// What the peer saw, in the words of its reply to [`QUIT`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages received (of any kind, from anyone but its parent's `QUIT`).
    pub received: u64,
    /// Replies that reached a caller.
    pub replied: u64,
    /// Messages sent after [`SEND_ONE`] and taken by their receiver.
    pub sent: u64,
}

impl Counts {
    pub fn to_words(self) -> [u64; 8] {
        [self.received, self.replied, self.sent, 0, 0, 0, 0, 0]
    }

    pub fn from_words(words: &[u64; 8]) -> Self {
        Self {
            received: words[0],
            replied: words[1],
            sent: words[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_is_asked_for_wherever_it_stands() {
        assert_eq!(parse("--help"), Err(ArgsError::Help));
        assert_eq!(parse("100 --help"), Err(ArgsError::Help));
        assert_eq!(parse("1 2 3 --help"), Err(ArgsError::Help));
    }

    #[test]
    fn operands_are_count_seed_and_peer() {
        assert_eq!(
            parse(""),
            Ok(Run {
                count: 100_000,
                seed: 0x5eed,
                peer: None
            })
        );
        assert_eq!(
            parse(" 7  9 "),
            Ok(Run {
                count: 7,
                seed: 9,
                peer: None
            })
        );
        assert_eq!(
            parse("100000 12345 4"),
            Ok(Run {
                count: 100_000,
                seed: 12345,
                peer: Some(4)
            })
        );
    }

    #[test]
    fn bad_operands_are_refused() {
        assert_eq!(parse("1 2 3 4"), Err(ArgsError::TooMany));
        assert_eq!(parse("many"), Err(ArgsError::NotANumber("many")));
        assert_eq!(parse("5 -1"), Err(ArgsError::NotANumber("-1")));
        assert_eq!(parse("-h"), Err(ArgsError::NotANumber("-h")));
    }

    #[test]
    fn counts_round_trip_through_words() {
        let counts = Counts {
            received: 7,
            replied: 5,
            sent: 3,
        };
        assert_eq!(Counts::from_words(&counts.to_words()), counts);
    }
}
