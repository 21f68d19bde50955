//! No library: this crate holds the compose suites under `tests/` (captures, tls_captures,
//! faults). They are `#[ignore]`d, since they need Docker and `make images`; scripts/test-captures.sh
//! and scripts/test-faults.sh run them one at a time.
