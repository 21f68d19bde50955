//! Subscriber (wuclient): subscribes to its topics and receives until each topic's end marker;
//! every message of its topics must arrive, and none of another (with `--expect-loss`, what did not
//! arrive must be counted exactly: `missed=` and `before_join=`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pola_zmq::pubsub;

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
    /// ZMQ_RCVHWM: messages queued here before the publisher's side must hold or drop (0: no limit).
    #[arg(long, env = "RCVHWM", default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..))]
    rcvhwm: i32,
    /// Pause after each message, in milliseconds: a slow subscriber.
    #[arg(long, env = "DELAY_MS", default_value_t = 0)]
    delay_ms: u64,
    /// Exit 0 when messages were lost but counted exactly (a fault run); otherwise loss exits 1.
    #[arg(long, env = "EXPECT_LOSS")]
    expect_loss: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        let stop = common::Stop::install()?;
        let cfg = pubsub::SubscriberConfig {
            connect: args.connect,
            topics: args.topics,
            timeout: Duration::from_secs(args.timeout_secs),
            retry: Duration::from_secs(args.retry_secs),
            rcvhwm: args.rcvhwm,
            delay: Duration::from_millis(args.delay_ms),
            expect_loss: args.expect_loss,
        };
        pubsub::run_subscriber(&cfg, &stop)?.finish()
    })
}
