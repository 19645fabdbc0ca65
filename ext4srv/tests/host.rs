//! The `ext4srv` binary in host mode: the project's source tree read back
//! through it with the `9p` tool, concurrent clients over TCP and Unix
//! sockets, one log line per connection, SIGINT, and the command line.

mod common;

use common::*;
use lib9pclient::codec::OREAD;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const EXT4SRV: &str = env!("CARGO_BIN_EXE_ext4srv");

/// The `9p` tool, built from lib9pclient into its own target directory (the
/// outer `cargo test` may hold the lock on the main one).
fn ninep() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ninep-tool");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        run(Command::new(cargo)
            .current_dir(workspace)
            .args([
                "build",
                "--quiet",
                "--offline",
                "-p",
                "lib9pclient",
                "--bin",
                "9p",
                "--target-dir",
            ])
            .arg(&target));
        target.join("debug/9p")
    })
}

struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(EXT4SRV)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let s = Self { child, log };
        s.wait_for("listening on");
        s
    }

    fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.log.lock().unwrap().iter().any(|l| l.contains(text)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "ext4srv did not log '{text}': {:?}",
            self.log.lock().unwrap()
        );
    }

    fn lines(&self, text: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// SIGINT, then the exit status within 10 s.
    fn interrupt(mut self) -> (std::process::ExitStatus, Vec<String>) {
        run(Command::new("kill").args(["-INT", &self.child.id().to_string()]));
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                let log = self.log.lock().unwrap().clone();
                return (status, log);
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ext4srv did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the workspace (less target/ and .git/) into `to`; returns the
/// files copied, relative to the root.
fn snapshot(from: &Path, to: &Path, rel: &Path, files: &mut Vec<PathBuf>) {
    std::fs::create_dir_all(to.join(rel)).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(from.join(rel))
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if rel.as_os_str().is_empty() && (name == "target" || name == ".git") {
            continue;
        }
        let r = rel.join(&name);
        let t = e.file_type().unwrap();
        if t.is_dir() {
            snapshot(from, to, &r, files);
        } else if t.is_file() {
            // A file another process is writing may change under us: the copy is the truth.
            if std::fs::copy(from.join(&r), to.join(&r)).is_ok() {
                files.push(r);
            }
        }
    }
}

#[test]
fn every_file_of_the_source_tree_through_the_9p_tool() {
    let dir = TempDir::new("source");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tree = dir.path().join("tree");
    let mut files = Vec::new();
    snapshot(workspace, &tree, Path::new(""), &mut files);
    assert!(
        files.len() > 50,
        "the source tree has {} files",
        files.len()
    );
    assert!(files.iter().any(|f| f.ends_with("ext4srv/src/fs.rs")));
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(tree.join(f)).unwrap().len())
        .sum();
    let img = dir.path().join("img");
    mkfs(&tree, &img, 16 + 3 * (total >> 20), &["-b", "4096"]);
    let sock = dir.path().join("sock");
    let addr = format!("unix!{}", sock.display());
    let tool = ninep();
    let server = Server::start(&["--listen", &addr, img.to_str().unwrap()]);
    for f in &files {
        let path = format!("/{}", f.display());
        let out = Command::new(tool)
            .args(["-a", &addr, "read", &path])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "9p read {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read(tree.join(f)).unwrap();
        assert_eq!(out.stdout.len(), want.len(), "length of {path}");
        assert!(out.stdout == want, "content of {path}");
    }
    // Lengths as listed: `9p ls -l` on every directory.
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut listed = 0;
    for d in &dirs {
        let path = format!("/{}", d.display());
        let out = Command::new(tool)
            .args(["-a", &addr, "ls", "-l", &path])
            .output()
            .unwrap();
        assert!(out.status.success(), "9p ls -l {path}");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // mode uid gid length date time name...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = fields[6..].join(" ");
            if d.as_os_str().is_empty() && name == "lost+found" {
                continue;
            }
            let host = tree.join(d).join(&name);
            let meta = std::fs::metadata(&host).unwrap();
            if meta.is_file() {
                assert_eq!(
                    fields[3].parse::<u64>().unwrap(),
                    meta.len(),
                    "listed length of {}",
                    host.display()
                );
                listed += 1;
            }
        }
    }
    assert_eq!(listed, files.len(), "every file listed with its length");
    let connections = server.lines("connection ");
    assert_eq!(
        connections,
        files.len() + dirs.len(),
        "one log line per connection"
    );
    let (status, log) = server.interrupt();
    assert!(status.success(), "{status}: {log:?}");
    assert!(!sock.exists(), "the socket file is removed at shutdown");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fixture_image(dir: &TempDir) -> PathBuf {
    let tree = dir.path().join("tree");
    fixture(&tree);
    let img = dir.path().join("img");
    mkfs(&tree, &img, 8, &[]);
    img
}

#[test]
fn concurrent_clients_and_sigint() {
    let dir = TempDir::new("concurrent");
    let img = fixture_image(&dir);
    let want = std::fs::read(dir.path().join("tree/data/pattern.bin")).unwrap();
    for addr in [
        format!("tcp!127.0.0.1!{}", free_port()),
        format!("unix!{}/sock", dir.path().display()),
    ] {
        // --verbose logs each connection's end, which the test waits for below.
        let server = Server::start(&[
            "--listen",
            &addr,
            "--msize",
            "65560",
            "--verbose",
            img.to_str().unwrap(),
        ]);
        // One client stays connected, idle, through the shutdown.
        let idle =
            lib9pclient::Client::connect(lib9pclient::stream::dial(&addr).unwrap(), 8216).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (addr, want) = (addr.clone(), want.clone());
                std::thread::spawn(move || {
                    let msize = [8216, 65560, 4096, 20000][i];
                    let client = lib9pclient::Client::connect(
                        lib9pclient::stream::dial(&addr).unwrap(),
                        msize,
                    )
                    .unwrap();
                    let fs = client.attach("u", "").unwrap();
                    for _ in 0..10 {
                        let mut data = Vec::new();
                        fs.open("/data/pattern.bin", OREAD)
                            .unwrap()
                            .read_to_end(&mut data)
                            .unwrap();
                        assert!(data == want);
                        assert_eq!(fs.read_dir("/links").unwrap().len(), 12);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // The four clients have hung up; the server sees each end on its own thread, so wait
        // for all four before the SIGINT (which counts the connections still open).
        let start = Instant::now();
        while server.lines(" closed after ") < 4 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{addr}: the four finished connections were not all seen to close"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.lines(" from "), 5, "{addr}: one line per connection");
        let (status, log) = server.interrupt();
        drop(idle);
        assert!(status.success(), "{addr}: {status}");
        assert!(
            log.iter().any(|l| l.contains("SIGINT: shutting down")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.contains("stopped after 5 connections (1 still open")),
            "{log:?}"
        );
    }
}

fn ext4srv(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(EXT4SRV).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn command_line_and_partitions() {
    let (code, out, _) = ext4srv(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("usage: ext4srv") && out.contains("--partition N"),
        "{out}"
    );
    let (code, _, err) = ext4srv(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("missing IMAGE"), "{err}");
    let (code, _, err) = ext4srv(&["--msize", "12", "x"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = ext4srv(&["/nonexistent/image"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/image: No such file"), "{err}");

    let dir = TempDir::new("cli");
    let tree = dir.path().join("tree");
    write(&tree, "a.txt", b"partition two\n");
    let img = dir.path().join("inline");
    mkfs(&tree, &img, 8, &["-O", "inline_data"]);
    let (code, _, err) = ext4srv(&[img.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unsupported ext4 feature: inline_data"),
        "{err}"
    );

    // A GPT disk with the filesystem in partition 2.
    let fs_img = dir.path().join("fs");
    mkfs(&tree, &fs_img, 8, &[]);
    let disk = dir.path().join("disk");
    let f = std::fs::File::create(&disk).unwrap();
    f.set_len(32 << 20).unwrap();
    drop(f);
    let mut child = Command::new(tool("sfdisk", "fdisk"))
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(&disk)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"label: gpt\nstart=2048, size=2048, name=boot\nstart=8192, size=20480, name=root\n",
        )
        .unwrap();
    assert!(child.wait().unwrap().success());
    let fs_bytes = std::fs::read(&fs_img).unwrap();
    let mut disk_bytes = std::fs::read(&disk).unwrap();
    disk_bytes[8192 * 512..8192 * 512 + fs_bytes.len()].copy_from_slice(&fs_bytes);
    std::fs::write(&disk, &disk_bytes).unwrap();
    let disk = disk.to_str().unwrap();

    let (code, out, _) = ext4srv(&["--list-partitions", disk]);
    assert_eq!(code, 0);
    assert!(
        out.contains("GPT partition table")
            && out.contains("partition 2: 10485760 bytes at offset 4194304")
            && out.contains("\"root\""),
        "{out}"
    );
    let (code, _, err) = ext4srv(&[disk]);
    assert_eq!(code, 1);
    assert!(
        err.contains("GPT partition table (partitions 1, 2): pick one with --partition N"),
        "{err}"
    );
    let (code, _, err) = ext4srv(&["--partition", "3", disk]);
    assert_eq!(code, 1);
    assert!(err.contains("no partition 3 (it has 1, 2)"), "{err}");
    let (code, _, err) = ext4srv(&["--partition", "1", disk]);
    assert_eq!(code, 1);
    assert!(
        err.contains("partition 1: not an ext2/3/4 filesystem"),
        "{err}"
    );

    let addr = format!("unix!{}/sock", dir.path().display());
    let server = Server::start(&["--listen", &addr, "--partition", "2", disk]);
    let client =
        lib9pclient::Client::connect(lib9pclient::stream::dial(&addr).unwrap(), 8216).unwrap();
    let fs = client.attach("u", "").unwrap();
    let mut data = Vec::new();
    fs.open("/a.txt", OREAD)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    assert_eq!(data, b"partition two\n");
    // An existing file that is not a socket is never replaced.
    let plain = dir.path().join("not a socket");
    std::fs::write(&plain, b"keep me").unwrap();
    let (code, _, err) = ext4srv(&[
        "--listen",
        &format!("unix!{}", plain.display()),
        "--partition",
        "2",
        disk,
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read(&plain).unwrap(), b"keep me");
    // A second server on the same socket path is refused while the first runs.
    let (code, _, err) = ext4srv(&["--listen", &addr, "--partition", "2", disk]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot listen on"), "{err}");
    drop(fs);
    drop(client);
    let (status, _) = server.interrupt();
    assert!(status.success());
}

#[test]
fn a_client_that_never_reads_or_sends_garbage_does_not_stall_the_others() {
    use lib9pclient::codec::{Message, NOFID, WalkNames};
    use std::io::{Read, Write};
    let dir = TempDir::new("stall");
    let tree = dir.path().join("tree");
    write(&tree, "big", &vec![7u8; 4 << 20]);
    write(&tree, "small", b"small\n");
    let img = dir.path().join("img");
    mkfs(&tree, &img, 16, &[]);
    let sock = dir.path().join("sock");
    let addr = format!("unix!{}", sock.display());
    let server = Server::start(&["--listen", &addr, img.to_str().unwrap()]);
    let frame = |tag: u16, m: &Message<'_>| {
        let mut b = vec![0u8; m.encoded_len()];
        m.encode(tag, &mut b).unwrap();
        b
    };
    // A client that asks for far more than a socket buffer and reads nothing.
    let mut greedy = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let names = ["big"];
    let mut setup = frame(
        codec_notag(),
        &Message::Tversion {
            msize: 1 << 20,
            version: "9P2000",
        },
    );
    setup.extend(frame(
        1,
        &Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "g",
            aname: "",
        },
    ));
    setup.extend(frame(
        2,
        &Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: WalkNames::new(&names).unwrap(),
        },
    ));
    setup.extend(frame(
        3,
        &Message::Topen {
            fid: 1,
            mode: OREAD,
        },
    ));
    greedy.write_all(&setup).unwrap();
    greedy
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut reads = Vec::new();
    for tag in 0..2000u16 {
        reads.extend(frame(
            tag + 10,
            &Message::Tread {
                fid: 1,
                offset: 0,
                count: 1 << 20,
            },
        ));
    }
    // The server stops reading this socket once its replies back up.
    let _ = greedy.write_all(&reads);
    // A client sending a frame larger than any msize is cut off.
    let mut garbage = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    garbage
        .write_all(&[0xff, 0xff, 0xff, 0x7f, 100, 0, 0])
        .unwrap();
    let mut end = [0u8; 1];
    assert_eq!(garbage.read(&mut end).unwrap(), 0, "the server hangs up");
    // Meanwhile others are served promptly.
    let start = Instant::now();
    for _ in 0..20 {
        let client =
            lib9pclient::Client::connect(lib9pclient::stream::dial(&addr).unwrap(), 8216).unwrap();
        let fs = client.attach("u", "").unwrap();
        let mut data = Vec::new();
        fs.open("/small", OREAD)
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        assert_eq!(data, b"small\n");
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "others waited {:?}",
        start.elapsed()
    );
    assert!(server.lines("is not 9P") == 1, "the bad frame is logged");
    let (status, _) = server.interrupt();
    assert!(status.success());
    drop(greedy);
}

fn codec_notag() -> u16 {
    lib9pclient::codec::NOTAG
}
