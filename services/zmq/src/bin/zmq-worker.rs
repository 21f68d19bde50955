//! Task worker (taskwork): pulls tasks from the pusher, does them, reports each to the sink, and
//! stops at its end marker.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::pushpull;

/// ZeroMQ PULL worker: one of several sharing the pusher's tasks.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    worker: pushpull::WorkerConfig,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        pushpull::run_worker(&args.worker, &common::Stop::install()?)?.finish()
    })
}
