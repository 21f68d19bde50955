#!/usr/bin/env bash
# The capture tests: every model and encrypted twin in compose, every pcap judged with tshark
# (compose-tests/tests/captures.rs, tls_captures.rs and curve_captures.rs, ignored by plain `cargo
# test`). Every test starts at once; the tests let COMPOSE_RUNS (3) models run together, each in a
# compose project of its own, never two runs of one model. Needs the images: `make images` first.
set -euo pipefail
cd "$(dirname "$0")/.."
docker info >/dev/null 2>&1 || { echo "test-captures: the Docker daemon is not running (start it: sudo dockerd, or make setup)" >&2; exit 1; }
# --workspace, not -p pola-capture: cargo resolves features over the packages it is asked for, and
# for pola-capture alone it rebuilt 25 dependencies (tokio, clap, regex, memchr, ...) that
# `cargo test --release --workspace` had just built. pola's own tests/captures.rs has no ignored test.
# A deadline for the whole suite: CI fails with the last test named instead of hanging.
timeout -k 30 1500 cargo test --release --workspace --test captures --test tls_captures --test curve_captures -- --ignored --test-threads=16 "$@"
