#!/usr/bin/env bash
# Flame graphs of where PUSH/PULL, PUB/SUB with 4 subscribers and REST spend their CPU, from perf
# samples of a release build with symbols (cargo profile `profiling`), drawn by inferno.
# Needs: perf (Debian's linux-perf) able to sample (cpu-clock works in a VM without PMU),
#        inferno (cargo install inferno), sockperf and wrk (for the REST section of pola bench).
# Usage: bench/profile.sh [OUT_DIR]   (default: bench/flamegraphs); make profile runs it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/bench/flamegraphs}"
for tool in perf inferno-collapse-perf inferno-flamegraph; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (perf: apt-get install linux-perf; inferno: cargo install inferno)" >&2; exit 1; }
done
cd "$root"
cargo build --profile profiling -p pola-zmq -p pola-rest -p pola --bins
bin="$root/target/profiling"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
# The folded stacks behind each graph (for grep and inferno-diff-folded): FOLDED=DIR keeps them.
folded="${FOLDED:-$work}"
mkdir -p "$folded"
# DWARF unwinding: release code keeps no frame pointers.
record=(perf record -q -F 2000 -g --call-graph dwarf,32768)
count="${COUNT:-200000}"
size="${SIZE:-64}"

# Every role's samples, folded, with the role as the root frame, so one graph shows all processes.
fold() { # fold ROLE DATA...
    local role="$1"; shift
    for data in "$@"; do
        perf script -i "$data" 2>/dev/null | inferno-collapse-perf | sed "s/^/$role;/"
    done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "PUSH/PULL: zmq-pusher -> 2 zmq-worker -> zmq-sink, $count tasks of $size B"
tasks="127.0.0.1:$(free_port)" results="127.0.0.1:$(free_port)"
"${record[@]}" -o "$work/sink.data" -- "$bin/zmq-sink" --listen "$results" --workers 2 > "$work/sink.out" &
sink=$!
"${record[@]}" -o "$work/pusher.data" -- "$bin/zmq-pusher" --listen "$tasks" --sink "$results" --workers 2 --count "$count" --size "$size" >/dev/null &
pusher=$!
for i in 1 2; do
    "${record[@]}" -o "$work/worker$i.data" -- "$bin/zmq-worker" --connect "$tasks" --sink "$results" >/dev/null &
done
timeout 300 tail --pid="$sink" -f /dev/null
wait
cat "$work/sink.out"
{ fold zmq-pusher "$work/pusher.data"; fold zmq-worker "$work"/worker*.data; fold zmq-sink "$work/sink.data"; } \
    | tee "$folded/pushpull.folded" | inferno-flamegraph --minwidth 0.5 --title "PUSH/PULL, $count tasks of $size B, 2 workers" > "$out/pushpull.svg"

echo "PUB/SUB: zmq-publisher -> 4 zmq-subscriber, $count messages of $size B"
listen="127.0.0.1:$(free_port)"
for i in 1 2 3 4; do
    "${record[@]}" -o "$work/sub$i.data" -- "$bin/zmq-subscriber" --connect "$listen" --topics bench > "$work/sub$i.out" &
done
"${record[@]}" -o "$work/pub.data" -- "$bin/zmq-publisher" --listen "$listen" --topics bench --subscriptions 4 --count "$count" --size "$size" >/dev/null
wait
cat "$work"/sub*.out
{ fold zmq-publisher "$work/pub.data"; fold zmq-subscriber "$work"/sub*.data; } \
    | tee "$folded/pubsub-4subs.folded" | inferno-flamegraph --minwidth 0.5 --title "PUB/SUB, $count messages of $size B, 4 subscribers" > "$out/pubsub-4subs.svg"

echo "REST: pola bench --only rest, rest-api and the hyper client in pola recorded"
# pola bench starts rest-api from --bin-dir and kills it when done: a wrapper starts it under perf
# in the background, and perf is stopped here with SIGINT, so its data is complete.
mkdir -p "$work/wrap"
cat > "$work/wrap/rest-api" <<WRAP
#!/bin/sh
${record[*]} -o "$work/api.\$\$.data" -- "$bin/rest-api" "\$@" &
echo \$! >> "$work/perf.pids"
wait
WRAP
chmod +x "$work/wrap/rest-api"
# --no-inherit: only pola's main thread, where the bench's client makes its one-at-a-time round
# trips (current-thread runtime); its runs over many connections have two threads of their own
# and are not recorded.
"${record[@]}" --no-inherit -o "$work/client.data" -- "$bin/pola" bench --only rest --bin-dir "$work/wrap" --out-dir "$work" | tail -n 12
while read -r pid; do kill -INT "$pid" 2>/dev/null || true; done < "$work/perf.pids"
while read -r pid; do timeout 60 tail --pid="$pid" -f /dev/null; done < "$work/perf.pids"
{ fold rest-api "$work"/api.*.data; fold "pola bench (reqwest client)" "$work/client.data"; } \
    | tee "$folded/rest.folded" | inferno-flamegraph --minwidth 0.5 --title "REST, pola bench --only rest: rest-api and the reqwest client" > "$out/rest.svg"
ls -l "$out"
