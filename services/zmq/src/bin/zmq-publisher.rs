//! Publisher (wuserver): binds XPUB, waits until the expected subscriptions have arrived, then
//! publishes topic-tagged messages and one end marker per topic.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::pubsub;

/// ZeroMQ publisher: [topic, payload] messages, cycling over --topics.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    publisher: pubsub::PublisherConfig,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    probe: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        if args.probe {
            return common::probe::probe(&args.publisher.listen);
        }
        pubsub::run_publisher(&args.publisher, &common::Stop::install()?)?.finish()
    })
}
