//! TCP echo client: sends `--count` messages of `--size` bytes to the echo server, checks every
//! echoed byte, and prints `sent=N received=N lost=N elapsed_ms=N mismatched=N ...`.
//! Exits 0 only if every message came back identical.

use clap::Parser;
use pola_tcp::client::{self, Config};

/// Client of the pola TCP echo model.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    cfg: Config,
}

fn main() -> std::process::ExitCode {
    let Args { cfg } = common::parse_args();
    common::run_async(async {
        // SIGTERM is a requested stop (compose down): the partial summary is printed, exit 0.
        client::run(&cfg, &common::Stop::install()?).await?.finish()
    })
}
