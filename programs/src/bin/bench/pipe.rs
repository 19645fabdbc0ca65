//! Pipes between two processes (the kernel objects of docs/shell.md):
//!
//! - `pipe_roundtrip`: one byte to a partner through one pipe and one byte back through
//!   another, as Linux's pipe round trip in BENCHMARKS.md; ticks and switches per round trip.
//! - `pipe_throughput`: 16 MiB written in 64 KiB writes and read by a partner in 64 KiB reads;
//!   ticks and switches per MiB, from the first write until the partner has read the end of
//!   file and said so.
//!
//! The partner is this program again (`bench pipe-echo` and `bench pipe-sink`); it takes its
//! own holds on the pipes this process made (a child may open what its parent holds) and
//! tells it is ready with a byte, after which this side lets its own unused holds go.

use alloc::format;
use alloc::string::String;
use alloc::vec;

use lux9_rt::pipe::{self, End, Id};
use lux9_rt::sys;

use super::{report, switches_text};

const ROUNDTRIP_OPS: u64 = 5_000;
const WARM_UP: u64 = 500;
const WRITE_SIZE: usize = 64 * 1024;
const THROUGHPUT_MIB: u64 = 16;

/// What both benchmarks share: two pipes (to the partner and back) and the partner.
struct Partner {
    to: Id,
    from: Id,
    pid: usize,
}

impl Partner {
    /// Makes the pipes, starts `bench ROLE TO FROM` and waits for its ready byte.
    fn start(role: &str) -> Result<Partner, String> {
        let to = pipe::create().map_err(|e| format!("pipe: {e}"))?;
        let from = pipe::create().map_err(|e| format!("pipe: {e}"))?;
        let pid = sys::spawn("bench", &format!("{role} {to} {from}"))
            .map_err(|e| format!("starting the partner: {e}"))?;
        let mut byte = [0u8; 1];
        match pipe::read(from, &mut byte) {
            Ok(1) => {}
            other => return Err(format!("the partner did not say it was ready: {other:?}")),
        }
        // The partner holds its ends now: ours of them would only hide its exit.
        let _ = pipe::close(to, End::Read);
        let _ = pipe::close(from, End::Write);
        Ok(Partner { to, from, pid })
    }

    /// Ends the partner (the end of file on its input) and waits for it.
    fn finish(self) -> Result<(), String> {
        let _ = pipe::close(self.to, End::Write);
        let status = sys::wait(self.pid).map_err(|e| format!("wait: {e}"))?;
        let _ = pipe::close(self.from, End::Read);
        if status.success() {
            Ok(())
        } else {
            Err(format!("the partner ended with {status:?}"))
        }
    }

    fn send(&self, bytes: &[u8]) -> Result<(), String> {
        match pipe::write(self.to, bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            other => Err(format!("pipe write: {other:?}")),
        }
    }

    fn receive_byte(&self) -> Result<(), String> {
        let mut byte = [0u8; 1];
        match pipe::read(self.from, &mut byte) {
            Ok(1) => Ok(()),
            other => Err(format!("pipe read: {other:?}")),
        }
    }
}

/// Runs both figures.
pub fn run() -> Result<(), String> {
    roundtrip()?;
    throughput()
}

fn roundtrip() -> Result<(), String> {
    let partner = Partner::start("pipe-echo")?;
    for _ in 0..WARM_UP {
        partner.send(b"x")?;
        partner.receive_byte()?;
    }
    let switches_before = switches_text()?;
    let start = sys::rdtsc();
    for _ in 0..ROUNDTRIP_OPS {
        partner.send(b"x")?;
        partner.receive_byte()?;
    }
    let ticks = sys::rdtsc() - start;
    let switched = switches_text()? - switches_before;
    partner.finish()?;
    report("pipe_roundtrip", ROUNDTRIP_OPS, ticks, switched);
    Ok(())
}

fn throughput() -> Result<(), String> {
    let partner = Partner::start("pipe-sink")?;
    let chunk = vec![0x5au8; WRITE_SIZE];
    let writes = THROUGHPUT_MIB * (1 << 20) / WRITE_SIZE as u64;
    let switches_before = switches_text()?;
    let start = sys::rdtsc();
    for _ in 0..writes {
        partner.send(&chunk)?;
    }
    let _ = pipe::close(partner.to, End::Write);
    // The sink answers with one byte once it has read everything and the end of file.
    partner.receive_byte()?;
    let ticks = sys::rdtsc() - start;
    let switched = switches_text()? - switches_before;
    let status = sys::wait(partner.pid).map_err(|e| format!("wait: {e}"))?;
    let _ = pipe::close(partner.from, End::Read);
    if !status.success() {
        return Err(format!("the sink ended with {status:?}"));
    }
    report("pipe_throughput", THROUGHPUT_MIB, ticks, switched);
    Ok(())
}

/// The partner's side: `pipe-echo TO FROM` sends back each byte it reads; `pipe-sink TO FROM`
/// reads everything, checks the count, and sends one byte at the end of file. Returns the
/// exit status.
pub fn partner(role: &str, ids: &str) -> i32 {
    let mut ids = ids.split_whitespace().map(str::parse::<Id>);
    let (Some(Ok(input)), Some(Ok(output))) = (ids.next(), ids.next()) else {
        lux9_rt::println!("bench {role}: expected two pipe ids");
        return 2;
    };
    let opened = pipe::open(input, End::Read).and_then(|()| pipe::open(output, End::Write));
    if let Err(error) = opened.and_then(|()| pipe::write(output, b"r").map(drop)) {
        lux9_rt::println!("bench {role}: {error}");
        return 1;
    }
    let mut buffer = vec![0u8; WRITE_SIZE];
    let mut total = 0u64;
    loop {
        match pipe::read(input, &mut buffer) {
            Ok(0) => break,
            Ok(n) if role == "pipe-echo" => {
                if pipe::write(output, &buffer[..n]).is_err() {
                    return 1;
                }
            }
            Ok(n) => total += n as u64,
            Err(error) => {
                lux9_rt::println!("bench {role}: read: {error}");
                return 1;
            }
        }
    }
    if role == "pipe-sink" {
        if total != THROUGHPUT_MIB << 20 {
            lux9_rt::println!("bench pipe-sink: read {total} bytes, not {THROUGHPUT_MIB} MiB");
            return 1;
        }
        if pipe::write(output, b"d").is_err() {
            return 1;
        }
    }
    0
}
