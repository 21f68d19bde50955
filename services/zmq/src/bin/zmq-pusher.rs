//! Task ventilator (taskvent): binds PUSH, tells the sink the batch size, waits until the
//! expected workers have connected, then hands out the tasks in fair turns (with `--reliable`,
//! again those whose results the sink does not acknowledge in time).

use pola_zmq::pushpull::{self, PusherConfig};

fn main() -> std::process::ExitCode {
    common::main_of(|cfg: PusherConfig, stop| pushpull::run_pusher(&cfg, &stop)?.finish())
}
