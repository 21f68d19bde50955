//! Subscriber (wuclient): subscribes to its topics and receives until each topic's end marker;
//! every message of its topics must arrive, and none of another.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pola_zmq::{net, pubsub};

/// ZeroMQ SUB subscriber: counts what each of its topics delivered.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT of the publisher.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:5556")]
    connect: String,
    /// Topics to subscribe to, comma-separated (ZeroMQ matches them as prefixes).
    #[arg(long, env = "TOPICS", value_delimiter = ',', default_value = "weather")]
    topics: Vec<String>,
    /// Give up after this many seconds without a message.
    #[arg(long, env = "TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,
    /// How long to keep trying while the publisher is not up, in seconds.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10)]
    retry_secs: u64,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = net::parse_args();
        let flag = common::shutdown::Flag::install()?;
        let cfg = pubsub::SubscriberConfig {
            connect: args.connect,
            topics: args.topics,
            timeout: Duration::from_secs(args.timeout_secs),
            retry: Duration::from_secs(args.retry_secs),
        };
        pubsub::run_subscriber(&cfg, &flag)?.finish()
    })
}
