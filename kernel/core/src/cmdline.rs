//! The kernel command line: `key=value` words and bare flags, separated by spaces.
//!
//! GRUB hands the words after the kernel path over verbatim. Later words win over earlier ones,
//! so `cargo xtask run -- log=debug` overrides the `log=` in `grub.cfg`. Values cannot contain
//! spaces; there is no quoting.

use log::LevelFilter;

/// One word of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word<'a> {
    pub key: &'a str,
    /// `None` for a bare flag such as `quiet`; `Some("")` for `key=`.
    pub value: Option<&'a str>,
}

/// A parsed view over the raw command-line string. Parsing allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct CommandLine<'a> {
    raw: &'a str,
}

impl<'a> CommandLine<'a> {
    pub fn new(raw: &'a str) -> Self {
        Self { raw }
    }

    /// The command line exactly as the boot loader gave it.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Every word in order. A leading absolute path (the kernel file, which some boot loaders
    /// include) is skipped.
    pub fn words(&self) -> impl Iterator<Item = Word<'a>> + 'a {
        self.raw
            .split_ascii_whitespace()
            .enumerate()
            .filter(|(index, word)| !(*index == 0 && word.starts_with('/')))
            .map(|(_, word)| match word.split_once('=') {
                Some((key, value)) => Word {
                    key,
                    value: Some(value),
                },
                None => Word {
                    key: word,
                    value: None,
                },
            })
    }

    /// The value of the last `key=value` word for `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.words()
            .filter(|word| word.key == key)
            .last()
            .and_then(|word| word.value)
    }

    /// Whether the bare flag `name` (or `name=` with any value) appears.
    pub fn has(&self, name: &str) -> bool {
        self.words().any(|word| word.key == name)
    }

    /// The log level from `log=`, or `default` when absent. An unknown level is an error that
    /// names the bad value so the caller can warn about it.
    pub fn log_level(&self, default: LevelFilter) -> Result<LevelFilter, BadValue<'a>> {
        match self.get("log") {
            None => Ok(default),
            Some(value) => parse_log_level(value).ok_or(BadValue { key: "log", value }),
        }
    }
}

/// A command-line word whose value the kernel does not understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadValue<'a> {
    pub key: &'static str,
    pub value: &'a str,
}

/// Parses `off|error|warn|info|debug|trace` (any case).
pub fn parse_log_level(value: &str) -> Option<LevelFilter> {
    const LEVELS: [(&str, LevelFilter); 6] = [
        ("off", LevelFilter::Off),
        ("error", LevelFilter::Error),
        ("warn", LevelFilter::Warn),
        ("info", LevelFilter::Info),
        ("debug", LevelFilter::Debug),
        ("trace", LevelFilter::Trace),
    ];
    LEVELS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, level)| *level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_values() {
        let cmdline = CommandLine::new("  log=debug quiet  test=kernel empty= ");
        let words: Vec<_> = cmdline.words().collect();
        assert_eq!(
            words,
            vec![
                Word {
                    key: "log",
                    value: Some("debug")
                },
                Word {
                    key: "quiet",
                    value: None
                },
                Word {
                    key: "test",
                    value: Some("kernel")
                },
                Word {
                    key: "empty",
                    value: Some("")
                },
            ]
        );
        assert_eq!(cmdline.get("test"), Some("kernel"));
        assert_eq!(cmdline.get("quiet"), None);
        assert!(cmdline.has("quiet"));
        assert!(!cmdline.has("loud"));
    }

    #[test]
    fn later_words_win() {
        let cmdline = CommandLine::new("log=info log=trace");
        assert_eq!(cmdline.get("log"), Some("trace"));
        assert_eq!(cmdline.log_level(LevelFilter::Warn), Ok(LevelFilter::Trace));
    }

    #[test]
    fn kernel_path_is_skipped_only_in_front() {
        let cmdline = CommandLine::new("/boot/lux9-kernel log=warn /not/skipped");
        let keys: Vec<_> = cmdline.words().map(|word| word.key).collect();
        assert_eq!(keys, vec!["log", "/not/skipped"]);
    }

    #[test]
    fn log_level_default_and_errors() {
        assert_eq!(
            CommandLine::new("").log_level(LevelFilter::Info),
            Ok(LevelFilter::Info)
        );
        assert_eq!(
            CommandLine::new("log=DEBUG").log_level(LevelFilter::Info),
            Ok(LevelFilter::Debug)
        );
        assert_eq!(
            CommandLine::new("log=loud").log_level(LevelFilter::Info),
            Err(BadValue {
                key: "log",
                value: "loud"
            })
        );
        assert_eq!(
            CommandLine::new("log").log_level(LevelFilter::Info),
            Ok(LevelFilter::Info),
            "a bare `log` flag has no value and leaves the default"
        );
    }
}
