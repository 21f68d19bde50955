//! Subscriber (wuclient): subscribes to its topics and receives until each topic's end marker;
//! every message of its topics must arrive, and none of another (with `--expect-loss`, what did not
//! arrive must be counted exactly: `missed=` and `before_join=`).

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::pubsub;

/// ZeroMQ SUB subscriber: counts what each of its topics delivered.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    subscriber: pubsub::SubscriberConfig,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        pubsub::run_subscriber(&args.subscriber, &common::Stop::install()?)?.finish()
    })
}
