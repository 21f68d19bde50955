//! MQTT broker: rumqttd embedded, listening for MQTT 3.1.1 (and MQTT 5 with --listen-v5).
//! Publishers and subscribers never meet; the broker matches each PUBLISH against filters.

use std::process::ExitCode;

use clap::Parser;
use pola_mqtt::broker::{serve, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    if args.probe {
        return common::run(|| common::probe::probe(&args.listen));
    }
    common::run_async(serve(args))
}
