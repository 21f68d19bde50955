//! Task ventilator (taskvent): binds PUSH, tells the sink the batch size, waits until the
//! expected workers have connected, then hands out the tasks in fair turns (with `--reliable`,
//! again those whose results the sink does not acknowledge in time).

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::pushpull;

/// ZeroMQ PUSH ventilator: sends --count tasks once --workers workers are connected.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    pusher: pushpull::PusherConfig,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    probe: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        if args.probe {
            return common::probe::probe(&args.pusher.listen);
        }
        pushpull::run_pusher(&args.pusher, &common::Stop::install()?)?.finish()
    })
}
