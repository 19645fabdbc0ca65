//! Reading the texts of `/proc`: `name value` lines, process status, IPC statistics, uptime
//! and mounts. The parsers are tolerant: unknown lines are skipped and missing fields show as
//! `?`, so the programs keep working while the file formats grow.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The `key value` pairs of a text: the first word of each non-blank line, and the rest of it.
pub fn pairs(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(char::is_whitespace) {
            Some((key, value)) => (key, value.trim()),
            None => (line, ""),
        })
        .collect()
}

fn lookup<'a>(pairs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// A process as `/proc/PID/status` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStatus {
    pub name: String,
    pub state: String,
    pub parent: String,
    pub switches: String,
    pub memory: String,
    pub priority: String,
}

impl ProcStatus {
    pub fn parse(text: &str) -> Self {
        let pairs = pairs(text);
        let field = |key| lookup(&pairs, key).unwrap_or("?").to_string();
        // `memory 120 KiB`, or the older `pages N` (4 KiB pages).
        let memory = match (lookup(&pairs, "memory"), lookup(&pairs, "pages")) {
            (Some(memory), _) => memory.to_string(),
            (None, Some(pages)) => match pages.parse::<u64>() {
                Ok(pages) => format!("{} KiB", pages * 4),
                Err(_) => pages.to_string(),
            },
            (None, None) => "?".into(),
        };
        Self {
            name: field("name"),
            state: field("state"),
            parent: field("parent"),
            switches: field("switches"),
            memory,
            priority: field("priority"),
        }
    }
}

/// The arguments in a `/proc/PID/cmdline` text: without an environment block the kernel may
/// have kept, without the final newline, and without the program name if the text starts
/// with it.
pub fn cmdline_args<'a>(cmdline: &'a str, name: &str) -> &'a str {
    let (_, args) = lux9_rt::abi::env::split(cmdline);
    let args = args.trim_end_matches('\n');
    match args.strip_prefix(name) {
        Some("") => "",
        Some(rest) if rest.starts_with(' ') => rest.trim_start(),
        _ => args,
    }
}

/// The columns of `ps`.
pub const PS_HEADER: [&str; 7] = ["PID", "PPID", "STATE", "SWITCHES", "MEMORY", "NAME", "ARGS"];
/// Which `ps` columns are right-aligned.
pub const PS_RIGHT: [bool; 7] = [true, true, false, true, true, false, false];

/// One `ps` row.
pub fn ps_row(pid: u64, status: &ProcStatus, cmdline: &str) -> Vec<String> {
    alloc::vec![
        pid.to_string(),
        status.parent.clone(),
        status.state.clone(),
        status.switches.clone(),
        status.memory.clone(),
        status.name.clone(),
        cmdline_args(cmdline, &status.name).to_string(),
    ]
}

/// The pids among the names of `/proc`, in order.
pub fn pids<S: AsRef<str>>(names: &[S]) -> Vec<u64> {
    let mut pids: Vec<u64> = names
        .iter()
        .filter(|name| {
            let name = name.as_ref();
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
        })
        .filter_map(|name| name.as_ref().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// A list of `name value` counters.
pub type Counters = Vec<(String, String)>;

/// The counters of `/proc/ipcstats` (the system's) or `/proc/PID/ipcstats` (one process's):
/// each `name value` line in order, a trailing `:` dropped from the name. Blank lines and lone
/// words (headings) are skipped.
pub fn counters(text: &str) -> Counters {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let key = words.next()?.trim_end_matches(':');
            let value: Vec<&str> = words.collect();
            (!value.is_empty()).then(|| (key.to_string(), value.join(" ")))
        })
        .collect()
}

/// A counter as people read it: `name_x100 107` (a value scaled by 100) becomes `name 1.07`.
pub fn readable_counter(key: &str, value: &str) -> (String, String) {
    match (key.strip_suffix("_x100"), value.parse::<u64>()) {
        (Some(name), Ok(scaled)) => (
            name.to_string(),
            format!("{}.{:02}", scaled / 100, scaled % 100),
        ),
        _ => (key.to_string(), value.to_string()),
    }
}

/// `/proc/uptime` (`seconds.milliseconds`) in milliseconds.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let text = text.trim();
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis = 0;
    for index in 0..3 {
        let digit = fraction
            .as_bytes()
            .get(index)
            .map_or(0, |b| u64::from(b - b'0'));
        millis = millis * 10 + digit;
    }
    seconds
        .parse::<u64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(millis)
}

/// `up H:MM:SS.mmm (S.mmm s)`.
pub fn format_uptime(ms: u64) -> String {
    let (seconds, millis) = (ms / 1000, ms % 1000);
    format!(
        "up {}:{:02}:{:02}.{millis:03} ({seconds}.{millis:03} s)",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The columns of `mount`.
pub const MOUNT_HEADER: [&str; 4] = ["PATH", "SERVICE", "ANAME", "PLACEMENT"];

/// The rows of `/proc/mounts` (`path service aname placement`); missing fields show as `-`.
pub fn mount_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < 2 {
                return None;
            }
            Some(
                (0..4)
                    .map(|i| words.get(i).copied().unwrap_or("-").to_string())
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "procfs_tests.rs"]
mod tests;
