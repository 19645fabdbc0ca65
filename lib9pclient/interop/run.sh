#!/usr/bin/env bash
# Interoperability check of lib9pclient against two other 9P2000
# implementations from PyPI (needs network access to PyPI the first time):
#   A. python-9p (plan9port's C codec) as a client of our in-memory server,
#      over TCP and over a Unix socket;
#   B. our `9p` tool as a client of py9p's LocalFs server (from p9fs).
# usage: lib9pclient/interop/run.sh     (from the workspace root)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/lib9pclient/interop"
work=$(mktemp -d)
venvs="${INTEROP_VENVS:-$root/target/interop-venvs}"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

venv() { # name, pip args...
    local dir="$venvs/$1"; shift
    if [ ! -x "$dir/bin/python" ]; then
        python3 -m venv "$dir"
        "$dir/bin/pip" install -q "$@"
    fi
    echo "$dir/bin/python"
}
# Both packages install a module named py9p, hence two environments.
p9p=$(venv python-9p 'python-9p==0.1.0')
p9fs=$(venv p9fs --no-deps 'p9fs==0.0.4')

cargo build -q -p lib9pclient --bin 9p --example memsrv --manifest-path "$root/Cargo.toml"
tool="$root/target/debug/9p"
memsrv="$root/target/debug/examples/memsrv"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

passed=0
failed=0
step() { # description, command...
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what"; fi
}

# A. plan9port's codec against our server.
port=$(free_port)
"$memsrv" "tcp!127.0.0.1!$port" & pids+=($!)
wait_port "$port"
step "python-9p client -> lib9pclient server over TCP" "$p9p" "$here/plan9port_client.py" tcp 127.0.0.1 "$port"
sock="$work/memsrv.sock"
"$memsrv" "unix!$sock" & pids+=($!)
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
step "python-9p client -> lib9pclient server over a Unix socket" "$p9p" "$here/plan9port_client.py" unix "$sock"

# B. our tool against py9p's server, serving a scratch directory.
tree="$work/tree"
mkdir -p "$tree/sub"
printf 'hello from py9p\n' > "$tree/hello.txt"
port=$(free_port)
(cd "$work" && exec "$p9fs" -m py9p -w -p "$port" -a 127.0.0.1 -r "$tree") & pids+=($!)
wait_port "$port"
a="tcp!127.0.0.1!$port"
step "9p ls" test "$("$tool" -a "$a" ls /)" = "$(printf 'hello.txt\nsub')"
step "9p ls -l" bash -c "\"$tool\" -a '$a' ls -l / | grep -q ' hello.txt$'"
step "9p read" test "$("$tool" -a "$a" read /hello.txt)" = "hello from py9p"
step "9p stat" bash -c "\"$tool\" -a '$a' stat /hello.txt | grep -q \"^'hello.txt' .* l 16 \""
step "9p create" "$tool" -a "$a" create /new.bin
head -c 200000 /dev/urandom > "$work/payload"
step "9p write (200 kB, many Twrites)" bash -c "\"$tool\" -a '$a' write /new.bin < '$work/payload'"
step "written bytes landed on disk" cmp "$work/payload" "$tree/new.bin"
step "9p read back" bash -c "\"$tool\" -a '$a' read /new.bin | cmp - '$work/payload'"
step "9p create -d" "$tool" -a "$a" create -d /newdir
step "directory made on disk" test -d "$tree/newdir"
step "9p rm" "$tool" -a "$a" rm /new.bin /newdir
step "files gone from disk" test ! -e "$tree/new.bin" -a ! -e "$tree/newdir"
step "9p read of a missing file fails with the server's text" \
    bash -c "! \"$tool\" -a '$a' read /nope 2> '$work/err' && grep -q '^9p: read /nope: ' '$work/err'"

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
