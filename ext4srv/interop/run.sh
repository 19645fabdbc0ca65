#!/usr/bin/env bash
# Interoperability check of ext4srv against python-9p (plan9port's C codec),
# from PyPI (network access to PyPI the first time), over TCP and a Unix
# socket. Needs e2fsprogs (mkfs.ext4).
# usage: ext4srv/interop/run.sh     (from the workspace root)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/ext4srv/interop"
work=$(mktemp -d)
venvs="${INTEROP_VENVS:-$root/target/interop-venvs}"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

dir="$venvs/python-9p"
if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q 'python-9p==0.1.0'
fi
p9p="$dir/bin/python"

cargo build -q -p ext4srv --manifest-path "$root/Cargo.toml"
srv="$root/target/debug/ext4srv"

tree="$work/tree"
mkdir -p "$tree/dir"
printf 'hello from ext4\n' > "$tree/hello.txt"
printf 'ünï\n' > "$tree/dir/ünï cödé.txt"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 1200)' > "$tree/big.bin"
ln -s hello.txt "$tree/link"
chmod 644 "$tree/hello.txt"
truncate -s 8M "$work/img"
PATH="$PATH:/usr/sbin:/sbin" mkfs.ext4 -q -F -E root_owner=0:0 -d "$tree" "$work/img"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 100); do grep -q "listening on" "$1" && return 0; sleep 0.1; done; return 1; }

passed=0
failed=0
step() {
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what"; fi
}

port=$(free_port)
"$srv" --listen "tcp!127.0.0.1!$port" --msize 8192 "$work/img" 2> "$work/tcp.log" & pids+=($!)
wait_log "$work/tcp.log"
step "python-9p client -> ext4srv over TCP" "$p9p" "$here/plan9port_client.py" tcp 127.0.0.1 "$port"
sock="$work/ext4srv.sock"
"$srv" --listen "unix!$sock" --msize 8192 "$work/img" 2> "$work/unix.log" & pids+=($!)
wait_log "$work/unix.log"
step "python-9p client -> ext4srv over a Unix socket" "$p9p" "$here/plan9port_client.py" unix "$sock"

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
