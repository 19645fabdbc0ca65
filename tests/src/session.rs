//! Scripted console sessions: boot QEMU, wait for text on the serial console, type, repeat.
//!
//! Output is collected as it arrives (not line by line: a prompt has no newline), cleaned of
//! escape sequences and carriage returns, and matched from a moving mark, so each `expect`
//! sees only what came after the previous one.

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::qemu::strip_escapes;

struct Shared {
    /// Cleaned output so far.
    output: String,
    /// Raw bytes not yet cleaned (an escape sequence or UTF-8 character may be split).
    pending: Vec<u8>,
    /// The output streams closed (QEMU exited).
    closed: bool,
}

/// A running QEMU whose serial console this test drives.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    /// Output before this byte offset has been matched already.
    mark: usize,
    started: Instant,
}

/// Keeps the longest prefix of `bytes` that cannot end inside an escape sequence or a
/// character, cleans it into `out`, and leaves the rest in `bytes`.
fn drain_clean(bytes: &mut Vec<u8>, out: &mut String) {
    let mut cut = bytes.len();
    // Hold back an unfinished escape sequence.
    if let Some(esc) = bytes.iter().rposition(|&b| b == 0x1b)
        && !bytes[esc..]
            .iter()
            .skip(2)
            .any(|b| (0x40..=0x7e).contains(b))
    {
        cut = esc;
    }
    // Hold back an unfinished UTF-8 sequence.
    let text = &bytes[..cut];
    let valid = match std::str::from_utf8(text) {
        Ok(_) => cut,
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => cut,
    };
    let chunk: Vec<u8> = bytes.drain(..valid).collect();
    out.push_str(&strip_escapes(&String::from_utf8_lossy(&chunk)));
}

impl Session {
    /// Starts `command` with its stdin and stdout piped (QEMU with `-serial stdio`).
    pub fn start(mut command: Command) -> io::Result<Self> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let shared = Arc::new((
            Mutex::new(Shared {
                output: String::new(),
                pending: Vec::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let streams: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().expect("stdout is piped")),
            Box::new(child.stderr.take().expect("stderr is piped")),
        ];
        for mut stream in streams {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let (lock, wake) = &*shared;
                    let mut state = lock.lock().expect("session output");
                    if n == 0 {
                        let Shared {
                            output, pending, ..
                        } = &mut *state;
                        pending.push(b'\n');
                        drain_clean(pending, output);
                        state.closed = true;
                        wake.notify_all();
                        return;
                    }
                    let Shared {
                        output, pending, ..
                    } = &mut *state;
                    pending.extend_from_slice(&buf[..n]);
                    drain_clean(pending, output);
                    wake.notify_all();
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(Self {
            child,
            stdin,
            shared,
            mark: 0,
            started: Instant::now(),
        })
    }

    /// Waits until `text` appears after the mark; returns the output from the mark up to and
    /// including it, and moves the mark past it. On timeout (or if QEMU exits first) the error
    /// holds the output since the mark.
    pub fn expect(&mut self, text: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let (lock, wake) = &*self.shared;
        let mut state = lock.lock().expect("session output");
        loop {
            if let Some(at) = state.output[self.mark..].find(text) {
                let end = self.mark + at + text.len();
                let seen = state.output[self.mark..end].to_string();
                self.mark = end;
                return Ok(seen);
            }
            let now = Instant::now();
            if now >= deadline || state.closed {
                let why = if state.closed {
                    "QEMU exited"
                } else {
                    "timed out"
                };
                return Err(format!(
                    "{why} waiting for {text:?} after {:.1} s; output since the last match:\n{}",
                    self.started.elapsed().as_secs_f64(),
                    tail(&state.output[self.mark..], 20)
                ));
            }
            state = wake
                .wait_timeout(state, deadline - now)
                .expect("session output")
                .0;
        }
    }

    /// Types `text` on the serial line, a few bytes at a time like a person would (the UART
    /// has a 16-byte FIFO; QEMU holds the rest).
    pub fn send(&mut self, text: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin is closed")?;
        for chunk in text.as_bytes().chunks(8) {
            stdin
                .write_all(chunk)
                .and_then(|()| stdin.flush())
                .map_err(|e| format!("typing into QEMU: {e}"))?;
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Waits for QEMU to exit by itself; returns its status, or `None` after `timeout` (it is
    /// then killed).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                _ => {
                    self.kill();
                    return None;
                }
            }
        }
    }

    /// Everything seen so far.
    pub fn output(&self) -> String {
        self.shared.0.lock().expect("session output").output.clone()
    }

    /// The output since the mark.
    pub fn unmatched(&self) -> String {
        self.shared.0.lock().expect("session output").output[self.mark..].to_string()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_split_escapes_and_characters() {
        let mut out = String::new();
        let mut pending = b"abc\x1b[3".to_vec();
        drain_clean(&mut pending, &mut out);
        assert_eq!(out, "abc");
        pending.extend_from_slice(b"1mred\xc3");
        drain_clean(&mut pending, &mut out);
        assert_eq!(out, "abcred");
        pending.extend_from_slice(b"\xa9!\r\n");
        drain_clean(&mut pending, &mut out);
        assert_eq!(out, "abcredé!\n");
    }

    #[test]
    fn expects_text_across_reads_and_reports_timeouts() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "printf 'lux9%% '; read line; echo \"got $line\"; sleep 5",
        ]);
        let mut session = Session::start(command).expect("sh runs");
        session
            .expect("lux9% ", Duration::from_secs(5))
            .expect("prompt without a newline");
        session.send("hello\n").unwrap();
        let seen = session.expect("got hello", Duration::from_secs(5)).unwrap();
        assert!(seen.ends_with("got hello"));
        let err = session
            .expect("never printed", Duration::from_millis(200))
            .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }
}
