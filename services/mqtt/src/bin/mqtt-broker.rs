//! MQTT broker: rmqtt embedded, MQTT 3.1.1 and 5.0 on one port, state kept in --data-dir.
//! Publishers and subscribers never meet; the broker matches each PUBLISH against filters.

use std::process::ExitCode;

use clap::Parser;
use pola_mqtt::broker::{serve, Args};

fn main() -> ExitCode {
    // glibc gives each thread that allocates its own malloc arena; rmqtt allocates from many
    // tokio workers and blocking threads, and two arenas halve the broker's resident memory.
    // SAFETY: mallopt only changes malloc's tuning, called before any other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    let args = Args::parse();
    if args.probe {
        return common::run(|| common::probe::probe(&args.listen));
    }
    common::run_async(serve(args))
}
