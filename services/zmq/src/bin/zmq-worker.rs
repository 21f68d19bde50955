//! Task worker (taskwork): pulls tasks from the pusher, does them, reports each to the sink, and
//! stops at its end marker.

use pola_zmq::pushpull::{self, WorkerConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: WorkerConfig, stop| pushpull::run_worker(&cfg, &stop)?.finish())
}
