//! REQ/REP client (hwclient): sends requests one at a time, checks that reply i answers request i,
//! and reports a reply that never came as lost instead of hanging; with `--retries` it is the
//! guide's Lazy Pirate and resends on a fresh socket.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pola_zmq::reqrep;

/// ZeroMQ REQ client: strict request-reply alternation against the REP server.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT of the REP server.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:5555")]
    connect: String,
    /// Number of requests to send.
    #[arg(long, env = "COUNT", default_value_t = 100)]
    count: u64,
    /// Bytes of text in each `upper` request (at most 500000).
    #[arg(long, env = "SIZE", default_value_t = 32, value_parser = clap::value_parser!(u32).range(0..=500_000))]
    size: u32,
    /// How long to wait for each reply before declaring it lost, in milliseconds.
    #[arg(long, env = "TIMEOUT_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// How long to keep trying while the server is not up, in seconds.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10)]
    retry_secs: u64,
    /// Lazy Pirate: resend an unanswered request this many times, each on a new socket (0: give up).
    #[arg(long, env = "RETRIES", default_value_t = 0)]
    retries: u32,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        let stop = common::Stop::install()?;
        let cfg = reqrep::ClientConfig {
            connect: args.connect,
            count: args.count,
            size: args.size as usize,
            timeout: Duration::from_millis(args.timeout_ms),
            retry: Duration::from_secs(args.retry_secs),
            retries: args.retries,
        };
        reqrep::run_client(&cfg, &stop)?.finish()
    })
}
