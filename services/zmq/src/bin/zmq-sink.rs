//! Task sink (tasksink): binds PULL, collects one batch of results, prints each worker's tasks
//! on stderr and a summary with per-worker counts; exits 0 only for a complete, fair batch.

use pola_zmq::pushpull::{self, SinkConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: SinkConfig, stop| pushpull::run_sink(&cfg, &stop)?.finish())
}
