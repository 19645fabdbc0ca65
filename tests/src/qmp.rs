//! A small QMP (QEMU Machine Protocol) client on a Unix socket: commands with their replies,
//! and the events QEMU sends (`SHUTDOWN` with its reason, `RESET`), kept for the test to read.
//!
//! QMP speaks one JSON object per line; the few fields the tests need are read with
//! [`string_field`] instead of a JSON library.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::qemu::QemuConfig;

/// How long a command may take to be answered.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// One event, e.g. `SHUTDOWN` with reason `guest-shutdown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    /// `data.reason` where the event has one (`SHUTDOWN`, `RESET`).
    pub reason: Option<String>,
    /// The whole line as QEMU sent it.
    pub line: String,
}

#[derive(Default)]
struct Inbox {
    events: Vec<Event>,
    replies: Vec<String>,
    closed: bool,
}

/// A connected QMP monitor.
pub struct Qmp {
    stream: UnixStream,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    /// Events before this index have been consumed by [`Qmp::wait_event`].
    seen_events: usize,
    /// The last command's number, sent as its `id` and matched with the reply's.
    last_id: u64,
}

/// The text of the string field `key` in a JSON line, the first one found at any depth
/// (`"reason": "guest-shutdown"`). Escapes are not decoded; QMP's names and reasons have none.
pub fn string_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let mut rest = line;
    while let Some(at) = rest.find(&quoted) {
        rest = &rest[at + quoted.len()..];
        let value = rest.trim_start();
        let Some(value) = value.strip_prefix(':') else {
            continue;
        };
        if let Some(value) = value.trim_start().strip_prefix('"') {
            return value.find('"').map(|end| &value[..end]);
        }
    }
    None
}

/// A QMP socket for one QEMU run; the socket file is removed when this is dropped.
pub struct QmpSocket(pub PathBuf);

impl QmpSocket {
    /// Adds `-qmp unix:PATH,server=on,wait=off` to `config`, under a name unique to this process
    /// and `tag`.
    pub fn attach(config: &mut QemuConfig, tag: &str) -> QmpSocket {
        let path = std::env::temp_dir().join(format!("lux9-qmp-{}-{tag}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        config.extra.extend([
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", path.display()),
        ]);
        QmpSocket(path)
    }
}

impl Drop for QmpSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Qmp {
    /// Connects to the socket at `path` (waiting up to `timeout` for QEMU to create it) and
    /// leaves the capabilities negotiation mode.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp, String> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("cannot reach QMP at {}: {e}", path.display()));
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        };
        let reader = stream.try_clone().map_err(|e| format!("QMP socket: {e}"))?;
        let inbox = Arc::new((Mutex::new(Inbox::default()), Condvar::new()));
        let shared = inbox.clone();
        thread::spawn(move || {
            let mut lines = BufReader::new(reader);
            let mut line = String::new();
            loop {
                line.clear();
                let n = lines.read_line(&mut line).unwrap_or(0);
                let (lock, wake) = &*shared;
                let mut inbox = lock.lock().expect("qmp inbox");
                if n == 0 {
                    inbox.closed = true;
                    wake.notify_all();
                    return;
                }
                let text = line.trim().to_string();
                if let Some(name) = string_field(&text, "event") {
                    inbox.events.push(Event {
                        name: name.to_string(),
                        reason: string_field(&text, "reason").map(str::to_string),
                        line: text.clone(),
                    });
                } else if text.starts_with("{\"return\"") || text.starts_with("{\"error\"") {
                    inbox.replies.push(text);
                }
                // The greeting (`{"QMP": ...}`) is neither.
                wake.notify_all();
            }
        });
        let mut qmp = Qmp {
            stream,
            inbox,
            seen_events: 0,
            last_id: 0,
        };
        qmp.execute("qmp_capabilities", "{}")?;
        Ok(qmp)
    }

    /// Runs `command` with `arguments` (a JSON object) and returns its `return` line, or the
    /// `error` line as the error. Replies carry the request's `id`, so a late reply to an
    /// earlier command is never taken for this one's.
    pub fn execute(&mut self, command: &str, arguments: &str) -> Result<String, String> {
        self.last_id += 1;
        let id = format!("lux9-{}", self.last_id);
        let request = format!(
            "{{\"execute\": \"{command}\", \"arguments\": {arguments}, \"id\": \"{id}\"}}\n"
        );
        self.stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("QMP {command}: {e}"))?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let (lock, wake) = &*self.inbox;
        let mut inbox = lock.lock().expect("qmp inbox");
        loop {
            if let Some(at) = inbox
                .replies
                .iter()
                .position(|reply| string_field(reply, "id") == Some(id.as_str()))
            {
                let reply = inbox.replies.remove(at);
                return if reply.starts_with("{\"return\"") {
                    Ok(reply)
                } else {
                    Err(format!("QMP {command}: {reply}"))
                };
            }
            let now = Instant::now();
            if inbox.closed || now >= deadline {
                return Err(format!("QMP {command}: no reply (QEMU gone or stuck)"));
            }
            inbox = wake
                .wait_timeout(inbox, deadline - now)
                .expect("qmp inbox")
                .0;
        }
    }

    /// Waits up to `timeout` for the next event (after those already returned) whose name is
    /// one of `names`; events with other names are skipped.
    pub fn wait_event(&mut self, names: &[&str], timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let (lock, wake) = &*self.inbox;
        let mut inbox = lock.lock().expect("qmp inbox");
        loop {
            while self.seen_events < inbox.events.len() {
                let event = inbox.events[self.seen_events].clone();
                self.seen_events += 1;
                if names.contains(&event.name.as_str()) {
                    return Some(event);
                }
            }
            let now = Instant::now();
            if inbox.closed || now >= deadline {
                return None;
            }
            inbox = wake
                .wait_timeout(inbox, deadline - now)
                .expect("qmp inbox")
                .0;
        }
    }

    /// Marks every event received so far as consumed.
    pub fn skip_events(&mut self) {
        self.seen_events = self.inbox.0.lock().expect("qmp inbox").events.len();
    }

    /// Every event received so far, consumed or not.
    pub fn events(&self) -> Vec<Event> {
        self.inbox.0.lock().expect("qmp inbox").events.clone()
    }

    /// Presses `keys` (QEMU key names: `e`, `spc`, `ret`, `esc`, `down`) one after the other
    /// on the emulated PS/2 keyboard, as a person at the screen would.
    pub fn press_keys(&mut self, keys: &[&str]) -> Result<(), String> {
        for key in keys {
            self.execute(
                "send-key",
                &format!("{{\"keys\": [{{\"type\": \"qcode\", \"data\": \"{key}\"}}]}}"),
            )?;
            thread::sleep(Duration::from_millis(30));
        }
        Ok(())
    }

    /// Presses `keys` together and lets them go (`["ctrl", "c"]` is Ctrl-C).
    pub fn press_chord(&mut self, keys: &[&str]) -> Result<(), String> {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| format!("{{\"type\": \"qcode\", \"data\": \"{key}\"}}"))
            .collect();
        self.execute("send-key", &format!("{{\"keys\": [{}]}}", keys.join(", ")))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_fields_are_found_at_any_depth() {
        let line = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#;
        assert_eq!(string_field(line, "event"), Some("SHUTDOWN"));
        assert_eq!(string_field(line, "reason"), Some("guest-shutdown"));
        assert_eq!(string_field(line, "guest"), None, "not a string");
        assert_eq!(string_field(line, "missing"), None);
        assert_eq!(string_field(r#"{"return": {}}"#, "event"), None);
    }

    /// A stand-in for QEMU's QMP server: greets, answers each command with its id (the first
    /// `send-key` late, after an unrelated stale reply), and sends two events after `quit`.
    fn fake_qemu(path: &Path) -> thread::JoinHandle<Vec<String>> {
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut seen = Vec::new();
            writeln!(out, r#"{{"QMP": {{"version": {{}}, "capabilities": []}}}}"#).unwrap();
            for line in BufReader::new(stream).lines() {
                let line = line.unwrap();
                let id = string_field(&line, "id").unwrap().to_string();
                let command = string_field(&line, "execute").unwrap().to_string();
                seen.push(command.clone());
                match command.as_str() {
                    "send-key" => {
                        writeln!(out, r#"{{"return": {{}}, "id": "stale"}}"#).unwrap();
                        writeln!(out, r#"{{"timestamp": {{"seconds": 1}}, "event": "RESET", "data": {{"guest": true, "reason": "guest-reset"}}}}"#).unwrap();
                        writeln!(out, r#"{{"return": {{}}, "id": "{id}"}}"#).unwrap();
                    }
                    "bad" => writeln!(
                        out,
                        r#"{{"error": {{"class": "CommandNotFound"}}, "id": "{id}"}}"#
                    )
                    .unwrap(),
                    "quit" => {
                        writeln!(out, r#"{{"return": {{}}, "id": "{id}"}}"#).unwrap();
                        writeln!(out, r#"{{"event": "STOP"}}"#).unwrap();
                        writeln!(out, r#"{{"event": "SHUTDOWN", "data": {{"guest": true, "reason": "guest-shutdown"}}}}"#).unwrap();
                        return seen;
                    }
                    _ => writeln!(out, r#"{{"return": {{}}, "id": "{id}"}}"#).unwrap(),
                }
            }
            seen
        })
    }

    #[test]
    fn commands_get_their_own_replies_and_events_are_kept() {
        let path = std::env::temp_dir().join(format!("lux9-qmp-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = fake_qemu(&path);
        let mut qmp = Qmp::connect(&path, Duration::from_secs(5)).unwrap();
        qmp.press_keys(&["a"]).unwrap();
        let error = qmp.execute("bad", "{}").unwrap_err();
        assert!(error.contains("CommandNotFound"), "{error}");
        let reset = qmp
            .wait_event(&["SHUTDOWN", "RESET"], Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            (reset.name.as_str(), reset.reason.as_deref()),
            ("RESET", Some("guest-reset"))
        );
        qmp.execute("quit", "{}").unwrap();
        let off = qmp
            .wait_event(&["SHUTDOWN"], Duration::from_secs(5))
            .unwrap();
        assert_eq!(off.reason.as_deref(), Some("guest-shutdown"));
        assert_eq!(
            qmp.wait_event(&["SHUTDOWN"], Duration::from_millis(100)),
            None
        );
        assert_eq!(qmp.events().len(), 3);
        assert_eq!(
            server.join().unwrap(),
            ["qmp_capabilities", "send-key", "bad", "quit"]
        );
        let _ = std::fs::remove_file(&path);
    }
}
