//! Test helpers: temporary directories, the host tools that build images
//! (each missing tool fails the test with the Debian package to install), the
//! fixture tree, and a client talking to an image through the loopback.
#![allow(dead_code)] // each test binary uses a different part of this module

use ext4srv::Ext4Fs;
use ext4srv::device::MemoryDevice;
use lib9pclient::{Fs, Loopback};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory under the target's tmp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "ext4srv-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Finds a host tool in PATH or the sbin directories; panics naming the
/// Debian package that provides it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    lux9_tests::host_tools::find(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed: these tests need the Debian package {package} (apt-get install {package})"
        )
    })
}

pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mkfs.ext4 -d dir` into a new image file of `size_mib`.
pub fn mkfs(dir: &Path, image: &Path, size_mib: u64, options: &[&str]) {
    let f = std::fs::File::create(image).unwrap();
    f.set_len(size_mib << 20).unwrap();
    drop(f);
    run(Command::new(tool("mkfs.ext4", "e2fsprogs"))
        .args(["-q", "-F", "-E", "root_owner=0:0"])
        .args(options)
        .arg("-d")
        .arg(dir)
        .arg(image));
}

/// `debugfs -R 'ls -p DIR'`: name -> inode number of every entry.
pub fn debugfs_inodes(image: &Path, dir: &str) -> std::collections::BTreeMap<String, u64> {
    let out = Command::new(tool("debugfs", "e2fsprogs"))
        .args(["-R", &format!("ls -p \"{dir}\"")])
        .arg(image)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut map = std::collections::BTreeMap::new();
    // Lines look like /12/100644/0/0/name/size/
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('/').collect();
        if f.len() >= 7 {
            let name = f[5..f.len() - 2].join("/");
            map.insert(name, f[1].parse().unwrap());
        }
    }
    map
}

/// Writes a file, making its directory.
pub fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

pub fn symlink(root: &Path, rel: &str, target: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

/// Depth of the fixture's deep path.
pub const DEEP: usize = 60;

/// The fixture tree: empty files, deep paths, names with spaces and UTF-8,
/// every kind of symlink, a hard link, modes, a fifo.
pub fn fixture(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    write(root, "hello.txt", b"hello, world\n");
    write(root, "empty", b"");
    write(root, "sub/empty too", b"");
    write(root, "dir with spaces/file with spaces.txt", b"spaces\n");
    write(root, "ünïcödé/日本語.txt", "こんにちは\n".as_bytes());
    write(root, "ünïcödé/emoji 🦀.rs", b"fn main() {}\n");
    let mut deep = String::new();
    for i in 0..DEEP {
        deep.push_str(&format!("d{i:02}/"));
    }
    deep.push_str("leaf.txt");
    write(root, &deep, b"deep\n");
    // Two blocks and a bit, with a pattern, at 1 KiB blocks many blocks.
    let pattern: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    write(root, "data/pattern.bin", &pattern);
    write(root, "perm/secret", b"s\n");
    std::fs::set_permissions(
        root.join("perm/secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write(root, "perm/tool.sh", b"#!/bin/sh\n");
    std::fs::set_permissions(
        root.join("perm/tool.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::hard_link(root.join("hello.txt"), root.join("sub/hard link")).unwrap();
    symlink(root, "links/relative", "../hello.txt");
    symlink(root, "links/absolute", "/hello.txt");
    symlink(root, "links/dangling", "../no such file");
    symlink(root, "links/loop-a", "loop-b");
    symlink(root, "links/loop-b", "loop-a");
    symlink(root, "links/self", "self");
    symlink(root, "links/to-dir", "../sub");
    symlink(root, "links/abs-dir", "/ünïcödé");
    symlink(root, "links/chain", "relative");
    symlink(root, "links/up-and-down", "../links/../sub/./empty too");
    symlink(root, "links/through-file", "../hello.txt/x");
    // A long target stored in a block rather than in the inode.
    let long = format!("{}hello.txt", "./".repeat(60));
    symlink(root, "links/long", &format!("../{long}"));
    run(Command::new("mkfifo").arg(root.join("fifo")));
}

/// A 9P client over the loopback to the image in `bytes`.
pub fn client(bytes: Vec<u8>, msize: u32) -> Fs<Loopback<Ext4Fs>> {
    let fs = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 1 << 20).expect("open image");
    let client = lib9pclient::Client::connect(Loopback::new(fs, msize), msize).unwrap();
    client.attach("glenda", "").unwrap()
}
