#!/usr/bin/env bash
# The fault scenarios' tests (compose-tests/tests/faults.rs, ignored by plain `cargo test`): every
# scenario of scripts/faults.tsv run in compose and judged by its clients' lines and by tshark.
# Every test starts at once; the tests themselves let COMPOSE_RUNS (3) scenarios run together, each
# in its own compose project and subnets. Needs the images: `make images` first.
set -euo pipefail
cd "$(dirname "$0")/.."
docker info >/dev/null 2>&1 || { echo "test-faults: the Docker daemon is not running (start it: sudo dockerd, or make setup)" >&2; exit 1; }
# --workspace for the reason given in test-captures.sh: the dependencies built by test-unit are reused.
# A deadline for the whole suite: CI fails with the last test named instead of hanging.
timeout -k 30 2100 cargo test --release --workspace --test faults -- --ignored --test-threads=32 "$@"
