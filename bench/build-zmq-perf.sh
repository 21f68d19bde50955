#!/usr/bin/env bash
# Builds libzmq's own perf tools (local_lat, remote_lat, local_thr, remote_thr) from the sources
# that the zeromq-src crate vendors (libzmq 4.3.4), and our C topologies in bench/zmq-topo (the
# guide's taskvent/taskwork/tasksink and wuserver/wuclient, taking pola's flags), so `pola bench`
# compares our ZeroMQ models with the reference tools and the same pipelines in C, on the same libzmq. Links the static libzmq that zmq-sys built for pola
# when it exists (the very same library), otherwise Debian's libzmq3-dev (also 4.3.4).
# Usage: bench/build-zmq-perf.sh [OUT_DIR]   (default: target/zmq-perf)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/zmq-perf}"
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"

src="$(ls -d "$registry"/*/zeromq-src-*/vendor/perf 2>/dev/null | sort | tail -n 1 || true)"
if [ -z "$src" ]; then
    echo "error: no zeromq-src crate under $registry (run: cargo fetch)" >&2
    exit 1
fi
include="$src/../include"

# The static library zmq-sys built for the release profile, newest first.
static="$(ls -t "$root"/target/release/build/zmq-sys-*/out/lib/libzmq.a 2>/dev/null | head -n 1 || true)"
if [ -n "$static" ]; then
    # zmq-sys builds it with CURVE, on Debian's libsodium (vendor/zmq-sys).
    link=("$static" -lsodium -lpthread)
    from="zmq-sys static $static"
elif [ -e /usr/include/zmq.h ]; then
    link=(-lzmq)
    from="Debian libzmq3-dev"
else
    echo "error: neither zmq-sys's libzmq.a under target/release nor Debian's libzmq3-dev found" >&2
    exit 1
fi

mkdir -p "$out"
for tool in local_lat remote_lat local_thr remote_thr; do
    g++ -O2 -std=c++11 -I "$include" "$src/$tool.cpp" "${link[@]}" -o "$out/$tool"
done
for end in taskvent taskwork tasksink wuserver wuclient; do
    gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -I "$include" "$root/bench/zmq-topo/$end.c" "${link[@]}" -lstdc++ \
        -o "$out/$end"
done
echo "$from" > "$out/LINKED_WITH"
echo "built libzmq perf tools from $src and the C topologies into $out, linked with $from"
