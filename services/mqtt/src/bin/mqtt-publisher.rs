//! MQTT publisher: CONNECT, then PUBLISH readings to `sensors/<room>/<kind>` at the chosen QoS,
//! wait for every acknowledgement, DISCONNECT, and print the summary line.

use std::process::ExitCode;

use pola_mqtt::{publisher, Stop};

fn main() -> ExitCode {
    let args: publisher::Args = common::parse_args();
    common::run_async(async move {
        let outcome = publisher::run(args, Stop::on_signal()?).await?;
        outcome.summary.print();
        if !outcome.interrupted {
            anyhow::ensure!(
                outcome.summary.lost == 0,
                "{} readings were not confirmed",
                outcome.summary.lost
            );
        }
        Ok(())
    })
}
