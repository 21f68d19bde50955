#!/usr/bin/env bash
# `make up` once the roles are built: the images, every model once in compose (six pcaps in
# captures/), then pola's report of them. `pola`, which only the report needs, compiles meanwhile:
# building the images and running the models wait on docker, not on the CPU, so a fresh clone
# gets its pcaps sooner than if `pola` were built first (on a 2-core machine, 5 min 25 s from a
# fresh clone instead of 6 min 39 s).
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p build
log=build/pola-build.log
cargo build --release --workspace --bins >"$log" 2>&1 &
build=$!
# A failed image or capture stops the build too, rather than leave it running behind the prompt.
trap 'kill "$build" 2>/dev/null || true' EXIT

bash scripts/images.sh
bash scripts/capture.sh up
if ! wait "$build"; then
  cat "$log" >&2
  echo "up: building pola failed (its output is above and in $log)" >&2
  exit 1
fi
trap - EXIT
./target/release/pola report
