//! MQTT broker: rmqtt embedded, MQTT 3.1.1 and 5.0 on one port, state kept in --data-dir.
//! Publishers and subscribers never meet; the broker matches each PUBLISH against filters.

use std::process::ExitCode;

use pola_mqtt::broker::{runtime, serve, Args};

fn main() -> ExitCode {
    let args: Args = common::parse_args();
    if args.probe {
        return match (&args.tls_cert, &args.probe_ca_file) {
            (Some(_), Some(ca)) => common::run_async(pola_mqtt::probe_tls(&args.listen, ca)),
            _ => common::run(|| common::probe::probe(&args.listen)),
        };
    }
    common::run(|| runtime()?.block_on(serve(args)))
}
