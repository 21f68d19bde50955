//! Task ventilator (taskvent): binds PUSH, tells the sink the batch size, waits until the
//! expected workers have connected, then hands out the tasks in fair turns (with `--reliable`,
//! again those whose results the sink does not acknowledge in time).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pola_zmq::pushpull;

/// ZeroMQ PUSH ventilator: sends --count tasks once --workers workers are connected.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// HOST:PORT to bind the task PUSH socket on (port 0: any free port).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:5557")]
    listen: String,
    /// HOST:PORT of the sink, which is told the batch size.
    #[arg(long, env = "SINK", default_value = "127.0.0.1:5558")]
    sink: String,
    /// Number of tasks in the batch.
    #[arg(long, env = "COUNT", default_value_t = 300)]
    count: u64,
    /// Bytes of payload in each task.
    #[arg(long, env = "SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(0..=50_000))]
    size: u32,
    /// Workers that must be connected before the first task goes out.
    #[arg(long, env = "WORKERS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    workers: u32,
    /// How long to keep trying while the sink is not up, in seconds.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10)]
    retry_secs: u64,
    /// Reliable mode: hand out again every task whose result the sink has not acknowledged in time.
    #[arg(long, env = "RELIABLE")]
    reliable: bool,
    /// Reliable mode: HOST:PORT of the sink's ack socket.
    #[arg(long, env = "ACKS", default_value = "127.0.0.1:5559")]
    acks: String,
    /// Reliable mode: how long a task may take before it is handed out again, in milliseconds.
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
        let cfg = pushpull::PusherConfig {
            listen: args.listen,
            sink: args.sink,
            count: args.count,
            size: args.size as usize,
            workers: args.workers as usize,
            retry: Duration::from_secs(args.retry_secs),
            reliable: args.reliable.then(|| pushpull::Reliable {
                acks: args.acks,
                task_timeout: Duration::from_millis(args.task_timeout_ms),
            }),
        };
        pushpull::run_pusher(&cfg, &stop)?.finish()
    })
}
