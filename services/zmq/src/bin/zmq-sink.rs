//! Task sink (tasksink): binds PULL, collects one batch of results, prints each worker's tasks
//! on stderr and a summary with per-worker counts; exits 0 only for a complete, fair batch.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::pushpull;

/// ZeroMQ PULL sink: judges whether the workers shared the batch in fair turns.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    sink: pushpull::SinkConfig,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    probe: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        if args.probe {
            return common::probe::probe(&args.sink.listen);
        }
        pushpull::run_sink(&args.sink, &common::Stop::install()?)?.finish()
    })
}
