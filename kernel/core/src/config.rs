//! The boot configuration: `lux9.conf` (a GRUB module) overridden by the kernel command line.
//!
//! `lux9.conf` has `key = value` lines; `#` starts a comment; blank lines are ignored. The
//! command line's `key=value` words win over the file. Keys:
//!
//! - `isolation = hybrid | strict | off`: the preset (ARCHITECTURE.md): hybrid runs sysserver
//!   colocated and ext4srv isolated; strict runs both isolated; off runs both colocated;
//! - `sysserver = colocated | isolated` and `ext4srv = colocated | isolated`: override the preset
//!   for one server;
//! - `log = off | error | warn | info | debug | trace`;
//! - `mount = auto | none | DEVICE:PATH[,DEVICE:PATH...]`: the ext4 volumes init mounts at
//!   boot. `auto` (the default) mounts the first ext4 volume found at `/mnt`; `none` mounts
//!   nothing; a list mounts each `DEVICE` (`/dev/sd0/p1`, `/dev/sd0/data`) at its `PATH`.
//!
//! Anything else is a warning (with the line number for the file), and the default stands.
//! Command-line words that are not configuration keys (`test=`, `init=`, ...) are not
//! warned about: other parts of the kernel read them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use log::LevelFilter;

use crate::cmdline::{CommandLine, parse_log_level};

/// Where a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A kernel-mode thread in its own address space, called directly.
    Colocated,
    /// A ring-3 process behind IPC.
    Isolated,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::Colocated => "colocated",
            Placement::Isolated => "isolated",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "colocated" => Some(Placement::Colocated),
            "isolated" => Some(Placement::Isolated),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Hybrid,
    Strict,
    Off,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Hybrid => "hybrid",
            Preset::Strict => "strict",
            Preset::Off => "off",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "hybrid" => Some(Preset::Hybrid),
            "strict" => Some(Preset::Strict),
            "off" => Some(Preset::Off),
            _ => None,
        }
    }

    /// (sysserver, ext4srv) under this preset.
    fn placements(self) -> (Placement, Placement) {
        match self {
            Preset::Hybrid => (Placement::Colocated, Placement::Isolated),
            Preset::Strict => (Placement::Isolated, Placement::Isolated),
            Preset::Off => (Placement::Colocated, Placement::Colocated),
        }
    }
}

/// The ext4 volumes mounted at boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mounts {
    /// The first ext4 volume found, at `/mnt`.
    Auto,
    /// None.
    None,
    /// Each (device, path).
    List(Vec<(String, String)>),
}

impl Mounts {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(Mounts::Auto),
            "none" => Some(Mounts::None),
            list => list
                .split(',')
                .map(|entry| {
                    let (device, path) = entry.trim().split_once(':')?;
                    let ok = device.starts_with("/dev/")
                        && path.starts_with('/')
                        && !device.contains(char::is_whitespace)
                        && !path.contains(char::is_whitespace);
                    ok.then(|| (String::from(device), String::from(path)))
                })
                .collect::<Option<Vec<_>>>()
                .map(Mounts::List),
        }
    }

    /// As `/sys/config` shows it (and as it is written).
    pub fn text(&self) -> String {
        match self {
            Mounts::Auto => "auto".into(),
            Mounts::None => "none".into(),
            Mounts::List(list) => list
                .iter()
                .map(|(device, path)| format!("{device}:{path}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The configuration in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub isolation: Preset,
    pub sysserver: Placement,
    pub ext4srv: Placement,
    pub log: LevelFilter,
    pub mount: Mounts,
    /// Where each value came from: "default", "lux9.conf" or "command line".
    sources: [&'static str; 5],
}

/// A problem found while reading the configuration, for the boot log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning(pub String);

impl Default for Config {
    fn default() -> Self {
        let (sysserver, ext4srv) = Preset::Hybrid.placements();
        Self {
            isolation: Preset::Hybrid,
            sysserver,
            ext4srv,
            log: LevelFilter::Info,
            mount: Mounts::Auto,
            sources: ["default"; 5],
        }
    }
}

/// The keys `lux9.conf` accepts.
pub const KEYS: [&str; 5] = ["isolation", "sysserver", "ext4srv", "log", "mount"];

/// Raw settings before the preset is applied, so that a per-server key wins over the preset
/// wherever each came from.
#[derive(Default)]
struct Settings {
    isolation: Option<(Preset, &'static str)>,
    sysserver: Option<(Placement, &'static str)>,
    ext4srv: Option<(Placement, &'static str)>,
    log: Option<(LevelFilter, &'static str)>,
    mount: Option<(Mounts, &'static str)>,
}

impl Settings {
    /// Applies one setting from `source`; `origin` names it in warnings (with a line number).
    fn apply(
        &mut self,
        key: &str,
        value: &str,
        source: &'static str,
        origin: &str,
        warn: &mut dyn FnMut(String),
    ) {
        let bad = |warn: &mut dyn FnMut(String), expected: &str| {
            warn(format!(
                "{origin}: {key} = {value:?} is not valid ({expected}); keeping the default"
            ))
        };
        match key {
            "isolation" => match Preset::parse(value) {
                Some(preset) => self.isolation = Some((preset, source)),
                None => bad(warn, "hybrid, strict or off"),
            },
            "sysserver" => match Placement::parse(value) {
                Some(placement) => self.sysserver = Some((placement, source)),
                None => bad(warn, "colocated or isolated"),
            },
            "ext4srv" => match Placement::parse(value) {
                Some(placement) => self.ext4srv = Some((placement, source)),
                None => bad(warn, "colocated or isolated"),
            },
            "log" => match parse_log_level(value) {
                Some(level) => self.log = Some((level, source)),
                None => bad(warn, "off, error, warn, info, debug or trace"),
            },
            "mount" => match Mounts::parse(value) {
                Some(mounts) => self.mount = Some((mounts, source)),
                None => bad(
                    warn,
                    "auto, none, or /dev/DISK/PART:/PATH entries by commas",
                ),
            },
            _ => unreachable!("only known keys are applied"),
        }
    }
}

/// Reads `file` (the contents of `lux9.conf`, if GRUB loaded it) and the command line.
pub fn load(file: Option<&str>, cmdline: &CommandLine<'_>) -> (Config, Vec<Warning>) {
    let mut warnings = Vec::new();
    let mut settings = Settings::default();
    let mut warn = |text: String| warnings.push(Warning(text));
    if let Some(file) = file {
        for (number, raw) in file.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                warn(format!(
                    "lux9.conf line {}: {line:?} is not `key = value`; ignored",
                    number + 1
                ));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if !KEYS.contains(&key) {
                warn(format!(
                    "lux9.conf line {}: unknown key {key:?}; ignored (keys: {})",
                    number + 1,
                    KEYS.join(", ")
                ));
                continue;
            }
            settings.apply(
                key,
                value,
                "lux9.conf",
                &format!("lux9.conf line {}", number + 1),
                &mut warn,
            );
        }
    }
    for word in cmdline.words() {
        if let (true, Some(value)) = (KEYS.contains(&word.key), word.value) {
            settings.apply(word.key, value, "command line", "command line", &mut warn);
        }
    }
    let mut config = Config::default();
    if let Some((preset, source)) = settings.isolation {
        config.isolation = preset;
        (config.sysserver, config.ext4srv) = preset.placements();
        config.sources = [source; 5];
        config.sources[3] = "default";
        config.sources[4] = "default";
    }
    if let Some((placement, source)) = settings.sysserver {
        config.sysserver = placement;
        config.sources[1] = source;
    }
    if let Some((placement, source)) = settings.ext4srv {
        config.ext4srv = placement;
        config.sources[2] = source;
    }
    if let Some((level, source)) = settings.log {
        config.log = level;
        config.sources[3] = source;
    }
    if let Some((mounts, source)) = settings.mount {
        config.mount = mounts;
        config.sources[4] = source;
    }
    (config, warnings)
}

impl Config {
    /// The effective configuration as `/sys/config` shows it: `key = value  # source`.
    pub fn text(&self) -> String {
        let level = match self.log {
            LevelFilter::Off => "off",
            LevelFilter::Error => "error",
            LevelFilter::Warn => "warn",
            LevelFilter::Info => "info",
            LevelFilter::Debug => "debug",
            LevelFilter::Trace => "trace",
        };
        let mount = self.mount.text();
        let values = [
            self.isolation.name(),
            self.sysserver.name(),
            self.ext4srv.name(),
            level,
            mount.as_str(),
        ];
        let mut text = String::new();
        for ((key, value), source) in KEYS.iter().zip(values).zip(self.sources) {
            let _ = writeln!(text, "{key} = {value}  # {source}");
        }
        text
    }

    /// Each server's placement as `/sys/isolation` shows it: where the volumes mounted from
    /// now on are served (`mount ext4` asks the kernel the same question).
    pub fn isolation_text(&self) -> String {
        format!(
            "preset {}\nsysserver {}\next4srv {}\n",
            self.isolation.name(),
            self.sysserver.name(),
            self.ext4srv.name(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_both(file: &str, cmdline: &str) -> (Config, Vec<Warning>) {
        load(Some(file), &CommandLine::new(cmdline))
    }

    #[test]
    fn defaults_without_a_file() {
        let (config, warnings) = load(None, &CommandLine::new(""));
        assert_eq!(config, Config::default());
        assert_eq!(config.sysserver, Placement::Colocated);
        assert_eq!(config.ext4srv, Placement::Isolated);
        assert!(warnings.is_empty());
    }

    #[test]
    fn presets_and_overrides() {
        let (config, _) = load_both("isolation = strict\n", "");
        assert_eq!(
            (config.sysserver, config.ext4srv),
            (Placement::Isolated, Placement::Isolated)
        );
        let (config, _) = load_both("isolation = off\n", "");
        assert_eq!(
            (config.sysserver, config.ext4srv),
            (Placement::Colocated, Placement::Colocated)
        );
        // A per-server key beats the preset, even when the preset comes later (command line).
        let (config, _) = load_both("sysserver = isolated\n", "isolation=off");
        assert_eq!(
            (config.sysserver, config.ext4srv),
            (Placement::Isolated, Placement::Colocated)
        );
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let (config, warnings) = load_both(
            "isolation = strict # comment\nlog = debug\n",
            "isolation=hybrid log=warn test=user",
        );
        assert_eq!(config.isolation, Preset::Hybrid);
        assert_eq!(config.log, LevelFilter::Warn);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(config.text().contains("isolation = hybrid  # command line"));
        assert!(config.isolation_text().contains("sysserver colocated"));
    }

    #[test]
    fn unknown_keys_and_bad_values_warn_and_keep_defaults() {
        let (config, warnings) = load_both(
            "# a comment\n\nisolation = maximum\ncolour = blue\nnonsense\nlog=debug\n",
            "sysserver=sideways",
        );
        assert_eq!(config.isolation, Preset::Hybrid);
        assert_eq!(config.sysserver, Placement::Colocated);
        assert_eq!(config.log, LevelFilter::Debug);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].0.contains("line 3") && warnings[0].0.contains("maximum"));
        assert!(warnings[1].0.contains("unknown key \"colour\""));
        assert!(warnings[2].0.contains("line 5"));
        assert!(warnings[3].0.contains("command line") && warnings[3].0.contains("sideways"));
    }

    #[test]
    fn isolation_says_where_each_server_runs() {
        let (hybrid, _) = load_both("", "");
        assert!(hybrid.isolation_text().ends_with("ext4srv isolated\n"));
        let (off, _) = load_both("isolation = off\n", "");
        assert!(off.isolation_text().ends_with("ext4srv colocated\n"));
    }

    #[test]
    fn mounts_are_auto_none_or_a_list() {
        assert_eq!(Config::default().mount, Mounts::Auto);
        let (config, warnings) = load_both("mount = none\n", "");
        assert_eq!((config.mount, warnings.len()), (Mounts::None, 0));
        let (config, _) = load_both(
            "mount = none\n",
            "mount=/dev/sd0/p1:/mnt,/dev/sd1/data:/data",
        );
        assert_eq!(
            config.mount,
            Mounts::List(alloc::vec![
                ("/dev/sd0/p1".into(), "/mnt".into()),
                ("/dev/sd1/data".into(), "/data".into())
            ])
        );
        assert!(
            config
                .text()
                .contains("mount = /dev/sd0/p1:/mnt,/dev/sd1/data:/data  # command line")
        );
        for bad in [
            "sd0:/mnt",
            "/dev/sd0/p1",
            "/dev/sd0/p1:mnt",
            "/dev/sd0/p1:/mnt,",
        ] {
            let (config, warnings) = load_both(&format!("mount = {bad}\n"), "");
            assert_eq!(config.mount, Mounts::Auto, "{bad}");
            assert_eq!(warnings.len(), 1, "{bad}");
        }
    }
}
