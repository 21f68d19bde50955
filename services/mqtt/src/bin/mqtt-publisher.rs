//! MQTT publisher: CONNECT, then PUBLISH readings to `sensors/<room>/<kind>` at the chosen QoS,
//! wait for every acknowledgement, DISCONNECT, and print the summary line.

use std::process::ExitCode;

use pola_mqtt::{publisher, Stop};

fn main() -> ExitCode {
    let args: publisher::Args = common::parse_args();
    common::run_async(async move { publisher::run(args, Stop::install()?).await?.finish() })
}
