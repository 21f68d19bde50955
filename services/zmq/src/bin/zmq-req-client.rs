//! REQ/REP client (hwclient): sends requests one at a time, checks that reply i answers request i,
//! and reports a reply that never came as lost instead of hanging; with `--retries` it is the
//! guide's Lazy Pirate and resends on a fresh socket.

use std::process::ExitCode;

use clap::Parser;
use pola_zmq::reqrep;

/// ZeroMQ REQ client: strict request-reply alternation against the REP server.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    client: reqrep::ClientConfig,
}

fn main() -> ExitCode {
    common::run(|| {
        let args: Args = common::parse_args();
        reqrep::run_client(&args.client, &common::Stop::install()?)?.finish()
    })
}
