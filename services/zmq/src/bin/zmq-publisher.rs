//! Publisher (wuserver): binds XPUB, waits until the expected subscriptions have arrived, then
//! publishes topic-tagged messages and one end marker per topic.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::pubsub;

/// ZeroMQ publisher: [topic, payload] messages, cycling over --topics.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT to bind the XPUB socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5556")]
    listen: String,
    /// Topics to cycle over, comma-separated.
    #[arg(
        long,
        env = "TOPICS",
        value_delimiter = ',',
        default_value = "weather,news,sports"
    )]
    topics: Vec<String>,
    /// Messages per topic.
    #[arg(long, env = "COUNT", default_value_t = 100)]
    count: u64,
    /// Bytes of data in each message.
    #[arg(long, env = "SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    size: u32,
    /// Topic filters to wait for before publishing: the sum of every subscriber's --topics (0: start
    /// at once, so a subscriber joining later misses the start).
    #[arg(long, env = "SUBSCRIPTIONS", default_value_t = 1)]
    subscriptions: u32,
    /// ZMQ_SNDHWM: messages queued per subscriber before XPUB drops them for it (0: no limit).
    #[arg(long, env = "SNDHWM", default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..))]
    sndhwm: i32,
    /// Messages per second over all topics (0: as fast as possible).
    #[arg(long, env = "RATE", default_value_t = 0.0)]
    rate: f64,
    /// Run the healthcheck instead: exit 0 if something accepts connections on --listen.
    #[arg(long)]
    probe: bool,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        if args.probe {
            return common::probe::probe(&args.listen);
        }
        let stop = common::Stop::install()?;
        let cfg = pubsub::PublisherConfig {
            listen: args.listen,
            topics: args.topics,
            count: args.count,
            size: args.size as usize,
            subscriptions: args.subscriptions as usize,
            sndhwm: args.sndhwm,
            rate: args.rate,
        };
        anyhow::ensure!(
            cfg.rate.is_finite() && cfg.rate >= 0.0,
            "--rate {}: not a number of messages per second",
            cfg.rate
        );
        pubsub::run_publisher(&cfg, &stop)?.finish()
    })
}
