//! MQTT subscriber: CONNECT, SUBSCRIBE to topic filters, print every PUBLISH the broker routes
//! here, and end with a summary that counts messages outside the filters as `unexpected`.

use std::process::ExitCode;

use pola_mqtt::{subscriber, Stop};

fn main() -> ExitCode {
    let args: subscriber::Args = common::parse_args();
    if args.probe {
        return common::run(|| match &args.ready_file {
            Some(path) => common::probe::probe_ready(path),
            None => Err(anyhow::anyhow!(
                "--probe needs --ready-file (READY_FILE) to check"
            )),
        });
    }
    common::run_async(async move { subscriber::run(args, Stop::install()?).await?.finish() })
}
