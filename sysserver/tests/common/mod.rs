//! The test harness: a scripted [`FakeBackend`] and a client over the in-memory loopback.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use lib9pclient::codec::{Message, NOFID, OREAD, decode};
use lib9pclient::{Client, Error, Fs, Loopback, Server};
use lux9_abi::ipc::IpcStats;
use lux9_abi::sysinfo::{MemInfo, ProcInfo};
use sysserver::{Backend, KernelLog, KnobError, SysFs};

/// Everything the fake reports, and what it was asked to do.
#[derive(Debug, Default)]
pub struct FakeState {
    pub processes: Vec<ProcInfo>,
    pub cmdlines: BTreeMap<u64, String>,
    /// Key 0 holds the system-wide figures.
    pub stats: BTreeMap<u64, IpcStats>,
    pub colocated_calls: u64,
    pub memory: MemInfo,
    pub uptime_ms: u64,
    /// Calls to `uptime_ms`, to see when text is generated.
    pub uptime_calls: usize,
    /// The log ring: `kmsg` holds the bytes from running position `kmsg_dropped` on (nonzero
    /// once the ring has wrapped).
    pub kmsg: Vec<u8>,
    pub kmsg_dropped: u64,
    pub version: String,
    pub kernel_cmdline: String,
    pub config: String,
    pub isolation: String,
    pub pci: String,
    /// Disks and their bytes.
    pub disks: Vec<(sysserver::DiskInfo, Vec<u8>)>,
    pub mounts: String,
    pub console_out: Vec<u8>,
    /// Input the console will deliver, one entry per read.
    pub console_in: VecDeque<Vec<u8>>,
    /// With no input queued: `None` (would block) if set, else `Some(0)` (end of file).
    pub console_nonblocking: bool,
    pub console_reads: usize,
    /// Every `console_set_raw` call, in order.
    pub raw_calls: Vec<bool>,
    pub random_seed: u32,
    pub knobs: Vec<(String, u64)>,
    /// `set_knob` refuses values above this.
    pub knob_max: u64,
}

/// A backend the test scripts through a shared handle. It is `Send`, like the kernel's, so
/// the tests also show a server over it can live in a kernel `static` behind a lock.
#[derive(Clone, Default)]
pub struct FakeBackend(pub Arc<Mutex<FakeState>>);

pub fn process(pid: u64, parent: u64, name: &str, state: u64) -> ProcInfo {
    let mut p = ProcInfo {
        pid,
        parent,
        state,
        switches: pid * 10,
        pages: pid * 3,
        priority: 2,
        ..Default::default()
    };
    p.set_name(name);
    p
}

pub fn stats(base: u64) -> IpcStats {
    IpcStats {
        total_switches: base + 1,
        fastpath_hits: base + 2,
        slowpath_messages: base + 3,
        zero_copy_transfers: base + 4,
        batched_operations: base + 5,
        batches: base + 6,
        avg_batch_size_x100: base + 7,
        cycles_per_switch: base + 8,
        futex_skips: base + 9,
        futex_sleeps: base + 10,
    }
}

/// The fake's generator (an LCG): the next byte from `state`.
pub fn fake_random(state: &mut u32) -> u8 {
    *state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    (*state >> 16) as u8
}

impl FakeBackend {
    /// A small system: init (1), sh (2, blocked), a zombie (5).
    pub fn new() -> Self {
        let fake = Self::default();
        {
            let mut s = fake.state();
            s.processes = vec![
                process(1, 0, "init", ProcInfo::STATE_RUNNING),
                process(2, 1, "sh", ProcInfo::STATE_BLOCKED),
                process(5, 2, "ls", ProcInfo::STATE_ZOMBIE),
            ];
            s.cmdlines.insert(1, "init".into());
            s.cmdlines.insert(2, "sh -i".into());
            s.cmdlines.insert(5, "ls -l /proc".into());
            s.stats.insert(0, stats(100));
            s.stats.insert(1, stats(10));
            s.stats.insert(2, stats(20));
            s.stats.insert(5, stats(50));
            s.colocated_calls = 77;
            s.memory = MemInfo {
                total: 134_217_728,
                free: 100_000_000,
                kernel_heap: 4_194_304,
                kernel_heap_in_use: 1_234_567,
                reserved: 2_097_152,
            };
            s.uptime_ms = 12_345;
            s.kmsg = b"lux9 booting\nmemory ok\n".to_vec();
            s.version = "lux9 0.1.0".into();
            s.kernel_cmdline = "isolation=hybrid log=info".into();
            s.config = "isolation = hybrid\nsysserver = colocated\n".into();
            s.isolation = "preset hybrid\nsysserver colocated\next4srv isolated\n".into();
            s.pci = "0000:00:00.0 8086:29c0 06.00.00 bridge/host -\n".into();
            s.mounts = "/dev sysserver dev colocated\n/proc sysserver proc colocated".into();
            s.random_seed = 1;
            s.knobs = vec![("fastpath".into(), 1), ("poll_spins".into(), 0)];
            s.knob_max = 1_000_000;
        }
        fake
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.0.lock().expect("fake state lock")
    }
}

impl Backend for FakeBackend {
    fn processes(&mut self) -> Vec<ProcInfo> {
        self.state().processes.clone()
    }
    fn cmdline(&mut self, pid: u64) -> Option<String> {
        self.state().cmdlines.get(&pid).cloned()
    }
    fn ipc_stats(&mut self, pid: u64) -> Option<IpcStats> {
        self.state().stats.get(&pid).copied()
    }
    fn colocated_calls(&mut self) -> u64 {
        self.state().colocated_calls
    }
    fn memory(&mut self) -> MemInfo {
        self.state().memory
    }
    fn uptime_ms(&mut self) -> u64 {
        let mut s = self.state();
        s.uptime_calls += 1;
        s.uptime_ms
    }
    fn kmsg(&mut self) -> KernelLog {
        let s = self.state();
        KernelLog {
            bytes: s.kmsg.clone(),
            first: s.kmsg_dropped,
        }
    }
    fn version(&mut self) -> String {
        self.state().version.clone()
    }
    fn kernel_cmdline(&mut self) -> String {
        self.state().kernel_cmdline.clone()
    }
    fn config(&mut self) -> String {
        self.state().config.clone()
    }
    fn isolation(&mut self) -> String {
        self.state().isolation.clone()
    }
    fn mounts(&mut self) -> String {
        self.state().mounts.clone()
    }
    fn pci(&mut self) -> String {
        self.state().pci.clone()
    }
    fn disks(&mut self) -> Vec<sysserver::DiskInfo> {
        self.state().disks.iter().map(|(d, _)| d.clone()).collect()
    }
    fn disk_write(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<usize, String> {
        let mut state = self.state();
        let (info, bytes) = state
            .disks
            .iter_mut()
            .find(|(d, _)| d.name == name)
            .ok_or_else(|| format!("no disk {name}"))?;
        if info.read_only {
            return Err(format!("{name}: read-only file system"));
        }
        let sector = info.sector_size as usize;
        let bytes: &mut [u8] = if part == 0 {
            bytes
        } else {
            let &(_, first, count) = info
                .partitions
                .iter()
                .find(|(n, _, _)| *n == part)
                .ok_or_else(|| format!("no partition {part}"))?;
            &mut bytes[first as usize * sector..(first + count) as usize * sector]
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = (bytes.len() - start).min(data.len());
        bytes[start..start + n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    fn disk_read(
        &mut self,
        name: &str,
        part: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        let state = self.state();
        let (info, bytes) = state
            .disks
            .iter()
            .find(|(d, _)| d.name == name)
            .ok_or_else(|| format!("no disk {name}"))?;
        let sector = info.sector_size as usize;
        let bytes: &[u8] = if part == 0 {
            bytes
        } else {
            let &(_, first, count) = info
                .partitions
                .iter()
                .find(|(n, _, _)| *n == part)
                .ok_or_else(|| format!("no partition {part}"))?;
            &bytes[first as usize * sector..(first + count) as usize * sector]
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = (bytes.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }
    fn console_write(&mut self, data: &[u8]) {
        self.state().console_out.extend_from_slice(data);
    }
    fn console_read(&mut self, buf: &mut [u8]) -> Option<usize> {
        let mut s = self.state();
        s.console_reads += 1;
        let Some(mut line) = s.console_in.pop_front() else {
            return if s.console_nonblocking { None } else { Some(0) };
        };
        let n = line.len().min(buf.len());
        buf[..n].copy_from_slice(&line[..n]);
        if n < line.len() {
            // A longer line comes in pieces.
            s.console_in.push_front(line.split_off(n));
        }
        Some(n)
    }
    fn console_set_raw(&mut self, raw: bool) {
        self.state().raw_calls.push(raw);
    }
    fn random(&mut self, buf: &mut [u8]) {
        let mut s = self.state();
        for b in buf {
            *b = fake_random(&mut s.random_seed);
        }
    }
    fn knobs(&mut self) -> Vec<(String, u64)> {
        self.state().knobs.clone()
    }
    fn set_knob(&mut self, name: &str, value: u64) -> Result<(), KnobError> {
        let mut s = self.state();
        let max = s.knob_max;
        let knob = s
            .knobs
            .iter_mut()
            .find(|(n, _)| n == name)
            .ok_or(KnobError::Unknown)?;
        if value > max {
            return Err(KnobError::BadValue);
        }
        knob.1 = value;
        Ok(())
    }
}

pub type Tree = Fs<Loopback<SysFs<FakeBackend>>>;

pub const MSIZE: u32 = 8192 + 24;

/// A client attached to `aname` on a fresh server over `fake`.
pub fn attach(fake: &FakeBackend, aname: &str) -> Result<Tree, Error> {
    let client = Client::connect(Loopback::new(SysFs::new(fake.clone()), MSIZE), MSIZE)?;
    client.attach("glenda", aname)
}

/// The whole tree over `fake`.
pub fn root(fake: &FakeBackend) -> Tree {
    attach(fake, "").expect("attach")
}

/// The Rerror text (or the client's own error) of a failed operation.
pub fn error_text<T>(r: Result<T, Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error, got success"),
        Err(e) => e.to_string(),
    }
}

/// The Rerror text of a raw call's reply.
pub fn rerror(r: Result<lib9pclient::Reply, Error>) -> String {
    error_text(r.and_then(|reply| reply.message().map(|_| ())))
}

/// The whole contents of a text file.
pub fn cat(fs: &Tree, path: &str) -> String {
    let mut f = fs
        .open(path, OREAD)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    let mut out = Vec::new();
    f.read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    String::from_utf8(out).expect("text")
}

/// The names in a directory, in listing order.
pub fn ls(fs: &Tree, path: &str) -> Vec<String> {
    fs.read_dir(path)
        .unwrap_or_else(|e| panic!("ls {path}: {e}"))
        .into_iter()
        .map(|d| d.name)
        .collect()
}

/// A server driven with raw messages, for what the client does not send (zero-name walks,
/// exact fids) and to look at the filesystem between requests.
pub struct Raw {
    pub server: Server<SysFs<FakeBackend>>,
}

impl Raw {
    pub fn new(fake: &FakeBackend) -> Self {
        let mut raw = Self {
            server: Server::new(SysFs::new(fake.clone()), MSIZE),
        };
        raw.ok(&Message::Tversion {
            msize: MSIZE,
            version: "9P2000",
        });
        raw.ok(&Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "glenda",
            aname: "",
        });
        raw
    }

    /// The reply, as `Ok(debug text)` or `Err(Rerror text)`.
    pub fn rpc(&mut self, m: &Message<'_>) -> Result<String, String> {
        let mut req = vec![0u8; m.encoded_len()];
        m.encode(1, &mut req).expect("encode");
        let mut out = Vec::new();
        self.server.handle(&req, &mut out);
        match decode(&out).expect("reply decodes").1 {
            Message::Rerror { ename } => Err(ename.to_string()),
            m => Ok(format!("{m:?}")),
        }
    }

    pub fn ok(&mut self, m: &Message<'_>) -> String {
        self.rpc(m).unwrap_or_else(|e| panic!("{m:?} failed: {e}"))
    }

    pub fn err(&mut self, m: &Message<'_>) -> String {
        match self.rpc(m) {
            Err(e) => e,
            Ok(r) => panic!("{m:?} succeeded: {r}"),
        }
    }

    /// Walks fid 0 along `path` to `newfid`.
    pub fn walk(&mut self, newfid: u32, path: &[&str]) -> Result<String, String> {
        let wnames = lib9pclient::codec::WalkNames::new(path).expect("names");
        self.rpc(&Message::Twalk {
            fid: 0,
            newfid,
            wnames,
        })
    }

    /// The data of one Tread.
    pub fn read(&mut self, fid: u32, offset: u64, count: u32) -> Result<Vec<u8>, String> {
        let m = Message::Tread { fid, offset, count };
        let mut req = vec![0u8; m.encoded_len()];
        m.encode(1, &mut req).expect("encode");
        let mut out = Vec::new();
        self.server.handle(&req, &mut out);
        Self::read_reply(&out)
    }

    /// One Tread through `handle_deferrable`, as the isolated adapter sends it: `None` when
    /// the server deferred it (no reply at all).
    pub fn read_deferrable(
        &mut self,
        fid: u32,
        offset: u64,
        count: u32,
    ) -> Option<Result<Vec<u8>, String>> {
        let m = Message::Tread { fid, offset, count };
        let mut req = vec![0u8; m.encoded_len()];
        m.encode(1, &mut req).expect("encode");
        let mut out = Vec::new();
        if self.server.handle_deferrable(&req, &mut out) {
            Some(Self::read_reply(&out))
        } else {
            assert!(out.is_empty(), "a deferred request has no reply");
            None
        }
    }

    fn read_reply(out: &[u8]) -> Result<Vec<u8>, String> {
        match decode(out).expect("reply decodes").1 {
            Message::Rread { data } => Ok(data.to_vec()),
            Message::Rerror { ename } => Err(ename.to_string()),
            m => panic!("unexpected {m:?}"),
        }
    }
}
