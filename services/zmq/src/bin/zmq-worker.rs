//! Task worker (taskwork): pulls tasks from the pusher, does them, reports each to the sink, and
//! stops at its end marker.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pola_zmq::{net, pushpull};

/// ZeroMQ PULL worker: one of several sharing the pusher's tasks.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT of the pusher's task socket.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:5557")]
    connect: String,
    /// HOST:PORT of the sink's result socket.
    #[arg(long, env = "SINK", default_value = "127.0.0.1:5558")]
    sink: String,
    /// This worker's name in the sink's per-worker counts (default: hostname-pid).
    #[arg(long, env = "ID")]
    id: Option<String>,
    /// How long to keep trying while the pusher or sink is not up, in seconds.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10)]
    retry_secs: u64,
    /// Reliable mode: accepted so one setting serves all roles; a worker needs nothing more (the
    /// pusher hands out again what a dead worker never finished, the sink drops duplicates).
    #[arg(long, env = "RELIABLE")]
    reliable: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        let stop = common::Stop::install()?;
        let cfg = pushpull::WorkerConfig {
            connect: args.connect,
            sink: args.sink,
            id: args.id.unwrap_or_else(net::default_id),
            retry: Duration::from_secs(args.retry_secs),
        };
        pushpull::run_worker(&cfg, &stop)?.finish()
    })
}
