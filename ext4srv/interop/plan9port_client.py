"""Read an image served by ext4srv with python-9p, whose wire codec is
plan9port's convM2S/convS2M in C: another 9P2000 implementation decodes every
reply ext4srv sends.

The image holds the tree made by run.sh.
usage: python plan9port_client.py tcp HOST PORT | unix PATH
"""

import sys

from py9p import Client, OREAD, OWRITE, ORDWR
from py9p.client import RemoteError
from py9p.native import decode_dir

checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    checks += 1


def read_all(c, fid):
    data = b""
    while True:
        chunk = c.read(fid, 8000, len(data))
        if not chunk:
            return data
        data += chunk


def listing(c, fid):
    names = {}
    offset = 0
    while True:
        raw = c.read(fid, 8000, offset)
        if not raw:
            return names
        offset += len(raw)
        while raw:
            n = int.from_bytes(raw[:2], "little") + 2
            d = decode_dir(raw[:n])
            names[d.name] = d
            raw = raw[n:]


def expect_error(what, text, f, *args):
    try:
        f(*args)
        check(False, f"{what} must fail")
    except RemoteError as e:
        check(text in str(e), f"{what}: error text {e}")


def main():
    if sys.argv[1] == "tcp":
        c = Client.connect_tcp(sys.argv[2], int(sys.argv[3]), timeout=10)
    else:
        c = Client.connect_unix(sys.argv[2])
    with c:
        rv = c.negotiate()
        check(rv.version == "9P2000", f"version {rv.version}")
        root = c.attach(fid=0, uname="glenda")
        check(root.type & 0x80 and root.path == 2, "root qid: a directory, inode 2")

        qids = c.walk(0, 1, "hello.txt")
        check(len(qids) == 1 and qids[0].type == 0, "walk hello.txt")
        c.open(1, OREAD)
        check(read_all(c, 1) == b"hello from ext4\n", "read hello.txt")
        st = c.stat(1)
        check(st.name == "hello.txt" and st.length == 16 and st.uid == "0", f"stat {st}")
        check(st.mode & 0o777 == 0o644 and st.qid.path == qids[0].path, f"mode and qid {st}")
        c.clunk(1)

        # A 300 kB file in many reads.
        c.walk(0, 2, "big.bin")
        c.open(2, OREAD)
        data = read_all(c, 2)
        check(data == bytes(range(256)) * 1200, f"big.bin: {len(data)} bytes")
        c.clunk(2)

        # The root listing, decoded by plan9port.
        c.walk(0, 3, "")
        c.open(3, OREAD)
        names = listing(c, 3)
        check(set(names) == {"hello.txt", "big.bin", "dir", "link", "lost+found"}, f"root listing {sorted(names)}")
        check(names["dir"].mode & 0x80000000, "dir has DMDIR")
        check(names["link"].qid.path == names["hello.txt"].qid.path, "the symlink shows as its target")
        c.clunk(3)

        # Symlink and a name with spaces and UTF-8.
        c.walk(0, 4, "link")
        c.open(4, OREAD)
        check(read_all(c, 4) == b"hello from ext4\n", "read through the symlink")
        c.clunk(4)
        c.walk(0, 5, "dir/ünï cödé.txt")
        c.open(5, OREAD)
        check(read_all(c, 5) == "ünï\n".encode(), "UTF-8 name")
        c.clunk(5)

        # Read-only, and the usual errors.
        c.walk(0, 6, "hello.txt")
        expect_error("open for writing", "read-only file system", c.open, 6, OWRITE)
        c.walk(0, 7, "dir")
        expect_error("create", "read-only file system", c.create, 7, "new", 0o644, ORDWR)
        c.walk(0, 8, "dir")
        expect_error("open a directory for writing", "is a directory", c.open, 8, OWRITE)
        expect_error("walk to a missing file", "does not exist", c.walk, 0, 9, "nope")
        expect_error("stat of an unknown fid", "unknown fid", c.stat, 99)
    print(f"plan9port codec client against ext4srv: {checks} checks passed")


if __name__ == "__main__":
    main()
