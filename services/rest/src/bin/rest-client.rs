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
    /// API address (HOST:PORT).
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:8080")]
    connect: String,
    /// Rounds of the walk; each round is 8 requests.
    #[arg(long, env = "COUNT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Bytes in each item name sent (sets the size of the create and update bodies).
    #[arg(long, env = "SIZE", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    size: u64,
    /// Seconds to keep retrying while the API is not up, then give up with exit 1.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10.0)]
    retry_secs: f64,
    /// Seconds one request may take before it counts as lost.
    #[arg(long, env = "TIMEOUT_SECS", default_value_t = 10.0)]
    timeout_secs: f64,
    /// Attempts per outage for a GET, PUT or DELETE that got no answer, with a pause and a log
    /// line each (0: lost at once). A POST is never sent again: its outcome is found out instead.
    #[arg(long, env = "RETRIES", default_value_t = 0)]
    retries: u32,
    /// Use HTTPS, trusting only the CA in this PEM file; the API's certificate must name the host
    /// of --connect. Session secrets go to the file named by SSLKEYLOGFILE.
    #[arg(long, env = "CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args: Args = common::parse_args();
    common::run_async(async {
        let cfg = Config {
            connect: args.connect,
            rounds: args.count,
            size: args.size as usize,
            retry: common::retry::secs("--retry-secs", args.retry_secs)?,
            timeout: common::retry::secs("--timeout-secs", args.timeout_secs)?,
            retries: args.retries,
            ca_file: args.ca_file,
        };
        // SIGTERM is a requested stop (compose down): the partial summary is printed, exit 0.
        client::run(&cfg, &common::Stop::install()?).await?.finish()
    })
}
