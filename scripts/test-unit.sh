#!/usr/bin/env bash
# The unit and loopback tests: the test binaries `cargo test --release --workspace` builds, run
# TEST_JOBS (4) at a time instead of one after another. Most of their time is spent waiting on real
# peers (tshark, Mosquitto, Chromium, sockets), not on the CPU: one after another they took 113 s
# of which 38 s were CPU. Each binary runs in its package's folder, as cargo runs it, its
# output printed whole once it ended. The doc tests follow, as cargo runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${TEST_JOBS:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# "<package folder> <executable> <source>" per test binary.
cargo test --release --workspace --no-run --message-format=json-render-diagnostics |
  jq -r --arg root "$PWD/" 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
         | "\(.manifest_path | rtrimstr("/Cargo.toml")) \(.executable) \(.target.src_path | ltrimstr($root))"' >"$work/binaries"
[[ -s $work/binaries ]] || { echo "test-unit: cargo built no test binary" >&2; exit 1; }

# One binary: its output to a file, printed whole under a lock once it ended; a failure adds its
# source to the failed list.
run_one() {
  local dir=$1 exe=$2 src=$3 log status=ok
  log=$WORK/$(basename "$exe").log
  (cd "$dir" && "$exe") >"$log" 2>&1 || status=FAILED
  flock "$WORK/binaries" sh -c 'echo "== $1: $2"; cat "$3"; [ "$2" = ok ] || echo "$1" >>"$4"' _ "$src" "$status" "$log" "$WORK/failed"
}
export -f run_one
export WORK=$work
xargs -P "$JOBS" -n 3 bash -c 'run_one "$@"' _ <"$work/binaries"

[[ ! -s $work/failed ]] || { echo "test-unit: failed: $(xargs <"$work/failed")" >&2; exit 1; }
cargo test --release --workspace --doc -q
echo "test-unit: every test binary passed ($(wc -l <"$work/binaries") binaries, $JOBS at a time)"
