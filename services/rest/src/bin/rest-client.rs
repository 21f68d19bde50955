//! REST client: walks every verb of the pola REST API (`--count` rounds of health, create, list,
//! read, update, read back, delete, read -> 404), checks each answer, and prints
//! `sent=N received=N lost=N elapsed_ms=N failed=N rounds=N` (with `--retries`, also `retries=N
//! unknown=N redone=N`). Exits 0 only if every round completed with every check passed.

use clap::Parser;
use pola_rest::client::{self, Config};

/// Client of the pola REST model: one keep-alive connection, every verb, every status checked.
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
