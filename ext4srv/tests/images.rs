//! ext4srv's core on real images made by mkfs.ext4: every variant of block
//! size and checksums read back exactly; symlinks; htree directories; sparse
//! files; errors; unsupported and damaged images; partitioned disks.

mod common;

use common::*;
use ext4srv::Ext4Fs;
use ext4srv::device::{MemoryDevice, Partition};
use lib9pclient::codec::{self, DMDIR, Message, NOFID, ORCLOSE, OREAD, OTRUNC, OWRITE, WalkNames};
use lib9pclient::{Error, Fs, Loopback};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

type Client = Fs<Loopback<Ext4Fs>>;

fn read_all(fs: &Client, path: &str) -> Result<Vec<u8>, Error> {
    let mut f = fs.open(path, OREAD)?;
    let mut data = Vec::new();
    f.read_to_end(&mut data)?;
    Ok(data)
}

/// Walks the host tree and the served tree side by side: same names, and for
/// each regular file the same bytes, length, permissions, mtime and owner.
/// Symlinks are checked by `symlinks_follow_the_policy`.
fn compare_tree(host: &Path, fs: &Client, path: &str, files: &mut usize) {
    let served = fs
        .read_dir(path)
        .unwrap_or_else(|e| panic!("read_dir {path}: {e}"));
    let served_names: BTreeSet<String> = served
        .iter()
        .map(|d| d.name.clone())
        .filter(|n| !(path == "/" && n == "lost+found"))
        .collect();
    let host_names: BTreeSet<String> = std::fs::read_dir(host)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(served_names, host_names, "names in {path}");
    for d in &served {
        let host_path = host.join(&d.name);
        let Ok(meta) = std::fs::symlink_metadata(&host_path) else {
            continue;
        };
        let child = if path == "/" {
            format!("/{}", d.name)
        } else {
            format!("{path}/{}", d.name)
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        assert_eq!(d.mode & 0o777, meta.mode() & 0o777, "mode of {child}");
        assert_eq!(d.uid, meta.uid().to_string(), "uid of {child}");
        assert_eq!(d.gid, meta.gid().to_string(), "gid of {child}");
        assert_eq!(i64::from(d.mtime), meta.mtime(), "mtime of {child}");
        assert_eq!(
            fs.stat(&child).unwrap(),
            *d,
            "stat and directory entry of {child} agree"
        );
        if meta.is_dir() {
            assert!(
                d.is_dir() && d.qid.is_dir() && d.length == 0,
                "{child} is a directory"
            );
            compare_tree(&host_path, fs, &child, files);
        } else if meta.is_file() {
            assert_eq!(d.mode & DMDIR, 0);
            assert_eq!(d.length, meta.len(), "length of {child}");
            let data = read_all(fs, &child).unwrap();
            assert_eq!(
                data,
                std::fs::read(&host_path).unwrap(),
                "content of {child}"
            );
            *files += 1;
        } else {
            // The fifo: listed, not openable.
            let e = fs.open(&child, OREAD).err().unwrap();
            assert!(
                e.to_string().contains("device, fifo or socket"),
                "{child}: {e}"
            );
        }
    }
}

fn image(
    tree: &Path,
    dir: &TempDir,
    name: &str,
    options: &[&str],
) -> (std::path::PathBuf, Vec<u8>) {
    let img = dir.path().join(name);
    mkfs(tree, &img, 8, options);
    let bytes = std::fs::read(&img).unwrap();
    (img, bytes)
}

#[test]
fn every_variant_reads_back_exactly() {
    let dir = TempDir::new("variants");
    let tree = dir.path().join("tree");
    fixture(&tree);
    for (name, options) in [
        ("1k-csum", &["-b", "1024", "-O", "metadata_csum"][..]),
        ("1k-nocsum", &["-b", "1024", "-O", "^metadata_csum"]),
        ("4k-csum", &["-b", "4096", "-O", "metadata_csum"]),
        (
            "4k-nocsum",
            &["-b", "4096", "-O", "^metadata_csum,^metadata_csum_seed"],
        ),
        ("ext2", &["-b", "1024", "-t", "ext2"]),
    ] {
        let (img, bytes) = image(&tree, &dir, name, options);
        let fs = client(bytes, 8192 + 24);
        let mut files = 0;
        compare_tree(&tree, &fs, "/", &mut files);
        assert_eq!(files, 11, "{name}: regular files compared");
        // qid.path is the inode number (debugfs agrees), qid.type the file type.
        let root = fs.stat("/").unwrap();
        assert_eq!(
            (root.qid.path, root.name.as_str(), root.mode & DMDIR),
            (2, "/", DMDIR)
        );
        let inodes = debugfs_inodes(&img, "/");
        for d in fs.read_dir("/").unwrap() {
            if d.name != "fifo" || inodes.contains_key(&d.name) {
                assert_eq!(
                    Some(&d.qid.path),
                    inodes.get(&d.name),
                    "{name}: inode of {}",
                    d.name
                );
            }
        }
        let inodes = debugfs_inodes(&img, "/links");
        assert_eq!(
            fs.stat("/links/relative").unwrap().qid.path,
            fs.stat("/hello.txt").unwrap().qid.path,
            "a followed symlink has its target's qid"
        );
        assert_ne!(
            fs.stat("/links/relative").unwrap().qid.path,
            inodes["relative"]
        );
        // A hard link is the same file.
        assert_eq!(
            fs.stat("/sub/hard link").unwrap().qid,
            fs.stat("/hello.txt").unwrap().qid
        );
        // The deep path, walked in one go (more than 16 names: several Twalks).
        let deep: String = (0..DEEP).map(|i| format!("/d{i:02}")).collect::<String>() + "/leaf.txt";
        assert_eq!(read_all(&fs, &deep).unwrap(), b"deep\n", "{name}");
    }
}

#[test]
fn symlinks_follow_the_policy() {
    let dir = TempDir::new("symlinks");
    let tree = dir.path().join("tree");
    fixture(&tree);
    // A chain of 40 links is followed; 41 is too many.
    for i in 0..41 {
        symlink(&tree, &format!("chain/l{i}"), &format!("l{}", i + 1));
    }
    write(&tree, "chain/l41", b"end of chain\n");
    let (_, bytes) = image(&tree, &dir, "img", &[]);
    let fs = client(bytes.clone(), 8192 + 24);
    let hello = b"hello, world\n".to_vec();
    for link in ["relative", "absolute", "chain", "long"] {
        assert_eq!(
            read_all(&fs, &format!("/links/{link}")).unwrap(),
            hello,
            "{link}"
        );
        let st = fs.stat(&format!("/links/{link}")).unwrap();
        assert_eq!(
            (st.name.as_str(), st.length),
            (link, 13),
            "stat names the link"
        );
    }
    assert_eq!(read_all(&fs, "/links/up-and-down").unwrap(), b"");
    assert_eq!(read_all(&fs, "/links/to-dir/hard link").unwrap(), hello);
    assert_eq!(
        read_all(&fs, "/links/abs-dir/日本語.txt").unwrap(),
        "こんにちは\n".as_bytes()
    );
    assert!(fs.stat("/links/to-dir").unwrap().is_dir());
    let listing: BTreeSet<String> = fs
        .read_dir("/links/to-dir")
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(listing.contains("hard link") && listing.contains("empty too"));
    // ".." below a followed directory link is the target's parent (physical).
    let (_, qid) = fs.walk("/links/to-dir/..").unwrap();
    assert_eq!(qid.path, 2);
    // A failed element after the first gives a partial Rwalk (the client
    // reports the name); the Rerror text shows when it is the first element.
    let fs_raw = Ext4Fs::open(Box::new(MemoryDevice(bytes.clone())), 1 << 20).unwrap();
    let mut s = attached(fs_raw, 8192 + 24);
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: walk(&["links"]),
        },
    );
    for (link, want) in [
        ("dangling", "file does not exist"),
        ("loop-a", "too many levels of symbolic links"),
        ("self", "too many levels of symbolic links"),
        ("through-file", "not a directory"),
    ] {
        let e = fs.open(&format!("/links/{link}"), OREAD).err().unwrap();
        assert!(e.to_string().contains(link), "{link}: {e}");
        expect_error(
            &mut s,
            &Message::Twalk {
                fid: 1,
                newfid: 2,
                wnames: walk(&[link]),
            },
            want,
        );
    }
    assert_eq!(
        read_all(&fs, "/chain/l1").unwrap(),
        b"end of chain\n",
        "40 links"
    );
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 3,
            wnames: walk(&["chain"]),
        },
    );
    let e = read_all(&fs, "/chain/l0").unwrap_err();
    assert!(e.to_string().contains("l0"), "41 links: {e}");
    expect_error(
        &mut s,
        &Message::Twalk {
            fid: 3,
            newfid: 4,
            wnames: walk(&["l0"]),
        },
        "too many levels of symbolic links",
    );
    // Listings show a link as its target, or as itself if it leads nowhere.
    let links = fs.read_dir("/links").unwrap();
    let get = |n: &str| links.iter().find(|d| d.name == n).unwrap().clone();
    assert!(get("to-dir").is_dir());
    assert_eq!(get("relative").length, 13);
    assert_eq!(get("dangling").length, "../no such file".len() as u64);
    assert_eq!(get("dangling").mode & 0o777, 0o777);
    // The server is still serving.
    assert_eq!(read_all(&fs, "/hello.txt").unwrap(), hello);
}

/// Sends one raw request and returns the reply.
fn raw(server: &mut lib9pclient::Server<Ext4Fs>, msg: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; msg.encoded_len()];
    msg.encode(1, &mut buf).unwrap();
    let mut out = Vec::new();
    server.handle(&buf, &mut out);
    out
}

fn expect_error(server: &mut lib9pclient::Server<Ext4Fs>, msg: &Message<'_>, want: &str) {
    let out = raw(server, msg);
    match codec::decode(&out).unwrap().1 {
        Message::Rerror { ename } => assert_eq!(ename, want, "{msg:?}"),
        other => panic!("{msg:?}: expected Rerror '{want}', got {other:?}"),
    }
}

fn walk<'a>(names: &'a [&'a str]) -> WalkNames<'a> {
    WalkNames::new(names).unwrap()
}

/// A server on `fs` with the version negotiated at `msize` and the root attached as fid 0.
fn attached(fs: Ext4Fs, msize: u32) -> lib9pclient::Server<Ext4Fs> {
    let mut s = lib9pclient::Server::new(fs, msize);
    raw(
        &mut s,
        &Message::Tversion {
            msize,
            version: "9P2000",
        },
    );
    raw(
        &mut s,
        &Message::Tattach {
            fid: 0,
            afid: NOFID,
            uname: "u",
            aname: "",
        },
    );
    s
}

/// Walks fid 0 to the directory `names` as fid 1 and opens it for reading.
fn open_dir(s: &mut lib9pclient::Server<Ext4Fs>, names: &[&str]) {
    raw(
        s,
        &Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: walk(names),
        },
    );
    raw(
        s,
        &Message::Topen {
            fid: 1,
            mode: OREAD,
        },
    );
}

#[test]
fn errors_are_the_right_rerrors_and_the_server_keeps_serving() {
    let dir = TempDir::new("errors");
    let tree = dir.path().join("tree");
    fixture(&tree);
    let (_, bytes) = image(&tree, &dir, "img", &[]);
    let fs = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 1 << 20).unwrap();
    let mut s = attached(fs, 8192 + 24);
    let ro = "read-only file system";
    // Unknown fid.
    expect_error(&mut s, &Message::Tstat { fid: 99 }, "unknown fid");
    expect_error(
        &mut s,
        &Message::Tread {
            fid: 99,
            offset: 0,
            count: 10,
        },
        "unknown fid",
    );
    // Directory opened for writing.
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 1,
            wnames: walk(&[]),
        },
    );
    expect_error(
        &mut s,
        &Message::Topen {
            fid: 1,
            mode: OWRITE,
        },
        "is a directory",
    );
    // A file opened for writing, truncation, or remove-on-close.
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 2,
            wnames: walk(&["hello.txt"]),
        },
    );
    expect_error(
        &mut s,
        &Message::Topen {
            fid: 2,
            mode: OWRITE,
        },
        ro,
    );
    expect_error(
        &mut s,
        &Message::Topen {
            fid: 2,
            mode: OREAD | OTRUNC,
        },
        ro,
    );
    expect_error(
        &mut s,
        &Message::Topen {
            fid: 2,
            mode: OREAD | ORCLOSE,
        },
        ro,
    );
    // create, write, wstat, remove.
    expect_error(
        &mut s,
        &Message::Tcreate {
            fid: 1,
            name: "new",
            perm: 0o644,
            mode: OWRITE,
        },
        ro,
    );
    expect_error(
        &mut s,
        &Message::Twstat {
            fid: 2,
            stat: codec::Stat::DONT_TOUCH,
        },
        ro,
    );
    raw(
        &mut s,
        &Message::Topen {
            fid: 2,
            mode: OREAD,
        },
    );
    expect_error(
        &mut s,
        &Message::Twrite {
            fid: 2,
            offset: 0,
            data: b"x",
        },
        "file not open for this access",
    );
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 3,
            wnames: walk(&["empty"]),
        },
    );
    expect_error(&mut s, &Message::Tremove { fid: 3 }, ro);
    expect_error(&mut s, &Message::Tstat { fid: 3 }, "unknown fid");
    // Reading past the end is a count of 0, as 9P2000 says.
    for offset in [13, 14, u64::MAX] {
        let out = raw(
            &mut s,
            &Message::Tread {
                fid: 2,
                offset,
                count: 100,
            },
        );
        assert_eq!(
            codec::decode(&out).unwrap().1,
            Message::Rread { data: b"" },
            "offset {offset}"
        );
    }
    let out = raw(
        &mut s,
        &Message::Tread {
            fid: 2,
            offset: 7,
            count: 100,
        },
    );
    assert_eq!(
        codec::decode(&out).unwrap().1,
        Message::Rread { data: b"world\n" }
    );
    // Walking below a regular file.
    // (an open fid cannot be walked at all)
    expect_error(
        &mut s,
        &Message::Twalk {
            fid: 2,
            newfid: 4,
            wnames: walk(&["x"]),
        },
        "fid is open",
    );
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 5,
            wnames: walk(&["hello.txt"]),
        },
    );
    expect_error(
        &mut s,
        &Message::Twalk {
            fid: 5,
            newfid: 6,
            wnames: walk(&["x"]),
        },
        "walk in non-directory",
    );
    expect_error(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 6,
            wnames: walk(&["nothing"]),
        },
        "file does not exist",
    );
    let long = "n".repeat(300);
    expect_error(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 6,
            wnames: walk(&[&long]),
        },
        "file name too long",
    );
    // Tflush: requests are answered in order, so there is never anything to cancel.
    let out = raw(&mut s, &Message::Tflush { oldtag: 5 });
    assert_eq!(codec::decode(&out).unwrap().1, Message::Rflush);
    // Still serving: a fresh walk, open and read work.
    raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 7,
            wnames: walk(&["sub", "hard link"]),
        },
    );
    raw(
        &mut s,
        &Message::Topen {
            fid: 7,
            mode: OREAD,
        },
    );
    let out = raw(
        &mut s,
        &Message::Tread {
            fid: 7,
            offset: 0,
            count: 5,
        },
    );
    assert_eq!(
        codec::decode(&out).unwrap().1,
        Message::Rread { data: b"hello" }
    );
}

/// The partial-walk reply for ["hello.txt", "x"] is an Rwalk with one qid,
/// not an error: fix up the expectation used above.
#[test]
fn partial_walk_below_a_file_returns_the_qids_walked() {
    let dir = TempDir::new("partial");
    let tree = dir.path().join("tree");
    fixture(&tree);
    let (_, bytes) = image(&tree, &dir, "img", &[]);
    let fs = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 1 << 20).unwrap();
    let mut s = attached(fs, 8192 + 24);
    let out = raw(
        &mut s,
        &Message::Twalk {
            fid: 0,
            newfid: 4,
            wnames: walk(&["hello.txt", "x"]),
        },
    );
    match codec::decode(&out).unwrap().1 {
        Message::Rwalk { wqids } => assert_eq!(wqids.len(), 1),
        other => panic!("{other:?}"),
    }
    expect_error(&mut s, &Message::Tstat { fid: 4 }, "unknown fid");
}

#[test]
fn htree_directory_and_sparse_file() {
    let dir = TempDir::new("large");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("many")).unwrap();
    for i in 0..10_000 {
        std::fs::File::create(tree.join(format!("many/entry number {i:05} ✓"))).unwrap();
    }
    write(&tree, "many/with data", b"data\n");
    // Above 64 MiB with holes: data at the start, in the middle, at the end.
    let sparse = tree.join("sparse.bin");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&sparse).unwrap();
        f.write_all(&[b'A'; 5000]).unwrap();
        f.seek(SeekFrom::Start(33 << 20)).unwrap();
        f.write_all(&(0..10_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>())
            .unwrap();
        f.seek(SeekFrom::Start((64 << 20) + 4094)).unwrap();
        f.write_all(b"END").unwrap();
    }
    let img = dir.path().join("img");
    mkfs(
        &tree,
        &img,
        24,
        &["-b", "4096", "-N", "12000", "-O", "metadata_csum"],
    );
    // mkfs -d writes linear directories; e2fsck -D rebuilds them with an htree index.
    let status = Command::new(tool("e2fsck", "e2fsprogs"))
        .args(["-f", "-y", "-D"])
        .arg(&img)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "e2fsck -fyD: {status}"
    );
    let out = Command::new(tool("debugfs", "e2fsprogs"))
        .args(["-R", "stat /many"])
        .arg(&img)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let flags = text
        .split("Flags: 0x")
        .nth(1)
        .and_then(|rest| u32::from_str_radix(rest.split_whitespace().next()?, 16).ok())
        .unwrap_or(0);
    assert!(
        flags & 0x1000 != 0,
        "/many is an htree (indexed) directory: {text}"
    );
    let bytes = std::fs::read(&img).unwrap();
    // A small msize: the listing takes many reads, none splitting an entry.
    let fs = client(bytes, 4096);
    let entries = fs.read_dir("/many").unwrap();
    assert_eq!(entries.len(), 10_001);
    let inodes = debugfs_inodes(&img, "/many");
    let mut names = BTreeSet::new();
    for d in &entries {
        assert_eq!(
            Some(&d.qid.path),
            inodes.get(&d.name),
            "inode of {}",
            d.name
        );
        names.insert(d.name.clone());
    }
    assert_eq!(names.len(), 10_001);
    assert!(names.contains("entry number 09999 ✓"));
    assert_eq!(read_all(&fs, "/many/with data").unwrap(), b"data\n");
    assert_eq!(
        fs.stat("/many/entry number 04321 ✓").unwrap().qid.path,
        inodes["entry number 04321 ✓"]
    );
    // The sparse file: every byte, holes as zeros.
    let want = std::fs::read(&sparse).unwrap();
    assert!(want.len() > 64 << 20);
    let got = read_all(&fs, "/sparse.bin").unwrap();
    assert!(
        got == want,
        "sparse.bin differs (lengths {} and {})",
        got.len(),
        want.len()
    );
    // Reads at scattered offsets (each opens a fresh cursor and seeks).
    let f = fs.open("/sparse.bin", OREAD).unwrap();
    for &at in &[(33u64 << 20) - 10, 5, (64 << 20) + 4090, 1 << 20, 33 << 20] {
        let mut buf = vec![0; 3000];
        let n = f.read_at(&mut buf, at).unwrap();
        let end = (at as usize + n).min(want.len());
        assert_eq!(&buf[..n], &want[at as usize..end], "read at {at}");
    }
}

#[test]
fn journal_needing_recovery_gives_path_hashed_qids() {
    let dir = TempDir::new("recovery");
    let tree = dir.path().join("tree");
    fixture(&tree);
    let img = dir.path().join("img");
    mkfs(&tree, &img, 8, &["-O", "has_journal,metadata_csum"]);
    // Leave a committed transaction (for a free block) in the journal, as a
    // crash would: debugfs sets needs_recovery and the journal's checksum v3.
    let cmds = dir.path().join("cmds");
    std::fs::write(&cmds, "jo -c\njw -b 8000 /dev/null\njc\n").unwrap();
    run(Command::new(tool("debugfs", "e2fsprogs"))
        .arg("-w")
        .arg("-f")
        .arg(&cmds)
        .arg(&img));
    let dump = Command::new(tool("dumpe2fs", "e2fsprogs"))
        .arg("-h")
        .arg(&img)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dump.stdout).contains("needs_recovery"));
    let bytes = std::fs::read(&img).unwrap();
    let fs = client(bytes, 8192 + 24);
    // ext4-view replays the journal in memory; the files read as before.
    assert_eq!(read_all(&fs, "/hello.txt").unwrap(), b"hello, world\n");
    assert_eq!(read_all(&fs, "/links/relative").unwrap(), b"hello, world\n");
    // Directory blocks on disk may be stale, so qid.path is a path hash with
    // the top bit set, the same in a listing, a stat and a walk.
    let root = fs.stat("/").unwrap();
    assert!(root.qid.path & 1 << 63 != 0);
    for d in fs.read_dir("/sub").unwrap() {
        assert!(d.qid.path & 1 << 63 != 0, "{}", d.name);
        assert_eq!(fs.stat(&format!("/sub/{}", d.name)).unwrap().qid, d.qid);
    }
    assert_ne!(
        fs.stat("/sub/hard link").unwrap().qid.path,
        fs.stat("/hello.txt").unwrap().qid.path
    );
    assert_eq!(
        fs.stat("/links/relative").unwrap().qid.path,
        fs.stat("/hello.txt").unwrap().qid.path
    );
}

#[test]
fn fragmented_directory_with_an_extent_tree() {
    // Files written between the directory's blocks scatter them: more than
    // four extents, so the directory's extent tree has an index level.
    let dir = TempDir::new("fragmented");
    let tree = dir.path().join("tree");
    for i in 0..400 {
        write(
            &tree,
            &format!("frag/a file with a fairly long name number {i}"),
            format!("content {i}\n").as_bytes(),
        );
    }
    let (img, bytes) = image(&tree, &dir, "img", &["-b", "1024"]);
    let out = Command::new(tool("debugfs", "e2fsprogs"))
        .args(["-R", "ex /frag"])
        .arg(&img)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" 0/ 1 "),
        "/frag has a two-level extent tree:\n{text}"
    );
    let fs = client(bytes, 8192 + 24);
    let inodes = debugfs_inodes(&img, "/frag");
    let entries = fs.read_dir("/frag").unwrap();
    assert_eq!(entries.len(), 400);
    for d in &entries {
        assert_eq!(
            Some(&d.qid.path),
            inodes.get(&d.name),
            "inode of {}",
            d.name
        );
    }
    assert_eq!(
        read_all(&fs, "/frag/a file with a fairly long name number 399").unwrap(),
        b"content 399\n"
    );
}

#[test]
fn directory_reads_continue_at_the_previous_offset_only() {
    let dir = TempDir::new("offsets");
    let tree = dir.path().join("tree");
    fixture(&tree);
    let (_, bytes) = image(&tree, &dir, "img", &[]);
    let fs = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 1 << 20).unwrap();
    let mut s = attached(fs, 8192 + 24);
    open_dir(&mut s, &[]);
    let mut offset = 0;
    let mut names = Vec::new();
    loop {
        let out = raw(
            &mut s,
            &Message::Tread {
                fid: 1,
                offset,
                count: 100,
            },
        );
        let Message::Rread { data } = codec::decode(&out).unwrap().1 else {
            panic!()
        };
        if data.is_empty() {
            break;
        }
        let entries: Vec<_> = codec::DirEntries::new(data)
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!entries.is_empty(), "every read holds whole entries");
        names.extend(entries.iter().map(|e| e.name.to_string()));
        offset += data.len() as u64;
    }
    assert!(names.contains(&"hello.txt".to_string()) && names.len() >= 10);
    expect_error(
        &mut s,
        &Message::Tread {
            fid: 1,
            offset: 3,
            count: 100,
        },
        "bad offset in directory read",
    );
    let out = raw(
        &mut s,
        &Message::Tread {
            fid: 1,
            offset: 0,
            count: 100,
        },
    );
    assert!(
        matches!(codec::decode(&out).unwrap().1, Message::Rread { .. }),
        "offset 0 restarts"
    );
}

/// Linux's v9fs reads a directory into a fixed buffer, each Tread asking for
/// the space left: a reply that stops short of an entry (0 bytes when even
/// the first does not fit) must not be an error, and its offset stays valid.
#[test]
fn a_client_with_a_fixed_buffer_lists_a_3000_entry_directory() {
    let dir = TempDir::new("fixed-buffer");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("many")).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..3000 {
        // Names of varied lengths, so replies end at every kind of boundary.
        let name = format!("{i}-{}", "x".repeat(i % 40));
        std::fs::File::create(tree.join("many").join(&name)).unwrap();
        want.insert(name);
    }
    let img = dir.path().join("img");
    mkfs(&tree, &img, 16, &["-b", "4096", "-N", "4000"]);
    let bytes = std::fs::read(&img).unwrap();
    let fs = client(bytes.clone(), 8192);
    for buf_len in [200, 4096, 65536] {
        let mut d = fs.open("/many", OREAD).unwrap();
        let entries = d.read_dir_buffered(buf_len).unwrap();
        let names: BTreeSet<String> = entries.iter().map(|d| d.name.clone()).collect();
        assert_eq!(entries.len(), 3000, "buffer of {buf_len} bytes");
        assert_eq!(names, want, "buffer of {buf_len} bytes");
    }
    // A count of 1 at offset 0: 0 bytes and no error; then the listing works.
    let ext4 = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 1 << 20).unwrap();
    let mut s = attached(ext4, 8192);
    open_dir(&mut s, &["many"]);
    for (count, empty) in [(1, true), (0, true), (8000, false)] {
        let out = raw(
            &mut s,
            &Message::Tread {
                fid: 1,
                offset: 0,
                count,
            },
        );
        let Message::Rread { data } = codec::decode(&out).unwrap().1 else {
            panic!("count {count}: not an Rread")
        };
        assert_eq!(data.is_empty(), empty, "count {count}");
    }
}

#[test]
fn unsupported_and_damaged_images_fail_at_open_with_a_reason() {
    let dir = TempDir::new("unsupported");
    let tree = dir.path().join("tree");
    write(&tree, "a.txt", b"a\n");
    for (options, feature) in [
        (&["-O", "inline_data"][..], "inline_data"),
        (&["-O", "meta_bg,^resize_inode"], "meta_bg"),
        (&["-O", "casefold"], "casefold"),
    ] {
        let (_, bytes) = image(&tree, &dir, feature, options);
        let e = Ext4Fs::open(Box::new(MemoryDevice(bytes)), 0)
            .err()
            .expect(feature);
        let text = e.to_string();
        assert!(
            text.contains("unsupported ext4 feature") && text.contains(feature),
            "{text}"
        );
    }
    let e = Ext4Fs::open(Box::new(MemoryDevice(vec![0u8; 1 << 20])), 0)
        .err()
        .unwrap();
    assert!(e.to_string().contains("not an ext2/3/4 filesystem"), "{e}");
    let (_, bytes) = image(&tree, &dir, "ok", &[]);
    let e = Ext4Fs::open(Box::new(MemoryDevice(bytes[..4 << 20].to_vec())), 0)
        .err()
        .unwrap();
    assert!(e.to_string().contains("truncated image"), "{e}");
    let e = Ext4Fs::open(Box::new(MemoryDevice(bytes[..1500].to_vec())), 0)
        .err()
        .unwrap();
    assert!(e.to_string().contains("not an ext2/3/4"), "{e}");
}

/// A disk image with a partition table made by sfdisk and the filesystem
/// image copied into partition `fs_partition`.
pub fn partitioned_disk(
    dir: &Path,
    fs_image: &[u8],
    script: &str,
    fs_start_sector: u64,
) -> Vec<u8> {
    let disk = dir.join("disk");
    let f = std::fs::File::create(&disk).unwrap();
    f.set_len(32 << 20).unwrap();
    drop(f);
    lux9_tests::host_tools::sfdisk(&disk, script).unwrap_or_else(|why| panic!("{why}"));
    let mut bytes = std::fs::read(&disk).unwrap();
    let at = (fs_start_sector * 512) as usize;
    bytes[at..at + fs_image.len()].copy_from_slice(fs_image);
    bytes
}

#[test]
fn mbr_and_gpt_partitions() {
    let dir = TempDir::new("partitions");
    let tree = dir.path().join("tree");
    write(&tree, "in a partition.txt", b"found it\n");
    let img = dir.path().join("fs");
    mkfs(&tree, &img, 8, &[]);
    let fs_image = std::fs::read(&img).unwrap();
    let cases = [
        // MBR: a FAT partition first, ext4 second.
        (
            "label: dos\nstart=2048, size=4096, type=c\nstart=8192, size=20480, type=83\n",
            8192,
            2,
        ),
        // MBR logical partition inside an extended one: number 5.
        (
            "label: dos\nstart=2048, size=4096, type=83\nstart=8192, size=40000, type=5\nstart=10240, size=20480, type=83\n",
            10240,
            5,
        ),
        // GPT: ext4 as the third entry.
        (
            "label: gpt\nstart=2048, size=2048\nstart=4096, size=2048\nstart=8192, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
            8192,
            3,
        ),
    ];
    for (script, start, number) in cases {
        let disk = partitioned_disk(dir.path(), &fs_image, script, start);
        let device = Partition::open(Box::new(MemoryDevice(disk.clone())), number)
            .unwrap_or_else(|e| panic!("partition {number}: {e}"));
        let fs = Ext4Fs::open(Box::new(device), 1 << 20).unwrap();
        let client = lib9pclient::Client::connect(Loopback::new(fs, 8216), 8216).unwrap();
        let fs = client.attach("u", "").unwrap();
        assert_eq!(
            read_all(&fs, "/in a partition.txt").unwrap(),
            b"found it\n",
            "{script}"
        );
        // The whole disk is not ext4, and a missing partition is named.
        let e = Ext4Fs::open(Box::new(MemoryDevice(disk.clone())), 0)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not an ext2/3/4"), "{e}");
        let e = Partition::open(Box::new(MemoryDevice(disk.clone())), 9)
            .err()
            .unwrap();
        assert!(e.to_string().contains("no partition 9"), "{e}");
        // A damaged GPT primary header falls back to the backup at the end.
        if script.contains("gpt") {
            let mut damaged = disk.clone();
            damaged[512 + 20] ^= 0xff;
            let device = Partition::open(Box::new(MemoryDevice(damaged.clone())), number).unwrap();
            assert!(Ext4Fs::open(Box::new(device), 0).is_ok());
            let n = damaged.len();
            damaged[n - 512 + 20] ^= 0xff;
            let e = Partition::open(Box::new(MemoryDevice(damaged)), number)
                .err()
                .unwrap();
            assert!(e.to_string().contains("CRC"), "{e}");
        }
    }
}

/// A pseudo-random byte sequence (xorshift), so that a block read from the wrong place shows.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn scattered_reads_match_the_host_through_extent_trees_and_block_maps() {
    // Reads at any offset go through ext4srv's map of the file's blocks (not a walk from the
    // start of the file): each variant's map kind, checked read by read against the bytes.
    let dir = TempDir::new("scattered");
    let tree = dir.path().join("tree");
    let big = noise(6 << 20, 7);
    let mid = noise(300 << 10, 11);
    let small = noise(5000, 13);
    write(&tree, "big.bin", &big);
    write(&tree, "mid.bin", &mid);
    write(&tree, "small.bin", &small);
    for (name, options, extents) in [
        // 1 MiB block groups without flex_bg: group metadata splits the files into many
        // extents, so big.bin's extent tree has an index level.
        (
            "ext4-1k-groups",
            &["-b", "1024", "-g", "1024", "-O", "^flex_bg,^resize_inode"][..],
            true,
        ),
        ("ext4-4k", &["-b", "4096"], true),
        // ext2: block maps with single and double indirect blocks.
        ("ext2-1k", &["-b", "1024", "-t", "ext2"], false),
    ] {
        let img = dir.path().join(name);
        mkfs(&tree, &img, 16, options);
        let out = Command::new(tool("debugfs", "e2fsprogs"))
            .args(["-R", "ex /big.bin"])
            .arg(&img)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if extents && name == "ext4-1k-groups" {
            assert!(
                text.contains(" 0/ 1 "),
                "{name}: big.bin has a two-level extent tree:\n{text}"
            );
        }
        let fs = client(std::fs::read(&img).unwrap(), 64 * 1024 + 24);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % bound
        };
        for (file, want) in [
            ("/big.bin", &big),
            ("/mid.bin", &mid),
            ("/small.bin", &small),
        ] {
            let f = fs.open(file, OREAD).unwrap();
            for _ in 0..200 {
                let at = next(want.len() as u64 + 100);
                let len = 1 + next(20_000) as usize;
                let mut buf = vec![0xa5; len];
                let n = f.read_at(&mut buf, at).unwrap();
                let start = (at as usize).min(want.len());
                let end = (start + len).min(want.len());
                assert_eq!(n, end - start, "{name}: {file}: length of a read at {at}");
                assert!(
                    buf[..n] == want[start..end],
                    "{name}: {file}: {len} bytes at {at} differ"
                );
            }
        }
    }
}
