//! TCP echo client: sends `--count` messages of `--size` bytes to the echo server, checks every
//! echoed byte, and prints `sent=N received=N lost=N elapsed_ms=N mismatched=N ...`.
//! Exits 0 only if every message came back identical.

use clap::Parser;
use pola_tcp::client::{self, Config};

/// Client of the pola TCP echo model.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Echo server address (HOST:PORT).
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:7000")]
    connect: String,
    /// Number of messages to send in all.
    #[arg(long, env = "COUNT", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Bytes per message (each ends in a newline); sizes above one TCP segment are fine.
    #[arg(long, env = "SIZE", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    size: u64,
    /// Number of connections; messages are dealt to them in turn and run in parallel.
    #[arg(long, env = "CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Seconds to keep retrying while the server is not up, then give up with exit 1.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10.0)]
    retry_secs: f64,
    /// Seconds to wait for one echo before counting the message lost.
    #[arg(long, env = "TIMEOUT_SECS", default_value_t = 10.0)]
    timeout_secs: f64,
}

fn main() -> std::process::ExitCode {
    let args: Args = common::parse_args();
    common::run_async(async {
        let cfg = Config {
            connect: args.connect,
            count: args.count,
            size: args.size as usize,
            concurrency: args.concurrency as usize,
            retry: common::retry::secs("--retry-secs", args.retry_secs)?,
            timeout: common::retry::secs("--timeout-secs", args.timeout_secs)?,
        };
        // SIGTERM is a requested stop (compose down): the partial summary is printed, exit 0.
        client::run(&cfg, &common::Stop::install()?).await?.finish()
    })
}
