//! REST client: walks every verb of the pola REST API (`--count` rounds of health, create, list,
//! read, update, read back, delete, read -> 404), checks each answer, and prints
//! `sent=N received=N lost=N elapsed_ms=N failed=N rounds=N` (with `--retries`, also `retries=N
//! unknown=N redone=N`). Exits 0 only if every round completed with every check passed.

use pola_rest::client::{self, Config};

fn main() -> std::process::ExitCode {
    // SIGTERM is a requested stop (compose down): the partial summary is printed, exit 0.
    common::main_async(|cfg: Config, stop| async move { client::run(&cfg, &stop).await?.finish() })
}
