"""Drive a lib9pclient server with python-9p, whose wire codec is plan9port's
convM2S/convS2M compiled in C: every reply our server sends is decoded, and
every request it receives was encoded, by another 9P2000 implementation.

usage: python plan9port_client.py tcp HOST PORT | unix PATH
"""

import struct
import sys

from py9p import Client, OREAD, ORDWR, OTRUNC, OWRITE
from py9p.client import RemoteError
from py9p.native import decode_dir

checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    checks += 1


def main():
    if sys.argv[1] == "tcp":
        c = Client.connect_tcp(sys.argv[2], int(sys.argv[3]), timeout=10)
    else:
        c = Client.connect_unix(sys.argv[2])
    with c:
        rv = c.negotiate()
        check(rv.version == "9P2000", f"version {rv.version}")
        check(0 < rv.msize <= 8192, f"msize {rv.msize}")
        root = c.attach(fid=0, uname="glenda")
        check(root.type & 0x80, "root qid is a directory")

        # Walk, open, read a seeded file.
        qids = c.walk(0, 1, "README")
        check(len(qids) == 1, "walk README")
        c.open(1, OREAD)
        data = c.read(1, 8000, 0)
        check(data.startswith(b"Served by lib9pclient"), f"README contents {data!r}")
        st = c.stat(1)
        check(st.name == "README" and st.length == len(data), f"stat {st}")
        c.clunk(1)

        # Directory listing: our packed stat entries, decoded by plan9port.
        c.walk(0, 2, "")
        c.open(2, OREAD)
        raw = c.read(2, 8000, 0)
        names = []
        while raw:
            n = int.from_bytes(raw[:2], "little") + 2
            names.append(decode_dir(raw[:n]).name)
            raw = raw[n:]
        check(sorted(names) == ["README", "tmp"], f"root listing {names}")
        # As Linux's v9fs reads a directory: each Tread asks for the space left in a fixed
        # buffer; a reply of 0 bytes while the buffer holds entries means "the next one does
        # not fit" (the buffer is emptied and the offset kept), and with an empty buffer the
        # end. A count of 1 is no error.
        check(c.read(2, 1, 0) == b"", "a count of 1 at offset 0 reads 0 bytes")
        small, offset, buf, names = 80, 0, b"", []
        while True:
            got = c.read(2, small - len(buf), offset)
            if got:
                buf, offset = buf + got, offset + len(got)
                continue
            if not buf:
                break
            while buf:
                n = int.from_bytes(buf[:2], "little") + 2
                names.append(decode_dir(buf[:n]).name)
                buf = buf[n:]
        check(sorted(names) == ["README", "tmp"], f"root listing through 80 bytes {names}")
        c.clunk(2)

        # Create, write, read back, wstat rename, remove.
        c.walk(0, 3, "tmp")
        c.create(3, "interop.txt", 0o664, ORDWR)
        payload = bytes(range(256)) * 100
        off = 0
        while off < len(payload):
            n = c.write(3, payload[off:off + 4000], off)
            check(n > 0, "write progresses")
            off += n
        back = b""
        while True:
            chunk = c.read(3, 8000, len(back))
            if not chunk:
                break
            back += chunk
        check(back == payload, "read back what was written")
        st = c.stat(3)
        check(st.length == len(payload), f"length {st.length}")
        c.clunk(3)
        c.walk(0, 4, "tmp/interop.txt")
        # A Twstat that changes only the name: every other field "don't
        # touch" (all ones, which plan9port's signed length cannot hold, so
        # the stat is packed by hand).
        body = b"\xff" * (2 + 4 + 13 + 4 + 4 + 4 + 8)
        for s in ("renamed.txt", "", "", ""):
            body += struct.pack("<H", len(s)) + s.encode()
        keep = struct.pack("<H", len(body)) + body
        c.wstat(4, keep)
        check(c.stat(4).name == "renamed.txt", "wstat renamed the file")
        c.remove(4)

        # Errors come back as Rerror with our text.
        try:
            c.walk(0, 5, "nonexistent")
            check(False, "walk to a missing file must fail")
        except RemoteError as e:
            check("does not exist" in str(e), f"error text {e}")
        c.walk(0, 6, "tmp")
        try:
            c.open(6, OWRITE | OTRUNC)
            check(False, "opening a directory for writing must fail")
        except RemoteError as e:
            check("is a directory" in str(e), f"error text {e}")
        c.clunk(6)
        try:
            c.stat(99)
            check(False, "stat of an unknown fid must fail")
        except RemoteError as e:
            check("unknown fid" in str(e), f"error text {e}")
    print(f"plan9port codec client: {checks} checks passed")


if __name__ == "__main__":
    main()
