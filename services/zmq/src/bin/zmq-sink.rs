//! Task sink (tasksink): binds PULL, collects one batch of results, prints each worker's tasks
//! on stderr and a summary with per-worker counts; exits 0 only for a complete, fair batch.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pola_zmq::pushpull;

/// ZeroMQ PULL sink: judges whether the workers shared the batch in fair turns.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT to bind the result PULL socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5558")]
    listen: String,
    /// Workers expected to take part: one that got no task makes the split unfair (0: judge only
    /// the workers that reported).
    #[arg(long, env = "WORKERS", default_value_t = 3)]
    workers: u32,
    /// Once results flow, give up after this many seconds without one.
    #[arg(long, env = "TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,
    /// Reliable mode: acknowledge each result to the pusher on --acks; count and drop duplicates.
    #[arg(long, env = "RELIABLE")]
    reliable: bool,
    /// Reliable mode: HOST:PORT to bind the ack PUSH socket on, which the pusher connects to.
    #[arg(long, env = "ACKS", default_value = "0.0.0.0:5559")]
    acks: String,
    /// Reliable mode: the pusher's task timeout (accepted here so one setting serves all roles).
    #[arg(long, env = "TASK_TIMEOUT_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    task_timeout_ms: u64,
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
        let cfg = pushpull::SinkConfig {
            listen: args.listen,
            workers: args.workers as usize,
            timeout: Duration::from_secs(args.timeout_secs),
            reliable: args.reliable.then(|| pushpull::Reliable {
                acks: args.acks,
                task_timeout: Duration::from_millis(args.task_timeout_ms),
            }),
        };
        pushpull::run_sink(&cfg, &stop)?.finish()
    })
}
