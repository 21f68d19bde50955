//! TCP echo client: sends `--count` messages of `--size` bytes to the echo server, checks every
//! echoed byte, and prints `sent=N received=N lost=N elapsed_ms=N mismatched=N ...`.
//! Exits 0 only if every message came back identical.

use pola_tcp::client::{self, Config};

fn main() -> std::process::ExitCode {
    // SIGTERM is a requested stop (compose down): the partial summary is printed, exit 0.
    common::main_async(|cfg: Config, stop| async move { client::run(&cfg, &stop).await?.finish() })
}
